"""SGD, RMSprop and Adam with Keras 3's formulas, arguments, messages and variable order.

`optimizer.variables` is `[iteration (int32 scalar), learning_rate (float32 scalar), slots...]`
with slots in Keras' order, so optimizer state moves to and from `.weights.h5` files. Updates run
in place through `fastconv.ops.{sgd,rmsprop,adam}_update`.
"""
import contextlib
import copy
import itertools
import math
import numbers
import threading
import warnings

import numpy as np

from . import _backend
from ._config import get_num_threads
from .layers.base import Variable, auto_name
from .layers.embedding import RowGradient
from .ops import optim as _optim_ops
from .ops.optim import (_background_join, _rmsprop_catch_up, _rmsprop_rows_deferred,
                        _rmsprop_rows_deferred_start, _rmsprop_update_rows)

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get", "serialize", "deserialize"]

_COMMON_KEYS = ("learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                "gradient_accumulation_steps")


class Optimizer:
    """Base optimizer: clipping, weight decay, the iteration counter and state variables."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          UserWarning, stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema:
            raise ValueError("Invalid value for argument `use_ema`. fastconv supports only "
                             f"False. Received: use_ema={use_ema}")
        for arg, val in (("loss_scale_factor", loss_scale_factor),
                         ("gradient_accumulation_steps", gradient_accumulation_steps)):
            if val is not None:
                raise ValueError(f"Invalid value for argument `{arg}`. fastconv supports only "
                                 f"None. Received: {arg}={val}")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             "set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        if weight_decay is not None and not isinstance(weight_decay, numbers.Real):
            raise ValueError("Argument `weight_decay` must be a float. "
                             f"Received: weight_decay={weight_decay}")
        self.name = name or auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = None
        self.gradient_accumulation_steps = None
        self._lr_schedule = None
        if callable(learning_rate) and not isinstance(learning_rate, numbers.Real):
            self._lr_schedule = learning_rate
            lr0 = 0.0
        elif isinstance(learning_rate, float) or isinstance(learning_rate, np.floating):
            lr0 = float(learning_rate)
        else:
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current iteration value "
                "and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={learning_rate}")
        self._iterations = Variable(np.zeros((), dtype=np.int32), "iteration",
                                    trainable=False, path=f"{self.name}/iteration")
        self._learning_rate = Variable(np.asarray(lr0, dtype=np.float32), "learning_rate",
                                       trainable=False, path=f"{self.name}/learning_rate")
        self._slots = []
        self._slot_map = {}
        self.built = False

    # ---- public state ---------------------------------------------------------------------
    @property
    def iterations(self):
        return self._iterations

    @property
    def learning_rate(self):
        if self._lr_schedule is not None:
            return float(self._lr_schedule(int(self._iterations.value)))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value) and not isinstance(value, numbers.Real):
            self._lr_schedule = value
            return
        self._lr_schedule = None
        self._learning_rate.assign(np.asarray(float(np.asarray(value)), dtype=np.float32))

    def _current_lr(self):
        if self._lr_schedule is not None:
            return float(self._lr_schedule(int(self._iterations.value)))
        return float(self._learning_rate.value)

    @property
    def variables(self):
        return [self._iterations, self._learning_rate] + list(self._slots)

    # ---- building ---------------------------------------------------------------------------
    def _slot_names(self):
        """Per-variable slot kinds, in Keras' creation order (see subclasses)."""
        return []

    def _add_slot(self, var, kind):
        base = var.name
        slot = Variable(np.zeros(var.shape, dtype=var.dtype), f"{base}_{kind}",
                        trainable=False, path=f"{self.name}/{base}_{kind}")
        self._slots.append(slot)
        self._slot_map[(id(var), kind)] = slot
        return slot

    def build(self, var_list):
        """Create the slot variables for `var_list` (model trainable weights, in order)."""
        if self.built:
            return
        self._built_vars = list(var_list)
        self._var_ids = [id(v) for v in var_list]
        self._build_slots(list(var_list))
        self.built = True

    def _build_slots(self, var_list):
        pass

    def _slot(self, var, kind):
        return self._slot_map.get((id(var), kind))

    # ---- stepping ---------------------------------------------------------------------------
    def _clip(self, grads):
        if self.clipvalue is not None:
            c = float(self.clipvalue)
            return [np.clip(g, -c, c) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                n = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append(g * (self.clipnorm / n) if n > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            n = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            if n > self.global_clipnorm:
                return [g * (self.global_clipnorm / n) for g in grads]
        return grads

    def _join_background(self):
        """Wait for any table row update still running on the background thread."""
        for deferred in self.__dict__.get("_deferred", {}).values():
            deferred.join()

    def __getstate__(self):
        # Copies and pickles wait for a background row update (the table must be whole), and
        # leave out the per-step fast paths (`_plans`): they hold views of this optimizer's
        # arrays, which a copy would turn into arrays of their own. What is keyed by
        # id(variable) travels without the ids (the slot map as (variable, kind, slot), the
        # deferred decays with their own variable), and a copy keys it by its variables' ids.
        self._join_background()
        state = self.__dict__.copy()
        state.pop("_plans", None)
        state.pop("_var_ids", None)
        by_id = {id(v): v for v in state.get("_built_vars", ())}
        state["_slot_map"] = [(by_id[i], kind, slot) for (i, kind), slot
                              in self._slot_map.items() if i in by_id]
        if "_deferred" in state:
            state["_deferred"] = list(self._deferred.values())
        return state

    def __deepcopy__(self, memo):
        # The model's variables are not the optimizer's own. A copy of the optimizer alone
        # keeps them, so it can be put back on the same model (a snapshot of its state); in a
        # copy of the whole model they are the model copy's variables, copied before the
        # optimizer (they come first in the model).
        state = self.__getstate__()
        local = dict(memo)
        for v in state.get("_built_vars", ()):
            local.setdefault(id(v), v)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(state, local))
        return new

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state["_slot_map"], dict):     # written before the maps travelled keyed
            self.__dict__.update(state)              # by variable (their ids are stale then)
            return
        state["_slot_map"] = {(id(v), kind): slot for v, kind, slot in state["_slot_map"]}
        if "_built_vars" in state:
            state["_var_ids"] = [id(v) for v in state["_built_vars"]]
        if "_deferred" in state:
            state["_deferred"] = {id(d.var): d for d in state["_deferred"]}
        self.__dict__.update(state)

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))

    def apply(self, grads, trainable_variables):
        """One optimizer step: clip -> weight decay -> update rule -> iterations += 1."""
        if not self.built:
            self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                "Invalid value for argument `grads`. Expected one gradient per variable. "
                f"Received: {len(grads)} gradients for {len(trainable_variables)} variables")
        rows_ok = self._row_updates_ok()
        if not rows_ok or self.clipvalue is not None or self.clipnorm is not None \
                or self.global_clipnorm is not None:
            grads = [g.dense() if isinstance(g, RowGradient) else g for g in grads]
            rows_ok = False
        grads = self._clip(grads)
        lr = self._current_lr()
        if self.weight_decay:
            for v in trainable_variables:
                v.value[...] -= v.value * v.value.dtype.type(self.weight_decay * lr)
        for g, v in zip(grads, trainable_variables):
            if g is None:
                continue
            if (id(v), "_known") not in self._slot_map and id(v) not in self._var_ids:
                raise KeyError(f"The optimizer cannot recognize variable {v.path}. This usually "
                               "means you are trying to call the optimizer to update different "
                               "parts of the model separately.")
            if rows_ok and isinstance(g, RowGradient):
                if g.values.dtype == v.value.dtype and g.shape == v.value.shape:
                    self._update_rows(v, g, lr)
                    continue
                g = g.dense()
            g = np.ascontiguousarray(g, dtype=v.value.dtype)
            self._update(v, g, lr)
        self._iterations.value[...] += 1

    def _update(self, var, grad, lr):
        raise NotImplementedError

    @contextlib.contextmanager
    def _background_updates(self, allowed):
        """Inside (fit's loop), an RMSprop step may leave an embedding table's row update
        running on fastconv's background thread while the step goes on (`_DeferredDecay`);
        on exit every such update has finished."""
        self._background = bool(allowed)
        try:
            yield
        finally:
            self._background = False
            self._join_background()

    def _row_updates_ok(self):
        """True when `_update_rows` gives exactly `_update` of the dense gradient."""
        return False

    def _update_rows(self, var, grad, lr):
        raise NotImplementedError

    # ---- config -----------------------------------------------------------------------------
    def get_config(self):
        lr = self._lr_schedule if self._lr_schedule is not None else \
            float(self._learning_rate.value)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": False, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), (int, np.integer)):
            config["learning_rate"] = float(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, learning_rate={self._current_lr():g}>"


def _check_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Invalid value for argument `{name}`. Expected a float. "
                         f"Received: {name}={value!r}")
    return float(value)


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    `m <- momentum*m - lr*g`; `p += m` (or `p += momentum*m - lr*g` with Nesterov); plain
    `p -= lr*g` when momentum is 0.

    Example:
    >>> from fastconv.optimizers import SGD
    >>> SGD(learning_rate=0.1, momentum=0.9).get_config()["momentum"]
    0.9
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=None if name == "SGD" else name,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, float) or \
                not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _build_slots(self, var_list):
        if self.momentum != 0:
            for v in var_list:
                self._add_slot(v, "momentum")

    def _update(self, var, grad, lr):
        _backend.ops.sgd_update(var.value, grad,
                                None if self.momentum == 0 else self._slot(var, "momentum").value,
                                lr, momentum=self.momentum, nesterov=self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class RMSprop(Optimizer):
    """RMSprop: `v <- rho*v + (1-rho)*g^2`; `p -= lr*g / sqrt(v + eps)` (epsilon inside the root);
    `centered` subtracts the squared running mean gradient; `momentum` accumulates increments.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="rmsprop",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=None if name == "rmsprop" else name,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = _check_float("rho", rho)
        self.momentum = _check_float("momentum", momentum)
        self.epsilon = _check_float("epsilon", epsilon)
        self.centered = bool(centered)

    def _build_slots(self, var_list):
        for v in var_list:
            self._add_slot(v, "velocity")
        if self.momentum > 0:
            for v in var_list:
                self._add_slot(v, "momentum")
        if self.centered:
            for v in var_list:
                self._add_slot(v, "average_gradient")

    def _row_updates_ok(self):
        # Plain RMSprop only: zero-gradient rows then just decay their velocity (bit-identical,
        # see fastconv.ops.optim._rmsprop_update_rows); with momentum or centering they move.
        return _backend.name == "compiled" and not self.centered and self.momentum == 0

    def _update_rows(self, var, grad, lr):
        if self._slot(var, "momentum") is not None or \
                self._slot(var, "average_gradient") is not None:
            self._update(var, np.ascontiguousarray(grad.dense()), lr)
            return
        vel = self._slot(var, "velocity")
        deferred = self.__dict__.setdefault("_deferred", {}).get(id(var))
        if deferred is None:
            deferred = self._deferred[id(var)] = _DeferredDecay(var, vel)
        if deferred.step(grad, lr, self.rho, self.epsilon,
                         self.__dict__.get("_background", False)):
            return
        _rmsprop_update_rows(var.value, grad.values, vel.value, grad.pos, lr, rho=self.rho,
                             epsilon=self.epsilon)

    def _update(self, var, grad, lr):
        plain = _backend.name == "compiled" and not self.centered and self.momentum == 0 \
            and lr == lr and 0.0 <= self.rho <= 1.0 and self.epsilon >= 0.0
        # The arrays of the last fast step, kept per variable with the kernel call bound to them:
        # when the weight, gradient and velocity (slot and array) are those same objects again,
        # they still pass `_trusted`.
        plans = self.__dict__.setdefault("_plans", {})
        plan = plans.get(id(var))
        if plain and plan is not None and plan[0] is var._value and plan[1] is grad \
                and self._slot_map.get((id(var), "velocity")) is plan[2] \
                and plan[2]._value is plan[3] and var._sync is None and plan[2]._sync is None \
                and grad.shape == plan[0].shape == plan[3].shape:
            plan[4](lr, self.rho, self.epsilon)
            return
        mom = self._slot(var, "momentum")
        avg = self._slot(var, "average_gradient")
        if mom is None and avg is None and plain:
            vel_var = self._slot(var, "velocity")
            vel = vel_var.value
            if _optim_ops._trusted(var.value, grad, vel):
                run = _optim_ops._rmsprop_bound(var.value, grad, vel)
                run(lr, self.rho, self.epsilon)
                plans[id(var)] = (var._value, grad, vel_var, vel, run)
                return
        _backend.ops.rmsprop_update(
            var.value, grad, self._slot(var, "velocity").value, lr, rho=self.rho,
            epsilon=self.epsilon, momentum_buf=None if mom is None else mom.value,
            momentum=self.momentum, average_grad=None if avg is None else avg.value)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config


_JOIN_LOCK = threading.RLock()     # one job at a time, joined once
_TOKENS = itertools.count(1)


class _DeferredDecay:
    """RMSprop's velocity decay for the rows of an embedding table that a step did not touch,
    run only when the row is touched again or the velocity is read (bit-identical to running it
    every step: fastconv.ops.optim._rmsprop_rows_deferred). A step over a 20,000-row table then
    costs time for the <= 3,200 rows a batch touches instead of a pass over all of them.

    Deferring is exact while lr*0 is +0.0, epsilon > 0, rho in (0, 1] stays the same and no
    velocity value is negative or NaN; `step` checks those first and otherwise returns False
    after bringing the velocity up to date, and the caller runs the every-row update instead.
    The velocity variable calls `catch_up` before anyone reads it; the next step then checks
    its values again, since the reader may have written to them.

    In fit's loop on two or more threads (`background`), `step` leaves the row update running
    on fastconv's background thread, so that it takes the second core while this thread goes
    on with the step's Python work, up to the next batch's embedding lookup. Until `join`, the
    table and velocity variables join before they hand out their arrays (`Variable._sync`), so
    every reader sees the finished update; the results are the same bits.
    """

    def __init__(self, var, velocity):
        self.var, self.velocity = var, velocity
        self.stamp = np.zeros(var.shape[0], dtype=np.int64)
        self.count = 0            # steps run; row r's velocity is current up to stamp[r]
        self.pending = False
        self.rho = None
        self.usable = None        # None: velocity values not checked since last read
        self._lr = self._lr_ok = None
        self._token = None        # the name of the update sent to the background thread
        self._running = None      # and its arrays, kept alive until it is joined
        velocity._sync = self.catch_up

    def __getstate__(self):
        # a copy holds no job of its own: the running one, if any, finishes first
        self.join()
        state = self.__dict__.copy()
        state["_token"] = state["_running"] = None
        return state

    def join(self):
        """Wait for the update sent to the background thread, if one was."""
        with _JOIN_LOCK:
            if self._token is None:
                return
            bad = _background_join(self._token)
            self._token = self._running = None
            self.var._sync = None
            if bad:
                self.catch_up()
                self.usable = False

    def catch_up(self):
        self.join()
        if self.pending:
            _rmsprop_catch_up(self.velocity._value, self.stamp, self.count, self.rho)
            self.pending = False
        self.usable = None

    def _lr_is_pos_zero(self, lr, dt):
        if lr != self._lr:
            z = dt.type(lr) * dt.type(0)
            self._lr, self._lr_ok = lr, bool(z == 0 and not np.signbit(z))
        return self._lr_ok

    def step(self, grad, lr, rho, epsilon, background=False):
        p, v = self.var.value, self.velocity._value     # var.value joins a running update
        dt = p.dtype
        if p.ndim != 2 or v.shape != p.shape or v.dtype != dt or not v.flags.c_contiguous:
            return False
        if rho != self.rho:
            self.catch_up()
            self.rho = rho
        if not (self._lr_is_pos_zero(lr, dt) and dt.type(epsilon) > 0 and dt.type(rho) > 0
                and rho <= 1.0):
            self.catch_up()
            return False
        if self.usable is None:
            self.usable = bool(np.all(v >= 0))
        if not self.usable:
            return False
        self.count += 1
        self.pending = True
        if background and grad.count and get_num_threads() > 1:
            # named, kept and joinable before it starts: an exception anywhere after this
            # (a second Ctrl-C) cannot leave a running update that nobody waits for
            self._token, self._running = next(_TOKENS), (p, grad, v)
            self.var._sync = self.join
            if _rmsprop_rows_deferred_start(p, grad.values, grad.rows, grad.count, v,
                                            self.stamp, self.count, lr, rho, epsilon,
                                            self._token):
                return True
            self.join()     # not started (another job runs): nothing to wait for
        if _rmsprop_rows_deferred(p, grad.values, grad.rows, grad.count, v, self.stamp,
                                  self.count, lr, rho, epsilon):
            self.catch_up()
            self.usable = False
        return True


class Adam(Optimizer):
    """Adam: `alpha = lr*sqrt(1-b2^t)/(1-b1^t)`; `p -= alpha*m / (sqrt(v) + eps)` (epsilon
    outside the root, not bias-corrected); `amsgrad` uses the running max of v.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=None if name == "adam" else name,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = _check_float("beta_1", beta_1)
        self.beta_2 = _check_float("beta_2", beta_2)
        self.epsilon = _check_float("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _build_slots(self, var_list):
        for v in var_list:
            self._add_slot(v, "momentum")
            self._add_slot(v, "velocity")
        if self.amsgrad:
            for v in var_list:
                self._add_slot(v, "velocity_hat")

    def _update(self, var, grad, lr):
        vhat = self._slot(var, "velocity_hat")
        m, v = self._slot(var, "momentum").value, self._slot(var, "velocity").value
        if _backend.name == "compiled" and lr == lr and 0.0 <= self.beta_1 < 1.0 \
                and 0.0 <= self.beta_2 < 1.0 and self.epsilon >= 0.0 and _optim_ops._trusted(
                var.value, grad, m, v, *(() if vhat is None else (vhat.value,))):
            _optim_ops._adam_step(var.value, grad, m, v, None if vhat is None else vhat.value,
                                  lr, self.beta_1, self.beta_2, self.epsilon,
                                  int(self._iterations.value) + 1)
            return
        _backend.ops.adam_update(
            var.value, grad, self._slot(var, "momentum").value,
            self._slot(var, "velocity").value, lr, self.beta_1, self.beta_2, self.epsilon,
            int(self._iterations.value) + 1, vhat=None if vhat is None else vhat.value)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


_CLASSES = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier):
    """An optimizer from a name (case-insensitive: 'sgd', 'rmsprop', 'adam'), config or instance.

    Raises:
        ValueError: `Could not interpret optimizer identifier: <x>`.

    Example:
    >>> from fastconv import optimizers
    >>> type(optimizers.get("rmsprop")).__name__
    'RMSprop'
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _CLASSES:
        return _CLASSES[identifier.lower()]()
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name", "")).lower()
        if name in _CLASSES:
            return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


def serialize(optimizer):
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    name = str(config.get("class_name", "")).lower()
    if name not in _CLASSES:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return _CLASSES[name].from_config(config.get("config") or {})
