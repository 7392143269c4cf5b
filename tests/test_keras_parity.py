"""fastconv against real Keras 3 (JAX backend): predictions, training steps, files both ways,
summary() and verbose=2 text. Skipped only when keras cannot be imported; CI installs it."""
import contextlib
import io
import json
import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

from fastconv import layers as F  # noqa: E402
from fastconv.models import Sequential  # noqa: E402
from fastconv.saving import load_model  # noqa: E402

from _saving_models import imdb_data, stock_data, weights_equal  # noqa: E402

pytestmark = [pytest.mark.keras,
              # Keras' own modules emit deprecation and user warnings we do not control.
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning:keras")]

K = keras.layers
TOL = 2e-5


# Explicit layer names: Keras and fastconv each number auto names per process.
def _stock_layers(lib):
    return [lib.Conv1D(16, 5, activation="relu", name="conv1d"),
            lib.MaxPooling1D(4, name="max_pooling1d"), lib.Flatten(name="flatten"),
            lib.Dense(1, activation="sigmoid", name="dense")]


def _imdb_layers(lib):
    return [lib.Embedding(200, 8, name="embedding"),
            lib.Conv1D(4, 7, activation="relu", name="conv1d"),
            lib.MaxPooling1D(5, name="max_pooling1d"),
            lib.Conv1D(4, 3, activation="relu", name="conv1d_1"),
            lib.GlobalMaxPooling1D(name="global_max_pooling1d"),
            lib.Dense(1, activation="sigmoid", name="dense")]


ARCHS = {
    "stock": dict(shape=(50, 1), dtype="float32", layers=_stock_layers, optimizer="adam"),
    "imdb": dict(shape=(30,), dtype="int32", layers=_imdb_layers, optimizer="rmsprop"),
}


def keras_model(arch, optimizer=None):
    a = ARCHS[arch]
    model = keras.Sequential([keras.Input(a["shape"], dtype=a["dtype"])] + a["layers"](K),
                             name="sequential")
    model.compile(optimizer=optimizer or a["optimizer"], loss="binary_crossentropy",
                  metrics=["acc"])
    return model


def fc_model(arch, optimizer=None):
    a = ARCHS[arch]
    model = Sequential([F.Input(a["shape"], dtype=a["dtype"])] + a["layers"](F),
                       name="sequential")
    model.compile(optimizer=optimizer or a["optimizer"], loss="binary_crossentropy",
                  metrics=["acc"])
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1234)
    return {"stock": stock_data(rng, n=64), "imdb": imdb_data(rng, n=64)}


def _capture(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    return buf.getvalue()


def _call(keras_model_, x):
    """Keras forward pass without compiling a predict function (keeps the module fast)."""
    return keras.ops.convert_to_numpy(keras_model_(x, training=False))


RUNS = {"stock": "adam", "imdb": "rmsprop"}  # each seed program's own optimizer


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """Per architecture: Keras and fastconv models started from the same weights, both trained
    2 epochs (batch 16, shuffle=False, verbose=2, validation_split=0.25); the printed text,
    histories, and Keras' `.weights.h5` / `.keras` files."""
    keras.utils.set_random_seed(3)
    d = tmp_path_factory.mktemp("keras_files")
    out = {}
    for arch, optimizer in RUNS.items():
        km = keras_model(arch, optimizer)
        fm = fc_model(arch, optimizer)
        fm.set_weights(km.get_weights())
        x, y = data[arch]
        kw = dict(epochs=2, batch_size=16, shuffle=False, verbose=2, validation_split=0.25)
        hk, hf = [], []
        ktext = _capture(lambda: hk.append(km.fit(x, y, **kw)))
        ftext = _capture(lambda: hf.append(fm.fit(x, y, **kw)))
        km.save_weights(d / f"{arch}.weights.h5")
        km.save(d / f"{arch}.keras")
        out[arch] = dict(km=km, fm=fm, ktext=ktext, ftext=ftext, hk=hk[0], hf=hf[0],
                         weights=d / f"{arch}.weights.h5", archive=d / f"{arch}.keras")
    return out


def _opt_values(optimizer):
    return [np.array(v) for v in optimizer.variables]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_same_weights_same_predictions(arch, data, runs):
    km = runs[arch]["km"]
    fm = fc_model(arch)
    fm.set_weights(km.get_weights())
    x = data[arch][0]
    diff = np.abs(fm.predict(x, verbose=0) - np.asarray(km.predict(x, verbose=0)))
    assert diff.max() <= TOL


@pytest.mark.parametrize("arch", list(ARCHS))
def test_same_weights_after_training_steps(arch, runs):
    r = runs[arch]
    for a, b in zip(r["fm"].get_weights(), r["km"].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=TOL)
    fo, ko = _opt_values(r["fm"].optimizer), _opt_values(r["km"].optimizer)
    assert len(fo) == len(ko) and int(fo[0]) == int(ko[0]) == 6  # 2 epochs x 3 steps
    for a, b in zip(fo[1:], ko[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=TOL)
    assert list(r["hf"].history) == list(r["hk"].history) == [
        "acc", "loss", "val_acc", "val_loss"]
    for key in r["hk"].history:
        np.testing.assert_allclose(r["hf"].history[key], r["hk"].history[key], rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_keras_weights_file_loads_into_fastconv(arch, data, runs):
    km, wpath = runs[arch]["km"], runs[arch]["weights"]
    fm = fc_model(arch, RUNS[arch])
    fm.optimizer.build(fm.trainable_weights)
    fm.load_weights(wpath)
    assert weights_equal(fm.get_weights(), [np.asarray(w) for w in km.get_weights()])
    assert weights_equal(_opt_values(fm.optimizer), _opt_values(km.optimizer))
    x = data[arch][0]
    assert np.abs(fm.predict(x, verbose=0) - _call(km, x)).max() <= TOL


@pytest.mark.parametrize("arch", list(ARCHS))
def test_keras_archive_loads_into_fastconv(arch, data, runs):
    km, kpath = runs[arch]["km"], runs[arch]["archive"]
    fm = load_model(kpath)
    assert [type(layer).__name__ for layer in fm.layers] == [
        type(layer).__name__ for layer in km.layers]
    assert type(fm.optimizer).__name__ == type(km.optimizer).__name__
    assert weights_equal(fm.get_weights(), [np.asarray(w) for w in km.get_weights()])
    assert weights_equal(_opt_values(fm.optimizer), _opt_values(km.optimizer))
    x = data[arch][0]
    assert np.abs(fm.predict(x, verbose=0) - _call(km, x)).max() <= TOL


@pytest.mark.parametrize("arch", list(ARCHS))
def test_fastconv_files_load_into_keras(arch, data, runs, tmp_path):
    fm = runs[arch]["fm"]
    fm.save_weights(tmp_path / "f.weights.h5")
    fm.save(tmp_path / "f.keras")
    x = data[arch][0]
    expected = fm.predict(x, verbose=0)

    km = keras_model(arch, RUNS[arch])
    km.optimizer.build(km.trainable_variables)
    km.load_weights(tmp_path / "f.weights.h5")
    assert weights_equal([np.asarray(w) for w in km.get_weights()], fm.get_weights())
    assert weights_equal(_opt_values(km.optimizer), _opt_values(fm.optimizer))
    assert np.abs(_call(km, x) - expected).max() <= TOL

    loaded = keras.saving.load_model(tmp_path / "f.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in fm.layers]
    assert type(loaded.optimizer).__name__ == type(fm.optimizer).__name__
    assert weights_equal([np.asarray(w) for w in loaded.get_weights()], fm.get_weights())
    assert weights_equal(_opt_values(loaded.optimizer), _opt_values(fm.optimizer))
    assert np.abs(_call(loaded, x) - expected).max() <= TOL


@pytest.mark.parametrize("arch", list(ARCHS))
def test_summary_text_matches_keras(arch):
    km = keras_model(arch)
    fm = fc_model(arch)
    assert _capture(fm.summary) == _capture(km.summary)


_TIMING = re.compile(r"\b\d+(s|ms|us)\b")
_VALUE = r"(?<=: )-?\d+\.\d+(?:e[-+]\d+)?"


def _lines_and_values(text):
    """Text with timings masked and logged values replaced by V, and the values themselves."""
    masked = _TIMING.sub("T", text)
    return re.sub(_VALUE, "V", masked), [float(v) for v in re.findall(_VALUE, masked)]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_verbose_2_lines_match_keras(arch, runs):
    kshape, kvals = _lines_and_values(runs[arch]["ktext"])
    fshape, fvals = _lines_and_values(runs[arch]["ftext"])
    assert fshape == kshape
    line = "3/3 - T - T/step - acc: V - loss: V - val_acc: V - val_loss: V"
    assert fshape.splitlines() == ["Epoch 1/2", line, "Epoch 2/2", line]
    # Printed with 4 decimals: equal up to one unit in the last place.
    np.testing.assert_allclose(fvals, kvals, rtol=0, atol=1.01e-4)


_LAYER_SPECS = [
    ("Embedding", dict(input_dim=30, output_dim=4, mask_zero=True)),
    ("Conv1D", dict(filters=6, kernel_size=3, padding="causal", dilation_rate=2, groups=2,
                    use_bias=False, activation="tanh")),
    ("Conv1D", dict(filters=4, kernel_size=(5,), strides=2, padding="same", activation="relu")),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same")),
    ("AveragePooling1D", dict(pool_size=2)),
    ("GlobalMaxPooling1D", dict(keepdims=True)),
    ("GlobalAveragePooling1D", dict()),
    ("Dense", dict(units=3, activation="softmax")),
    ("Flatten", dict()),
    ("Dropout", dict(rate=0.25, seed=3)),
    ("Activation", dict(activation="sigmoid")),
]


def _json(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("cls, kwargs", _LAYER_SPECS,
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(_LAYER_SPECS)])
def test_layer_configs_match_keras_both_ways(cls, kwargs):
    """config.json entries: the same constructor arguments give the same config, and each
    library rebuilds the other's serialized layer (no Keras build, so this stays cheap)."""
    k = getattr(K, cls)(name="x", **kwargs)
    f = getattr(F, cls)(name="x", **kwargs)
    assert _json(f.get_config()) == _json(k.get_config())
    assert _json(F.deserialize(_json(keras.layers.serialize(k))).get_config()) == _json(
        f.get_config())
    assert _json(keras.layers.deserialize(_json(F.serialize(f))).get_config()) == _json(
        k.get_config())


@pytest.mark.deep
def test_every_layer_type_round_trips_through_keras(tmp_path):
    """Each layer type's config and SGD(momentum, nesterov): fastconv -> Keras -> fastconv."""
    from fastconv import optimizers

    rng = np.random.default_rng(7)
    fm = Sequential([
        F.Input((20,), dtype="int32"), F.Embedding(30, 4), F.Dropout(0.3),
        # One Conv1D only (each costs Keras seconds to build): the non-default arguments.
        F.Conv1D(6, 3, padding="causal", dilation_rate=2, groups=2, use_bias=False,
                 activation="tanh"),
        F.AveragePooling1D(2, padding="same"), F.Activation("relu"),
        F.MaxPooling1D(3, strides=2, padding="same"), F.GlobalAveragePooling1D(),
        F.Dense(3, activation="softmax")])
    fm.compile(optimizer=optimizers.SGD(0.01, momentum=0.9, nesterov=True),
               loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.integers(0, 30, size=(16, 20)).astype(np.int32)
    fm.fit(x, rng.integers(0, 3, size=(16,)), epochs=1, verbose=0)
    fm.save(tmp_path / "f.keras")
    expected = fm.predict(x, verbose=0)

    km = keras.saving.load_model(tmp_path / "f.keras")
    assert [type(layer).__name__ for layer in km.layers] == [
        type(layer).__name__ for layer in fm.layers]
    assert km.optimizer.get_config()["nesterov"] is True
    assert weights_equal([np.asarray(w) for w in km.get_weights()], fm.get_weights())
    assert weights_equal(_opt_values(km.optimizer), _opt_values(fm.optimizer))
    assert np.abs(_call(km, x) - expected).max() <= TOL

    km.save(tmp_path / "k.keras")
    back = load_model(tmp_path / "k.keras")
    assert back.get_config() == fm.get_config()
    assert weights_equal(back.get_weights(), fm.get_weights())
    assert weights_equal(_opt_values(back.optimizer), _opt_values(fm.optimizer))
    assert back.predict(x, verbose=0).tobytes() == expected.tobytes()
