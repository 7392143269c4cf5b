"""Global numeric settings, as in `keras.backend`: default float type and fuzz factor."""
import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx():
    """The default float type of weights and computations, `"float32"` unless changed.

    Example:
    >>> import fastconv.backend as B
    >>> B.floatx()
    'float32'
    """
    return _FLOATX


def set_floatx(value):
    """Set the default float type (`"float32"` or `"float64"`).

    Raises:
        ValueError: any other value.
    """
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(
            "Invalid value for argument `value`. Expected 'float32' or 'float64'. "
            f"Received: value={value!r}")
    _FLOATX = str(value)


def epsilon():
    """The fuzz factor used by losses and optimizers (1e-7)."""
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    """Always `"channels_last"` (the Keras default)."""
    return "channels_last"


def standardize_dtype(dtype):
    """A dtype spec as its canonical name (`np.float32` -> `"float32"`)."""
    if dtype is None:
        return floatx()
    return np.dtype(dtype).name
