"""copy.deepcopy and pickle of models: the copy holds the same weights, optimizer state and
settings, runs on its own arrays, and trains on exactly as the original does."""
import copy
import pickle

import numpy as np
import pytest

import fastconv
from fastconv.callbacks import Callback
from fastconv.layers import (Conv1D, Dense, Dropout, Embedding, Flatten, GlobalMaxPooling1D,
                             MaxPooling1D)
from fastconv.models import Sequential


def _text_model():
    # Embedding -> Conv1D takes the fused step (its per-thread row numbering must not travel)
    # and RMSprop defers the table's untouched-row decay (its bookkeeping must travel)
    fastconv.utils.set_random_seed(0)
    model = Sequential([Embedding(50, 16), Conv1D(8, 3, activation="relu"), MaxPooling1D(2),
                        Conv1D(8, 3, activation="relu"), GlobalMaxPooling1D(),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def _text_data(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 50, (64, 40)).astype(np.int32), rng.integers(0, 2, 64).astype("f4")


def _stock_model():
    fastconv.utils.set_random_seed(0)
    model = Sequential([fastconv.Input((20, 1)), Conv1D(4, 5, activation="relu"),
                        MaxPooling1D(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _stock_data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((64, 20, 1)), rng.integers(0, 2, (64, 4, 1)).astype("f4")


def _fit(model, x, y):
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)


def _same(a, b):
    return len(a) == len(b) and all(u.dtype == v.dtype and np.array_equal(u, v)
                                    for u, v in zip(a, b))


def _optimizer_state(model):
    return [np.array(v.value) for v in model.optimizer.variables]


@pytest.mark.parametrize("make, data", [(_text_model, _text_data), (_stock_model, _stock_data)])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_trained_copy_predicts_and_trains_on_as_the_original(make, data, how):
    x, y = data(0)
    model = make()
    _fit(model, x, y)
    if make is _text_model:
        assert model.__dict__.get("_pairs")      # the fused step ran
    clone = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    assert clone is not model and clone.name == model.name
    # NumPy's own dtype objects (the kernels' fast paths test them by identity): a pickled
    # model would otherwise train on the fully checked paths, with NumPy's loss rounding
    for v in clone.weights + clone.optimizer.variables:
        assert v.value.dtype is np.dtype(v.value.dtype.type), v.path
    assert _same(clone.get_weights(), model.get_weights())
    assert _same(_optimizer_state(clone), _optimizer_state(model))
    assert all(not np.shares_memory(a.value, b.value)
               for a, b in zip(clone.weights, model.weights))
    assert np.array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))

    before = model.get_weights()
    x2, y2 = data(1)
    _fit(clone, x2, y2)
    assert _same(model.get_weights(), before)              # the copy trains its own arrays
    _fit(model, x2, y2)
    assert _same(clone.get_weights(), model.get_weights())  # and exactly as the original
    assert _same(_optimizer_state(clone), _optimizer_state(model))
    assert clone.history.history == model.history.history


def test_an_unbuilt_uncompiled_model_copies():
    model = Sequential([Embedding(50, 16), Conv1D(8, 3), GlobalMaxPooling1D()])
    clone = copy.deepcopy(model)
    assert not clone.built and not clone.compiled
    assert [la.name for la in clone.layers] == [la.name for la in model.layers]
    x = np.random.default_rng(0).integers(0, 50, (4, 10))
    y = clone.predict(x, verbose=0)
    assert y.shape == (4, 8) and not model.built


class _KeepCopy(Callback):
    """Keeps a deep copy of the model and the state it had, at the end of the first epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.clone = copy.deepcopy(self.model)
            self.weights = self.model.get_weights()
            self.state = _optimizer_state(self.model)


def test_a_copy_taken_in_a_callback_during_fit_holds_that_moment():
    x, y = _text_data(0)
    model = _text_model()
    keep = _KeepCopy()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[keep])
    assert not _same(model.get_weights(), keep.weights)          # training went on
    assert _same(keep.clone.get_weights(), keep.weights)
    assert _same(_optimizer_state(keep.clone), keep.state)
    _fit(keep.clone, x, y)              # the copy's epochs 2 and 3 are the original's
    assert _same(keep.clone.get_weights(), model.get_weights())
    assert _same(_optimizer_state(keep.clone), _optimizer_state(model))


class _CopyEachBatch(Callback):
    """Deep-copies the model after every batch (declaring that it keeps no weight array between
    batches, so fit leaves the table update running on the background thread) and compares the
    copy's table with the original's."""

    _no_kept_arrays = True

    def __init__(self):
        super().__init__()
        self.running, self.differing = [], []

    def on_train_batch_end(self, batch, logs=None):
        deferred = self.model.optimizer.__dict__.get("_deferred", {}).values()
        self.running.append(any(d._token is not None for d in deferred))
        clone = copy.deepcopy(self.model)
        mine = clone.layers[0].embeddings.value
        theirs = self.model.layers[0].embeddings.value    # joins the update
        self.differing.append(int(np.sum(mine != theirs)))


def test_a_copy_waits_for_the_table_update_running_in_the_background(num_threads):
    num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20000, (256, 400)).astype(np.int32)
    y = rng.integers(0, 2, 256).astype("f4")
    model = Sequential([Embedding(20000, 128), Conv1D(16, 5, activation="relu"),
                        GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    watch = _CopyEachBatch()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[watch])
    assert any(watch.running)       # some copies were taken while an update ran
    assert watch.differing == [0] * 8


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd_momentum"])
def test_a_copy_of_the_optimizer_alone_is_a_snapshot_for_the_same_model(optimizer):
    if optimizer == "sgd_momentum":
        optimizer = fastconv.optimizers.SGD(momentum=0.9)
    x, y = _text_data(0)
    x2, y2 = _text_data(1)
    model = _text_model()
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    _fit(model, x, y)
    weights, snapshot = model.get_weights(), copy.deepcopy(model.optimizer)
    assert all(a is b for a, b in zip(snapshot._built_vars, model.trainable_weights))
    state = _optimizer_state(model)
    _fit(model, x2, y2)
    after = model.get_weights()
    assert _same([np.array(v.value) for v in snapshot.variables], state)   # untouched
    model.set_weights(weights)
    model.optimizer = snapshot
    _fit(model, x2, y2)
    assert _same(model.get_weights(), after)


def test_copies_leave_the_last_step_behind():
    model = Sequential([Embedding(50, 16), Conv1D(8, 3, activation="relu"), MaxPooling1D(2),
                        Dropout(0.3, seed=1), Flatten(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    x, y = _text_data(0)
    _fit(model, x, y)
    clone = pickle.loads(pickle.dumps(model))
    for layer in clone.layers:
        assert not layer._buffers and not layer._grads
        assert not [k for k in type(layer)._STEP_STATE if k in vars(layer)], layer
    assert clone.layers[0]._row_pos is None and clone.layers[0]._row_grad is None
    _fit(clone, x, y)
    _fit(model, x, y)
    assert _same(clone.get_weights(), model.get_weights())


def test_an_optimizer_state_with_maps_keyed_by_ids_still_loads():
    # the form written before the maps travelled keyed by variable: restored as it was (its
    # ids only name the variables of the process that wrote it)
    model = _stock_model()
    _fit(model, *_stock_data(0))
    state = dict(model.optimizer.__dict__)
    restored = type(model.optimizer).__new__(type(model.optimizer))
    restored.__setstate__(state)
    assert restored._slot_map == model.optimizer._slot_map
    model.optimizer = restored
    _fit(model, *_stock_data(1))     # same process: the ids still name these variables
