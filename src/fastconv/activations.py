"""Activation functions by their Keras names, each with its derivative for training.

`get(identifier)` resolves a string, `None` (linear) or a callable, as `keras.activations.get`.
Forward functions take and return NumPy arrays in the input's dtype. `relu`, `sigmoid`, `tanh`
and `linear` are fused into the compiled bias+activation kernel by the layers; the others are
evaluated here. relu'(0) = 0, as in Keras.
"""
import math

import numpy as np

__all__ = ["get", "serialize", "deserialize", "relu", "leaky_relu", "relu6", "softmax", "celu",
           "elu", "selu", "softplus", "softsign", "squareplus", "soft_shrink", "sparse_plus",
           "silu", "swish", "gelu", "glu", "tanh", "tanh_shrink", "sigmoid", "sparse_sigmoid",
           "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "hard_shrink",
           "linear", "mish", "log_softmax", "log_sigmoid", "sparsemax"]

FUSED = ("linear", "relu", "sigmoid", "tanh")


def _c(x, v):
    return np.asarray(v, dtype=x.dtype)


def _sig(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1 + ex)
    return out


def linear(x):
    return np.asarray(x)


def relu(x):
    return np.maximum(x, _c(x, 0))


def leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, x, x * _c(x, negative_slope))


def relu6(x):
    return np.clip(x, _c(x, 0), _c(x, 6))


def sigmoid(x):
    return _sig(np.asarray(x))


def tanh(x):
    return np.tanh(x)


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    return np.where(x > 0, x, _c(x, alpha) * np.expm1(np.minimum(x, 0)))


def celu(x, alpha=1.0):
    a = _c(x, alpha)
    return np.maximum(x, 0) + np.minimum(0, a * np.expm1(np.minimum(x, 0) / a))


_SELU_A = 1.6732632423543772848170429916717
_SELU_S = 1.0507009873554804934193349852946


def selu(x):
    return _c(x, _SELU_S) * elu(x, _SELU_A)


def softplus(x):
    return np.logaddexp(_c(x, 0), x)


def softsign(x):
    return x / (1 + np.abs(x))


def squareplus(x, b=4):
    return (x + np.sqrt(x * x + _c(x, b))) / 2


def soft_shrink(x, threshold=0.5):
    t = _c(x, threshold)
    return np.where(x > t, x - t, np.where(x < -t, x + t, _c(x, 0)))


def hard_shrink(x, threshold=0.5):
    return np.where(np.abs(x) > threshold, x, _c(x, 0))


def sparse_plus(x):
    return np.where(x <= -1, _c(x, 0), np.where(x >= 1, x, (x + 1) ** 2 / 4))


def silu(x):
    return x * _sig(np.asarray(x))


swish = silu


def gelu(x, approximate=False):
    x = np.asarray(x)
    if approximate:
        k = math.sqrt(2 / math.pi)
        return (0.5 * x * (1 + np.tanh(k * (x + 0.044715 * x ** 3)))).astype(x.dtype)
    from math import erf

    cdf = 0.5 * (1 + np.vectorize(erf, otypes=[np.float64])(x / math.sqrt(2)))
    return (x * cdf).astype(x.dtype)


def glu(x, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    return a * _sig(b)


def tanh_shrink(x):
    return x - np.tanh(x)


def sparse_sigmoid(x):
    return np.clip((x + 1) / 2, _c(x, 0), _c(x, 1))


def exponential(x):
    return np.exp(x)


def hard_sigmoid(x):
    return relu6(x + _c(x, 3)) / _c(x, 6)


def hard_silu(x):
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def hard_tanh(x):
    return np.clip(x, _c(x, -1), _c(x, 1))


def mish(x):
    return x * np.tanh(softplus(x))


def log_sigmoid(x):
    return -softplus(-x)


def _sparsemax_support(x, axis=-1):
    z = np.moveaxis(x, axis, -1)
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=x.dtype)
    cs = np.cumsum(zs, axis=-1)
    cond = 1 + k * zs > cs
    kz = cond.sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cs, kz - 1, axis=-1) - 1) / kz
    return np.moveaxis(np.maximum(z - tau, 0), -1, axis)


def sparsemax(x, axis=-1):
    return _sparsemax_support(np.asarray(x), axis).astype(np.asarray(x).dtype)


# Derivatives: grad(dy, x, y) -> dL/dx, where y = f(x).
def _softmax_grad(dy, x, y):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def _gelu_grad(dy, x, y):
    from math import erf

    cdf = 0.5 * (1 + np.vectorize(erf, otypes=[np.float64])(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return (dy * (cdf + x * pdf)).astype(y.dtype)


def _glu_grad(dy, x, y):
    a, b = np.split(x, 2, axis=-1)
    s = _sig(b)
    return np.concatenate([dy * s, dy * a * s * (1 - s)], axis=-1)


def _sparsemax_grad(dy, x, y):
    m = (y > 0).astype(dy.dtype)
    return m * (dy - (dy * m).sum(-1, keepdims=True) / m.sum(-1, keepdims=True))


_GRADS = {
    "linear": lambda dy, x, y: dy,
    "relu": lambda dy, x, y: dy * (x > 0),
    "leaky_relu": lambda dy, x, y: np.where(x > 0, dy, dy * _c(dy, 0.2)),
    "relu6": lambda dy, x, y: dy * ((x > 0) & (x < 6)),
    "sigmoid": lambda dy, x, y: dy * y * (1 - y),
    "tanh": lambda dy, x, y: dy * (1 - y * y),
    "softmax": _softmax_grad,
    "log_softmax": lambda dy, x, y: dy - np.exp(y) * dy.sum(-1, keepdims=True),
    "elu": lambda dy, x, y: dy * np.where(x > 0, 1, y + 1),
    "celu": lambda dy, x, y: dy * np.where(x > 0, 1, np.exp(np.minimum(x, 0))),
    "selu": lambda dy, x, y: dy * _SELU_S * np.where(x > 0, 1, _SELU_A * np.exp(np.minimum(x, 0))),
    "softplus": lambda dy, x, y: dy * _sig(np.asarray(x)),
    "softsign": lambda dy, x, y: dy / (1 + np.abs(x)) ** 2,
    "squareplus": lambda dy, x, y: dy * (1 + x / np.sqrt(x * x + 4)) / 2,
    "soft_shrink": lambda dy, x, y: dy * (np.abs(x) > 0.5),
    "hard_shrink": lambda dy, x, y: dy * (np.abs(x) > 0.5),
    "sparse_plus": lambda dy, x, y: dy * np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)),
    "silu": lambda dy, x, y: dy * (_sig(x) * (1 + x * (1 - _sig(x)))),
    "gelu": _gelu_grad,
    "glu": _glu_grad,
    "tanh_shrink": lambda dy, x, y: dy * np.tanh(x) ** 2,
    "sparse_sigmoid": lambda dy, x, y: dy * ((x > -1) & (x < 1)) / 2,
    "exponential": lambda dy, x, y: dy * y,
    "hard_sigmoid": lambda dy, x, y: dy * ((x > -3) & (x < 3)) / 6,
    "hard_silu": lambda dy, x, y: dy * np.where(x < -3, 0, np.where(x > 3, 1, (2 * x + 3) / 6)),
    "hard_tanh": lambda dy, x, y: dy * ((x > -1) & (x < 1)),
    "mish": lambda dy, x, y: dy * (np.tanh(softplus(x))
                                   + x * _sig(x) * (1 - np.tanh(softplus(x)) ** 2)),
    "log_sigmoid": lambda dy, x, y: dy * _sig(-np.asarray(x)),
    "sparsemax": _sparsemax_grad,
}

_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
_NAMES = ["relu", "leaky_relu", "relu6", "softmax", "celu", "elu", "selu", "softplus", "softsign",
          "squareplus", "soft_shrink", "sparse_plus", "silu", "gelu", "glu", "tanh", "tanh_shrink",
          "sigmoid", "sparse_sigmoid", "exponential", "hard_sigmoid", "hard_silu", "hard_tanh",
          "hard_shrink", "linear", "mish", "log_softmax", "log_sigmoid", "sparsemax"]
_FUNCS = {n: globals()[n] for n in _NAMES}
_FUNCS.update({"swish": silu, "hard_swish": hard_silu})


def canonical_name(fn):
    """The Keras name of an activation function from this module, or None for a custom callable."""
    for n, f in _FUNCS.items():
        if f is fn:
            return _ALIASES.get(n, n)
    return None


def gradient(fn, dy, x, y):
    """dL/dx for `y = fn(x)` given dL/dy."""
    name = canonical_name(fn)
    if name is None:
        raise ValueError(
            f"Cannot train through the custom activation {fn!r}: fastconv differentiates only its "
            "built-in activations.")
    return np.asarray(_GRADS[name](dy, x, y), dtype=dy.dtype)


def get(identifier):
    """The activation function named by `identifier` (string, None = linear, or callable).

    Raises:
        ValueError: unknown identifier (`Could not interpret activation function identifier: x`).

    Example:
    >>> from fastconv import activations
    >>> activations.get("relu") is activations.relu
    True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _FUNCS.get(identifier)
        if fn is not None:
            return fn
    elif isinstance(identifier, dict) and identifier.get("class_name") == "function":
        return get(identifier.get("config"))
    elif callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")


def serialize(fn):
    name = canonical_name(fn)
    if name is None:
        return getattr(fn, "__name__", str(fn))
    return name


def deserialize(config, custom_objects=None):
    if isinstance(config, str) and custom_objects and config in custom_objects:
        return custom_objects[config]
    return get(config)
