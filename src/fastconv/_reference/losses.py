"""NumPy twin of fastconv.ops.losses (float64 arithmetic, gradient cast to the dtype)."""
import numpy as np

from ..ops.losses import step_args


def binary_crossentropy_step(y_true, y_pred, epsilon):
    args = step_args(y_true, y_pred)
    if args is None:
        return None
    y, p, rows, d = args
    dt = p.dtype.type
    eps = float(dt(epsilon))
    top = float(dt(1) - dt(epsilon))
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    pc = np.clip(p64, eps, top)
    values = -(y64 * np.log(pc) + (1 - y64) * np.log(1 - pc)).mean(axis=1)
    slope = (-(y64 / pc) + (1 - y64) / (1 - pc)) / d
    grad = np.where((p64 >= eps) & (p64 <= top), slope, 0.0) / rows
    return float(values.sum() / rows), grad.astype(p.dtype).reshape(y_pred.shape)
