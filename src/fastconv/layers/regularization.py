"""Dropout: random zeroing during training, identity at inference."""
import numpy as np

from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zeroes each input with probability `rate` during training and scales the rest by
    `1 / (1 - rate)`; identity in `predict` and `evaluate`. Draws from NumPy's global RNG
    (or its own stream when `seed` is given).

    Args:
        rate: float in [0, 1].
        noise_shape: optional shape of the keep mask (None entries follow the input).
        seed: optional int seed.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Dropout(0.5)(np.ones((2, 3), "float32")).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    _STEP_STATE = Layer._STEP_STATE + ("_keep",)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
                or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1. Received: rate={rate}")
        self.rate = float(rate) if not isinstance(rate, int) else rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = None if seed is None else np.random.RandomState(seed)
        self.supports_masking = True

    def compute_mask(self, x, mask=None):
        return mask

    def forward(self, x, training=False):
        x = self._cast_input(x)
        self._keep = None
        if not training or self.rate == 0:
            return x
        if self.rate == 1:
            self._keep = np.zeros((1,) * x.ndim, dtype=x.dtype)
            return np.zeros_like(x)
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        rng = self._rng if self._rng is not None else np.random
        keep = (rng.random_sample(shape) >= self.rate).astype(x.dtype)
        keep /= x.dtype.type(1.0 - self.rate)
        self._keep = keep
        return x * keep

    def backward(self, dy, need_dx=True):
        if not need_dx:
            return None
        if self._keep is None:
            return dy
        return dy * self._keep

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config
