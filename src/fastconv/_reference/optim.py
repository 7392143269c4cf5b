"""NumPy twins of fastconv.ops.optim.

Keras does optimizer math in the variable dtype, so unlike the other twins these run Keras 3's
exact operation sequence (keras/src/optimizers/{sgd,rmsprop,adam}.py) in the parameter dtype,
one NumPy operation per Keras op. Same argument checks and in-place contract as fastconv.ops.
"""
import numpy as np

from ..ops import optim as _ops

__all__ = ["sgd_update", "rmsprop_update", "adam_update"]


def _check(param, grad, bufs):
    # Same validation as the compiled path; returns the gradient cast to the parameter dtype.
    _, g, _ = _ops._prepare(param, grad, bufs)
    return g.reshape(param.shape)


def sgd_update(param, grad, momentum_buf, learning_rate, momentum=0.0, nesterov=False):
    lr = _ops.real_number("learning_rate", learning_rate)
    mu = _ops.real_number("momentum", momentum, _ops._unit, "a float in [0, 1]")
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError("Invalid type for argument `nesterov`. Expected a bool. "
                        f"Received: nesterov={nesterov!r} of type {type(nesterov).__name__}")
    if mu != 0.0 and momentum_buf is None:
        raise ValueError("Invalid value for argument `momentum_buf`. Expected an array when "
                         f"momentum != 0. Received: momentum_buf=None with momentum={momentum}")
    g = _check(param, grad, [("momentum_buf", momentum_buf if mu != 0.0 else None)])
    dt = param.dtype.type
    lr = dt(lr)
    if mu == 0.0:
        param -= g * lr
        return
    mu = dt(mu)
    momentum_buf[...] = momentum_buf * mu - g * lr
    if nesterov:
        param += momentum_buf * mu - g * lr
    else:
        param += momentum_buf


def rmsprop_update(param, grad, velocity, learning_rate, rho=0.9, epsilon=1e-7,
                   momentum_buf=None, momentum=0.0, average_grad=None):
    lr = _ops.real_number("learning_rate", learning_rate)
    rho = _ops.real_number("rho", rho, _ops._unit, "a float in [0, 1]")
    eps = _ops.real_number("epsilon", epsilon, _ops._nonneg, "a float >= 0")
    mu = _ops.real_number("momentum", momentum, _ops._nonneg, "a float >= 0")
    if velocity is None:
        raise TypeError("Invalid type for argument `velocity`. Expected a NumPy array. "
                        "Received: velocity of type NoneType")
    if mu > 0.0 and momentum_buf is None:
        raise ValueError("Invalid value for argument `momentum_buf`. Expected an array when "
                         f"momentum > 0. Received: momentum_buf=None with momentum={momentum}")
    g = _check(param, grad, [("velocity", velocity),
                             ("momentum_buf", momentum_buf if mu > 0.0 else None),
                             ("average_grad", average_grad)])
    dt = param.dtype.type
    velocity[...] = dt(rho) * velocity + dt(1.0 - rho) * (g * g)
    if average_grad is not None:
        average_grad[...] = dt(rho) * average_grad + dt(1.0 - rho) * g
        den = (velocity - average_grad * average_grad) + dt(eps)
    else:
        den = velocity + dt(eps)
    inc = (dt(lr) * g) / np.sqrt(den)
    if mu > 0.0:
        momentum_buf[...] = dt(mu) * momentum_buf + inc
        param -= momentum_buf
    else:
        param -= inc


def adam_update(param, grad, m, v, learning_rate, beta_1, beta_2, epsilon, iteration,
                vhat=None):
    lr = _ops.real_number("learning_rate", learning_rate)

    def below_one(x):
        return 0.0 <= x < 1.0

    b1 = _ops.real_number("beta_1", beta_1, below_one, "a float in [0, 1)")
    b2 = _ops.real_number("beta_2", beta_2, below_one, "a float in [0, 1)")
    eps = _ops.real_number("epsilon", epsilon, _ops._nonneg, "a float >= 0")
    t = _ops.positive_int("iteration", iteration)
    for name, buf in (("m", m), ("v", v)):
        if buf is None:
            raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array. "
                            f"Received: {name} of type NoneType")
    g = _check(param, grad, [("m", m), ("v", v), ("vhat", vhat)])
    dt = param.dtype.type
    step = dt(t)
    alpha = dt(lr) * np.sqrt(dt(1) - dt(b2) ** step) / (dt(1) - dt(b1) ** step)
    m += (g - m) * dt(1.0 - b1)
    v += (g * g - v) * dt(1.0 - b2)
    vv = v
    if vhat is not None:
        vhat[...] = np.maximum(vhat, v)
        vv = vhat
    param -= (m * alpha) / (np.sqrt(vv) + dt(eps))
