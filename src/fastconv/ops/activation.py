"""Fused bias + activation and the activation backward.

Activations: "linear" (also None), "relu", "sigmoid", "tanh". The backward takes the
activation's OUTPUT y (what the forward pass keeps), not its input.

NaN / inf policy: NaN propagates through every activation forward. In the backward, relu is a
select (dy where y > 0, else exactly 0), so a NaN/inf dy on an inactive unit gives 0; the other
activations multiply, so NaN/inf propagate.
"""
import numpy as np

from .._ext import _activation
from ._checks import (activation_name, check_shape, float_array, kernel_array, kernel_threads,
                      no_overlap, output, same_dtype)

__all__ = ["bias_activation", "activation_backward"]


_CODES = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _same_buffer(a, b):
    if a is b:  # the layers' in-place call: skip building two __array_interface__ dicts
        return True
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape and a.dtype == b.dtype)


def _out_for(out, shape, dtype, inplace_ok, *others):
    """Check `out`; it may be exactly `inplace_ok` (same memory, shape, strides and dtype)."""
    buf = output("out", out, shape, dtype)
    if out is not None:
        if not (inplace_ok is not None and _same_buffer(buf, inplace_ok)):
            no_overlap("out", buf, inplace_ok)
        no_overlap("out", buf, *others)
    return buf


def bias_activation(y, bias=None, activation="linear", *, out=None):
    """act(y + bias), with the bias broadcast over the last axis, in one pass.

    Args:
        y: float32/float64 array (..., F), e.g. a conv (B, S, F) or dense (B, F) output.
        bias: optional float array (F,).
        activation: "linear" (or None), "relu", "sigmoid" or "tanh".
        out: optional C-contiguous buffer of y's shape and the result dtype; `out=y` computes in
            place (y must then be C-contiguous, writeable and already of the result dtype).

    Input shape: y (..., F), bias (F,).
    Output shape: y's shape.

    Returns:
        act(y + bias).

    Raises:
        TypeError: non-float arrays, non-str activation.
        ValueError: y 0-D, bias not (F,), unknown activation, bad or overlapping `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import bias_activation
    >>> bias_activation(np.array([[-1.0, 2.0]]), np.array([0.5, 0.5]), "relu")
    array([[0. , 2.5]])
    """
    y = float_array("y", y)
    if y.ndim == 0:
        raise ValueError("Invalid shape for argument `y`. Expected an array with at least 1 "
                         f"dimension. Received: y.shape={y.shape}")
    code = _CODES[activation_name(activation)]
    f = y.shape[-1]
    if bias is not None:
        bias = float_array("bias", bias, ndim=1)
        check_shape("bias", bias, (f,), f" (the last axis of y.shape={y.shape})")
    dtype = same_dtype(y, bias)
    res = _out_for(out, y.shape, dtype, y, bias)
    if res.size:
        rows = res.size // f
        b = kernel_array(bias, dtype) if bias is not None else np.empty(0, dtype)
        _activation.bias_act(kernel_array(y, dtype).reshape(rows, f), b, res.reshape(rows, f),
                             code, bias is not None, kernel_threads(2 * res.size))
    return res


def activation_backward(dy, y, activation, *, out=None):
    """Gradient through an activation, from its output y = act(z).

    linear: dy; relu: dy where y > 0 else 0; sigmoid: (dy * y) * (1 - y); tanh: dy * (1 - y*y).

    Args:
        dy: float32/float64 gradient with respect to y.
        y: the activation's output, same shape as dy.
        activation: "linear" (or None), "relu", "sigmoid" or "tanh".
        out: optional C-contiguous buffer of dy's shape; may be `dy` itself (in place).

    Input shape: dy and y of one shape.
    Output shape: that shape.

    Returns:
        dz, the gradient with respect to the activation's input.

    Raises:
        TypeError: non-float arrays, non-str activation.
        ValueError: shape mismatch, unknown activation, bad or overlapping `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import activation_backward
    >>> activation_backward(np.array([1.0, 1.0]), np.array([0.0, 0.5]), "sigmoid")
    array([0.  , 0.25])
    """
    dy = float_array("dy", dy)
    y = float_array("y", y)
    code = _CODES[activation_name(activation)]
    check_shape("y", y, dy.shape, " (the shape of dy)")
    dtype = same_dtype(dy, y)
    res = _out_for(out, dy.shape, dtype, dy, y)
    if res.size:
        _activation.act_backward(kernel_array(dy, dtype).reshape(-1),
                                 kernel_array(y, dtype).reshape(-1), res.reshape(-1), code,
                                 kernel_threads(3 * res.size))
    return res


def _activation_backward_into(dy, y, activation, out):
    """Internal per-step fast path of `activation_backward(dy, y, activation, out=out)` for the
    layers: when dy, y and out already are aligned C-contiguous arrays of one float dtype and
    shape (out writeable and the layer's own buffer), the kernel runs without re-validating;
    anything else goes through the public, checked op. Same kernel, same result."""
    code = _CODES.get(activation)
    f = (dy.flags, y.flags, out.flags)
    if (code is not None and dy.dtype == y.dtype == out.dtype and dy.dtype in _FLOATS
            and dy.shape == y.shape == out.shape and f[0].c_contiguous and f[0].aligned
            and f[1].c_contiguous and f[1].aligned and f[2].c_contiguous and f[2].aligned
            and f[2].writeable):
        if out.size:
            _activation.act_backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1), code,
                                     kernel_threads(3 * out.size))
        return out
    return activation_backward(dy, y, activation, out=out)
