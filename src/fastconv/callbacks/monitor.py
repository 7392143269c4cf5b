"""What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share: watching one logged value.

`mode="auto"` decides the direction from the name: `loss` / `val_loss` are minimised; any other
name is looked up among the model's compiled metrics (each knows whether it improves upwards),
falling back to the direction of the built-in metric with that name. An undecidable name is a
ValueError asking for `mode='max'` or `mode='min'` (Keras' message).
"""
import warnings

import numpy as np

from .base import Callback

# Directions of fastconv's (and Keras') built-in metrics, by every name they can be logged under.
_UP = frozenset({
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "f1_score", "fbeta_score", "r2_score"})
_DOWN = frozenset({
    "loss", "mse", "mae", "mape", "msle", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "root_mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "kl_divergence", "kld", "hinge", "squared_hinge",
    "categorical_hinge", "poisson", "log_cosh_error", "logcosh"})


def _metric_direction(model, name):
    """"up", "down" or None for metric `name` of `model`."""
    for metric in list(getattr(model, "metrics", None) or []):
        if getattr(metric, "name", None) != name:
            continue
        for attr in ("_direction", "direction"):
            direction = getattr(metric, attr, None)
            if direction in ("up", "down"):
                return direction
    key = name.lower()
    if key in _UP:
        return "up"
    if key in _DOWN:
        return "down"
    return None


class MonitorCallback(Callback):
    """Base class: `monitor`, `mode`, `min_delta`, `best` and the improvement test.

    Args:
        monitor: the logged quantity to watch (default `"val_loss"`).
        mode: `"auto"`, `"min"` or `"max"` (anything else warns and falls back to `"auto"`).
        baseline: starting value of `best` (None: the first value always improves).
        min_delta: an improvement must exceed `|min_delta|`.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            direction = "down" if name == "loss" else _metric_direction(self.model, name)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but Keras "
                    "isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value.")
            self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
