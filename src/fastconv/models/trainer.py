"""compile / fit / evaluate / predict with Keras 3's data handling, logs and callbacks.

Batches are consecutive slices of the (optionally permuted) training samples, gathered into
per-shape buffers owned by the model; each layer reuses its own activation and gradient
buffers, so a steady-state training step allocates only small temporaries.
"""
import math
import numbers
import threading

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..callbacks.base import CallbackList, pythonify_logs
from ._interrupt import DeferredInterrupt
from ._threads import ThreadGovernor

__all__ = ["Trainer"]


def _as_array(name, value):
    if value is None:
        return None
    if isinstance(value, (dict,)):
        raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array or a list. "
                        f"Received: {name} of type dict")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray)
                                                          for v in value) and len(value) > 1 \
            and len({v.shape for v in value}) > 1:
        raise ValueError(f"Invalid value for argument `{name}`. fastconv models take a single "
                         "input array. Received: a list of arrays with shapes "
                         f"{[v.shape for v in value]}")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"Invalid dtype for argument `{name}`. Expected numeric data. "
                        f"Received: {name} with dtype={arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"Invalid value for argument `{name}`. Expected an array with a batch "
                         f"axis. Received: {name} with shape {arr.shape}")
    return arr


def _check_cardinality(x, y, sample_weight):
    arrays = [("x", x), ("y", y), ("sample_weight", sample_weight)]
    sizes = {a.shape[0] for _, a in arrays if a is not None}
    if len(sizes) > 1:
        msg = ("Data cardinality is ambiguous. Make sure all arrays contain the same number of "
               "samples.")
        for label, a in arrays:
            if a is not None:
                msg += f"'{label}' sizes: {a.shape[0]}\n"
        raise ValueError(msg)


def _check_labels(y, name="y"):
    if y is not None and y.dtype.kind == "f" and not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise ValueError(f"Invalid value for argument `{name}`: the labels contain {bad} NaN or "
                         "inf values. Expected finite labels.")


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError("Invalid value for argument `batch_size`. Expected a positive int. "
                         f"Received: batch_size={batch_size}")
    return int(batch_size)


def _class_weights_to_sample_weights(y, class_weight):
    if y.ndim > 1 and y.shape[-1] != 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.round(y.reshape(y.shape[0], -1)[:, 0] if y.ndim > 1 else y).astype(np.int64)
    return np.array([float(class_weight.get(int(c), 1.0)) for c in labels], dtype=np.float32)


def _check_callbacks(callbacks):
    from ..callbacks.base import Callback

    if callbacks is None or isinstance(callbacks, CallbackList):
        return
    if not isinstance(callbacks, (list, tuple)) or \
            not all(isinstance(c, Callback) for c in callbacks):
        raise TypeError("Invalid value for argument `callbacks`. Expected a list of "
                        f"`fastconv.callbacks.Callback` objects. Received: callbacks={callbacks!r}")


def _unpack_validation(validation_data):
    if isinstance(validation_data, (list, tuple)):
        if len(validation_data) in (2, 3):
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            return vx, vy, vsw
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
        f"found: {validation_data}")


def _check_validation_freq(freq):
    """`validation_freq` is a positive int or a collection of positive epoch numbers."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if is_int(freq):
        ok = freq >= 1
    elif isinstance(freq, (list, tuple, set, frozenset, range)):
        ok = all(is_int(v) and v >= 1 for v in freq)
    else:
        raise TypeError("Invalid type for argument `validation_freq`. Expected a positive int or "
                        f"a list of positive epoch numbers. Received: validation_freq={freq!r}")
    if not ok:
        raise ValueError("Invalid value for argument `validation_freq`. Expected a positive int or "
                         f"a list of positive epoch numbers. Received: validation_freq={freq!r}")


class Trainer:
    """Mixin giving a model Keras' training API; the model provides the forward/backward pass."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._loss_obj = None
        self._metric_ids = []
        self._weighted_metric_ids = []
        self._metrics = None
        self._weighted_metrics = None
        self._loss_total = 0.0
        self._loss_count = 0.0
        self.stop_training = False
        self.history = None
        self._compile_config = None

    def __getstate__(self):
        # copy.deepcopy and pickle: the weights, optimizer state and settings travel; the thread
        # governors (per Python thread), the batch buffers and the fused Embedding -> Conv1D
        # steps (per-thread row numbering) are rebuilt by the copy when it first runs
        join = getattr(self.__dict__.get("optimizer"), "_join_background", None)
        if join is not None:    # a table row update still running: the copy takes it whole
            join()
        state = self.__dict__.copy()
        for key in ("_governors", "_data_buffers", "_pairs", "_fused_at"):
            state.pop(key, None)
        return state

    # ---- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: optimizer (name or instance), loss, metrics.

        Raises:
            ValueError: unknown optimizer, loss or metric identifiers.
        """
        if isinstance(loss, (list, tuple)):
            raise ValueError("Invalid value for argument `loss`. fastconv models have one output; "
                             "expected a loss name, Loss instance or function. "
                             f"Received: loss={loss!r}")
        self.optimizer = optimizers_mod.get(optimizer)
        if loss is not None and not (isinstance(loss, str) and loss in ("crossentropy", "ce")):
            self._loss_obj = losses_mod.get(loss)
        else:
            self._loss_obj = None
        if loss_weights is not None and not isinstance(loss_weights, numbers.Real):
            raise ValueError("Invalid value for argument `loss_weights`. fastconv models have one "
                             f"output; expected a float. Received: loss_weights={loss_weights}")
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        self.loss = loss
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple)):
                raise TypeError(f"Type of `{arg}` argument not understood. Expected a list or "
                                f"dictionary, found: {value}")
        self._metric_ids = list(metrics or [])
        self._weighted_metric_ids = list(weighted_metrics or [])
        for ident in self._metric_ids + self._weighted_metric_ids:
            if not metrics_mod.is_accuracy_alias(ident) and not (
                    isinstance(ident, str) and ident in ("crossentropy", "ce")):
                metrics_mod.get(ident)  # validate now, as Keras does
        self._metrics = None
        self._weighted_metrics = None
        self._loss_metrics_built = False
        self._compile_config = {
            "optimizer": optimizer if isinstance(optimizer, str) else None,
            "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution, "jit_compile": jit_compile,
            "auto_scale_loss": auto_scale_loss}
        self.compiled = True
        self.stop_training = False

    def get_compile_config(self):
        """Keras' `compile_config` dict (what `.keras` files store)."""
        if not self.compiled:
            return None
        cfg = dict(self._compile_config)
        cfg["optimizer"] = optimizers_mod.serialize(self.optimizer)
        loss = cfg["loss"]
        if loss is not None and not isinstance(loss, str):
            cfg["loss"] = losses_mod.serialize(self._loss_obj)
        metrics = cfg["metrics"]
        if metrics is not None:
            cfg["metrics"] = [m if isinstance(m, str) else getattr(m, "name", str(m))
                              for m in metrics]
        cfg["jit_compile"] = False
        cfg.pop("auto_scale_loss", None)
        return cfg

    def compile_from_config(self, config):
        config = dict(config or {})
        opt = config.get("optimizer", "rmsprop")
        if isinstance(opt, dict):
            opt = optimizers_mod.deserialize(opt)
        loss = config.get("loss")
        if isinstance(loss, dict):
            loss = losses_mod.get(loss)
        self.compile(optimizer=opt, loss=loss, loss_weights=config.get("loss_weights"),
                     metrics=config.get("metrics"),
                     weighted_metrics=config.get("weighted_metrics"))
        if self.built:
            self.optimizer.build(self.trainable_weights)

    def _assert_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    # ---- metrics state ----------------------------------------------------------------------
    @property
    def metrics_names(self):
        names = ["loss"]
        if self._metrics is not None:
            names += [m.name for m in self._metrics + self._weighted_metrics]
        else:
            names += [m if isinstance(m, str) else getattr(m, "name", "metric")
                      for m in self._metric_ids + self._weighted_metric_ids]
        return names

    @property
    def metrics(self):
        return list(self._metrics or []) + list(self._weighted_metrics or [])

    def _resolve_loss_and_metrics(self, y, y_pred):
        self._loss_metrics_built = True
        if self._loss_obj is None:
            if self.loss is None:
                raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
            self._loss_obj = losses_mod.resolve_crossentropy(np.asarray(y), y_pred)()
        if self._metrics is None:
            def make(ident, weighted):
                if isinstance(ident, str) and ident in ("crossentropy", "ce"):
                    cls = losses_mod.resolve_crossentropy(np.asarray(y), y_pred)
                    m = metrics_mod.get(cls.name_default)
                    m.name = ident
                else:
                    m = metrics_mod.resolve(ident, y, y_pred)
                if weighted and ident in self._metric_ids:
                    m.name = "weighted_" + m.name
                return m
            self._metrics = [make(i, False) for i in self._metric_ids]
            self._weighted_metrics = [make(i, True) for i in self._weighted_metric_ids]

    def _reset_metrics(self):
        self._loss_total = 0.0
        self._loss_count = 0.0
        for m in self.metrics:
            m.reset_state()

    def reset_metrics(self):
        self._reset_metrics()

    def _update_metrics(self, loss, y, y_pred, sample_weight):
        n = y_pred.shape[0]
        self._loss_total += float(loss) * n
        self._loss_count += n
        for m in self._metrics:
            m.update_state(y, y_pred)
        for m in self._weighted_metrics:
            m.update_state(y, y_pred, sample_weight)

    def _logs(self):
        logs = {"loss": float(np.float32(self._loss_total / self._loss_count))
                if self._loss_count else 0.0}
        for m in self.metrics:
            logs[m.name] = m.result()
        return logs

    # ---- data -------------------------------------------------------------------------------
    def _prepare_x(self, x, name="x"):
        x = _as_array(name, x)
        if x is None:
            raise ValueError(f"Invalid value for argument `{name}`. Expected input data. "
                             f"Received: {name}=None")
        if self.built:
            x = self._adjust_input_rank(x)
        return self._cast_model_input(x)

    def _prepare_y(self, y, name="y"):
        y = _as_array(name, y)
        if y is None:
            return None
        _check_labels(y, name)
        return y

    def _batches(self, n, batch_size, order):
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size] if order is not None else \
                slice(start, min(start + batch_size, n))

    def _gather(self, key, arr, idx):
        if arr is None:
            return None
        if isinstance(idx, slice):
            return arr[idx]
        out = self._batch_buffer(key, (len(idx),) + arr.shape[1:], arr.dtype)
        arr.take(idx, axis=0, out=out)
        return out

    def _batch_buffer(self, key, shape, dtype):
        bufs = self.__dict__.setdefault("_data_buffers", {})
        k = (key, shape, np.dtype(dtype))
        buf = bufs.get(k)
        if buf is None:
            if len(bufs) > 16:
                bufs.clear()
            buf = bufs[k] = np.empty(shape, dtype=dtype)
        return buf

    def _governor(self, loop):
        """The thread governor of this model's `loop` ("fit", "evaluate", "predict"), one per
        Python thread (the OpenMP thread count it sets is per calling thread too)."""
        local = self.__dict__.get("_governors")
        if local is None:
            local = self.__dict__.setdefault("_governors", threading.local())
        governors = local.__dict__.setdefault("by_loop", {})
        gov = governors.get(loop)
        if gov is None:
            gov = governors[loop] = ThreadGovernor()
        return gov

    # ---- one step ---------------------------------------------------------------------------
    def _train_step(self, x, y, sample_weight):
        y_pred = self._forward(x, training=True)
        self._resolve_loss_and_metrics(y, y_pred)
        loss, dy = self._loss_obj.value_and_grad(y, y_pred, sample_weight)
        if self._loss_weight != 1.0:
            loss *= self._loss_weight
            dy = dy * dy.dtype.type(self._loss_weight)
        self._update_metrics(loss, y, y_pred, sample_weight)
        layers = self.layers
        trainable = [layer.trainable_weights for layer in layers]
        self._backward(dy, trainable)
        if self._trainable:     # Sequential.trainable_weights, with each layer's gradients
            variables, grads = [], []
            for layer, weights in zip(layers, trainable):
                if weights:
                    variables += weights
                    grads += layer._optimizer_gradients()
            if variables:
                self.optimizer.apply(grads, variables)
        return loss

    def _test_step(self, x, y, sample_weight):
        y_pred = self._forward(x, training=False)
        self._resolve_loss_and_metrics(y, y_pred)
        values, _ = self._loss_obj.per_sample(y, y_pred)
        loss, _ = self._loss_obj.reduce(values, sample_weight)
        loss = float(loss) * self._loss_weight
        self._update_metrics(loss, y, y_pred, sample_weight)
        return loss

    # ---- fit --------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs - initial_epoch` epochs; returns a `History`.

        NaN/inf policy: labels containing NaN or inf raise a ValueError (here, in `evaluate`
        and for `validation_data`); NaN/inf in the inputs propagate to outputs and loss, as in
        Keras.

        Raises:
            ValueError: not compiled, inconsistent sample counts, NaN labels, bad arguments.
            TypeError: `callbacks` is not a list of `Callback` objects.
        """
        self._assert_compiled()
        batch_size = _check_batch_size(batch_size)
        _check_callbacks(callbacks)
        for arg, val in (("steps_per_epoch", steps_per_epoch),
                         ("validation_steps", validation_steps)):
            if val is not None:
                raise ValueError(f"Invalid value for argument `{arg}`. fastconv trains on NumPy "
                                 f"arrays in whole epochs; expected None. Received: {arg}={val}")
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
            raise ValueError(f"Invalid value for argument `epochs`. Expected an int. "
                             f"Received: epochs={epochs}")
        _check_validation_freq(validation_freq)
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError("Invalid value for argument `verbose`. Expected 'auto', 0, 1 or 2. "
                             f"Received: verbose={verbose}")
        x = self._prepare_x(x)
        y = self._prepare_y(y)
        if y is None:
            raise ValueError("Invalid value for argument `y`. Expected labels for training. "
                             "Received: y=None")
        sample_weight = _as_array("sample_weight", sample_weight)
        _check_cardinality(x, y, sample_weight)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            if not isinstance(class_weight, dict):
                raise ValueError("Invalid value for argument `class_weight`. Expected a dict. "
                                 f"Received: class_weight={class_weight}")
            sample_weight = _class_weights_to_sample_weights(y, class_weight)

        if validation_data is not None:
            vx, vy, vsw = _unpack_validation(validation_data)
            vx = self._prepare_x(vx, "validation_data")
            vy = self._prepare_y(vy, "validation_data")
            vsw = _as_array("sample_weight", vsw)
            _check_cardinality(vx, vy, vsw)
            val = (vx, vy, vsw)
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError("Invalid value for argument `validation_split`. Expected a float "
                                 f"in [0, 1). Received: validation_split={validation_split}")
            n = x.shape[0]
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"Training data contains {n} samples, which is not sufficient to split it "
                    "into a validation and training set as specified by "
                    f"`validation_split={validation_split}`. Either provide more data, or a "
                    "different value for the `validation_split` argument.")
            val = (x[split_at:], y[split_at:],
                   None if sample_weight is None else sample_weight[split_at:])
            x, y = x[:split_at], y[:split_at]
            sample_weight = None if sample_weight is None else sample_weight[:split_at]
        else:
            val = None
        y = self._cast_labels(y)
        if val is not None:
            val = (val[0], self._cast_labels(val[1]), val[2])

        n = x.shape[0]
        if n == 0:
            raise ValueError("Invalid value for argument `x`. Expected at least one sample. "
                             "Received: x with 0 samples")
        if not self.built:
            self._build_from_data(x[:batch_size])
        steps = math.ceil(n / batch_size)
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)
        history = cbs._history
        if shuffle is True and not self.__dict__.get("_loss_metrics_built", False):
            # Keras draws one extra permutation when it peeks at the first batch to build the
            # compiled loss and metrics (first fit after compile); drawing it too keeps the
            # shuffling stream identical to Keras' for the same seed.
            np.random.permutation(n)
        self.stop_training = False
        self._release_layer_buffers()
        cbs.on_train_begin()
        epoch_logs = {}
        logs = {}
        # the embedding table's row update may overlap the step's Python work (one core each)
        # unless a callback could hold a weight array between batches
        background = self.optimizer._background_updates(cbs._library_only())
        with DeferredInterrupt() as interrupt, self._governor("fit") as threads, background:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cbs.on_epoch_begin(epoch)
                if shuffle == "batch":
                    order = np.arange(n)
                    for s in range(0, n, batch_size):
                        order[s:s + batch_size] = np.random.permutation(order[s:s + batch_size])
                elif shuffle:
                    order = np.random.permutation(n)
                else:
                    order = None
                for step, idx in enumerate(self._batches(n, batch_size, order)):
                    if interrupt.pending:  # Ctrl-C: stop between batches (see _interrupt)
                        break
                    cbs.on_train_batch_begin(step)
                    xb = self._gather("x", x, idx)
                    yb = self._gather("y", y, idx)
                    swb = self._gather("sw", sample_weight, idx)
                    threads.step(self._train_step, xb, yb, swb)
                    logs = self._logs()
                    cbs.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                if interrupt.pending:
                    break
                epoch_logs = dict(logs)
                if val is not None and self._should_validate(epoch, validation_freq):
                    val_logs = self._evaluate_arrays(*val, validation_batch_size or batch_size)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        if interrupt.pending:
            self.history = history
            raise KeyboardInterrupt(
                f"Training interrupted in epoch {epoch + 1}; the model holds the weights from "
                "the last completed batch.")
        cbs.on_train_end(epoch_logs)
        if history is not None:
            history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        self.history = history
        return history

    @staticmethod
    def _should_validate(epoch, freq):
        if isinstance(freq, int):
            return (epoch + 1) % freq == 0
        return (epoch + 1) in freq

    def _evaluate_arrays(self, x, y, sample_weight, batch_size, cbs=None):
        self._reset_metrics()
        n = x.shape[0]
        with self._governor("evaluate") as threads:
            for step, idx in enumerate(self._batches(n, batch_size, None)):
                if cbs is not None:
                    cbs.on_test_batch_begin(step)
                threads.step(self._test_step, x[idx], y[idx],
                             None if sample_weight is None else sample_weight[idx])
                if cbs is not None:
                    cbs.on_test_batch_end(step, self._logs())
        return self._logs()

    # ---- evaluate / predict ------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over the data: a float, `[loss, *metrics]`, or a dict."""
        self._assert_compiled()
        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        if steps is not None:
            raise ValueError("Invalid value for argument `steps`. fastconv evaluates whole "
                             f"arrays; expected None. Received: steps={steps}")
        batch_size = _check_batch_size(batch_size)
        _check_callbacks(callbacks)
        x = self._prepare_x(x)
        y = self._prepare_y(y)
        if y is None:
            raise ValueError("Invalid value for argument `y`. Expected labels. Received: y=None")
        sample_weight = _as_array("sample_weight", sample_weight)
        _check_cardinality(x, y, sample_weight)
        y = self._cast_labels(y)
        if not self.built:
            self._build_from_data(x[:batch_size])
        n_steps = math.ceil(x.shape[0] / batch_size)
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
            steps=n_steps)
        cbs.on_test_begin()
        logs = self._evaluate_arrays(x, y, sample_weight, batch_size, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return pythonify_logs(logs)
        if not self.metrics:
            return logs["loss"]
        return [logs["loss"]] + [logs[m.name] for m in self.metrics]

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for `x` as a NumPy array `(N, ...)` in the model dtype (float32 default)."""
        if steps is not None:
            raise ValueError("Invalid value for argument `steps`. fastconv predicts whole "
                             f"arrays; expected None. Received: steps={steps}")
        batch_size = _check_batch_size(batch_size)
        _check_callbacks(callbacks)
        x = self._prepare_x(x)
        if not self.built:
            self._build_from_data(x[:batch_size])
        n = x.shape[0]
        n_steps = math.ceil(n / batch_size)
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
            steps=n_steps)
        cbs.on_predict_begin()
        out = None
        with self._governor("predict") as threads:
            for step, idx in enumerate(self._batches(n, batch_size, None)):
                cbs.on_predict_batch_begin(step)
                yb = threads.step(self._forward, x[idx], False)
                if out is None:
                    out = np.empty((n,) + yb.shape[1:], dtype=yb.dtype)
                out[idx] = yb
                cbs.on_predict_batch_end(step, {"outputs": None})
        cbs.on_predict_end()
        if out is None:
            out = np.empty((0,) + tuple(self._output_shape_of_model()[1:]), dtype=self.dtype)
        return out

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on one batch; returns the running loss (and metrics)."""
        self._assert_compiled()
        x = self._prepare_x(x)
        y = self._prepare_y(y)
        if y is None:
            raise ValueError("Invalid value for argument `y`. Expected labels for training. "
                             "Received: y=None")
        sample_weight = _as_array("sample_weight", sample_weight)
        _check_cardinality(x, y, sample_weight)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            sample_weight = _class_weights_to_sample_weights(y, class_weight)
        y = self._cast_labels(y)
        if not self.built:
            self._build_from_data(x)
        self._train_step(x, y, sample_weight)
        logs = self._logs()
        if return_dict:
            return pythonify_logs(logs)
        if not self.metrics:
            return logs["loss"]
        return [logs["loss"]] + [logs[m.name] for m in self.metrics]

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch without updating weights."""
        self._assert_compiled()
        x = self._prepare_x(x)
        y = self._cast_labels(self._prepare_y(y))
        if y is None:
            raise ValueError("Invalid value for argument `y`. Expected labels. Received: y=None")
        if not self.built:
            self._build_from_data(x)
        self._reset_metrics()
        self._test_step(x, y, _as_array("sample_weight", sample_weight))
        logs = self._logs()
        if return_dict:
            return pythonify_logs(logs)
        if not self.metrics:
            return logs["loss"]
        return [logs["loss"]] + [logs[m.name] for m in self.metrics]

    def predict_on_batch(self, x):
        """Outputs for one batch (no batching, no callbacks)."""
        x = self._prepare_x(x)
        if not self.built:
            self._build_from_data(x)
        return np.array(self._forward(x, training=False), copy=True)
