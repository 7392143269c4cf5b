"""copy.deepcopy and pickle of models: the copy holds the same weights, optimizer state and
settings, runs on its own arrays, and trains on exactly as the original does."""
import copy
import pickle

import numpy as np
import pytest

import fastconv
from fastconv.callbacks import Callback
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.models import Sequential


def _text_model():
    # Embedding -> Conv1D takes the fused step (its per-thread row numbering must not travel)
    # and RMSprop defers the table's untouched-row decay (its bookkeeping must travel)
    model = Sequential([Embedding(50, 16), Conv1D(8, 3, activation="relu"), MaxPooling1D(2),
                        Conv1D(8, 3, activation="relu"), GlobalMaxPooling1D(),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def _text_data(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 50, (64, 40)).astype(np.int32), rng.integers(0, 2, 64).astype("f4")


def _stock_model():
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
