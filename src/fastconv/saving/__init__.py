"""Saving and loading in Keras 3's file formats (`.keras` archives, `.weights.h5` files).

Modules: `saving_api` (the public functions), `weights_file` (the `.weights.h5` layout),
`keras_archive` (the `.keras` zip), `model_config` (config.json), `h5_guard` (safe HDF5 access),
`atomic` (crash-safe file replacement).
"""
from .saving_api import load_model, load_weights, save_model, save_weights

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]
