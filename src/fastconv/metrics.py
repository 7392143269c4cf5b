"""Stateful metrics (Keras names and thresholds) and the `'acc'`/`'accuracy'` resolution rule."""
import numpy as np

from . import losses as _losses

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "Accuracy", "MeanSquaredError", "MeanAbsoluteError",
           "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "get",
           "resolve"]


class Metric:
    """Base class: `update_state`, `result`, `reset_state`."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = dtype or "float32"
        self.reset_state()

    def reset_state(self):
        pass

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mean(Metric):
    """Weighted running mean: total / count (float64 sums, result rounded to float32 as Keras)."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += float(values.size)
        else:
            w = np.broadcast_to(_losses._match_weight(np.asarray(sample_weight, np.float64),
                                                      values), values.shape)
            self.total += float((values * w).sum())
            self.count += float(w.sum())

    def result(self):
        if self.count == 0:
            return 0.0
        return float(np.float32(self.total / self.count))


class MeanMetricWrapper(Mean):
    """Mean of a per-sample function `fn(y_true, y_pred)`."""

    fn = None

    def __init__(self, fn=None, name=None, dtype=None, **kwargs):
        if fn is not None:
            self.fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self.fn(y_true, y_pred, **self._fn_kwargs), sample_weight)


def _matched(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    return _losses.squeeze_or_expand_to_same_rank(y_true, y_pred)


def _labels_and_one_output(y_true, y_pred, threshold):
    """The fit loop's case, labels (N,) and one sigmoid (N, 1), where `y_true == (y_pred[:, 0] >
    threshold)` gives binary_accuracy's values (a mean over one value is that value). Integer
    and bool labels compare exactly with the bool prediction; of their values only 0 and 1 cast
    to a float equal to 0.0 or 1.0, so the general path's cast gives the same answer."""
    return (y_true.ndim == 1 and y_pred.shape == y_true.shape + (1,) and type(threshold) is float
            and y_pred.dtype.kind == "f"
            and (y_true.dtype == y_pred.dtype or y_true.dtype.kind in "biu"))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample mean over the last axis of `y_true == (y_pred > threshold)`."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if _labels_and_one_output(y_true, y_pred, threshold):
        return (y_true == (y_pred[:, 0] > threshold)).astype(np.float32)
    y_true, y_pred = _matched(y_true, y_pred)
    pred = (y_pred > threshold).astype(y_pred.dtype if y_pred.dtype.kind == "f" else np.float32)
    return (y_true.astype(pred.dtype) == pred).astype(np.float32).mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def accuracy(y_true, y_pred):
    y_true, y_pred = _matched(y_true, y_pred)
    return (y_true == y_pred).astype(np.float32)


class BinaryAccuracy(MeanMetricWrapper):
    """Fraction of `y_true == (y_pred > threshold)` (strict `>`)."""

    fn = staticmethod(binary_accuracy)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name=name, dtype=dtype, threshold=threshold)

    def update_state(self, y_true, y_pred, sample_weight=None):
        threshold = self._fn_kwargs.get("threshold")
        if sample_weight is None and self.fn is binary_accuracy and len(self._fn_kwargs) == 1 \
                and type(y_true) is np.ndarray and type(y_pred) is np.ndarray \
                and _labels_and_one_output(y_true, y_pred, threshold):
            # the 0/1 values' float64 sum is their count of ones: count them directly
            self.total += float(np.count_nonzero(y_true == (y_pred[:, 0] > threshold)))
            self.count += float(y_true.shape[0])
            return
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    fn = staticmethod(categorical_accuracy)

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    fn = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Accuracy(MeanMetricWrapper):
    fn = staticmethod(accuracy)

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


def _loss_metric(loss_cls, default_name):
    class _M(MeanMetricWrapper):
        def __init__(self, name=default_name, dtype=None, **kwargs):
            self._loss = loss_cls(**kwargs)
            super().__init__(name=name, dtype=dtype)

        def update_state(self, y_true, y_pred, sample_weight=None):
            Mean.update_state(self, self._loss.per_sample(y_true, y_pred)[0], sample_weight)

    return _M


class MeanSquaredError(_loss_metric(_losses.MeanSquaredError, "mean_squared_error")):
    pass


class MeanAbsoluteError(_loss_metric(_losses.MeanAbsoluteError, "mean_absolute_error")):
    pass


class BinaryCrossentropy(_loss_metric(_losses.BinaryCrossentropy, "binary_crossentropy")):
    pass


class CategoricalCrossentropy(_loss_metric(_losses.CategoricalCrossentropy,
                                           "categorical_crossentropy")):
    pass


class SparseCategoricalCrossentropy(_loss_metric(_losses.SparseCategoricalCrossentropy,
                                                 "sparse_categorical_crossentropy")):
    pass


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {c.__name__: c for c in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                    Accuracy, MeanSquaredError, MeanAbsoluteError,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}


def is_accuracy_alias(identifier):
    return isinstance(identifier, str) and identifier.lower() in ("acc", "accuracy")


def resolve(identifier, y_true, y_pred):
    """A metric instance for `identifier`, resolving 'acc'/'accuracy' from the shapes.

    Output last dim 1 -> binary; else labels of lower rank or last dim 1 -> sparse categorical;
    else categorical. The metric keeps the user's string as its name.
    """
    if is_accuracy_alias(identifier):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_pred.shape[-1] == 1:
            cls = BinaryAccuracy
        elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def get(identifier):
    """A metric from a Keras name, class name, config dict or instance.

    Raises:
        ValueError: `Could not interpret metric identifier: <x>`.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config") or {})
    elif callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(f"Could not interpret metric identifier: {identifier}")
