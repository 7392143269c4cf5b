"""Float64 NumPy twin of fastconv.ops.embedding_conv (the Embedding -> Conv1D step).

Same functions and arguments; written from the definitions, not from the distinct-row algebra:
embed the ids, convolve tap by tap over the zero-padded steps, and for the backward form the
dense input gradient and add it up per table row. Buffers are filled as the compiled op fills
them (u, q, dbias, dkernel, g rows below `count`), cast back to their dtype.
"""
import numpy as np

__all__ = []


def _taps(length, steps, k, strides, dilation, left):
    """For each tap j: (valid step mask (S,), input step t for every step (S,))."""
    s = np.arange(steps)
    for j in range(k):
        t = s * strides + j * dilation - left
        ok = (t >= 0) & (t < length)
        yield j, ok, np.where(ok, t, 0)


def number_rows(ids, pos, rows, clear=0):
    pos[rows[:clear]] = -1
    count = 0
    for r in ids.reshape(-1):
        if not 0 <= r < len(pos):
            pos[rows[:count]] = -1
            return -1
        if pos[r] < 0:
            pos[r] = count
            rows[count] = r
            count += 1
    return count


def forward(ids, table, kernel, pos, rows, count, u, wcat, p, out, strides, dilation, left, *,
            bias=None, relu=False):
    x = np.asarray(table, dtype=np.float64)[ids]          # (B, T, E)
    w = np.asarray(kernel, dtype=np.float64)
    y = np.zeros(out.shape)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)
    for j, ok, t in _taps(ids.shape[1], out.shape[1], w.shape[0], strides, dilation, left):
        y[:, ok] += x[:, t[ok]] @ w[j]
    u[:count] = table[rows[:count]]
    u[count:] = 0
    out[...] = np.where(y < 0, 0.0, y) if relu else y
    return out


def backward(dz, ids, kernel, pos, count, u, q, dbias, strides, dilation, left, *,
             dkernel=None, dwcat=None, g=None, wt=None):
    d = np.asarray(dz, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    k, e, f = w.shape
    batch, length = ids.shape
    x = np.asarray(u, dtype=np.float64)[pos[ids]]          # the embedded ids, (B, T, E)
    qq = np.zeros((q.shape[0], k, f))
    dx = np.zeros((batch, length, e))
    dw = np.zeros(w.shape)
    for j, ok, t in _taps(length, d.shape[1], k, strides, dilation, left):
        for b in range(batch):
            np.add.at(qq[:, j], pos[ids[b, t[ok]]], d[b, ok])
            np.add.at(dx[b], t[ok], d[b, ok] @ w[j].T)
        dw[j] = np.einsum("bsc,bsf->cf", x[:, t[ok]], d[:, ok])
    q[...] = qq.reshape(q.shape)
    dbias[...] = d.sum(axis=(0, 1))
    if dkernel is not None:
        dkernel[...] = dw
    if g is not None:
        rows = np.zeros((q.shape[0], e))
        np.add.at(rows, pos[ids].reshape(-1), dx.reshape(-1, e))
        g[:count] = rows[:count]
    return q
