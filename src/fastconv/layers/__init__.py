"""fastconv.layers: Keras-compatible layers for 1-D convolutional networks."""
from .base import InputSpec, Layer, Variable
from .input_layer import Input, InputLayer
from .embedding import Embedding
from .convolutional import Conv1D, Convolution1D
from .pooling import (AveragePooling1D, AvgPool1D, GlobalAveragePooling1D, GlobalAvgPool1D,
                      GlobalMaxPool1D, GlobalMaxPooling1D, MaxPool1D, MaxPooling1D)
from .dense import Dense
from .reshaping import Flatten
from .regularization import Dropout
from .activation import Activation

__all__ = ["Layer", "InputSpec", "Variable", "Input", "InputLayer", "Embedding", "Conv1D",
           "Convolution1D", "MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D",
           "GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D",
           "Dense", "Flatten", "Dropout", "Activation", "deserialize", "serialize", "get"]

_CLASSES = {c.__name__: c for c in (InputLayer, Embedding, Conv1D, MaxPooling1D,
                                    AveragePooling1D, GlobalMaxPooling1D,
                                    GlobalAveragePooling1D, Dense, Flatten, Dropout, Activation)}
_CLASSES.update({"Convolution1D": Conv1D, "MaxPool1D": MaxPooling1D, "AvgPool1D": AveragePooling1D,
                 "GlobalMaxPool1D": GlobalMaxPooling1D, "GlobalAvgPool1D": GlobalAveragePooling1D})


def get(class_name):
    """The layer class for a Keras class name, or None."""
    return _CLASSES.get(class_name)


def serialize(layer):
    """Keras' `{"module", "class_name", "config", "registered_name"}` dict for a layer."""
    out = {"module": "keras.layers", "class_name": type(layer).__name__,
           "config": layer.get_config(), "registered_name": None}
    build = layer.get_build_config() if not isinstance(layer, InputLayer) else None
    if build is not None:
        out["build_config"] = {"input_shape": list(build["input_shape"])}
    return out


def deserialize(config, custom_objects=None):
    """A layer from `serialize`'s dict (unknown class names raise ValueError)."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer: '{name}'. Please ensure you are using a "
                         "`keras.utils.custom_object_scope` and that this object is included "
                         "in the scope.")
    layer = cls.from_config(dict(config.get("config") or {}))
    if config.get("build_config"):
        layer.build_from_config(config["build_config"])
    return layer
