"""In-place optimizer updates (SGD, RMSprop, Adam) over large weights.

One compiled, multi-threaded pass per call; formulas and operation order are Keras 3's
(`keras/src/optimizers/{sgd,rmsprop,adam}.py`), evaluated in the parameter dtype:

    SGD      no momentum  p -= g*lr
             momentum     m = m*mu - g*lr; p += m   (Nesterov: p += m*mu - g*lr)
    RMSprop  v = rho*v + (1-rho)*g^2; den = v + eps, or (v - a^2) + eps when centered with
             a = rho*a + (1-rho)*g; inc = lr*g / sqrt(den)  (eps inside the root);
             momentum > 0: m = mu*m + inc, p -= m; else p -= inc
    Adam     alpha = lr*sqrt(1 - b2^t) / (1 - b1^t)  (t = iteration, 1-based);
             m += (g - m)*(1 - b1); v += (g^2 - v)*(1 - b2); amsgrad: vhat = max(vhat, v), use vhat;
             p -= m*alpha / (sqrt(v) + eps)  (eps outside the root, not bias-corrected)

`param` and every slot must be writeable C-contiguous arrays of one float dtype and shape (they
are updated in place and must not overlap); `grad` may have any layout and float dtype and is
cast to the parameter dtype first, as Keras does. NaN/inf in the gradient propagate into the
parameter (no checks on the hot path).
"""
import os

import numpy as np

from .._ext import _optim
from ._checks import (FLOAT_DTYPES, check_shape, float_array, kernel_array, kernel_threads,
                      no_overlap, positive_int, real_number, state_buffer)

__all__ = ["sgd_update", "rmsprop_update", "adam_update"]


def _unit(v):
    return 0.0 <= v <= 1.0


def _nonneg(v):
    return v >= 0.0


def _param(param):
    if not isinstance(param, np.ndarray):
        raise TypeError("Invalid type for argument `param`. Expected a NumPy array of float32 "
                        f"or float64. Received: param of type {type(param).__name__}")
    if param.dtype not in FLOAT_DTYPES:
        raise TypeError("Invalid dtype for argument `param`. Expected float32 or float64. "
                        f"Received: param.dtype={param.dtype}")
    if not (param.flags.c_contiguous and param.flags.writeable and param.flags.aligned):
        raise ValueError("Invalid value for argument `param`. Expected a writeable, aligned, "
                         "C-contiguous array (it is updated in place). Received: a "
                         "non-contiguous, read-only or misaligned array")
    return param


def _prepare(param, grad, buffers):
    """Validate; return flat (param, grad, *buffers) views, None buffers skipped."""
    param = _param(param)
    grad = float_array("grad", grad)
    check_shape("grad", grad, param.shape, " (the shape of param)")
    live = [(name, state_buffer(name, buf, param)) for name, buf in buffers if buf is not None]
    owned = [("param", param)] + live
    for i, (name, buf) in enumerate(owned):
        no_overlap(name, buf, *[b for _, b in owned[:i]])
    no_overlap("grad", grad, *[b for _, b in owned])
    flat_g = kernel_array(grad, param.dtype).reshape(-1)
    return param.reshape(-1), flat_g, [b.reshape(-1) for _, b in live]


def sgd_update(param, grad, momentum_buf, learning_rate, momentum=0.0, nesterov=False):
    """One Keras SGD step, in place: `param` (and `momentum_buf` when momentum != 0).

    Args:
        param: the weights, a writeable C-contiguous float32/float64 array.
        grad: the gradient, same shape (any layout; cast to param's dtype).
        momentum_buf: the momentum slot (param's shape and dtype), or None when momentum == 0.
        learning_rate: a float (cast to param's dtype).
        momentum: a float in [0, 1].
        nesterov: a bool.

    Returns:
        None.

    Raises:
        TypeError: wrong array or scalar types. ValueError: shape/dtype/layout mismatch,
            overlapping buffers, momentum outside [0, 1], momentum != 0 with no momentum_buf.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import sgd_update
    >>> p = np.array([1.0, 2.0]); sgd_update(p, np.array([1.0, -1.0]), None, 0.5); p
    array([0.5, 2.5])
    """
    lr = real_number("learning_rate", learning_rate)
    mu = real_number("momentum", momentum, _unit, "a float in [0, 1]")
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError("Invalid type for argument `nesterov`. Expected a bool. "
                        f"Received: nesterov={nesterov!r} of type {type(nesterov).__name__}")
    if mu != 0.0 and momentum_buf is None:
        raise ValueError("Invalid value for argument `momentum_buf`. Expected an array when "
                         f"momentum != 0. Received: momentum_buf=None with momentum={momentum}")
    bufs = [("momentum_buf", momentum_buf if mu != 0.0 else None)]
    p, g, slots = _prepare(param, grad, bufs)
    if p.size:
        mode = 0 if mu == 0.0 else (2 if nesterov else 1)
        m = slots[0] if slots else np.empty(0, p.dtype)
        _optim.sgd(p, g, m, lr, mu, mode, kernel_threads(4 * p.size))


def rmsprop_update(param, grad, velocity, learning_rate, rho=0.9, epsilon=1e-7,
                   momentum_buf=None, momentum=0.0, average_grad=None):
    """One Keras RMSprop step, in place (epsilon inside the square root).

    Args:
        param: the weights, a writeable C-contiguous float32/float64 array.
        grad: the gradient, same shape (any layout; cast to param's dtype).
        velocity: the running mean of g^2 (param's shape and dtype).
        learning_rate: a float.
        rho: a float in [0, 1].
        epsilon: a float >= 0.
        momentum_buf: the momentum slot, required when momentum > 0.
        momentum: a float >= 0.
        average_grad: the running mean of g; giving it selects the centered variant.

    Returns:
        None.

    Raises:
        TypeError / ValueError: as `sgd_update`; momentum > 0 with no momentum_buf.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import rmsprop_update
    >>> p, v = np.zeros(1), np.zeros(1)
    >>> rmsprop_update(p, np.array([2.0]), v, 0.1, rho=0.75, epsilon=0.0); p, v
    (array([-0.2]), array([1.]))
    """
    lr = real_number("learning_rate", learning_rate)
    rho_ = real_number("rho", rho, _unit, "a float in [0, 1]")
    eps = real_number("epsilon", epsilon, _nonneg, "a float >= 0")
    mu = real_number("momentum", momentum, _nonneg, "a float >= 0")
    if velocity is None:
        raise TypeError("Invalid type for argument `velocity`. Expected a NumPy array. "
                        "Received: velocity of type NoneType")
    if mu > 0.0 and momentum_buf is None:
        raise ValueError("Invalid value for argument `momentum_buf`. Expected an array when "
                         f"momentum > 0. Received: momentum_buf=None with momentum={momentum}")
    bufs = [("velocity", velocity), ("momentum_buf", momentum_buf if mu > 0.0 else None),
            ("average_grad", average_grad)]
    p, g, slots = _prepare(param, grad, bufs)
    if p.size:
        v = slots[0]
        empty = np.empty(0, p.dtype)
        m = slots[1] if mu > 0.0 else empty
        a = slots[-1] if average_grad is not None else empty
        _optim.rmsprop(p, g, v, m, a, lr, rho_, 1.0 - rho_, eps, mu, mu > 0.0,
                       average_grad is not None, kernel_threads(5 * p.size))


def adam_update(param, grad, m, v, learning_rate, beta_1, beta_2, epsilon, iteration,
                vhat=None):
    """One Keras Adam step, in place (epsilon outside the root, not bias-corrected).

    Args:
        param: the weights, a writeable C-contiguous float32/float64 array.
        grad: the gradient, same shape (any layout; cast to param's dtype).
        m, v: first and second moment slots (param's shape and dtype).
        learning_rate: a float.
        beta_1, beta_2: floats in [0, 1).
        epsilon: a float >= 0.
        iteration: t, the 1-based step number (Keras' `iterations + 1`), a positive int.
        vhat: the running maximum of v; giving it selects the amsgrad variant.

    Returns:
        None.

    Raises:
        TypeError / ValueError: as `sgd_update`; betas outside [0, 1), iteration < 1.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import adam_update
    >>> p, m, v = np.zeros(1), np.zeros(1), np.zeros(1)
    >>> adam_update(p, np.array([3.0]), m, v, 0.1, 0.9, 0.999, 0.0, 1); p.round(12)
    array([-0.1])
    """
    lr = real_number("learning_rate", learning_rate)

    def below_one(x):
        return 0.0 <= x < 1.0

    b1 = real_number("beta_1", beta_1, below_one, "a float in [0, 1)")
    b2 = real_number("beta_2", beta_2, below_one, "a float in [0, 1)")
    eps = real_number("epsilon", epsilon, _nonneg, "a float >= 0")
    t = positive_int("iteration", iteration)
    for name, buf in (("m", m), ("v", v)):
        if buf is None:
            raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array. "
                            f"Received: {name} of type NoneType")
    p, g, slots = _prepare(param, grad, [("m", m), ("v", v), ("vhat", vhat)])
    if p.size:
        dt = p.dtype.type
        # Keras computes the step size in the variable dtype, from dtype-rounded inputs.
        step = dt(t)
        one = dt(1)
        alpha = dt(lr) * np.sqrt(one - dt(b2) ** step) / (one - dt(b1) ** step)
        h = slots[2] if vhat is not None else np.empty(0, p.dtype)
        _optim.adam(p, g, slots[0], slots[1], h, float(alpha), 1.0 - b1, 1.0 - b2, eps,
                    vhat is not None, kernel_threads(7 * p.size))


def _rmsprop_update_rows(param, grad_rows, velocity, pos, learning_rate, rho=0.9, epsilon=1e-7):
    """Internal training fast path: plain `rmsprop_update` of a (V, E) table, row-compact grad.

    The gradient is grad_rows[pos[r]] for rows with pos[r] >= 0 and zero elsewhere (what
    `fastconv.ops.embedding._embedding_backward_rows` produces). The result is bit-identical to
    `rmsprop_update(param, dense_grad, velocity, ...)` (no momentum, not centered), but rows
    with a zero gradient only cost a pass over their velocity (see csrc/_optim.pyx).

    For the optimizers' use only: param and velocity are the C-contiguous (V, E) variable and
    slot of one dtype, grad_rows a C-contiguous (R, E) array of that dtype, pos (V,) int32.
    """
    lr = real_number("learning_rate", learning_rate)
    rho_ = real_number("rho", rho, _unit, "a float in [0, 1]")
    eps = real_number("epsilon", epsilon, _nonneg, "a float >= 0")
    if param.size:
        _optim.rmsprop_rows(param, grad_rows, velocity, pos, lr, rho_, 1.0 - rho_, eps, 0.0,
                            kernel_threads(2 * param.size))


def _rmsprop_rows_deferred(param, grad_rows, rows, count, velocity, stamp, step, learning_rate,
                           rho, epsilon):
    """Internal training fast path: plain RMSprop step `step` of a (V, E) table whose gradient
    is grad_rows[j] for row rows[j] (j < count, distinct rows) and zero elsewhere, with the
    velocity decays of zero-gradient steps deferred (csrc/_optim.pyx explains the scheme).

    Row r's velocity is current up to step stamp[r]; this runs its missing decays, then the
    update, for the touched rows only, and sets their stamp to `step`. Bit-identical to
    `rmsprop_update` with the dense gradients of every step once `_rmsprop_catch_up` has run,
    provided the caller checked, for this step and every deferred one: lr*0 is +0.0,
    epsilon > 0, 0 < rho <= 1 unchanged, and no velocity value below 0 or NaN.

    For the optimizers' use only: param, velocity (V, E) and grad_rows (R, E) C-contiguous of
    one dtype, rows (R,) int32, stamp (V,) int64, all owned by the caller. Returns True when a
    touched row now holds a NaN or negative velocity value (the caller must then stop
    deferring).
    """
    if not count:
        return False
    return _optim.rmsprop_rows_deferred(param, grad_rows, rows, count, velocity, stamp, step,
                                        learning_rate, rho, 1.0 - rho, epsilon, 0.0,
                                        kernel_threads(3 * count * param.shape[1])) > 0


def _rmsprop_rows_deferred_start(param, grad_rows, rows, count, velocity, stamp, step,
                                 learning_rate, rho, epsilon, token):
    """`_rmsprop_rows_deferred` on fastconv's background thread, one thread, while the caller
    goes on, under the caller's name `token` (an int); True when started. False, with nothing
    done, while another job runs (one at a time) or when no thread could be made.

    Until `_background_join(token)` returns, the caller must keep every array alive and let
    nothing read or write param, velocity or stamp, nor write grad_rows or rows. Kernels
    called meanwhile take one thread (`_checks.max_threads`).
    """
    return _optim.rmsprop_rows_deferred_start(param, grad_rows, rows, count, velocity, stamp,
                                              step, learning_rate, rho, 1.0 - rho, epsilon, 0.0,
                                              token)


def _background_join(token):
    """Wait for job `token`; True when a touched row now holds a NaN or negative velocity value,
    False when not, None when no job of that name runs (never started, or already joined)."""
    bad = _optim.background_join(token)
    return None if bad < 0 else bad > 0


# A fork waits for a running job, so that it is whole in both processes; the child, which has
# no background thread, makes its own at its first job.
os.register_at_fork(before=_optim.background_before_fork,
                    after_in_child=_optim.background_after_fork_child)


def _rmsprop_catch_up(velocity, stamp, step, rho):
    """Run every deferred velocity decay of `_rmsprop_rows_deferred` up to step `step`."""
    if velocity.size:
        _optim.rmsprop_catch_up(velocity, stamp, step, rho, 1.0 - rho, 0.0,
                                kernel_threads(2 * velocity.size))


def _trusted(param, grad, *slots):
    """True when the arrays meet what the kernels need, so the optimizers may skip `_prepare`:
    one dtype and shape, C-contiguous, writeable (slots are the optimizer's own arrays)."""
    if not (param.flags.c_contiguous and param.flags.writeable and grad.flags.c_contiguous
            and grad.shape == param.shape and grad.dtype == param.dtype):
        return False
    return all(s.shape == param.shape and s.dtype == param.dtype and s.flags.c_contiguous
               and s.flags.writeable for s in slots)


def _adam_step(param, grad, m, v, vhat, learning_rate, beta_1, beta_2, epsilon, iteration):
    """Internal per-step fast path of `adam_update` for the optimizers: the same arithmetic and
    kernel call, without re-validating what the optimizer built itself (`_trusted` holds,
    hyper-parameters were checked at construction)."""
    if param.size:
        dt = param.dtype.type
        step = dt(iteration)
        one = dt(1)
        alpha = dt(float(learning_rate)) * np.sqrt(one - dt(float(beta_2)) ** step) / (
            one - dt(float(beta_1)) ** step)
        h = vhat.reshape(-1) if vhat is not None else np.empty(0, param.dtype)
        _optim.adam(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), h,
                    float(alpha), 1.0 - float(beta_1), 1.0 - float(beta_2), float(epsilon),
                    vhat is not None, kernel_threads(7 * param.size))


def _rmsprop_bound(param, grad, velocity):
    """Internal per-step fast path of plain `rmsprop_update` (no momentum, not centered) for the
    optimizers, as a callable run(learning_rate, rho, epsilon) on these arrays, their flat views
    made once; same arithmetic and kernel call. `_trusted` holds for the arrays."""
    p, g, v = param.reshape(-1), grad.reshape(-1), velocity.reshape(-1)
    e = np.empty(0, param.dtype)
    work = 5 * p.size

    def run(learning_rate, rho, epsilon):
        if work:
            rho = float(rho)
            _optim.rmsprop(p, g, v, e, e, float(learning_rate), rho, 1.0 - rho, float(epsilon),
                           0.0, False, False, kernel_threads(work))
    return run
