"""Activation: applies an activation function as a layer."""
import numpy as np

from .. import activations
from ._common import ActivationStep
from .base import Layer

__all__ = ["Activation"]


class Activation(Layer):
    """Applies `activation` elementwise (softmax / glu / sparsemax over the last axis).

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Activation("relu")(np.array([-1.0, 2.0], "float32")).tolist()
    [0.0, 2.0]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._act = ActivationStep(self.activation)
        self.supports_masking = True

    def compute_mask(self, x, mask=None):
        return mask

    def forward(self, x, training=False):
        x = self._cast_input(x)
        y = np.asarray(self.activation(x), dtype=x.dtype)
        if training:
            self._cache = (x, y)
        return y

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        x, y = self._cache
        if self._act.name in ("linear", "relu", "sigmoid", "tanh"):
            return self._act.backward(self, np.ascontiguousarray(dy), y, x)
        return np.asarray(activations.gradient(self.activation, dy, x, y), dtype=dy.dtype)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config
