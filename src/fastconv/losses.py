"""Losses with Keras' names, formulas and `sum_over_batch_size` reduction, plus gradients.

Each loss computes per-sample values (reduced over the last axis) and their gradient with
respect to `y_pred`. Probabilities are clipped to [epsilon, 1 - epsilon] (epsilon = 1e-7) as the
JAX / torch / numpy Keras backends do; the gradient is zero where the clip was active.
"""
import numpy as np

from . import _backend, backend

__all__ = ["Loss", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "KLDivergence",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "kl_divergence", "get", "serialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None, "mean_with_sample_weight")


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rule for label/prediction rank mismatch by one (trailing axis of size 1)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


class Loss:
    """Base class. `loss(y_true, y_pred, sample_weight=None)` returns the reduced loss."""

    name_default = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                "Invalid value for argument `reduction`. Expected one of "
                "{'sum_over_batch_size', 'sum', 'mean', 'none', None}. "
                f"Received: reduction={reduction}")
        self.name = name or self.name_default
        self.reduction = reduction
        self.dtype = dtype

    # Subclasses: per-sample values and d(values)/d(y_pred) (y_true already matched in rank).
    def _values(self, y_true, y_pred):
        raise NotImplementedError

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(backend.floatx())
        y_true = np.asarray(y_true)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.ndim != y_pred.ndim:
            raise ValueError(
                "Arguments `target` and `output` must have the same rank (ndim). Received: "
                f"target.shape={y_true.shape}, output.shape={y_pred.shape}")
        if y_true.shape != y_pred.shape:
            raise ValueError(
                "Arguments `target` and `output` must have the same shape. Received: "
                f"target.shape={y_true.shape}, output.shape={y_pred.shape}")
        return y_true.astype(y_pred.dtype, copy=False), y_pred

    def per_sample(self, y_true, y_pred, need_grad=False):
        y_true, y_pred = self._prepare(y_true, y_pred)
        return self._values(y_true, y_pred, need_grad)

    def reduce(self, values, sample_weight=None):
        """Reduce per-sample values; returns (loss, weights dL/dvalue)."""
        w = np.ones_like(values) if sample_weight is None else np.broadcast_to(
            _match_weight(np.asarray(sample_weight, dtype=values.dtype), values), values.shape)
        total = (values * w).sum(dtype=np.float64)
        if self.reduction in ("none", None):
            return values * w, w
        if self.reduction == "sum":
            return total, w
        if self.reduction == "mean_with_sample_weight":
            denom = max(float(w.sum()), 1e-12) if values.size else 1.0
        else:
            denom = values.size if values.size else 1
        return total / denom, w / denom

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        """The reduced loss and its gradient with respect to `y_pred` (same shape/dtype)."""
        y_pred = np.asarray(y_pred)
        values, dvalues = self.per_sample(y_true, y_pred, need_grad=True)
        if sample_weight is None and self.reduction == "sum_over_batch_size" and \
                type(self).reduce is Loss.reduce and dvalues.dtype == values.dtype:
            # the training step's case: every weight is 1/N, so skip building them (same
            # numbers as `reduce`, which a subclass may override: the float64 sum over N, and
            # 1/N in the values' dtype)
            n = values.size if values.size else 1
            loss = values.sum(dtype=np.float64) / n
            grad = dvalues * (values.dtype.type(1) / values.dtype.type(n))
        else:
            loss, dw = self.reduce(values, sample_weight)
            grad = dvalues * dw.reshape(dw.shape + (1,) * (dvalues.ndim - dw.ndim))
        return float(loss), grad.reshape(y_pred.shape).astype(y_pred.dtype, copy=False)

    def __call__(self, y_true, y_pred, sample_weight=None):
        values, _ = self.per_sample(y_true, y_pred)
        loss, _ = self.reduce(values, sample_weight)
        return np.asarray(loss, dtype=values.dtype)

    def call(self, y_true, y_pred):
        return self.per_sample(y_true, y_pred)[0]

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _match_weight(w, values):
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w[..., 0]
    while w.ndim < values.ndim:
        w = w[..., None]
    return w


_EPS = {}


def _eps(dtype):
    """backend.epsilon() as a 0-d array of `dtype` (cached: the training step asks every batch)."""
    key = (np.dtype(dtype), backend.epsilon())
    eps = _EPS.get(key)
    if eps is None:
        eps = _EPS[key] = np.asarray(key[1], dtype=key[0])
        eps.flags.writeable = False
    return eps


class BinaryCrossentropy(Loss):
    """`-mean(y log p + (1-y) log(1-p))` over the last axis, p = clip(y_pred, eps, 1-eps).

    Example:
    >>> import numpy as np
    >>> from fastconv.losses import BinaryCrossentropy
    >>> round(float(BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.5]]))), 6)
    0.693147
    """

    name_default = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        # the training step's case in one compiled pass (the NumPy path's gradient bits, but for
        # the sign of a NaN: fastconv.ops.losses), unless a subclass or the instance replaced a
        # step of that path
        if sample_weight is None and not self.from_logits and not self.label_smoothing \
                and self.reduction == "sum_over_batch_size" and _plain_bce(self):
            fast = _backend.ops.losses.binary_crossentropy_step(y_true, y_pred,
                                                                backend.epsilon())
            if fast is not None:
                return fast
        return super().value_and_grad(y_true, y_pred, sample_weight)

    def _values(self, y, p, need_grad):
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        d = p.shape[-1] if p.ndim else 1
        if self.from_logits:
            log_p = -np.logaddexp(0, -p)
            log_np = -np.logaddexp(0, p)
            vals = -(y * log_p + (1 - y) * log_np).mean(axis=-1)
            grad = ((1.0 / (1.0 + np.exp(-p))) - y) / d if need_grad else None
            return vals.astype(p.dtype), grad
        eps = _eps(p.dtype)
        top = 1 - eps
        pc = np.minimum(np.maximum(p, eps), top)   # np.clip, without its dispatch overhead
        ny, npc = 1 - y, 1 - pc
        terms = y * np.log(pc) + ny * np.log(npc)
        # a mean over one value is that value
        vals = -(terms[..., 0] if d == 1 else terms.mean(axis=-1))
        grad = None
        if need_grad:
            slope = -(y / pc) + ny / npc
            if d != 1:
                slope /= d
            inside = (p >= eps) & (p <= top)
            grad = np.where(inside, slope, 0).astype(p.dtype, copy=False)
        return vals.astype(p.dtype, copy=False), grad

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


# What BinaryCrossentropy.value_and_grad does through the NumPy path; the compiled pass stands
# in for these steps only while none is replaced, on the class or on the instance.
_BCE_STEPS = {name: getattr(BinaryCrossentropy, name)
              for name in ("_prepare", "per_sample", "_values", "reduce")}


def _plain_bce(loss):
    cls, own = type(loss), loss.__dict__
    return all(getattr(cls, name) is fn and name not in own for name, fn in _BCE_STEPS.items())


class CategoricalCrossentropy(Loss):
    """`-sum(y log p)` with p the normalised, clipped prediction (or softmax of logits)."""

    name_default = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def _check(self, y, p):
        if y.shape != p.shape:
            raise ValueError(
                "Arguments `target` and `output` must have the same shape. "
                f"Received: target.shape={y.shape}, output.shape={p.shape}")

    def _values(self, y, p, need_grad):
        self._check(y, p)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / p.shape[-1]
        return _cce(y, p, self.from_logits, need_grad)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


def _cce(y, p, from_logits, need_grad):
    if from_logits:
        s = p - p.max(axis=-1, keepdims=True)
        logsm = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
        vals = -(y * logsm).sum(axis=-1)
        grad = np.exp(logsm) * y.sum(axis=-1, keepdims=True) - y if need_grad else None
        return vals.astype(p.dtype), grad
    eps = _eps(p.dtype)
    total = p.sum(axis=-1, keepdims=True)
    q = p / total
    qc = np.clip(q, eps, 1 - eps)
    vals = -(y * np.log(qc)).sum(axis=-1)
    grad = None
    if need_grad:
        gq = np.where((q >= eps) & (q <= 1 - eps), -y / qc, 0)
        grad = ((gq - (gq * q).sum(axis=-1, keepdims=True)) / total).astype(p.dtype)
    return vals.astype(p.dtype), grad


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy with integer labels (a trailing label axis of 1 is squeezed)."""

    name_default = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        if ignore_class is not None:
            raise ValueError("Invalid value for argument `ignore_class`. fastconv supports only "
                             f"None. Received: ignore_class={ignore_class}")
        self.ignore_class = None

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y_true = np.asarray(y_true)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        if y_true.shape != y_pred.shape[:-1]:
            raise ValueError(
                "Arguments `target` and `output` must have the same shape up until the last "
                f"dimension: target.shape={y_true.shape}, output.shape={y_pred.shape}")
        labels = y_true.astype(np.int64)
        C = y_pred.shape[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= C):
            raise ValueError(
                f"Invalid value for labels. Expected integers in [0, {C}). "
                f"Received: min={labels.min()}, max={labels.max()}")
        onehot = np.zeros(y_pred.shape, dtype=y_pred.dtype)
        np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
        return onehot, y_pred

    def _values(self, y, p, need_grad):
        return _cce(y, p, self.from_logits, need_grad)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "from_logits": self.from_logits,
                "ignore_class": None}


class MeanSquaredError(Loss):
    """`mean((y - y_pred)^2)` over the last axis."""

    name_default = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y, p, need_grad):
        d = p - y
        n = p.shape[-1] if p.ndim else 1
        return (d * d).mean(axis=-1), (2 * d / n if need_grad else None)


class MeanAbsoluteError(Loss):
    """`mean(|y - y_pred|)` over the last axis."""

    name_default = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y, p, need_grad):
        d = p - y
        n = p.shape[-1] if p.ndim else 1
        return np.abs(d).mean(axis=-1), (np.sign(d) / n if need_grad else None)


class MeanAbsolutePercentageError(Loss):
    name_default = "mean_absolute_percentage_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y, p, need_grad):
        den = np.maximum(np.abs(y), _eps(p.dtype))
        n = p.shape[-1]
        vals = 100 * (np.abs(y - p) / den).mean(axis=-1)
        return vals, (100 * np.sign(p - y) / den / n if need_grad else None)


class MeanSquaredLogarithmicError(Loss):
    name_default = "mean_squared_logarithmic_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y, p, need_grad):
        eps = _eps(p.dtype)
        pc = np.maximum(p, eps)
        d = np.log(pc + 1) - np.log(np.maximum(y, eps) + 1)
        n = p.shape[-1]
        grad = np.where(p >= eps, 2 * d / (pc + 1) / n, 0) if need_grad else None
        return (d * d).mean(axis=-1), grad


class KLDivergence(Loss):
    name_default = "kl_divergence"

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y, p, need_grad):
        eps = _eps(p.dtype)
        yc = np.clip(y, eps, 1)
        pc = np.clip(p, eps, 1)
        vals = (yc * np.log(yc / pc)).sum(axis=-1)
        grad = np.where((p >= eps) & (p <= 1), -yc / pc, 0) if need_grad else None
        return vals, grad


def _fn(cls):
    def f(y_true, y_pred, **kwargs):
        return cls(**kwargs).per_sample(y_true, y_pred)[0]

    f.__name__ = cls.name_default
    f.__doc__ = f"Per-sample {cls.name_default} (reduced over the last axis)."
    return f


binary_crossentropy = _fn(BinaryCrossentropy)
categorical_crossentropy = _fn(CategoricalCrossentropy)
sparse_categorical_crossentropy = _fn(SparseCategoricalCrossentropy)
mean_squared_error = _fn(MeanSquaredError)
mean_absolute_error = _fn(MeanAbsoluteError)
mean_absolute_percentage_error = _fn(MeanAbsolutePercentageError)
mean_squared_logarithmic_error = _fn(MeanSquaredLogarithmicError)
kl_divergence = _fn(KLDivergence)

_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
}
_CLASSES = {c.__name__: c for c in (BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy, MeanSquaredError,
                                    MeanAbsoluteError, MeanAbsolutePercentageError,
                                    MeanSquaredLogarithmicError, KLDivergence)}
_FUNCS = {binary_crossentropy: BinaryCrossentropy,
          categorical_crossentropy: CategoricalCrossentropy,
          sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
          mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
          mean_absolute_percentage_error: MeanAbsolutePercentageError,
          mean_squared_logarithmic_error: MeanSquaredLogarithmicError, kl_divergence: KLDivergence}


def resolve_crossentropy(y_true, y_pred):
    """The loss class `"crossentropy"` / `"ce"` stands for, from label and output shapes."""
    if y_pred.shape[-1] == 1:
        return BinaryCrossentropy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return SparseCategoricalCrossentropy
    return CategoricalCrossentropy


def get(identifier):
    """A Loss from a Keras name/alias, class name, config dict, Loss instance or function.

    Raises:
        ValueError: `Could not interpret loss identifier: <x>`.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config") or {})
    elif identifier in _FUNCS:
        return _FUNCS[identifier]()
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


def serialize(loss):
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": loss.get_config(), "registered_name": None}
