"""config.json: a Sequential model described in Keras 3's serialization schema.

Each object is `{"module": ..., "class_name": ..., "config": {...}, "registered_name": None}`,
plus `build_config` for built layers and models and `compile_config` for compiled models, so a
file written here is read by `keras.saving.load_model` and a Keras file is read here.

Deserialization is allow-list only: the top level must be a `Sequential`, and each layer's
`class_name` must name one of fastconv's layers (`fastconv.layers.deserialize`); anything else is
refused. Configs never carry code, and nothing is imported by name from a file.
"""
import copy


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return value.item()
    return value


def model_to_config(model):
    """The whole config.json dict for `model` (a fastconv Sequential)."""
    config = _jsonable(model.get_config())
    entry = {"module": "keras", "class_name": type(model).__name__, "config": config,
             "registered_name": None}
    build = model.get_build_config() if hasattr(model, "get_build_config") else None
    if build:
        entry["build_config"] = _jsonable(build)
    compile_config = None
    if getattr(model, "optimizer", None) is not None and hasattr(model, "get_compile_config"):
        compile_config = model.get_compile_config()
    entry["compile_config"] = _jsonable(compile_config) if compile_config else {}
    return entry


def _check_entry(entry, where):
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(
            f"Invalid model config: {where} must be a dict with a string `class_name`. "
            f"Received: {str(entry)[:200]}")
    if not isinstance(entry.get("config", {}), dict):
        raise ValueError(f"Invalid model config: {where} `config` must be a dict.")


def model_from_config(entry, compile=True):
    """Rebuild (and compile, when the config says so and `compile` is true) a Sequential."""
    from ..models import Sequential

    _check_entry(entry, "the top-level object")
    if entry["class_name"] != "Sequential":
        raise ValueError(
            "fastconv can load only `Sequential` models. Received: "
            f"class_name={entry['class_name']!r}")
    model = Sequential.from_config(copy.deepcopy(entry.get("config") or {}))
    build = entry.get("build_config")
    if not model.built and isinstance(build, dict) and build.get("input_shape") is not None:
        model.build(tuple(build["input_shape"]))
    compile_config = entry.get("compile_config")
    if compile and compile_config:
        model.compile_from_config(copy.deepcopy(compile_config))
    return model
