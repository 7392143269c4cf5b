"""Argument checks shared by every fastconv.ops entry point and its NumPy twin.

Python owns everything a user can get wrong: after these checks a kernel receives C-contiguous
float32/float64 arrays of consistent shapes and geometry that yields at least one output step
(or an empty batch), so compiled code never validates.
"""
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def positive_int(name, value, minimum=1):
    """`value` as an int >= minimum; bools, floats, strings and None are TypeErrors."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected an int >= {minimum}. "
            f"Received: {name}={value!r} of type {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int >= {minimum}. "
            f"Received: {name}={value}")
    return value


def single_int(name, value, minimum=1):
    """Keras accepts an int or a 1-element tuple/list for 1-D geometry arguments."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected an int or a tuple of 1 int. "
                f"Received: {name}={value!r}")
        value = value[0]
    return positive_int(name, value, minimum)


def padding_mode(value, allowed=("valid", "same", "causal"), name="padding"):
    if not isinstance(value, str):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected one of {list(allowed)}. "
            f"Received: {name}={value!r} of type {type(value).__name__}")
    mode = value.lower()
    if mode not in allowed:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one of {list(allowed)}. "
            f"Received: {name}={value!r}")
    return mode


def float_array(name, a, ndim=None):
    """Check dtype (float32/float64 only) and rank; return the array as-is (no copy)."""
    if not isinstance(a, np.ndarray):
        if not isinstance(a, (list, tuple)):
            raise TypeError(
                f"Invalid type for argument `{name}`. Expected a NumPy array of float32 or "
                f"float64. Received: {name} of type {type(a).__name__}")
        a = np.asarray(a)  # nested lists of Python floats become float64, as in NumPy
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"Invalid dtype for argument `{name}`. Expected float32 or float64. "
            f"Received: {name}.dtype={a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(
            f"Invalid shape for argument `{name}`. Expected a {ndim}-D array. "
            f"Received: {name}.shape={a.shape}")
    return a


def result_dtype(*arrays):
    """NumPy promotion over the float arrays given (None entries are skipped)."""
    return np.result_type(*[a.dtype for a in arrays if a is not None])


def contiguous(a, dtype):
    """C-contiguous array of `dtype`; a no-op (no copy) when `a` already is one."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_out(name, out, shape, dtype):
    """Validate a caller-supplied output buffer (or allocate one when `out` is None)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array. "
                        f"Received: {name} of type {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an array of shape {tuple(shape)} "
            f"and dtype {np.dtype(dtype)}. Received: {name}.shape={out.shape}, "
            f"{name}.dtype={out.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a writeable "
                         f"C-contiguous array. Received: a non-contiguous or read-only array")
    return out


def conv_geometry(length, k, strides, dilation, padding):
    """Output length and (left, right) zero padding, Keras/XLA rules.

    valid: floor((L - Keff) / s) + 1; same/causal: ceil(L / s). Same puts the odd extra pad on
    the right; causal pads dilation * (K - 1) on the left. Returns out_len possibly <= 0; the
    caller raises.
    """
    keff = dilation * (k - 1) + 1
    if padding == "valid":
        return (length - keff) // strides + 1, 0, 0
    out_len = (length - 1) // strides + 1 if length > 0 else 0
    if padding == "causal":
        return out_len, dilation * (k - 1), 0
    total = max((out_len - 1) * strides + keff - length, 0)
    return out_len, total // 2, total - total // 2
