"""Weight initializers with Keras' names, defaults and fan rules.

Random initializers draw from NumPy's global RNG (so `fastconv.utils.set_random_seed` makes
weights reproducible) unless given their own `seed`.
"""
import math

import numpy as np

from . import backend

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "get", "serialize", "compute_fans"]


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them: conv kernels multiply by the receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: `init(shape, dtype=None)` returns a NumPy array."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Seeded(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(
                "Invalid value for argument `seed`. Expected an int or None. "
                f"Received: seed={seed!r}")
        self.seed = seed

    def _rng(self):
        return np.random if self.seed is None else np.random.RandomState(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=backend.standardize_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=backend.standardize_dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=backend.standardize_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, size=shape).astype(
            backend.standardize_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, size=shape).astype(
            backend.standardize_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


def _truncated(rng, mean, stddev, shape):
    # Resample values outside two standard deviations, as a truncated normal.
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return _truncated(self._rng(), self.mean, self.stddev, shape).astype(
            backend.standardize_dtype(dtype))


class VarianceScaling(_Seeded):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        if input_axes is not None or output_axes is not None:
            raise ValueError(
                "Invalid value for arguments `input_axes`/`output_axes`. fastconv supports only "
                f"None. Received: input_axes={input_axes}, output_axes={output_axes}")
        if scale <= 0.0:
            raise ValueError(
                f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError(
                "Invalid `mode` argument: expected one of {'fan_in', 'fan_out', 'fan_avg'}. "
                f"Received: mode={mode}")
        distribution = distribution.lower()
        if distribution not in {"uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError(
                "Invalid `distribution` argument: expected one of {'uniform', "
                "'truncated_normal', 'untruncated_normal'}. "
                f"Received: distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, size=shape)
        elif self.distribution == "truncated_normal":
            out = _truncated(rng, 0.0, math.sqrt(scale) / 0.87962566103423978, shape)
        else:
            out = rng.normal(0.0, math.sqrt(scale), size=shape)
        return np.asarray(out).astype(backend.standardize_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": None, "output_axes": None}


def _variant(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution, seed=seed,
                                 input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": None, "output_axes": None}

    doc = f"{name}: VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc})


GlorotUniform = _variant("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variant("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variant("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variant("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variant("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variant("LecunNormal", 1.0, "fan_in", "truncated_normal")

_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomUniform, RandomNormal,
                                    TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal,
                                    HeUniform, HeNormal, LecunUniform, LecunNormal)}
_STRINGS = {"zeros": Zeros, "ones": Ones, "constant": Constant, "uniform": RandomUniform,
            "random_uniform": RandomUniform, "normal": RandomNormal, "random_normal": RandomNormal,
            "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
            "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
            "lecun_normal": LecunNormal}


def get(identifier):
    """An initializer from a Keras string name, config dict, instance or callable.

    Example:
    >>> from fastconv import initializers
    >>> type(initializers.get("glorot_uniform")).__name__
    'GlorotUniform'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _STRINGS.get(identifier) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config") or {})
    elif callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


def serialize(init):
    """Keras' serialized form of an initializer (the dict stored in layer configs)."""
    if init is None:
        return None
    if isinstance(init, Initializer):
        return {"module": "keras.initializers", "class_name": type(init).__name__,
                "config": init.get_config(), "registered_name": None}
    return getattr(init, "__name__", str(init))
