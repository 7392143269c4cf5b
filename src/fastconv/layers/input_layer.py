"""InputLayer and `Input()`: declare a model's input shape (batch axis excluded)."""
import numpy as np

from .base import Layer, shape_tuple, standardize_dtype_policy

__all__ = ["InputLayer", "Input", "KerasTensor"]


class KerasTensor:
    """The symbolic value `Input()` returns: a shape, a dtype, and the InputLayer behind it."""

    def __init__(self, shape, dtype, name, input_layer):
        self.shape = shape
        self.dtype = dtype
        self.name = name
        self._input_layer = input_layer

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def _check_dims(arg, shape):
    """A tuple/list of positive ints or None; anything else names `arg` and the value."""
    try:
        dims = tuple(shape) if not isinstance(shape, (str, bytes)) else None
    except TypeError:
        dims = None
    ok = dims is not None and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
        for d in dims)
    if not ok:
        raise ValueError(f"Invalid value for argument `{arg}`. Expected a tuple of positive "
                         f"ints (or None for unknown sizes). Received: {arg}={shape!r}")
    return shape_tuple(dims)


class InputLayer(Layer):
    """The entry point of a model: holds `batch_shape` and passes data through unchanged.

    Args:
        shape: input shape without the batch axis, e.g. `(50, 1)`.
        batch_size: optional fixed batch size.
        dtype: input dtype (default float32; "int32" for token ids).
        batch_shape: full shape including the batch axis (instead of `shape`).
        name: layer name (default `input_layer`, made unique).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        if sparse:
            raise ValueError("Invalid value for argument `sparse`. fastconv supports only dense "
                             f"inputs. Received: sparse={sparse}")
        if ragged:
            raise ValueError("Invalid value for argument `ragged`. fastconv supports only dense "
                             f"inputs. Received: ragged={ragged}")
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_size is not None and batch_shape is not None:
            raise ValueError(
                "You cannot pass both `batch_size` and `batch_shape` at the same time.")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if shape is not None:
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            shape = _check_dims("shape", shape)
            batch_shape = (batch_size,) + shape
        else:
            _check_dims("batch_shape", batch_shape)
        self._batch_shape = shape_tuple(batch_shape)
        super().__init__(name=name)
        if dtype is None:
            self._input_dtype = "float32"
        else:
            self._input_dtype = np.dtype(dtype).name if not isinstance(dtype, dict) else \
                standardize_dtype_policy(dtype)
        self.sparse = False
        self.ragged = False
        self.optional = bool(optional)
        self.built = True
        self._build_shape = self._batch_shape
        self._output_shape = self._batch_shape
        self.output = KerasTensor(self._batch_shape, self._input_dtype, self.name, self)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._input_dtype

    def compute_output_shape(self, input_shape):
        return self._batch_shape

    def forward(self, x, training=False):
        return x

    def backward(self, dy, need_dx=True):
        return dy

    def get_config(self):
        return {"batch_shape": list(self._batch_shape), "dtype": self._input_dtype,
                "sparse": False, "ragged": False, "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "batch_input_shape" in config:
            config["batch_shape"] = config.pop("batch_input_shape")
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None):
    """Declare a model input; `Sequential([Input((50, 1)), ...])` builds the model at once.

    Example:
    >>> import fastconv
    >>> fastconv.Input((50, 1)).shape
    (None, 50, 1)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional, ragged=ragged)
    return layer.output
