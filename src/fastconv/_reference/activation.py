"""NumPy twins of fastconv.ops.activation (float64 arithmetic, result cast to the dtype)."""
import numpy as np

from ..ops._checks import activation_name, check_out, check_shape, float_array, result_dtype

__all__ = ["bias_activation", "activation_backward"]


def _sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


_FORWARD = {
    "linear": lambda z: z,
    "relu": lambda z: np.where(z < 0, 0.0, z),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
}

_BACKWARD = {
    "linear": lambda dy, y: dy,
    "relu": lambda dy, y: np.where(y > 0, dy, 0.0),
    "sigmoid": lambda dy, y: (dy * y) * (1.0 - y),
    "tanh": lambda dy, y: dy * (1.0 - y * y),
}


def bias_activation(y, bias=None, activation="linear", *, out=None):
    y = float_array("y", y)
    if y.ndim == 0:
        raise ValueError("Invalid shape for argument `y`. Expected an array with at least 1 "
                         f"dimension. Received: y.shape={y.shape}")
    name = activation_name(activation)
    if bias is not None:
        bias = float_array("bias", bias, ndim=1)
        check_shape("bias", bias, (y.shape[-1],), f" (the last axis of y.shape={y.shape})")
    dtype = result_dtype(y, bias)
    z = y.astype(np.float64)
    if bias is not None:
        z = z + bias.astype(np.float64)
    res = _FORWARD[name](z)
    buf = check_out("out", out, y.shape, dtype)
    buf[...] = res
    return buf


def activation_backward(dy, y, activation, *, out=None):
    dy = float_array("dy", dy)
    y = float_array("y", y)
    name = activation_name(activation)
    check_shape("y", y, dy.shape, " (the shape of dy)")
    dtype = result_dtype(dy, y)
    res = _BACKWARD[name](dy.astype(np.float64), y.astype(np.float64))
    buf = check_out("out", out, dy.shape, dtype)
    buf[...] = res
    return buf
