"""Sequential: a linear stack of layers with Keras 3's building rules and training API."""
import copy
import math

import numpy as np

from .. import layers as layers_mod
from ..layers.base import Layer, _reject_symbolic, assign_weights, auto_name, shape_tuple
from ..layers._embedding_conv import EmbeddingConv
from ..layers.embedding import Embedding
from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.pooling import GlobalAveragePooling1D
from .summary import print_summary
from .trainer import Trainer

__all__ = ["Sequential"]


class Sequential(Trainer):
    """A linear stack of layers (`keras.Sequential`).

    The model builds as soon as its input shape is known (an `Input`, or a first layer given
    `input_shape`); otherwise on the first `fit`/`evaluate`/`predict`/call, from that batch.

    Args:
        layers: optional list of layers (or an `Input()` first).
        trainable: whether the weights are updated by `fit`.
        name: model name (default `sequential`, made unique).

    Example:
    >>> import fastconv
    >>> from fastconv.layers import Conv1D, Dense, Flatten
    >>> model = fastconv.Sequential([fastconv.Input((50, 1)), Conv1D(16, 5), Flatten(), Dense(1)])
    >>> model.count_params()
    833
    """

    def __init__(self, layers=None, trainable=True, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Invalid type for argument `name`. Expected a string. "
                            f"Received: name={name!r}")
        self.name = name or auto_name("Sequential")
        self._trainable = bool(trainable)
        self._layers = []
        self.built = False
        self._build_shape = None
        self._init_trainer()
        if layers:
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_rebuild()

    # ---- structure --------------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input()`), building the model when its input shape is known.

        Raises:
            ValueError: not a layer, duplicate name, or a second input.
        """
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer) and self._layers and \
                isinstance(self._layers[0], InputLayer):
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input shape "
                f"{self._layers[0].batch_shape}. You cannot add a different Input layer to it.")
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("An `Input` can only be the first layer of a Sequential model. "
                             f"Received it after {len(self._layers)} layer(s).")
        names = {existing.name for existing in self._layers}
        if layer.name in names:
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                "argument to pass a unique name.")
        if not self._layers and not isinstance(layer, InputLayer) and \
                getattr(layer, "_input_shape_arg", None) is not None:
            self._layers.append(InputLayer(shape=layer._input_shape_arg))
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self.built = False
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    @property
    def layers(self):
        """The layers, without the InputLayer."""
        layers = self._layers
        # an InputLayer can only be the first (`add` and `build` see to it)
        return layers[1:] if layers and isinstance(layers[0], InputLayer) else list(layers)

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[la.name for la in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    @property
    def input_shape(self):
        if self._layers and isinstance(self._layers[0], InputLayer):
            return self._layers[0].batch_shape
        raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        return self._output_shape_of_model()

    def _output_shape_of_model(self):
        return self.layers[-1]._output_shape

    @property
    def inputs(self):
        return [self._layers[0].output] if self.built else None

    @property
    def dtype(self):
        return self.layers[-1].dtype if self.layers else "float32"

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self.layers:
            layer.trainable = value

    # ---- building ---------------------------------------------------------------------------
    def build(self, input_shape=None):
        """Build every layer for `input_shape` (full shape with the batch axis, e.g. (None, 100)).

        Raises:
            ValueError: no layers, or a layer rejects the shape.
        """
        if not self.layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no "
                             "layers. Call `model.add(layer)`.")
        if input_shape is None:
            if isinstance(self._layers[0], InputLayer):
                input_shape = self._layers[0].batch_shape
            else:
                raise ValueError("You must provide an `input_shape` argument.")
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (input_shape,)
        input_shape = shape_tuple(input_shape)
        if isinstance(self._layers[0], InputLayer) and self._layers[0].batch_shape != input_shape:
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input shape "
                f"{self._layers[0].batch_shape}. You cannot build it with input_shape "
                f"{input_shape}")
        shape = input_shape
        for layer in self.layers:
            layer._maybe_build(shape)
            shape = shape_tuple(layer.compute_output_shape(shape))
            layer._output_shape = shape
        if not isinstance(self._layers[0], InputLayer):
            self._layers.insert(0, InputLayer(batch_shape=input_shape,
                                              dtype=self.layers[0].compute_dtype))
        self._build_shape = input_shape
        self.built = True

    def _build_from_data(self, x_batch):
        self.build(tuple(x_batch.shape))

    def get_build_config(self):
        if self.built:
            return {"input_shape": list(self._build_shape)}
        return None

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self.build(tuple(config["input_shape"]))

    # ---- data shape rules -------------------------------------------------------------------
    def _adjust_input_rank(self, x):
        ref = self._layers[0].batch_shape
        if x.ndim == len(ref):
            return x
        if x.ndim == len(ref) + 1 and x.shape[-1] == 1:
            return x[..., 0]
        if x.ndim == len(ref) - 1 and ref[-1] == 1:
            return x[..., None]
        shown = np.array2string(x, threshold=8, edgeitems=1)
        raise ValueError(
            f"Invalid input shape for input {shown} with name '{self._layers[0].name}' and path "
            f"''. Expected shape {ref}, but input has incompatible shape {x.shape}")

    def _cast_model_input(self, x):
        first = self.layers[0] if self.layers else None
        if isinstance(first, Embedding):
            if x.dtype not in (np.int32, np.int64):
                x = x.astype(np.int32)
            return x
        dtype = first.dtype if first is not None else "float32"
        if x.dtype != dtype:
            x = x.astype(dtype)
        return x

    def _cast_labels(self, y):
        if y is None:
            return None
        dtype = self.dtype
        if y.dtype != dtype:
            y = y.astype(dtype)
        return y

    # ---- forward / backward -----------------------------------------------------------------
    def _pair_at(self, i):
        """The fused Embedding -> Conv1D step for layers i, i+1, or None."""
        layers = self.layers
        cache = self.__dict__.setdefault("_pairs", {})
        # (the step has no input gradient: layers before it must have no weights to train)
        if i + 1 >= len(layers) or not EmbeddingConv.pairs(layers[i], layers[i + 1]) or \
                any(la.trainable_weights for la in layers[:i]):
            cache.pop(i, None)
            return None
        pair = cache.get(i)
        if pair is None or pair.emb is not layers[i] or pair.conv is not layers[i + 1]:
            pair = cache[i] = EmbeddingConv(layers[i], layers[i + 1])
        return pair

    def _forward(self, x, training=False):
        h = x
        mask = None
        layers = self.layers
        if training:
            self._fused_at = None
        i = 0
        while i < len(layers):
            layer = layers[i]
            if layer.input_spec is not None:
                layer.input_spec.check(layer.name, tuple(h.shape))
            if isinstance(layer, Embedding):
                pair = self._pair_at(i)
                y = pair.forward(h, training) if pair is not None else None
                if y is not None:
                    if training:
                        self._fused_at = i
                    h, mask = y, None
                    i += 2
                    continue
                mask = layer.compute_mask(np.asarray(h))
                h = layer.forward(h, training=training)
            elif mask is not None and isinstance(layer, GlobalAveragePooling1D):
                h = layer.forward(h, training=training, mask=mask)
                mask = None
            else:
                h = layer.forward(h, training=training)
                if mask is not None and not (layer.supports_masking and
                                             hasattr(layer, "compute_mask")):
                    mask = None
            i += 1
        return h

    def _backward(self, dy, trainable=None):
        """Backward through the layers; `trainable` is each layer's trainable_weights when the
        caller already has them."""
        layers = self.layers
        if trainable is None:
            trainable = [la.trainable_weights for la in layers]
        first_trainable = next((i for i, w in enumerate(trainable) if w), len(layers))
        fused = self.__dict__.get("_fused_at")
        for i in range(len(layers) - 1, first_trainable - 1, -1):
            if fused is not None and i == fused + 1:
                # the Embedding -> Conv1D step; the embedding has no input gradient to pass on
                self._pairs[fused].backward(dy)
                return
            dy = layers[i].backward(dy, need_dx=i > first_trainable)

    def _release_layer_buffers(self):
        # Buffers are per (shape, dtype); a new fit starts clean so old batch shapes are freed.
        for layer in self.layers:
            layer._release_buffers()
        self.__dict__.pop("_data_buffers", None)

    def __call__(self, inputs, training=False):
        """Run the model on a NumPy array (builds it from the input's shape if needed)."""
        _reject_symbolic(inputs)
        x = np.asarray(inputs)
        if not self.built:
            self._build_from_data(x)
        x = self._cast_model_input(self._adjust_input_rank(x))
        return np.array(self._forward(x, training=bool(training)), copy=True)

    def call(self, inputs, training=False):
        return self(inputs, training=training)

    # ---- weights ----------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    variables = weights

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """Copies of all weights: layers in order, each layer's weights in Keras order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Assign all weights (same order and shapes as `get_weights()`).

        Raises:
            ValueError: wrong count or a shape mismatch (Keras' messages); nothing is assigned.
        """
        assign_weights(self.name, self.weights, weights)

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(math.prod(w.shape) for w in self.weights))

    # ---- summary and config -----------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras' summary table (layers, output shapes, parameter counts)."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable, layer_range=layer_range)

    def get_config(self):
        """Keras' Sequential config: name, trainable, dtype, layers (InputLayer first)."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": "float32"}, "registered_name": None},
                  "layers": [layers_mod.serialize(layer) for layer in self._layers]}
        if self._build_shape is not None and self.built:
            config["build_input_shape"] = list(self._build_shape)
        return copy.deepcopy(config)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            model.add(layers_mod.deserialize(entry, custom_objects=custom_objects), rebuild=False)
        model._maybe_rebuild()
        if not model.built and config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model

    def to_json(self, **kwargs):
        import json

        from ..saving import model_config

        return json.dumps(model_config.model_to_config(self), **kwargs)

    # ---- files (implemented by fastconv.saving) ---------------------------------------------
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save to a Keras 3 `.keras` archive (or legacy `.h5`)."""
        from .. import saving

        return saving.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Write the weights (and optimizer state) to a Keras 3 `.weights.h5` file."""
        from .. import saving

        return saving.save_weights(self, filepath, overwrite=overwrite,
                                   max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Read weights from a `.weights.h5` / `.keras` file written by fastconv or Keras 3."""
        from .. import saving

        return saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"
