"""Float64 NumPy twins of fastconv.ops.conv.

Written independently of the compiled kernels: zero-pad the input, then for every kernel tap take
the strided window of the padded input and contract it with that tap's weights (tensordot), all in
float64; the result is cast back to the promoted input dtype. Same names, signatures, argument
checks and error messages as `fastconv.ops.conv` (the checks are shared, in `ops._checks`).
"""
import numpy as np

from ..ops._checks import conv1d_args, conv1d_backward_args, conv_activation

__all__ = ["conv1d", "conv1d_backward"]


def _activate(z, activation):
    if activation == "relu":
        return np.maximum(z, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if activation == "tanh":
        return np.tanh(z)
    return z


def _windows(xp, j, dilation, strides, out_len):
    """xp[:, s*strides + j*dilation, :] for s in range(out_len), as a strided view."""
    start = j * dilation
    return xp[:, start:start + (out_len - 1) * strides + 1:strides, :]


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1, *,
           activation=None, out=None):
    """NumPy twin of `fastconv.ops.conv1d` (float64 arithmetic)."""
    act = conv_activation(activation)
    a = conv1d_args(x, kernel, bias, strides, padding, dilation_rate, groups, out)
    y = a.out
    if y.size == 0:
        return y
    xp = np.pad(np.asarray(a.x, dtype=np.float64), ((0, 0), (a.left, a.right), (0, 0)))
    w = np.asarray(a.kernel, dtype=np.float64)
    cg, fg = a.channels // a.groups, a.filters // a.groups
    z = np.zeros((a.batch, a.out_len, a.filters))
    for g in range(a.groups):
        cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        for j in range(a.k):
            win = _windows(xp, j, a.dilation, a.strides, a.out_len)[:, :, cs]
            z[:, :, fs] += np.tensordot(win, w[j][:, fs], axes=([2], [0]))
    if a.bias is not None:
        z += np.asarray(a.bias, dtype=np.float64)
    y[...] = _activate(z, act)
    return y


def conv1d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1, groups=1, *,
                    need_dx=True, out=None):
    """NumPy twin of `fastconv.ops.conv1d_backward` (float64 arithmetic)."""
    a = conv1d_backward_args(dy, x, kernel, strides, padding, dilation_rate, groups, need_dx, out)
    dx, dkernel, dbias = a.out
    xp = np.pad(np.asarray(a.x, dtype=np.float64), ((0, 0), (a.left, a.right), (0, 0)))
    d = np.asarray(a.dy, dtype=np.float64)
    w = np.asarray(a.kernel, dtype=np.float64)
    cg, fg = a.channels // a.groups, a.filters // a.groups
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for g in range(a.groups):
        cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        for j in range(a.k):
            win = _windows(xp, j, a.dilation, a.strides, a.out_len)[:, :, cs]
            dw[j][:, fs] = np.tensordot(win, d[:, :, fs], axes=([0, 1], [0, 1]))
            dwin = _windows(dxp, j, a.dilation, a.strides, a.out_len)[:, :, cs]
            dwin += np.tensordot(d[:, :, fs], w[j][:, fs], axes=([2], [1]))
    dkernel[...] = dw
    dbias[...] = d.sum(axis=(0, 1))
    if dx is not None:
        dx[...] = dxp[:, a.left:a.left + a.length, :]
    return dx, dkernel, dbias
