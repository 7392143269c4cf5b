"""fastconv: fast 1-D convolutional networks on CPUs, with a Keras-compatible API."""
__version__ = "0.1.0"

from ._config import get_num_threads, set_num_threads, show_config  # noqa: E402

_LAZY = {
    "Sequential": ("models", "Sequential"),
    "load_model": ("models", "load_model"),
    "Input": ("layers", "Input"),
}

# Keras-style `fastconv.utils.set_random_seed(...)` after a bare `import fastconv`.
_SUBMODULES = {"activations", "backend", "callbacks", "datasets", "initializers", "layers",
               "losses", "metrics", "models", "optimizers", "saving", "utils"}


def __getattr__(name):
    # Models and layers load on first use so `import fastconv` stays fast.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastconv' has no attribute {name!r}")


__all__ = ["Sequential", "Input", "load_model", "get_num_threads", "set_num_threads",
           "show_config", "__version__"]
