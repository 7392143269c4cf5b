"""Sequential: building rules, weights, compile/fit/evaluate/predict semantics, misuse errors."""
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastconv
from fastconv import layers as L
from fastconv.callbacks import Callback
from fastconv.models import Sequential


def stock_model(**kw):
    return Sequential([fastconv.Input((50, 1)), L.Conv1D(16, 5, activation="relu"),
                       L.MaxPooling1D(4), L.Flatten(), L.Dense(1, activation="sigmoid")], **kw)


def stock_data(n, seed):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 50, 1)
    y = (x[:, 1:, 0].mean(1) > x[:, :-1, 0].mean(1)).astype(float)[:, None]
    return x, y


@pytest.fixture
def one_thread(num_threads):
    num_threads(1)


# ---------------------------------------------------------------- building
def test_build_rules():
    with pytest.warns(UserWarning):
        first = L.Conv1D(16, 5, input_shape=(50, 1))
    m = Sequential()
    m.add(first)
    assert m.built and len(m.weights) == 2  # built as soon as the input shape is known
    m.add(L.Flatten())
    m.add(L.Dense(1))
    assert m.built and [w.shape for w in m.weights] == [(5, 1, 16), (16,), (736, 1), (1,)]
    assert m.input_shape == (None, 50, 1) and m.output_shape == (None, 1)
    assert [type(la).__name__ for la in m.layers] == ["Conv1D", "Flatten", "Dense"]

    lazy = Sequential([L.Conv1D(4, 3), L.GlobalMaxPooling1D(), L.Dense(1)])
    assert not lazy.built and lazy.weights == []
    out = lazy.predict(np.zeros((5, 10, 2)), verbose=0)
    assert out.shape == (5, 1) and out.dtype == np.float32
    assert lazy.built and lazy.input_shape == (5, 10, 2)
    assert lazy.layers[0]._output_shape == (5, 8, 4)

    with pytest.warns(UserWarning, match="input_length"):
        emb = L.Embedding(20, 4, input_length=6)
    e = Sequential([emb, L.GlobalAveragePooling1D()])
    assert not e.built  # input_length does not fix the input shape
    e.build((None, 6))
    assert e.built and e.layers[-1]._output_shape == (None, 4)


def test_add_pop_get_layer_and_errors():
    m = Sequential(name="net")
    with pytest.raises(ValueError, match=r"^Only instances of `keras.Layer` can be added to a "
                                         r"Sequential model. Received: 3 "
                                         r"\(of type <class 'int'>\)"):
        m.add(3)
    with pytest.raises(ValueError, match="^Sequential model net cannot be built because it has no "
                                         r"layers. Call `model.add\(layer\)`.$"):
        m.build((None, 3))
    m.add(L.Dense(2, name="d"))
    with pytest.raises(ValueError, match="^All layers added to a Sequential model should have "
                                         "unique names. Name 'd' is already the name of a layer "
                                         "in this model. Update the `name` argument to pass a "
                                         "unique name.$"):
        m.add(L.Dense(3, name="d"))
    m.add(L.Dense(3, name="e"))
    assert m.get_layer("e") is m.layers[1] and m.get_layer(index=0).name == "d"
    assert m.pop().name == "e" and len(m.layers) == 1
    with pytest.raises(ValueError):
        m.get_layer("zzz")


def test_weights_order_set_weights_and_count():
    m = stock_model()
    assert m.count_params() == 273
    ws = m.get_weights()
    assert [w.shape for w in ws] == [(5, 1, 16), (16,), (176, 1), (1,)]
    new = [np.full_like(w, i) for i, w in enumerate(ws)]
    m.set_weights(new)
    for a, b in zip(m.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"^You called `set_weights\(weights\)` on layer "
                                         r"'sequential(_\d+)?' with a weight list of length 3, but "
                                         r"the layer was expecting 4 weights.$"):
        m.set_weights(new[:3])
    bad = [np.zeros((5, 1, 8))] + new[1:]
    with pytest.raises(ValueError, match=r"weight shape \(5, 1, 16\) is not compatible with "
                                         r"provided weight shape \(5, 1, 8\)\.$"):
        m.set_weights(bad)
    np.testing.assert_array_equal(m.get_weights()[0], new[0])  # nothing assigned on error


def test_input_rank_adjustment_and_spec_errors():
    m = stock_model()
    x = np.random.default_rng(0).standard_normal((4, 50))
    np.testing.assert_array_equal(m.predict(x, verbose=0), m.predict(x[..., None], verbose=0))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 1, but "
                                         r"received input with shape \(4, 50, 2\)"):
        m.predict(np.zeros((4, 50, 2)), verbose=0)
    with pytest.raises(ValueError, match="^Invalid input shape for input"):
        m.predict(np.zeros((4,)), verbose=0)
    lazy = Sequential([L.Conv1D(4, 3, name="c")])
    with pytest.raises(ValueError, match=r"^Input 0 with name 'None' of layer 'c' is incompatible "
                                         r"with the layer: expected min_ndim=3, found ndim=2. Full "
                                         r"shape received: \(32, 50\)$"):
        lazy.predict(np.zeros((40, 50)), verbose=0)


# ---------------------------------------------------------------- misuse
def test_misuse_messages():
    m = stock_model()
    x, y = stock_data(100, 0)
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model.$"):
        m.fit(x, y)
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model.$"):
        m.evaluate(x, y)
    with pytest.raises(ValueError, match="^Could not interpret optimizer identifier: adamx$"):
        m.compile("adamx", "mse")
    with pytest.raises(ValueError, match="^Could not interpret loss identifier: msee$"):
        m.compile("adam", "msee")
    with pytest.raises(ValueError, match="^Could not interpret metric identifier: accc$"):
        m.compile("adam", "mse", metrics=["accc"])
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    with pytest.raises(ValueError) as info:
        m.fit(x, y[:90], verbose=0)
    assert str(info.value) == ("Data cardinality is ambiguous. Make sure all arrays contain the "
                               "same number of samples.'x' sizes: 100\n'y' sizes: 90\n")
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.fit(x, y_nan, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        m.evaluate(x, y_nan, verbose=0)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=f"Invalid value for argument `batch_size`. Expected a "
                                             f"positive int. Received: batch_size={bad}"):
            m.fit(x, y, batch_size=bad, verbose=0)
    with pytest.raises(ValueError, match=r"^Training data contains 1 samples, which is not "
                                         r"sufficient to split it into a validation and training "
                                         r"set as specified by `validation_split=0.2`."):
        m.fit(x[:1], y[:1], validation_split=0.2, verbose=0)
    with pytest.raises(TypeError, match="Invalid value for argument `callbacks`"):
        m.fit(x, y, callbacks=print, verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        m.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(100), verbose=0)


def test_nan_inputs_propagate(one_thread):
    m = stock_model()
    m.compile("sgd", "binary_crossentropy")
    x, y = stock_data(8, 1)
    x[0, 0, 0] = np.nan
    assert np.isnan(m.predict(x, verbose=0)[0, 0])
    assert not np.isnan(m.predict(x, verbose=0)[1:]).any()


# ---------------------------------------------------------------- fit semantics
def test_history_keys_params_and_initial_epoch(one_thread):
    fastconv.utils.set_random_seed(0)
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = stock_data(100, 1)
    h = m.fit(x, y, epochs=3, initial_epoch=1, validation_split=0.2, verbose=0)
    assert list(h.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert h.epoch == [1, 2] and all(len(v) == 2 for v in h.history.values())
    assert h.params == {"verbose": 0, "epochs": 3, "steps": 3}
    assert m.history is h and h.model is m
    assert all(type(v) is float for vals in h.history.values() for v in vals)
    h2 = m.fit(x, y, batch_size=30, verbose=0)
    assert list(h2.history) == ["acc", "loss"] and h2.params["steps"] == 4
    m.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    assert list(m.fit(x, y, verbose=0).history) == ["accuracy", "loss"]


def test_validation_split_takes_last_samples(one_thread):
    fastconv.utils.set_random_seed(3)
    m = stock_model()
    m.compile("sgd", "binary_crossentropy", metrics=["acc"])
    x, y = stock_data(50, 2)
    h = m.fit(x, y, validation_split=0.3, epochs=1, verbose=0)
    split_at = int(math.floor(50 * (1 - 0.3)))
    assert split_at == 35
    loss, acc = m.evaluate(x[split_at:], y[split_at:], verbose=0)
    assert h.history["val_loss"][0] == loss and h.history["val_acc"][0] == acc
    other = m.evaluate(x[:15], y[:15], verbose=0)[0]
    assert other != loss


def test_batches_shuffle_and_partial_last_batch(one_thread, monkeypatch):
    seen = []

    class Sizes(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    calls = []
    real = np.random.permutation
    monkeypatch.setattr(np.random, "permutation", lambda n: calls.append(n) or real(n))
    m = stock_model()
    m.compile("sgd", "binary_crossentropy")
    x, y = stock_data(70, 3)
    h = m.fit(x, y, batch_size=32, epochs=2, callbacks=[Sizes()], verbose=0)
    assert h.params["steps"] == 3 and seen == [0, 1, 2, 0, 1, 2]
    # one permutation of the training samples per epoch, plus (first fit after compile) the one
    # Keras draws when it peeks at a batch to build its compiled loss and metrics
    assert calls == [70, 70, 70]
    calls.clear()
    m.fit(x, y, epochs=2, validation_split=0.5, verbose=0)
    assert calls == [35, 35]
    calls.clear()
    m.fit(x, y, shuffle=False, verbose=0)
    assert calls == []


def test_shuffle_false_matches_manual_steps(one_thread):
    """fit(shuffle=False) == train_on_batch over consecutive slices (last partial batch kept)."""
    x, y = stock_data(70, 4)
    fastconv.utils.set_random_seed(1)
    a = stock_model()
    b = stock_model()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(fastconv.optimizers.Adam(learning_rate=0.01), "binary_crossentropy")
    a.fit(x, y, batch_size=32, shuffle=False, verbose=0)
    for s in range(0, 70, 32):
        b.train_on_batch(x[s:s + 32].astype(np.float32), y[s:s + 32].astype(np.float32))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert int(a.optimizer.iterations.value) == 3


@pytest.mark.parametrize("batch_size", [80, 100])
def test_frozen_fit_loss_equals_evaluate(batch_size, one_thread):
    fastconv.utils.set_random_seed(5)
    m = stock_model()
    m.trainable = False
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = stock_data(100, 5)
    before = m.get_weights()
    h = m.fit(x, y, batch_size=batch_size, shuffle=False, verbose=0)
    loss, acc = m.evaluate(x, y, batch_size=batch_size, verbose=0)
    assert h.history["loss"][0] == pytest.approx(loss, rel=1e-6)
    assert h.history["acc"][0] == pytest.approx(acc, rel=1e-6)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    # loss = batch-size-weighted mean of batch losses, each the mean over its samples
    p = m.predict(x, verbose=0).astype(np.float64)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    ref = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    assert loss == pytest.approx(ref, rel=1e-5)


def test_predict_batch_size_invariance_and_order(one_thread):
    fastconv.utils.set_random_seed(2)
    m = Sequential([fastconv.Input((50, 1)), L.Conv1D(16, 5, activation="relu"),
                    L.MaxPooling1D(4), L.Flatten(), L.Dense(8, activation="tanh"), L.Dropout(0.5),
                    L.Dense(1, activation="sigmoid")])
    x = np.random.default_rng(2).standard_normal((101, 50, 1))
    outs = [m.predict(x, batch_size=b, verbose=0) for b in (1, 7, 32, 101)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    np.testing.assert_array_equal(m.predict(x[::-1], verbose=0), outs[0][::-1])
    np.testing.assert_array_equal(m.predict_on_batch(x[:5]), outs[0][:5])
    np.testing.assert_array_equal(m(x[:5]), outs[0][:5])
    assert outs[0].dtype == np.float32 and outs[0].shape == (101, 1)


def test_one_step_changes_every_weight_and_loss_finite(one_thread):
    fastconv.utils.set_random_seed(4)
    m = Sequential([L.Embedding(30, 4), L.Conv1D(6, 3, activation="relu", padding="same"),
                    L.AveragePooling1D(2), L.Conv1D(4, 2, activation="tanh"),
                    L.GlobalAveragePooling1D(), L.Dense(3, activation="softmax")])
    m.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["acc"])
    rng = np.random.default_rng(4)
    x = rng.integers(0, 30, size=(16, 10))
    y = rng.integers(0, 3, size=16)
    m.build((None, 10))
    before = m.get_weights()
    loss, acc = m.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    for a, b, w in zip(before, m.get_weights(), m.weights):
        assert not np.array_equal(a, b), w.path
    assert type(m.metrics[0]).__name__ == "SparseCategoricalAccuracy"


def test_class_weight_equals_sample_weight(one_thread):
    x, y = stock_data(40, 6)
    fastconv.utils.set_random_seed(6)
    a = stock_model()
    b = stock_model()
    b.set_weights(a.get_weights())
    a.compile("sgd", "binary_crossentropy")
    b.compile("sgd", "binary_crossentropy")
    la = a.train_on_batch(x, y, class_weight={0: 0.25, 1: 2.0})
    lb = b.train_on_batch(x, y, sample_weight=np.where(y[:, 0] == 1, 2.0, 0.25))
    assert la == lb
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_callbacks_logs_sorted_floats_and_stop_training(one_thread):
    records = []

    class Recorder(Callback):
        def on_train_batch_end(self, batch, logs=None):
            records.append(logs)
            if batch == 1:
                self.model.stop_training = True

    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc", "mse"])
    x, y = stock_data(200, 7)
    h = m.fit(x, y, epochs=5, callbacks=[Recorder()], verbose=0)
    assert len(records) == 2 and h.epoch == [0]
    assert list(records[0]) == ["acc", "loss", "mse"]
    assert all(type(v) is float for v in records[0].values())
    m.optimizer.learning_rate = 0.25
    assert float(m.optimizer.learning_rate.value) == 0.25
    assert m.evaluate(x, y, verbose=0, return_dict=True).keys() == {"acc", "loss", "mse"}
    assert m.metrics_names == ["loss", "acc", "mse"]


def test_fit_without_metrics_and_evaluate_scalar(one_thread):
    m = stock_model()
    m.compile(loss="mse")
    assert type(m.optimizer).__name__ == "RMSprop"
    x, y = stock_data(20, 8)
    m.fit(x, y[:, 0], verbose=0)  # y (N,) against output (N, 1)
    assert isinstance(m.evaluate(x, y, verbose=0), float)


# ---------------------------------------------------------------- learning and determinism
def _fit_weights(seed, epochs=3):
    fastconv.utils.set_random_seed(seed)
    x, y = stock_data(200, seed)
    m = Sequential([fastconv.Input((50, 1)), L.Conv1D(8, 5, activation="relu"),
                    L.MaxPooling1D(4), L.Flatten(), L.Dropout(0.2),
                    L.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    m.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return m.get_weights()


def test_fixed_seed_runs_are_bitwise_equal_for_any_thread_count(seed, num_threads):
    results = []
    for n in (1, 1, 2):
        num_threads(n)
        results.append(_fit_weights(seed))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_planted_pattern_task(seed, one_thread):
    """A Conv1D detecting a planted motif reaches >= 95 % training accuracy."""
    rng = np.random.default_rng(seed)
    n, T = 256, 40
    x = rng.standard_normal((n, T, 1)) * 0.5
    y = rng.integers(0, 2, size=n).astype(float)
    motif = np.array([2.0, -2.0, 2.0, -2.0])
    for i in np.nonzero(y)[0]:
        at = rng.integers(0, T - 4)
        x[i, at:at + 4, 0] += motif
    fastconv.utils.set_random_seed(seed)
    m = Sequential([fastconv.Input((T, 1)), L.Conv1D(8, 4, activation="relu"),
                    L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")])
    m.compile(fastconv.optimizers.Adam(learning_rate=0.01), "binary_crossentropy", metrics=["acc"])
    h = m.fit(x, y, epochs=50, batch_size=32, verbose=0)
    assert h.history["acc"][-1] >= 0.95


def test_stock_program_learns_like_keras(capsys, one_thread):
    """examples/stock_conv1d.py over 5 seeds: mean final acc >= 0.56, loss <= 0.68."""
    import runpy

    path = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "stock_conv1d.py")
    accs, losses = [], []
    for s in range(5):
        fastconv.utils.set_random_seed(s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the program passes input_shape=
            env = runpy.run_path(path, run_name="__main__")
        hist = env["model"].history.history
        accs.append(hist["acc"][-1])
        losses.append(hist["loss"][-1])
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 20 and out[0] == "Epoch 1/10" and out[-2] == "Epoch 10/10"
    assert np.mean(accs) >= 0.56, accs
    assert np.mean(losses) <= 0.68, losses


def test_reference_backend_is_explicit(tmp_path):
    code = ("import numpy as np, fastconv\nfrom fastconv import layers as L, _backend\n"
            "fastconv.utils.set_random_seed(0)\n"
            "m = fastconv.Sequential([fastconv.Input((20, 2)), L.Conv1D(3, 3, activation='relu'),"
            " L.MaxPooling1D(2), L.Flatten(), L.Dense(1)])\n"
            "x = np.random.default_rng(0).standard_normal((5, 20, 2))\n"
            "print(_backend.name); np.save(r'%s', m.predict(x, verbose=0))\n")
    outs = {}
    for backend in ("compiled", "reference"):
        f = tmp_path / f"{backend}.npy"
        env = dict(os.environ, FASTCONV_BACKEND=backend)
        r = subprocess.run([sys.executable, "-c", code % f], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == backend
        outs[backend] = np.load(f)
    np.testing.assert_allclose(outs["compiled"], outs["reference"], rtol=1e-5, atol=1e-6)
    r = subprocess.run([sys.executable, "-c", "import fastconv.models"], capture_output=True,
                       text=True, env=dict(os.environ, FASTCONV_BACKEND="gpu"), timeout=120)
    assert r.returncode != 0
    assert "Invalid value for environment variable `FASTCONV_BACKEND`" in r.stderr


def test_label_shape_errors(one_thread):
    m = stock_model()
    m.compile("adam", "binary_crossentropy")
    x, _ = stock_data(10, 9)
    with pytest.raises(ValueError, match=r"^Arguments `target` and `output` must have the same "
                                         r"shape. Received: target.shape=\(10, 2\), "
                                         r"output.shape=\(10, 1\)$"):
        m.fit(x, np.zeros((10, 2)), verbose=0)
    m.compile("adam", "mse")
    with pytest.raises(ValueError, match="must have the same rank"):
        m.fit(x, np.zeros((10, 3, 4)), verbose=0)


def test_buffers_are_reused_between_steps(one_thread):
    m = stock_model()
    m.compile("adam", "binary_crossentropy")
    x, y = stock_data(70, 10)
    seen = []

    class Grab(Callback):
        def on_train_batch_end(self, batch, logs=None):
            conv = self.model.layers[0]
            seen.append((id(conv._cache[1]), id(conv.gradients[0]), conv._cache[1].shape[0]))

    m.fit(x, y, batch_size=32, epochs=3, callbacks=[Grab()], verbose=0)
    full = {s[:2] for s in seen if s[2] == 32}
    partial = {s[:2] for s in seen if s[2] == 6}
    assert len(full) == 1 and len(partial) == 1  # one set of buffers per batch shape
    assert len({s[1] for s in seen}) == 1  # one gradient buffer per weight
    for layer in m.layers:
        assert len(layer._buffers) <= 2 * 4


def test_masked_average_pooling_after_embedding(one_thread):
    fastconv.utils.set_random_seed(11)
    m = Sequential([fastconv.Input((5,), dtype="int32"), L.Embedding(10, 3, mask_zero=True),
                    L.GlobalAveragePooling1D(), L.Dense(1)])
    ids = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]])
    table = m.layers[0].embeddings.value
    kernel, bias = m.layers[2].get_weights()
    pooled = np.stack([table[[1, 2]].mean(0), table[[3, 4, 5, 6, 7]].mean(0)])
    np.testing.assert_allclose(m.predict(ids, verbose=0), pooled @ kernel + bias, rtol=1e-6)
    m.compile("sgd", "mse")
    before = table.copy()
    m.train_on_batch(ids, np.ones((2, 1)))
    assert np.array_equal(table[0], before[0])  # padding row gets no gradient through the mask
    assert not np.array_equal(table[1], before[1])


def test_sequential_config_round_trip(one_thread):
    m = stock_model()
    config = m.get_config()
    assert [entry["class_name"] for entry in config["layers"]] == [
        "InputLayer", "Conv1D", "MaxPooling1D", "Flatten", "Dense"]
    assert config["build_input_shape"] == [None, 50, 1]
    copy = Sequential.from_config(config)
    assert copy.get_config() == config and copy.built
    copy.set_weights(m.get_weights())
    x, _ = stock_data(5, 12)
    np.testing.assert_array_equal(copy.predict(x, verbose=0), m.predict(x, verbose=0))


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.deep
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_long_fit_does_not_grow_memory(one_thread):
    """I4: 200 epochs of a tiny model; RSS grows by at most 5 MiB after the first epoch."""
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = stock_data(100, 13)
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.2)
    start = _rss_bytes()
    m.fit(x, y, epochs=200, verbose=0, validation_split=0.2)
    assert _rss_bytes() - start <= 5 * 2 ** 20


def test_build_with_a_different_shape_is_refused():
    m = stock_model(name="fixed")
    with pytest.raises(ValueError, match=r"^Sequential model 'fixed' has already been configured "
                                         r"to use input shape \(None, 50, 1\). You cannot build it "
                                         r"with input_shape \(None, 60, 1\)$"):
        m.build((None, 60, 1))
    m.build((None, 50, 1))


def test_class_weight_with_one_hot_labels(one_thread):
    fastconv.utils.set_random_seed(14)
    m = Sequential([fastconv.Input((4,)), L.Dense(3, activation="softmax")])
    m.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(14)
    x = rng.standard_normal((6, 4))
    labels = np.array([0, 1, 2, 2, 1, 0])
    y = np.eye(3)[labels]
    weights = {0: 1.0, 1: 0.0, 2: 3.0}
    p = m.predict(x, verbose=0).astype(np.float64)
    per = -np.log(np.clip(p[np.arange(6), labels], 1e-7, 1 - 1e-7))
    expect = np.sum(per * np.array([weights[c] for c in labels])) / 6
    assert m.train_on_batch(x, y, class_weight=weights) == pytest.approx(expect, rel=1e-5)
