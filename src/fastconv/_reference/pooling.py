"""NumPy twins of fastconv.ops.pooling (float64 arithmetic, result cast to the input dtype).

Written from the definitions, not from the kernels: forward pools take strided windows over an
explicitly padded array (max pads with -inf, average pads with 0 and divides by a padded count
of ones); backward passes loop over window offsets or windows.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops._checks import (check_out, check_shape, float_array, no_overlap, pool_geometry,
                           result_dtype)

__all__ = [
    "max_pool1d", "max_pool1d_backward", "average_pool1d", "average_pool1d_backward",
    "global_max_pool1d", "global_max_pool1d_backward", "global_average_pool1d",
    "global_average_pool1d_backward",
]


def _store(result, out, dtype, *inputs):
    buf = check_out("out", out, result.shape, dtype)
    no_overlap("out", buf, *inputs)
    buf[...] = result
    return buf


def _padded_windows(x64, p, s, left, out_len, fill):
    """(B, S, C, P) windows of x64 padded with `fill` (left cells, then enough on the right)."""
    b, t, c = x64.shape
    if out_len == 0:
        return np.zeros((b, 0, c, p))
    right = max((out_len - 1) * s + p - left - t, 0)
    xp = np.full((b, left + t + right, c), fill, dtype=np.float64)
    xp[:, left:left + t] = x64
    win = sliding_window_view(xp, p, axis=1)  # (B, T', C, P)
    return win[:, ::s][:, :out_len]


def max_pool1d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    x = float_array("x", x, ndim=3)
    p, s, padding, out_len, left = pool_geometry(x.shape, pool_size, strides, padding)
    y = _padded_windows(x.astype(np.float64), p, s, left, out_len, -np.inf).max(axis=-1)
    return _store(y.reshape(x.shape[0], out_len, x.shape[2]), out, x.dtype, x)


def _check_dy(dy, x, pool_size, strides, padding):
    dy = float_array("dy", dy, ndim=3)
    x = float_array("x", x, ndim=3)
    p, s, padding, out_len, left = pool_geometry(x.shape, pool_size, strides, padding)
    check_shape("dy", dy, (x.shape[0], out_len, x.shape[2]),
                f" for x.shape={x.shape}, pool_size={p}, strides={s}, padding={padding!r}")
    return dy, x, p, s, out_len, left


def max_pool1d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    dy, x, p, s, out_len, left = _check_dy(dy, x, pool_size, strides, padding)
    dtype = result_dtype(dy, x)
    x64 = x.astype(np.float64)
    b, t, c = x.shape
    dx = np.zeros((b, t, c))
    if dx.size and out_len:
        starts = np.arange(out_len) * s - left
        best = np.full((b, out_len, c), np.nan)
        best_t = np.full((b, out_len, c), -1, dtype=np.int64)
        for k in range(p):  # window cells in order: "first" NaN / maximum wins
            tk = starts + k
            real = (tk >= 0) & (tk < t)
            v = x64[:, np.clip(tk, 0, t - 1)]
            first = best_t < 0
            take = real[None, :, None] & (
                first | (v > best) | (np.isnan(v) & ~np.isnan(best)))
            best = np.where(take, v, best)
            best_t = np.where(take, tk[None, :, None], best_t)
        bi, si, ci = np.indices(best_t.shape)
        np.add.at(dx, (bi, best_t, ci), dy.astype(np.float64))
    return _store(dx, out, dtype, dy, x)


def average_pool1d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    x = float_array("x", x, ndim=3)
    p, s, padding, out_len, left = pool_geometry(x.shape, pool_size, strides, padding)
    sums = _padded_windows(x.astype(np.float64), p, s, left, out_len, 0.0).sum(axis=-1)
    ones = np.ones((1, x.shape[1], 1))
    counts = _padded_windows(ones, p, s, left, out_len, 0.0).sum(axis=-1)
    y = sums / counts if sums.size else sums
    return _store(y.reshape(x.shape[0], out_len, x.shape[2]), out, x.dtype, x)


def average_pool1d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    dy, x, p, s, out_len, left = _check_dy(dy, x, pool_size, strides, padding)
    dtype = result_dtype(dy, x)
    t = x.shape[1]
    dy64 = dy.astype(np.float64)
    dx = np.zeros(x.shape)
    for j in range(out_len):
        t0, t1 = max(j * s - left, 0), min(j * s - left + p, t)
        dx[:, t0:t1] += dy64[:, j:j + 1] / (t1 - t0)
    return _store(dx, out, dtype, dy, x)


def _global_x(x):
    x = float_array("x", x, ndim=3)
    if x.shape[1] == 0:
        raise ValueError("Invalid shape for argument `x`. Expected at least 1 step (axis 1). "
                         f"Received: x.shape={x.shape}")
    return x


def _global_dy(dy, x):
    dy = float_array("dy", dy, ndim=2)
    x = _global_x(x)
    check_shape("dy", dy, (x.shape[0], x.shape[2]), f" for x.shape={x.shape}")
    return dy, x


def global_max_pool1d(x, *, out=None):
    x = _global_x(x)
    return _store(x.astype(np.float64).max(axis=1), out, x.dtype, x)


def global_max_pool1d_backward(dy, x, *, out=None):
    dy, x = _global_dy(dy, x)
    dtype = result_dtype(dy, x)
    dx = np.zeros(x.shape)
    if dx.size:
        # np.argmax returns the first NaN when there is one, else the first maximum.
        k = np.argmax(x.astype(np.float64), axis=1)
        bi, ci = np.indices(k.shape)
        dx[bi, k, ci] = dy
    return _store(dx, out, dtype, dy, x)


def global_average_pool1d(x, *, out=None):
    x = _global_x(x)
    return _store(x.astype(np.float64).sum(axis=1) / x.shape[1], out, x.dtype, x)


def global_average_pool1d_backward(dy, x, *, out=None):
    dy, x = _global_dy(dy, x)
    dtype = result_dtype(dy, x)
    dx = np.broadcast_to((dy.astype(np.float64) / x.shape[1])[:, None, :], x.shape)
    return _store(dx, out, dtype, dy, x)
