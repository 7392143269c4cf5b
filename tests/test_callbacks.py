"""EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger, LambdaCallback: Keras 3
semantics and messages (KERAS_SURFACE.md §6-7). Expected epochs and values are worked out by hand
from the rules in §7, then checked once more end to end through `fit`."""
import os

import numpy as np
import pytest

from fastconv.callbacks import (CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint,
                                ReduceLROnPlateau)


class _Optimizer:
    """Stands in for a fastconv optimizer: a float32 learning rate behind a property."""

    def __init__(self, lr=0.001):
        self._lr = np.float32(lr)

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = np.float32(value)


class _Metric:
    def __init__(self, name, direction):
        self.name = name
        self._direction = direction


class _Model:
    def __init__(self):
        self.weights = [np.zeros(2)]
        self.stop_training = False
        self.optimizer = _Optimizer()
        self.metrics = [_Metric("acc", "up"), _Metric("err", "down"), _Metric("odd", None)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path, overwrite=True):
        self.saved.append(("model", path))

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", path))


def _run(callback, values, key="val_loss", model=None, extra=None):
    """Drive the epoch hooks as `fit` does (epoch e sets the weights to [e, e])."""
    model = model or _Model()
    callback.set_model(model)
    callback.on_train_begin({})
    all_logs = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.full(2, float(epoch))]
        logs = dict(extra or {})
        if value is not None:
            logs[key] = value
        logs = dict(sorted(logs.items()))
        callback.on_epoch_end(epoch, logs)
        all_logs.append(logs)
        if model.stop_training:
            break
    callback.on_train_end({})
    return model, all_logs


# ----------------------------------------------------------------------------- EarlyStopping


@pytest.mark.parametrize("values, kwargs, epochs_run", [
    # patience 0: the first epoch without improvement stops (epoch > 0).
    ([1.0, 0.9, 0.95, 0.5], {}, 3),
    # min_delta 0.01: 0.995 and 0.99 are not improvements on 1.0 -> stop after 2 waits.
    ([1.0, 0.995, 0.99, 0.5], {"min_delta": 0.01, "patience": 2}, 3),
    # negative min_delta counts by absolute value.
    ([1.0, 0.995, 0.99, 0.5], {"min_delta": -0.01, "patience": 2}, 3),
    # equal is not better.
    ([1.0, 1.0, 1.0, 1.0], {"patience": 2}, 3),
    # improvements each epoch never stop.
    ([1.0, 0.9, 0.8, 0.7, 0.6], {"patience": 0}, 5),
    # baseline not beaten: improvements do not reset the wait, but they do not stop either.
    ([0.8, 0.7, 0.6], {"baseline": 0.5, "patience": 2}, 3),
    ([0.8, 0.7, 0.75, 0.7], {"baseline": 0.5, "patience": 2}, 3),
    # start_from_epoch: the first two epochs are ignored entirely.
    ([9.0, 9.0, 1.0, 2.0, 0.5], {"start_from_epoch": 2}, 4),
])
def test_early_stopping_epochs(values, kwargs, epochs_run):
    model, logs = _run(EarlyStopping(**kwargs), values)
    assert len(logs) == epochs_run
    assert model.stop_training == (epochs_run < len(values))


def test_early_stopping_max_mode_from_metric_direction():
    cb = EarlyStopping(monitor="val_acc", patience=1)
    _, logs = _run(cb, [0.5, 0.6, 0.55, 0.9], key="val_acc")
    assert len(logs) == 3 and cb.best == 0.6 and cb.stopped_epoch == 2
    # a metric declaring "down" is minimised
    _, logs = _run(EarlyStopping(monitor="err", patience=0), [0.5, 0.6], key="err")
    assert len(logs) == 2
    # explicit mode wins over the name
    _, logs = _run(EarlyStopping(monitor="val_loss", mode="max"), [0.5, 0.4], key="val_loss")
    assert len(logs) == 2


def test_early_stopping_restore_best_weights_and_messages(capsys):
    cb = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True, verbose=1)
    model, logs = _run(cb, [1.0, 0.5, 0.7, 0.8, 0.1], key="loss")
    assert len(logs) == 4
    assert model.weights[0].tolist() == [1.0, 1.0]  # epoch 1 was the best
    assert capsys.readouterr().out == (
        "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n")


def test_early_stopping_is_reusable():
    cb = EarlyStopping(monitor="loss")
    _run(cb, [1.0, 2.0], key="loss")
    assert cb.stopped_epoch == 1
    _, logs = _run(cb, [5.0, 4.0, 3.0], key="loss")
    assert len(logs) == 3 and cb.best == 3.0 and cb.stopped_epoch == 0


def test_early_stopping_missing_monitor_warns():
    with pytest.warns(UserWarning, match=(
            r"^Early stopping conditioned on metric `val_loss` which is not available\. "
            r"Available metrics are: acc,loss$")):
        _run(EarlyStopping(), [None], extra={"loss": 0.5, "acc": 0.7})


def test_monitor_direction_errors_and_warnings():
    with pytest.raises(ValueError, match=(
            r"^EarlyStopping callback received monitor=val_odd, but Keras isn't able to "
            r"automatically determine whether that metric should be maximized or minimized\. "
            r"Pass `mode='max'` in order to monitor based on the highest metric value, or pass "
            r"`mode='min'` in order to use the lowest value\.$")):
        _run(EarlyStopping(monitor="val_odd"), [1.0], key="val_odd")
    with pytest.warns(UserWarning, match=r"^EarlyStopping mode 'bogus' is unknown, fallback to "
                                         r"auto mode\.$"):
        cb = EarlyStopping(mode="bogus")
    assert cb.mode == "auto"


# ------------------------------------------------------------------------- ReduceLROnPlateau


def test_reduce_lr_schedule_and_message(capsys):
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2, verbose=1)
    model, logs = _run(cb, [1.0, 1.0, 1.0, 1.0, 1.0, 0.5], key="loss")
    # epoch 0 improves; 1: wait 1 -> reduce, cooldown 2; 2: counter 2 -> 1, still cooling;
    # 3: counter 1 -> 0, so counting resumes in the same epoch: wait 1 -> reduce; 4: cooling;
    # 5: improves. (The logged rate is the one in force during the epoch.)
    lrs = [entry["learning_rate"] for entry in logs]
    lr0 = float(np.float32(0.001))
    lr1 = float(np.float32(lr0 * 0.5))
    lr2 = float(np.float32(lr1 * 0.5))
    assert lrs == [lr0, lr0, lr1, lr1, lr2, lr2]
    # The key is added after the existing ones (History and the progress line show it last).
    assert list(logs[0]) == ["loss", "learning_rate"]
    assert capsys.readouterr().out == (
        f"\nEpoch 2: ReduceLROnPlateau reducing learning rate to {lr0 * 0.5}.\n"
        f"\nEpoch 4: ReduceLROnPlateau reducing learning rate to {lr1 * 0.5}.\n")
    assert model.optimizer.learning_rate == np.float32(lr2)


def test_reduce_lr_min_delta_and_min_lr():
    # Default min_delta 1e-4: 0.99995 is no improvement on 1.0.
    cb = ReduceLROnPlateau(monitor="loss", factor=0.1, patience=1, min_lr=2e-4)
    model, logs = _run(cb, [1.0, 0.99995, 0.9999, 0.95, 0.95], key="loss")
    assert model.optimizer.learning_rate == np.float32(2e-4)
    assert [round(e["learning_rate"], 9) for e in logs] == [0.001, 0.001, 0.0002, 0.0002, 0.0002]


def test_reduce_lr_errors_and_missing_monitor():
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau does not support a factor >= 1\.0\. "
                                         r"Received factor=1\.0$"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match=(
            r"^Learning rate reduction is conditioned on metric `val_loss` which is not "
            r"available\. Available metrics are: loss,learning_rate\.$")):
        _run(ReduceLROnPlateau(), [None], extra={"loss": 0.5})


# -------------------------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_argument_errors():
    with pytest.raises(ValueError, match=(
            r"^When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided "
            r"must end in `\.weights\.h5` \(Keras weights format\)\. Received: filepath=w\.h5$")):
        ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=(
            r"^The filepath provided must end in `\.keras` \(Keras model format\)\. Received: "
            r"filepath=m\.weights$")):
        ModelCheckpoint("m.weights")
    with pytest.raises(ValueError, match=r"^Unrecognized save_freq: often\. Expected save_freq "
                                         r"are 'epoch' or integer values$"):
        ModelCheckpoint("m.keras", save_freq="often")


def test_model_checkpoint_best_only_messages(capsys, tmp_path):
    path = str(tmp_path / "best-{epoch:02d}-{val_loss:.2f}.keras")
    cb = ModelCheckpoint(path, save_best_only=True, verbose=1)
    model, _ = _run(cb, [0.6931, 0.68, 0.7, 0.5])
    p = lambda e, v: str(tmp_path / f"best-{e:02d}-{v:.2f}.keras")  # noqa: E731
    assert model.saved == [("model", p(1, 0.6931)), ("model", p(2, 0.68)), ("model", p(4, 0.5))]
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from None to 0.69310, saving model to {p(1, 0.6931)}\n"
        f"\nEpoch 1: finished saving model to {p(1, 0.6931)}\n"
        f"\nEpoch 2: val_loss improved from 0.69310 to 0.68000, saving model to {p(2, 0.68)}\n"
        f"\nEpoch 2: finished saving model to {p(2, 0.68)}\n"
        f"\nEpoch 3: val_loss did not improve from 0.68000\n"
        f"\nEpoch 4: val_loss improved from 0.68000 to 0.50000, saving model to {p(4, 0.5)}\n"
        f"\nEpoch 4: finished saving model to {p(4, 0.5)}\n")


def test_model_checkpoint_every_epoch_weights_only_and_threshold(capsys, tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "ckpt.weights.h5"), save_weights_only=True, verbose=1)
    model, _ = _run(cb, [1.0, 2.0])
    target = str(tmp_path / "ckpt.weights.h5")
    assert model.saved == [("weights", target)] * 2
    assert capsys.readouterr().out == (
        f"\nEpoch 1: saving model to {target}\n\nEpoch 1: finished saving model to {target}\n"
        f"\nEpoch 2: saving model to {target}\n\nEpoch 2: finished saving model to {target}\n")
    cb = ModelCheckpoint("m.keras", monitor="acc", save_best_only=True,
                         initial_value_threshold=0.8)
    model, _ = _run(cb, [0.7, 0.85, 0.82], key="acc")
    assert model.saved == [("model", "m.keras")]


def test_model_checkpoint_batch_frequency():
    cb = ModelCheckpoint("b-{epoch}-{batch}.keras", save_freq=3)
    model = _Model()
    cb.set_model(model)
    cb.on_train_begin({})
    for epoch in range(2):
        cb.on_epoch_begin(epoch, {})
        for batch in range(4):
            cb.on_train_batch_end(batch, {"loss": 1.0})
        cb.on_epoch_end(epoch, {"loss": 1.0})
    # 8 batches in all, a save every third: epoch 1 batch 3, epoch 2 batch 2.
    assert model.saved == [("model", "b-1-3.keras"), ("model", "b-2-2.keras")]


def test_model_checkpoint_missing_format_key(tmp_path):
    cb = ModelCheckpoint("m-{val_acc:.2f}.keras")
    with pytest.raises(KeyError) as info:
        _run(cb, [0.5])
    assert info.value.args[0] == (
        'Failed to format this callback filepath: "m-{val_acc:.2f}.keras". Reason: \'val_acc\'')


def test_model_checkpoint_best_only_without_monitor_warns():
    cb = ModelCheckpoint("m.keras", save_best_only=True)
    with pytest.warns(UserWarning, match=r"^Can save best model only with val_loss available\.$"):
        model, _ = _run(cb, [None], extra={"loss": 0.3})
    assert model.saved == [("model", "m.keras")]


# -------------------------------------------------------------------------------- CSVLogger


def test_csv_logger_without_validation_adds_na_columns(tmp_path):
    path = tmp_path / "log.csv"
    cb = CSVLogger(str(path))
    _run(cb, [0.25, 0.125], key="loss", extra={"acc": 0.5})
    assert path.read_bytes() == (
        b"epoch,acc,loss,val_acc,val_loss\r\n0,0.5,0.25,NA,NA\r\n1,0.5,0.125,NA,NA\r\n")


def test_csv_logger_with_validation_separator_and_append(tmp_path):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path, separator=";")
    _run(cb, [0.1 + 0.2, 0.5], key="val_loss", extra={"loss": 1 / 3})
    first = path.read_bytes()
    assert first == (b"epoch;loss;val_loss\r\n0;0.3333333333333333;0.30000000000000004\r\n"
                     b"1;0.3333333333333333;0.5\r\n")
    cb = CSVLogger(path, separator=";", append=True)
    _run(cb, [0.25], key="val_loss", extra={"loss": 1.0})
    assert path.read_bytes() == first + b"0;1.0;0.25\r\n"
    # append to an empty file writes the header
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _run(CSVLogger(empty, append=True), [0.25], key="loss")
    assert empty.read_bytes() == b"epoch,loss,val_loss\r\n0,0.25,NA\r\n"
    assert cb.csv_file.closed


# --------------------------------------------------------------------------- LambdaCallback


def test_lambda_callback_hooks_and_extra_attributes():
    seen = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: seen.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: seen.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, logs["loss"])),
        on_train_batch_begin=lambda batch, logs: seen.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: seen.append(("batch_end", batch)),
        on_train_end=lambda logs: seen.append(("train_end",)),
        on_predict_end=lambda logs: seen.append(("predict_end",)))
    cb.on_train_begin({})
    cb.on_epoch_begin(0, {})
    cb.on_train_batch_begin(0, {})
    cb.on_train_batch_end(0, {})
    cb.on_epoch_end(0, {"loss": 0.5})
    cb.on_train_end({})
    cb.on_predict_end({})
    assert seen == [("train_begin", {}), ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0),
                    ("epoch_end", 0, 0.5), ("train_end",), ("predict_end",)]
    # hooks not given stay the base class no-ops
    assert LambdaCallback().on_epoch_end(0, {}) is None


# ------------------------------------------------------------------------- through fit()


@pytest.fixture
def fit_setup(rng):
    from _saving_models import stock_data, stock_model

    x, y = stock_data(rng, n=48, steps=20)
    return (lambda: stock_model(steps=20)), x, y


def test_early_stopping_in_fit_restores_best(fit_setup, capsys):
    make, x, y = fit_setup
    model = make()
    seen = []
    record = LambdaCallback(on_epoch_end=lambda e, logs: seen.append(
        (logs["loss"], model.get_weights())))
    # min_delta larger than any change: epoch 0 is the best, epoch 2 (patience 2) stops.
    stop = EarlyStopping(monitor="loss", min_delta=100.0, patience=2, verbose=1,
                         restore_best_weights=True)
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, callbacks=[record, stop])
    assert history.epoch == [0, 1, 2] and len(history.history["loss"]) == 3
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\nRestoring model weights from the end of the best epoch: 1.\n")
    for a, b in zip(model.get_weights(), seen[0][1]):
        np.testing.assert_array_equal(a, b)
    assert [round(v, 12) for v in history.history["loss"]] == [round(v[0], 12) for v in seen]


def test_reduce_lr_in_fit_logs_learning_rate_last(fit_setup, capsys):
    make, x, y = fit_setup
    model = make()
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=100.0)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=2, validation_split=0.25,
                        callbacks=[cb])
    assert list(history.history) == ["acc", "loss", "val_acc", "val_loss", "learning_rate"]
    # Epoch 0 sets the best; epochs 1 and 2 each reduce (patience 1) after logging the rate.
    lr0 = float(np.float32(0.001))
    lr1 = float(np.float32(lr0 * 0.5))
    assert history.history["learning_rate"] == [lr0, lr0, lr1]
    assert float(np.asarray(model.optimizer.learning_rate)) == float(np.float32(lr1 * 0.5))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("3/3")]
    assert len(lines) == 3
    assert lines[1].endswith(" - val_loss: " + lines[1].split("val_loss: ")[1].split(" ")[0]
                             + " - learning_rate: 0.0010")
    assert lines[2].endswith(" - learning_rate: 5.0000e-04")


def test_model_checkpoint_in_fit_writes_loadable_files(fit_setup, tmp_path):
    from fastconv.models import load_model

    make, x, y = fit_setup
    model = make()
    at_epoch_end = []
    record = LambdaCallback(on_epoch_end=lambda e, logs: at_epoch_end.append(model.get_weights()))
    every = ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.keras"))
    weights_only = ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True,
                                   monitor="loss", save_best_only=True, mode="max")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[every, weights_only, record])
    assert sorted(os.listdir(tmp_path)) == ["m-01.keras", "m-02.keras", "m-03.keras",
                                            "w.weights.h5"]
    for epoch in range(3):
        loaded = load_model(tmp_path / f"m-{epoch + 1:02d}.keras")
        for a, b in zip(loaded.get_weights(), at_epoch_end[epoch]):
            np.testing.assert_array_equal(a, b)
    # mode="max": the file holds the last epoch whose loss beat every earlier one.
    best, best_epoch = None, None
    for epoch, value in enumerate(history.history["loss"]):
        if best is None or value > best:
            best, best_epoch = value, epoch
    from _saving_models import stock_model

    plain = stock_model(steps=20, compile=False)
    plain.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(plain.get_weights(), at_epoch_end[best_epoch]):
        np.testing.assert_array_equal(a, b)


def test_csv_logger_in_fit_matches_history(fit_setup, tmp_path):
    make, x, y = fit_setup
    model = make()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25,
                        callbacks=[CSVLogger(path)])
    keys = ["acc", "loss", "val_acc", "val_loss"]
    expected = "epoch," + ",".join(keys) + "\r\n" + "".join(
        f"{e}," + ",".join(str(history.history[k][e]) for k in keys) + "\r\n" for e in range(2))
    assert path.read_bytes().decode() == expected


def test_lambda_callback_in_fit_sees_every_batch(fit_setup):
    make, x, y = fit_setup
    model = make()
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_begin=lambda e, logs: events.append(f"e{e}"),
        on_train_batch_begin=lambda b, logs: events.append(f"b{b}"),
        on_train_batch_end=lambda b, logs: events.append(f"/b{b}"),
        on_epoch_end=lambda e, logs: events.append(f"/e{e}:{sorted(logs)}"),
        on_train_end=lambda logs: events.append("end"))
    model.fit(x, y, epochs=2, batch_size=20, verbose=0, callbacks=[cb])
    batches = ["b0", "/b0", "b1", "/b1", "b2", "/b2"]  # 48 samples, batch 20 -> 3 steps
    assert events == (["begin", "e0"] + batches + ["/e0:['acc', 'loss']", "e1"] + batches
                      + ["/e1:['acc', 'loss']", "end"])


def test_auto_mode_resolves_the_models_own_metrics(fit_setup):
    make, x, y = fit_setup
    model = make()
    acc = EarlyStopping(monitor="val_acc", patience=5)
    loss = ReduceLROnPlateau(monitor="val_loss", patience=5)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, validation_split=0.25,
              callbacks=[acc, loss])
    assert acc.monitor_op is np.greater and acc.min_delta == 0
    assert loss.monitor_op is np.less and loss.min_delta == -1e-4
