"""The Layer base class: naming, weights, input checks, config, and the training protocol.

Training protocol (used by `Sequential`): `forward(x, training)` computes the output and keeps
what `backward` needs; `backward(dy, need_dx)` returns the input gradient and writes weight
gradients into per-variable buffers (`layer.gradients`, aligned with `trainable_weights`).
Scratch arrays come from `_buffer(key, shape, dtype)`, allocated once per layer, key and shape, so
a training loop reuses its memory from step to step.
"""
import collections
import math
import re
import threading
import warnings

import numpy as np

from .. import backend

__all__ = ["Layer", "Variable", "InputSpec"]

_NAME_UIDS = collections.defaultdict(int)


def to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(name):
    """`name`, then `name_1`, `name_2`... over the whole process (as Keras' auto naming)."""
    count = _NAME_UIDS[name]
    _NAME_UIDS[name] += 1
    return name if count == 0 else f"{name}_{count}"


def auto_name(prefix):
    return uniquify(to_snake_case(prefix))


def standardize_dtype_policy(dtype):
    """A layer `dtype` argument as the name of a float dtype ("float32" / "float64")."""
    if dtype is None:
        return backend.floatx()
    if isinstance(dtype, dict):  # serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", dtype)
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(
            "Invalid value for argument `dtype`. Expected 'float32' or 'float64'. "
            f"Received: dtype={dtype!r}")
    return name


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or n-element iterable as an n-tuple of positive ints (Keras' messages)."""
    msg = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(msg)
    if isinstance(value, (int, np.integer)):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if len(values) != n:
            raise ValueError(msg)
        for v in values:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise ValueError(msg + f"including element {v} of type {type(v)}")
        values = tuple(int(v) for v in values)
    bad = {v for v in values if (v < 0 if allow_zero else v <= 0)}
    if bad:
        req = ">= 0" if allow_zero else "> 0"
        raise ValueError(msg + f", including values {bad} that do not satisfy `value {req}`")
    return values


def standardize_data_format(data_format):
    if data_format is None:
        return backend.image_data_format()
    fmt = str(data_format).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format}")
    return fmt


def shape_tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _reject_symbolic(inputs):
    from .input_layer import KerasTensor

    if isinstance(inputs, KerasTensor):
        raise TypeError(
            "Calling a layer on the result of `Input()` (the functional API) is not supported: "
            "fastconv builds `Sequential` models. Use `Sequential([Input(shape), layer, ...])`.")


class Variable:
    """A weight: a NumPy array updated in place, with a Keras-style name and path."""

    def __init__(self, value, name, trainable=True, path=None):
        self._value = value
        self.name = name
        self._trainable = bool(trainable)
        self.path = path or name
        # Set by an owner that keeps part of the value pending (RMSprop's deferred velocity
        # decay): called before the array is handed out, so every reader sees current values.
        self._sync = None

    @property
    def value(self):
        if self._sync is not None:
            self._sync()
        return self._value

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype.name

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    def numpy(self):
        return self.value.copy()

    def __setstate__(self, state):
        # An unpickled array's dtype equals NumPy's built-in one but is another object; the
        # kernels' argument fast paths test dtypes by identity, so a model loaded from a pickle
        # would run every step on the slower fully checked paths. Same bytes, built-in dtype.
        value = state.get("_value")
        if isinstance(value, np.ndarray) and not value.dtype.isbuiltin and \
                value.dtype.isnative and np.dtype(value.dtype.type) == value.dtype:
            state = dict(state, _value=value.view(np.dtype(value.dtype.type)))
        self.__dict__.update(state)

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                "The shape of the target variable and the shape of the target value in "
                "`variable.assign(value)` must match. "
                f"variable.shape={self._value.shape}, Received: value.shape={value.shape}. "
                f"Target variable: {self!r}")
        self.value[...] = value

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


class InputSpec:
    """Rank and axis constraints a layer places on its input (as `keras.InputSpec`)."""

    def __init__(self, ndim=None, min_ndim=None, axes=None, name=None):
        self.ndim, self.min_ndim, self.axes, self.name = ndim, min_ndim, dict(axes or {}), name

    def check(self, layer_name, shape):
        ndim = len(shape)
        if self.ndim is not None and ndim != self.ndim:
            raise ValueError(self._head(layer_name) + f"expected ndim={self.ndim}, found "
                             f"ndim={ndim}. Full shape received: {shape}")
        if self.min_ndim is not None and ndim < self.min_ndim:
            raise ValueError(self._head(layer_name) + f"expected min_ndim={self.min_ndim}, "
                             f"found ndim={ndim}. Full shape received: {shape}")
        for axis, value in self.axes.items():
            if value is not None and shape[axis] not in (value, None):
                raise ValueError(self._head(layer_name) + f"expected axis {axis} of input shape "
                                 f"to have value {value}, but received input with shape {shape}")

    def _head(self, layer_name):
        return (f"Input 0 with name '{self.name}' of layer '{layer_name}' is incompatible with "
                "the layer: ")



def assign_weights(owner, variables, weights):
    """Check `weights` against `variables` (count, then every shape) with Keras' messages, and
    only then assign them all, so a bad list leaves every variable unchanged."""
    weights = list(weights)
    if len(variables) != len(weights):
        raise ValueError(
            f"You called `set_weights(weights)` on layer '{owner}' with a weight list "
            f"of length {len(weights)}, but the layer was expecting {len(variables)} weights.")
    arrays = []
    for var, value in zip(variables, weights):
        value = np.asarray(value)
        if var.shape != value.shape:
            raise ValueError(
                f"Layer {owner} weight shape {var.shape} is not compatible with "
                f"provided weight shape {value.shape}.")
        arrays.append(value)
    for var, value in zip(variables, arrays):
        var.assign(value)

class Layer:
    """Base class of all fastconv layers (Keras' `keras.layers.Layer` surface).

    Args:
        name: unique name; default is the snake_case class name made unique process-wide.
        dtype: `"float32"` (default, `backend.floatx()`) or `"float64"`.
        trainable: bool, whether the weights are updated by `fit`.
        autocast: accepted for compatibility (float inputs are always cast to `dtype`).
    """

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, **kwargs):
        input_dim = kwargs.pop("input_dim", None)
        input_shape = (input_dim,) if input_dim is not None else kwargs.pop("input_shape", None)
        if input_dim is not None:
            kwargs.pop("input_shape", None)
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if input_shape is not None:
            warnings.warn(
                "Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
                "Sequential models, prefer using an `Input(shape)` object as the first layer in "
                "the model instead.", UserWarning, stacklevel=3)
            self._input_shape_arg = tuple(input_shape) if isinstance(input_shape, (list, tuple)) \
                else (input_shape,)
        else:
            self._input_shape_arg = None
        if not isinstance(trainable, bool):
            raise ValueError(
                "Expected `trainable` to be a boolean. "
                f"Received: trainable={trainable} (of type {type(trainable)})")
        if activity_regularizer is not None:
            raise ValueError(
                "Invalid value for argument `activity_regularizer`. fastconv supports only None. "
                f"Received: activity_regularizer={activity_regularizer!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"Invalid type for argument `name`. Expected a string. Received: name={name!r}")
        self.name = name or auto_name(type(self).__name__)
        self._dtype = standardize_dtype_policy(dtype)
        self.autocast = bool(autocast)
        self._trainable = bool(trainable)
        self._variables = []
        self._grads = {}
        self._buffers = {}
        # As in Keras, a layer without its own `build` (no weights) counts as built at once.
        self.built = type(self).build is Layer.build
        self.input_spec = None
        self._build_shape = None
        self._output_shape = None
        self.supports_masking = False

    # ---- dtype, trainability ---------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def compute_dtype(self):
        return self._dtype

    @property
    def variable_dtype(self):
        return self._dtype

    @property
    def dtype_policy(self):
        return self._dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for v in self._variables:
            v.trainable = bool(value)

    # ---- weights -------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, name=None):
        """Create a weight; the initializer draws from NumPy's global RNG."""
        from .. import initializers

        shape = tuple(int(d) for d in (shape or ()))
        dtype = backend.standardize_dtype(dtype or self._dtype)
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        value = np.ascontiguousarray(np.asarray(init(shape, dtype=dtype), dtype=dtype))
        if value.shape != shape:
            value = np.broadcast_to(value, shape).copy()
        var = Variable(value, name or f"variable_{len(self._variables)}",
                       trainable=trainable and self._trainable,
                       path=f"{self.name}/{name or 'variable'}")
        self._variables.append(var)
        return var

    @property
    def variables(self):
        return list(self._variables)

    @property
    def trainable_weights(self):
        return [v for v in self._variables if v.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return list(self._variables)
        return [v for v in self._variables if not v.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Assign weights (NumPy arrays) in `weights` order, after checking count and shapes."""
        assign_weights(self.name, self.weights, weights)

    def count_params(self):
        if not self.built:
            raise ValueError(
                "You tried to call `count_params` on layer '" + self.name + "', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(math.prod(v.shape) for v in self.weights))

    # ---- build / shapes ---------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def _check_input_shape(self, input_shape):
        """Hook for shape checks of layers without weights (run on every build / call)."""

    def _maybe_build(self, input_shape):
        input_shape = shape_tuple(input_shape)
        if self.input_spec is not None:
            self.input_spec.check(self.name, input_shape)
        self._check_input_shape(input_shape)
        if self._build_shape is None and type(self).build is Layer.build:
            self._build_shape = input_shape
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_shape = input_shape

    def compute_output_shape(self, input_shape):
        return shape_tuple(input_shape)

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no "
                                 "defined output.")
        return self._output_shape

    # ---- computation ------------------------------------------------------------------------
    def _cast_input(self, x):
        x = np.asarray(x)
        if x.dtype.kind == "f" or x.dtype.kind in "iub":
            if x.dtype != self._dtype:
                x = x.astype(self._dtype)
        else:
            raise TypeError(
                f"Invalid dtype for the input of layer '{self.name}'. Expected a numeric array. "
                f"Received: dtype={x.dtype}")
        return x

    def __call__(self, inputs, training=False, **kwargs):
        """Run the layer on a NumPy array (building it from the input's shape on first use)."""
        _reject_symbolic(inputs)
        x = np.asarray(inputs)
        self._maybe_build(x.shape)
        y = self.forward(self._cast_input_for_call(x), training=bool(training))
        return np.array(y, copy=True)

    def _cast_input_for_call(self, x):
        return self._cast_input(x)

    def call(self, inputs, training=False):
        """Keras-style computation; subclasses override `call` (inference) or `forward`."""
        if type(self).forward is Layer.forward:
            raise NotImplementedError(f"Layer {type(self).__name__} does not implement `call()`.")
        return self.forward(inputs, training=training)

    def forward(self, x, training=False):
        if type(self).call is Layer.call:
            raise NotImplementedError(f"Layer {type(self).__name__} does not implement `call()`.")
        return np.asarray(self.call(x, training=training))

    def backward(self, dy, need_dx=True):
        raise NotImplementedError(
            f"Layer {type(self).__name__} cannot be trained by fastconv: it defines no "
            "`backward(dy, need_dx)` (custom layers that only define `call()` work for "
            "inference).")

    def _buffer(self, key, shape, dtype):
        # One set per Python thread: concurrent predict() calls on a shared model must not
        # write into each other's scratch arrays.
        k = (key, tuple(shape), dtype, threading.get_ident())
        buf = self._buffers.get(k)
        if buf is None:
            buf = self._buffers[k] = np.empty(k[1], dtype=dtype)
        return buf

    def _grad(self, var):
        g = self._grads.get(id(var))
        if g is None:
            g = self._grads[id(var)] = np.zeros(var.shape, dtype=var.dtype)
        return g

    @property
    def gradients(self):
        """Weight gradients from the last `backward`, aligned with `trainable_weights`."""
        return [self._grad(v) for v in self.trainable_weights]

    def _optimizer_gradients(self):
        """`gradients` as the optimizer takes them (a layer may hand over a compact form)."""
        return self.gradients

    def _release_buffers(self):
        self._buffers.clear()

    # Scratch kept between a training forward and its backward (activations, masks, ids);
    # subclasses add theirs.
    _STEP_STATE = ("_cache",)

    def __getstate__(self):
        # copies and pickles take the weights and settings, not the per-thread scratch buffers,
        # the last step's activations (views of those buffers) or its gradients (kept by
        # id(variable): a copy's variables have ids of their own)
        state = self.__dict__.copy()
        state["_buffers"] = {}
        state["_grads"] = {}
        for key in self._STEP_STATE:
            state.pop(key, None)
        return state

    # ---- config -----------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": self._dtype}, "registered_name": None}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        if self._build_shape is not None:
            return {"input_shape": self._build_shape}
        return None

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self._maybe_build(tuple(config["input_shape"]))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
