"""Datasets in Keras' `keras.datasets` form."""
from . import imdb

__all__ = ["imdb"]
