"""1-D pooling layers: MaxPooling1D, AveragePooling1D and their global versions."""
import numpy as np

from .. import _backend
from ._common import conv_output_length
from .base import InputSpec, Layer, shape_tuple, standardize_data_format, standardize_tuple

__all__ = ["MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D", "GlobalMaxPooling1D",
           "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D"]


class _Pooling1D(Layer):
    _op = None
    _STEP_STATE = Layer._STEP_STATE + ("_x",)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, 1, "pool_size")
        strides = pool_size if strides is None else strides
        self.strides = standardize_tuple(strides, 1, "strides", allow_zero=True)
        if not isinstance(padding, str):
            raise ValueError("Argument `padding` must be either 'valid' or 'same'. "
                             f"Received: padding={padding}")
        self.padding = padding
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def _check(self, input_shape):
        if self.padding not in ("valid", "same"):
            raise ValueError("Argument `padding` must be either 'valid' or 'same'. "
                             f"Received: padding={self.padding}")
        if self.strides[0] == 0:
            raise ValueError("Invalid value for argument `strides`. Expected a positive int. "
                             f"Received: strides={self.strides}")
        steps = input_shape[1] if self.data_format == "channels_last" else input_shape[2]
        out = conv_output_length(steps, self.pool_size[0], self.padding, self.strides[0])
        if out is not None and out <= 0:
            shown = np.array(input_shape, dtype=object)
            raise ValueError(
                "Computed output size would be zero or negative. Received: "
                f"`inputs.shape={shown}`, `pool_size={list(self.pool_size)}`, "
                f"`strides={self.strides}`, `padding={self.padding}`.")
        return out

    def _check_input_shape(self, input_shape):
        self._check(input_shape)

    def compute_output_shape(self, input_shape):
        input_shape = shape_tuple(input_shape)
        steps = self._check(input_shape)
        if self.data_format == "channels_last":
            return (input_shape[0], steps, input_shape[2])
        return (input_shape[0], input_shape[1], steps)

    def _args(self):
        return dict(pool_size=self.pool_size[0], strides=self.strides[0], padding=self.padding)

    def forward(self, x, training=False):
        x = self._cast_input(x)
        if self.data_format == "channels_first":
            x = np.ascontiguousarray(np.swapaxes(x, 1, 2))
        steps = self._check(x.shape)
        out = self._buffer("y", (x.shape[0], steps, x.shape[2]), x.dtype)
        y = getattr(_backend.ops, self._op)(x, **self._args(), out=out)
        if training:
            self._x = x
        return np.swapaxes(y, 1, 2) if self.data_format == "channels_first" else y

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        if self.data_format == "channels_first":
            dy = np.ascontiguousarray(np.swapaxes(dy, 1, 2))
        out = self._buffer("dx", self._x.shape, self._x.dtype)
        dx = getattr(_backend.ops, self._op + "_backward")(dy, self._x, **self._args(), out=out)
        return np.swapaxes(dx, 1, 2) if self.data_format == "channels_first" else dx

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


class MaxPooling1D(_Pooling1D):
    """Max over windows of `pool_size` steps (`same` padding never wins: -inf).

    Args:
        pool_size: window P (int > 0), default 2.
        strides: step between windows; None means `pool_size`.
        padding: "valid" or "same" (exact lower-case, as Keras).
        data_format: "channels_last" (default) or "channels_first".

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, new_steps, channels)` with
    `new_steps = floor((steps - P) / strides) + 1` ("valid") or `floor((steps - 1) / strides) + 1`.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.MaxPooling1D(4)(np.zeros((1, 46, 16), "float32")).shape
    (1, 11, 16)
    """

    _op = "max_pool1d"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling1D):
    """Mean over windows of `pool_size` steps; with "same", pads are excluded from the divisor.

    Args: as `MaxPooling1D`, but `pool_size` is required.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.AveragePooling1D(2)(np.ones((1, 4, 1), "float32"))[0, :, 0].tolist()
    [1.0, 1.0]
    """

    _op = "average_pool1d"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class _GlobalPooling1D(Layer):
    _op = None
    _STEP_STATE = Layer._STEP_STATE + ("_x", "_m", "_denom")

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        input_shape = shape_tuple(input_shape)
        ch = input_shape[2] if self.data_format == "channels_last" else input_shape[1]
        if self.keepdims:
            return (input_shape[0], 1, ch) if self.data_format == "channels_last" else \
                (input_shape[0], ch, 1)
        return (input_shape[0], ch)

    def _to_btc(self, x):
        x = self._cast_input(x)
        if self.data_format == "channels_first":
            x = np.ascontiguousarray(np.swapaxes(x, 1, 2))
        return x

    def _shape_out(self, y):
        if not self.keepdims:
            return y
        return y[:, None, :] if self.data_format == "channels_last" else y[:, :, None]

    def _dy_in(self, dy):
        if self.keepdims:
            dy = dy[:, 0, :] if self.data_format == "channels_last" else dy[:, :, 0]
        return np.ascontiguousarray(dy)

    def _dx_out(self, dx):
        return np.swapaxes(dx, 1, 2) if self.data_format == "channels_first" else dx

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over all steps: `(batch, steps, channels)` -> `(batch, channels)`.

    Example:
    >>> import numpy as np, fastconv
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    >>> fastconv.layers.GlobalMaxPooling1D()(x).tolist()
    [[4.0, 5.0]]
    """

    def forward(self, x, training=False):
        x = self._to_btc(x)
        out = self._buffer("y", (x.shape[0], x.shape[2]), x.dtype)
        y = _backend.ops.global_max_pool1d(x, out=out)
        if training:
            self._x = x
        return self._shape_out(y)

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        out = self._buffer("dx", self._x.shape, self._x.dtype)
        return self._dx_out(_backend.ops.global_max_pool1d_backward(self._dy_in(dy), self._x,
                                                                    out=out))


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over all steps (masked steps excluded when the input carries a mask).

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.GlobalAveragePooling1D()(np.ones((2, 3, 4), "float32")).shape
    (2, 4)
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, x, mask=None):
        return None

    def forward(self, x, training=False, mask=None):
        x = self._to_btc(x)
        if mask is not None:
            m = np.asarray(mask, dtype=x.dtype)[:, :, None]
            denom = m.sum(axis=1)
            y = (x * m).sum(axis=1) / denom
            if training:
                self._x, self._m, self._denom = x, m, denom
            return self._shape_out(y)
        out = self._buffer("y", (x.shape[0], x.shape[2]), x.dtype)
        y = _backend.ops.global_average_pool1d(x, out=out)
        if training:
            self._x, self._m = x, None
        return self._shape_out(y)

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        dy = self._dy_in(dy)
        if self._m is not None:
            return self._dx_out(self._m * (dy / self._denom)[:, None, :])
        out = self._buffer("dx", self._x.shape, self._x.dtype)
        return self._dx_out(_backend.ops.global_average_pool1d_backward(dy, self._x, out=out))


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
