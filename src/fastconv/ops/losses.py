"""The training step's binary cross-entropy: its mean and gradient in one compiled pass.

Internal to fastconv.losses: `BinaryCrossentropy.value_and_grad` asks `binary_crossentropy_step`
first and takes the general NumPy path (which also gives every error message) when it returns
None. fastconv._reference.losses has the float64 twin, same name and signature.
"""
import numpy as np

from .._ext import _losses
from ._checks import ready_dtype

_LABEL_KINDS = frozenset("biuf")


def step_args(y_true, y_pred):
    """(y, p, rows, d) as the kernel takes them, or None when the call is not in the one form
    this handles: y_pred a C-contiguous, aligned, non-empty float32/float64 ndarray; y_true a
    bool/int/float ndarray of its shape, or (N,) labels for (N, 1) predictions (Keras' rule
    for a rank that differs by a trailing 1)."""
    dt = ready_dtype(y_pred)
    if dt is None or y_pred.ndim == 0 or y_pred.size == 0 or type(y_true) is not np.ndarray \
            or y_true.dtype.kind not in _LABEL_KINDS:
        return None
    f = y_pred.flags
    if not (f.c_contiguous and f.aligned):
        return None
    shape = y_pred.shape
    if y_true.shape != shape and not (y_true.ndim == 1 and shape == (y_true.shape[0], 1)):
        return None
    d = shape[-1]
    rows = y_pred.size // d
    y = np.ascontiguousarray(y_true.astype(dt, copy=False)).reshape(rows, d)
    return y, y_pred.reshape(rows, d), rows, d


def binary_crossentropy_step(y_true, y_pred, epsilon):
    """Keras' binary cross-entropy of probabilities, reduced "sum_over_batch_size", and its
    gradient with respect to `y_pred`; None when `step_args` does not take the call.

    Per sample (the last axis is averaged): `-mean(y log pc + (1 - y) log(1 - pc))` with
    `pc = clip(y_pred, epsilon, 1 - epsilon)` in y_pred's dtype; the loss is the float64 mean of
    those values. The gradient is zero where the clip was active (NaN predictions included).

    Returns:
        (loss as a Python float, gradient of y_pred's shape and dtype), or None.
    """
    args = step_args(y_true, y_pred)
    if args is None:
        return None
    y, p, rows, d = args
    dt = p.dtype.type
    grad = np.empty_like(p)
    total = _losses.binary_crossentropy(y, p, grad, float(epsilon), float(dt(1) / dt(rows)))
    return total / rows, grad.reshape(y_pred.shape)
