"""Embedding followed by Conv1D, computed over the distinct table rows a batch uses.

Internal to the layers (fastconv.layers._embedding_conv owns the buffers and decides when to use
it). With U the R distinct rows of the table that the ids name (R <= B*T; text repeats words,
so R is often a third of B*T), and the conv kernel's taps W_j (E, F):

- forward: P = U @ [W_0 ... W_{K-1}]   (R, K*F), then y[b, s] = sum_j P[row(ids[b, t_j]), j]
  where t_j = s*strides + j*dilation - left (taps in the zero padding add nothing);
- backward: Q[row, j] = sum of dy[b, s] over the (b, s) whose tap j reads that row  (R, K*F);
  dkernel_j = U^T Q_j and the table gradient of the distinct rows G = sum_j Q_j W_j^T (R, E).

So the three (B*S) x (K*E) x F products of a direct conv become (R) x E x (K*F) products; each
runs on the conv kernels as a kernel-size-1 convolution over chunks of rows. The sums are the
same mathematics as the separate layers in a different order (float rounding differs; tests
compare both with a float64 reference). Every kernel keeps a single writer per output, so
results do not depend on the thread count.
"""
import numpy as np

from .._ext import _conv, _embedding
from ._checks import kernel_threads
from .conv import _threads_for

# Distinct rows are processed in chunks of this many (a multiple of the 6-row micro-kernel);
# the chunks are the "batch" the GEMM kernels split over threads.
ROWS_PER_CHUNK = 96


def padded_rows(count):
    """Rows of the U / P / Q / G buffers for `count` distinct rows (a whole number of chunks)."""
    return max(1, -(-count // ROWS_PER_CHUNK)) * ROWS_PER_CHUNK


def number_rows(ids, pos, rows, clear=0):
    """Number the distinct ids in first-appearance order: rows[j] = table row, pos[row] = j.

    `ids` are int32/int64 (any shape); `pos` (V,) int32 is -1 everywhere once the previous
    numbering, of `clear` rows, is put back (`pos[rows[:clear]] = -1`, done here first). Returns
    count, or -1 with `pos` left all -1 when an id is outside [0, V) (the caller raises the
    error).
    """
    return _embedding.number_rows(ids.reshape(-1), pos, rows, clear)


def _chunks(a):
    return a.reshape(a.shape[0] // ROWS_PER_CHUNK, ROWS_PER_CHUNK, a.shape[1])


def forward(ids, table, kernel, pos, rows, count, u, wcat, p, out, strides, dilation, left, *,
            bias=None, relu=False):
    """out (B, S, F) = the conv of the embedded ids, plus `bias` (None or (F,)), then relu if
    `relu` (z < 0 -> 0, NaN kept, as the conv kernels).

    u (Rp, E), p (Rp, K*F) and wcat (1, E, K*F) are scratch buffers of the table's dtype with
    Rp = padded_rows(count); u keeps the gathered rows (the backward needs them).
    """
    k, e, f = kernel.shape
    _embedding.gather(rows[:count], table, u, kernel_threads(count * e))
    u[count:] = 0
    _embedding.tap_weights(kernel, wcat.reshape(e, k * f), None)
    _conv.conv1d_forward(_chunks(u), wcat, None, _chunks(p), 1, 1, 0, 1, 0,
                         _threads_for(u.shape[0] * e * k * f))
    _embedding.tap_sum(ids, pos, p, bias, relu, out, k, strides, dilation, left,
                       kernel_threads(out.size * k))
    return out


def backward(dz, ids, kernel, pos, count, u, q, dbias, strides, dilation, left, *,
             dkernel=None, dwcat=None, g=None, wt=None):
    """Gradients of `forward` for the conv output gradient dz (B, S, F).

    Always writes q (Rp, K*F) and dbias (F,). With dkernel (and its scratch dwcat (1, E, K*F)):
    the kernel gradient. With g (Rp, E) (and scratch wt (1, K*F, E)): g[j] = the table
    gradient's row rows[j] for j < count (rows beyond are zero padding).
    """
    k, e, f = kernel.shape
    rp = q.shape[0]
    _embedding.tap_scatter(dz, ids, pos, q, rp, dbias, k, strides, dilation, left,
                           kernel_threads(dz.size * k))
    threads = _threads_for(rp * e * k * f)
    if dkernel is not None:
        # kernel gradient of the size-1 conv u -> q; its kernel argument only gives shapes
        # here (no input gradient is asked for), so the output buffer stands in for it
        _conv.conv1d_backward(_chunks(q), _chunks(u), dwcat, None, dwcat,
                              np.empty(k * f, q.dtype), 1, 1, 0, 1, threads)
        _embedding.tap_kernel_grad(dwcat.reshape(e, k * f), dkernel)
    if g is not None:
        _embedding.tap_weights(kernel, None, wt.reshape(k * f, e))
        _conv.conv1d_forward(_chunks(q), wt, None, _chunks(g), 1, 1, 0, 1, 0, threads)
    return q
