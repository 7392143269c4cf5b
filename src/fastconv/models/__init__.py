"""fastconv.models: Sequential models (and, from fastconv.saving, `load_model`)."""
from .sequential import Sequential

__all__ = ["Sequential", "load_model"]


def __getattr__(name):
    # fastconv.saving pulls in h5py (~80 ms); load it only when a file is actually read.
    if name == "load_model":
        from ..saving import load_model

        globals()["load_model"] = load_model
        return load_model
    raise AttributeError(f"module 'fastconv.models' has no attribute {name!r}")
