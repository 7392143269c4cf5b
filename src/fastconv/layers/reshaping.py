"""Flatten: `(batch, d1, d2, ...)` -> `(batch, d1*d2*...)`, channels-last order."""
import math

import numpy as np

from .base import InputSpec, Layer, shape_tuple, standardize_data_format

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flattens all axes but the batch axis (row-major over (steps, channels)).

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Flatten()(np.zeros((2, 11, 16), "float32")).shape
    (2, 176)
    """

    _STEP_STATE = Layer._STEP_STATE + ("_shape",)

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def compute_output_shape(self, input_shape):
        input_shape = shape_tuple(input_shape)
        rest = input_shape[1:]
        n = None if any(d is None for d in rest) else int(math.prod(rest))
        return (input_shape[0], n)

    def _channels_last(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            return np.moveaxis(x, 1, -1)
        return x

    def forward(self, x, training=False):
        x = self._cast_input(x)
        if training:
            self._shape = x.shape
        x = self._channels_last(x)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        if self.data_format == "channels_first" and len(self._shape) > 2:
            s = self._shape
            return np.moveaxis(dy.reshape((s[0],) + s[2:] + (s[1],)), -1, 1)
        return dy.reshape(self._shape)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
