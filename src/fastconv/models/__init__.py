"""fastconv.models: Sequential models (and, from fastconv.saving, `load_model`)."""
from .sequential import Sequential
from ..saving import load_model

__all__ = ["Sequential", "load_model"]
