"""Save/load round trips in Keras 3's formats (TESTING.md K1, K5; KERAS_SURFACE.md §10)."""
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import h5py
import numpy as np
import pytest

import fastconv
from fastconv import layers
from fastconv.models import Sequential
from fastconv.saving import load_model

from _saving_models import (imdb_data, imdb_model, optimizer_values, stock_data, stock_model,
                            trained, weights_equal)


@pytest.fixture
def stock(rng):
    x, y = stock_data(rng)
    return trained(stock_model(), x, y), x


@pytest.fixture
def imdb(rng):
    x, y = imdb_data(rng)
    return trained(imdb_model(), x, y), x


def _tree(path):
    """{name: (kind, attrs, shape, dtype)} for every object of an HDF5 file."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs = {k: (v.decode() if isinstance(v, bytes) else str(v))
                     for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                out[name] = ("dataset", attrs, obj.shape, obj.dtype.name)
            else:
                out[name] = ("group", attrs, None, None)
        f.visititems(visit)
    return out


# --------------------------------------------------------------------------------- K1 layout


def test_weights_file_layout_stock(stock, tmp_path):
    model, _ = stock
    path = tmp_path / "stock.weights.h5"
    model.save_weights(path)
    conv, pool, flat, dense = model.layers
    opt = model.optimizer
    g = lambda attrs=None: ("group", attrs or {}, None, None)  # noqa: E731
    d = lambda shape, dtype="float32": ("dataset", {}, shape, dtype)  # noqa: E731
    expected = {
        "vars": g({"name": model.name}),
        "layers": g(),
        "layers/conv1d": g(), "layers/conv1d/vars": g({"name": conv.name}),
        "layers/conv1d/vars/0": d((5, 1, 16)), "layers/conv1d/vars/1": d((16,)),
        "layers/max_pooling1d": g(), "layers/max_pooling1d/vars": g({"name": pool.name}),
        "layers/flatten": g(), "layers/flatten/vars": g({"name": flat.name}),
        "layers/dense": g(), "layers/dense/vars": g({"name": dense.name}),
        "layers/dense/vars/0": d((176, 1)), "layers/dense/vars/1": d((1,)),
        "optimizer": g(), "optimizer/vars": g({"name": opt.name}),
        "optimizer/vars/0": d((), "int32"), "optimizer/vars/1": d(()),
        # Adam: m, v interleaved per model variable.
        "optimizer/vars/2": d((5, 1, 16)), "optimizer/vars/3": d((5, 1, 16)),
        "optimizer/vars/4": d((16,)), "optimizer/vars/5": d((16,)),
        "optimizer/vars/6": d((176, 1)), "optimizer/vars/7": d((176, 1)),
        "optimizer/vars/8": d((1,)), "optimizer/vars/9": d((1,)),
    }
    assert _tree(path) == expected
    with h5py.File(path, "r") as f:
        assert int(f["optimizer/vars/0"][()]) == 4  # 64 samples / batch 16, one epoch
        assert f["optimizer/vars/1"][()] == np.float32(0.001)


def test_weights_file_layout_imdb_keys_by_class_not_name(imdb, tmp_path):
    model, _ = imdb
    path = tmp_path / "imdb.weights.h5"
    model.save_weights(path)
    tree = _tree(path)
    emb, conv_a, pool, conv_b, gpool, dense = model.layers
    groups = {k: v[1]["name"] for k, v in tree.items() if k.startswith("layers/") and
              k.endswith("/vars")}
    assert groups == {
        "layers/embedding/vars": emb.name, "layers/conv1d/vars": conv_a.name,
        "layers/max_pooling1d/vars": pool.name, "layers/conv1d_1/vars": conv_b.name,
        "layers/global_max_pooling1d/vars": gpool.name, "layers/dense/vars": dense.name}
    assert tree["layers/embedding/vars/0"][2:] == ((200, 8), "float32")
    assert tree["layers/conv1d/vars/0"][2:] == ((7, 8, 4), "float32")
    assert tree["layers/conv1d_1/vars/0"][2:] == ((3, 4, 4), "float32")
    # RMSprop: iteration, learning_rate, then one velocity per model variable in model order.
    slots = [tree[f"optimizer/vars/{i}"][2] for i in range(2, 9)]
    assert slots == [(200, 8), (7, 8, 4), (4,), (3, 4, 4), (4,), (4, 1), (1,)]
    assert "optimizer/vars/9" not in tree


def test_uncompiled_model_has_no_optimizer_group(tmp_path):
    model = stock_model(compile=False)
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert sorted(f.keys()) == ["layers", "vars"]
        assert len(f["vars"]) == 0


# ---------------------------------------------------------------------- K1 round trips


@pytest.mark.parametrize("arch", ["stock", "imdb"])
def test_weights_round_trip_bitwise(arch, request, tmp_path, rng):
    model, x = request.getfixturevalue(arch)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    fresh = stock_model() if arch == "stock" else imdb_model()
    fx, fy = (stock_data(rng) if arch == "stock" else imdb_data(rng))
    trained(fresh, fx, fy)  # different weights and optimizer state
    assert not weights_equal(fresh.get_weights(), model.get_weights())
    fresh.load_weights(path)
    assert weights_equal(fresh.get_weights(), model.get_weights())
    assert weights_equal(optimizer_values(fresh), optimizer_values(model))
    assert fresh.predict(x, verbose=0).tobytes() == model.predict(x, verbose=0).tobytes()


def test_float64_weights_keep_their_dtype(tmp_path, rng):
    model = stock_model(dtype="float64", compile=False)
    path = tmp_path / "f64.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert f["layers/conv1d/vars/0"].dtype == np.float64
        assert f["layers/dense/vars/1"].dtype == np.float64
    fresh = stock_model(dtype="float64", compile=False)
    fresh.load_weights(path)
    assert weights_equal(fresh.get_weights(), model.get_weights())
    assert all(w.dtype == np.float64 for w in fresh.get_weights())


def test_float64_file_loads_into_float32_model_by_casting(tmp_path):
    # Keras casts on assign; a float64 file therefore loads into a float32 model.
    src = stock_model(dtype="float64", compile=False)
    path = tmp_path / "f64.weights.h5"
    src.save_weights(path)
    dst = stock_model(compile=False)
    dst.load_weights(path)
    for a, b in zip(dst.get_weights(), src.get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))


_SUBPROCESS_SAVE = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from fastconv.utils import set_random_seed
    from _saving_models import stock_model, stock_data, trained
    set_random_seed(7)
    rng = np.random.default_rng(7)
    x, y = stock_data(rng)
    model = trained(stock_model(), x, y)
    model.save_weights({weights!r})
    model.save({archive!r})
    np.save({x_path!r}, x)
    np.save({pred!r}, model.predict(x, verbose=0))
""")


def test_round_trip_across_processes(tmp_path):
    paths = {k: str(tmp_path / v) for k, v in [
        ("weights", "s.weights.h5"), ("archive", "s.keras"), ("x_path", "x.npy"),
        ("pred", "pred.npy")]}
    script = _SUBPROCESS_SAVE.format(tests=os.path.dirname(__file__), **paths)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    x = np.load(paths["x_path"])
    expected = np.load(paths["pred"])
    model = stock_model(compile=False)
    model.load_weights(paths["weights"])
    assert model.predict(x, verbose=0).tobytes() == expected.tobytes()
    loaded = load_model(paths["archive"])
    assert loaded.predict(x, verbose=0).tobytes() == expected.tobytes()


# ------------------------------------------------------------------------------- .keras


@pytest.mark.parametrize("arch", ["stock", "imdb"])
def test_keras_archive_round_trip(arch, request, tmp_path):
    model, x = request.getfixturevalue(arch)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = fastconv.models.load_model(path)
    assert type(loaded) is Sequential
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.get_config() == model.get_config()
    assert weights_equal(loaded.get_weights(), model.get_weights())
    assert weights_equal(optimizer_values(loaded), optimizer_values(model))
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.predict(x, verbose=0).tobytes() == model.predict(x, verbose=0).tobytes()
    # compile=False leaves the model uncompiled.
    assert load_model(path, compile=False).optimizer is None


def test_keras_archive_members_and_schema(stock, tmp_path):
    model, _ = stock
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert sorted(infos) == ["config.json", "metadata.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    assert sorted(meta) == ["date_saved", "keras_version"]
    assert meta["keras_version"] == "3.15.1"
    assert len(meta["date_saved"]) == len("2026-01-01@00:00:00") and "@" in meta["date_saved"]
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["registered_name"] is None
    assert config["build_config"] == {"input_shape": [None, 50, 1]}
    inner = config["config"]
    assert inner["name"] == model.name and inner["build_input_shape"] == [None, 50, 1]
    entries = inner["layers"]
    assert [e["class_name"] for e in entries] == [
        "InputLayer", "Conv1D", "MaxPooling1D", "Flatten", "Dense"]
    assert all(e["module"] == "keras.layers" for e in entries)
    assert entries[0]["config"]["batch_shape"] == [None, 50, 1]
    assert entries[1]["config"]["kernel_size"] == [5] and entries[1]["config"]["filters"] == 16
    opt = config["compile_config"]["optimizer"]
    assert (opt["module"], opt["class_name"]) == ("keras.optimizers", "Adam")
    assert config["compile_config"]["loss"] == "binary_crossentropy"
    assert config["compile_config"]["metrics"] == ["acc"]
    # The embedded weights file is the same layout as save_weights writes.
    model.save_weights(tmp_path / "same.weights.h5")
    (tmp_path / "inner.weights.h5").write_bytes(weights)
    assert _tree(tmp_path / "inner.weights.h5") == _tree(tmp_path / "same.weights.h5")


def test_load_weights_from_keras_archive(stock, tmp_path):
    model, x = stock
    model.save(tmp_path / "m.keras")
    fresh = stock_model(compile=False)
    fresh.load_weights(tmp_path / "m.keras")
    assert weights_equal(fresh.get_weights(), model.get_weights())


def test_save_to_open_path_types(stock, tmp_path):
    model, _ = stock
    model.save_weights(str(tmp_path / "a.weights.h5"))
    fastconv.saving.save_weights(model, tmp_path / "b.weights.h5")
    assert _tree(tmp_path / "a.weights.h5") == _tree(tmp_path / "b.weights.h5")
    with pytest.raises(TypeError, match="Invalid type for argument `filepath`"):
        model.save_weights(3)


# ------------------------------------------------------------------- K5 errors and texts


def test_bad_extensions_use_keras_texts(stock, tmp_path):
    model, _ = stock
    with pytest.raises(ValueError, match=r"^The filename must end in `\.weights\.h5`\. "
                                         r"Received: filepath=w\.h5$"):
        model.save_weights("w.h5")
    with pytest.raises(ValueError, match=r"^Invalid filepath extension for saving\. Please add "
                                         r"either a `\.keras` extension .* Received: "
                                         r"filepath=model\.$"):
        model.save("model")
    with pytest.raises(ValueError, match=r"^File format not supported: filepath=w\.txt\."):
        model.load_weights("w.txt")
    with pytest.raises(ValueError, match=r"^File format not supported: filepath=m\.txt\. "
                                         r"Keras 3 only supports V3 `\.keras` files"):
        load_model("m.txt")
    missing = tmp_path / "nope.keras"
    with pytest.raises(ValueError, match=r"^File not found: filepath=.*nope\.keras\. Please "
                                         r"ensure the file is an accessible `\.keras` zip file\."):
        load_model(missing)
    assert os.listdir(tmp_path) == []


def test_unbuilt_model_texts(tmp_path):
    model = Sequential([layers.Conv1D(4, 3), layers.Dense(1)])
    assert not model.built
    with pytest.raises(ValueError, match=r"^You are saving a model that has not yet been built\. "
                                         r"Try building the model first by calling it on some "
                                         r"data or by using `build\(\)`\.$"):
        model.save_weights(tmp_path / "u.weights.h5")
    with pytest.raises(ValueError, match=r"^You are loading weights into a model that has not "
                                         r"yet been built\."):
        model.load_weights(tmp_path / "u.weights.h5")
    assert os.listdir(tmp_path) == []


def _expect_unchanged(model, before, opt_before):
    assert weights_equal(model.get_weights(), before)
    assert weights_equal(optimizer_values(model), opt_before)


def test_shape_mismatch_text_and_model_unchanged(tmp_path, rng):
    # 46 steps -> Flatten 160 instead of 176: only the dense kernel differs.
    src = stock_model(steps=46, compile=False)
    src.save_weights(tmp_path / "s46.weights.h5")
    model = stock_model(compile=False)
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        model.load_weights(tmp_path / "s46.weights.h5")
    dense = model.layers[3]
    assert str(info.value).startswith(
        "A total of 1 objects could not be loaded. Example error message for object "
        f"<Dense name={dense.name}, built=True>:\n\n"
        "The shape of the target variable and the shape of the target value in "
        "`variable.assign(value)` must match. variable.shape=(176, 1), Received: "
        "value.shape=(160, 1). Target variable: <Variable path=")
    assert str(info.value).endswith(
        f"List of objects that could not be loaded:\n[<Dense name={dense.name}, built=True>]")
    # The conv layer matched, but nothing was assigned because the load failed as a whole.
    assert weights_equal(model.get_weights(), before)


def test_count_mismatch_text(tmp_path):
    src = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3), layers.Dense(2)])
    src.save_weights(tmp_path / "bias.weights.h5")
    dst = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3, use_bias=False),
                      layers.Dense(2)])
    before = dst.get_weights()
    conv = dst.layers[0]
    with pytest.raises(ValueError, match=(
            r"^A total of 1 objects could not be loaded\. Example error message for object "
            rf"<Conv1D name={conv.name}, built=True>:\n\nLayer '{conv.name}' expected 1 "
            r"variables, but received 2 variables during loading\. Expected: \['kernel'\]")):
        dst.load_weights(tmp_path / "bias.weights.h5")
    assert weights_equal(dst.get_weights(), before)


def test_missing_layer_and_several_errors_reported_once(tmp_path):
    src = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3)])
    src.save_weights(tmp_path / "small.weights.h5")
    dst = Sequential([layers.Input((10, 2)), layers.Conv1D(5, 3), layers.Dense(2)])
    conv, dense = dst.layers
    before = dst.get_weights()
    with pytest.raises(ValueError) as info:
        dst.load_weights(tmp_path / "small.weights.h5")
    msg = str(info.value)
    assert msg.startswith("A total of 2 objects could not be loaded.")
    assert "variable.shape=(3, 2, 5), Received: value.shape=(3, 2, 3)" in msg
    assert msg.endswith(
        f"[<Conv1D name={conv.name}, built=True>, <Dense name={dense.name}, built=True>]")
    assert weights_equal(dst.get_weights(), before)
    # The missing dense group reads as zero variables (Keras' text).
    dst2 = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3), layers.Dense(2)])
    with pytest.raises(ValueError, match=rf"Layer '{dst2.layers[1].name}' expected 2 variables, "
                                         r"but received 0 variables during loading\. "
                                         r"Expected: \['kernel', 'bias'\]"):
        dst2.load_weights(tmp_path / "small.weights.h5")


def test_extra_layer_group_with_variables_is_an_error(tmp_path):
    src = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3), layers.Dense(2)])
    src.save_weights(tmp_path / "big.weights.h5")
    dst = Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3)])
    before = dst.get_weights()
    with pytest.raises(ValueError, match=r"holds 2 variables for layer group 'layers/dense', but "
                                         rf"model '{dst.name}' has no such layer"):
        dst.load_weights(tmp_path / "big.weights.h5")
    assert weights_equal(dst.get_weights(), before)


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def test_extra_missing_and_wrong_dtype_datasets(tmp_path):
    def make():
        return Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3), layers.Dense(2)])

    src = make()
    base = tmp_path / "w.weights.h5"
    src.save_weights(base)
    cases = {
        "extra": (lambda f: f["layers/dense/vars"].create_dataset("2", data=np.zeros(2)),
                  r"expected 2 variables, but received 3 variables during loading"),
        "renamed": (lambda f: f["layers/dense/vars"].move("1", "x"),
                    r"expects a dataset named '1' in its group, but the file has \['0', 'x'\]"),
        "int": (lambda f: (f["layers/dense/vars"].__delitem__("1"),
                           f["layers/dense/vars"].create_dataset("1", data=np.zeros(2, "i4"))),
                r"Layer '.*' variable 1 \('bias'\) holds float32 values, but the file stores "
                r"int32"),
        "group": (lambda f: (f["layers/dense/vars"].__delitem__("1"),
                             f["layers/dense/vars"].create_group("1")),
                  r"expected a dataset at '/layers/dense/vars/1', found Group"),
    }
    for name, (edit, pattern) in cases.items():
        path = tmp_path / f"{name}.weights.h5"
        path.write_bytes(base.read_bytes())
        _edit(path, edit)
        dst = make()
        before = dst.get_weights()
        with pytest.raises(ValueError, match=pattern):
            dst.load_weights(path)
        assert weights_equal(dst.get_weights(), before), name


def test_skip_mismatch_warns_and_loads_the_rest(tmp_path):
    src = stock_model(steps=46, compile=False)
    src.save_weights(tmp_path / "s46.weights.h5")
    model = stock_model(compile=False)
    before = model.get_weights()
    with pytest.warns(UserWarning, match=r"^A total of 1 objects could not be loaded\."):
        model.load_weights(tmp_path / "s46.weights.h5", skip_mismatch=True)
    after = model.get_weights()
    # conv kernel and bias loaded, dense kept.
    assert weights_equal(after[:2], src.get_weights()[:2])
    assert weights_equal(after[2:], before[2:])


def test_optimizer_count_mismatch_only_warns(tmp_path, rng):
    x, y = stock_data(rng)
    uncompiled = stock_model(compile=False)
    uncompiled.save_weights(tmp_path / "plain.weights.h5")
    model = trained(stock_model(), x, y)
    opt_before = optimizer_values(model)
    n = len(model.optimizer.variables)
    with pytest.warns(UserWarning, match=(
            rf"^Skipping variable loading for optimizer '{model.optimizer.name}', because it has "
            rf"{n} variables whereas the saved optimizer has 0 variables\. $")):
        model.load_weights(tmp_path / "plain.weights.h5")
    assert weights_equal(model.get_weights(), uncompiled.get_weights())
    assert weights_equal(optimizer_values(model), opt_before)
    # And a fresh, not yet built optimizer against a file with optimizer state.
    model.save_weights(tmp_path / "full.weights.h5")
    fresh = stock_model()
    n_fresh = len(fresh.optimizer.variables)
    with pytest.warns(UserWarning, match=rf"because it has {n_fresh} variables whereas the saved "
                                         rf"optimizer has {n} variables\."):
        fresh.load_weights(tmp_path / "full.weights.h5")
    assert weights_equal(fresh.get_weights(), model.get_weights())


def test_optimizer_slot_shape_mismatch_is_collected(tmp_path, rng):
    x, y = stock_data(rng)
    model = trained(stock_model(), x, y)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)

    def shrink(f):
        del f["optimizer/vars/9"]
        f["optimizer/vars"].create_dataset("9", data=np.zeros((2,), np.float32))

    _edit(path, shrink)
    other = trained(stock_model(), x[::-1].copy(), y[::-1].copy())
    before, opt_before = other.get_weights(), optimizer_values(other)
    with pytest.raises(ValueError, match=r"variable\.shape=\(1,\), Received: value\.shape=\(2,\)"):
        other.load_weights(path)
    _expect_unchanged(other, before, opt_before)


def test_optimizer_iteration_dtypes(tmp_path, rng):
    # TensorFlow-backend Keras stores `iteration` as int64: it loads into fastconv's int32.
    x, y = stock_data(rng)
    model = trained(stock_model(), x, y)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)

    def retype(value, dtype):
        def edit(f):
            del f["optimizer/vars/0"]
            f["optimizer/vars"].create_dataset("0", data=np.array(value, dtype=dtype))
        return edit

    other = trained(stock_model(), x, y)
    _edit(path, retype(12, np.int64))
    other.load_weights(path)
    assert optimizer_values(other)[0].dtype == np.int32 and int(optimizer_values(other)[0]) == 12
    for value, dtype, pattern in [
            (2 ** 40, np.int64, r"holds int32 values, but the file stores values outside that "
                                r"range"),
            (3.0, np.float32, r"variable 0 \('iteration'\) holds int32 values, but the file "
                              r"stores float32")]:
        _edit(path, retype(value, dtype))
        before, opt_before = other.get_weights(), optimizer_values(other)
        with pytest.raises(ValueError, match=pattern):
            other.load_weights(path)
        _expect_unchanged(other, before, opt_before)


def test_unbuilt_model_saves_with_keras_warning_and_loads_unbuilt(tmp_path):
    model = Sequential([layers.Conv1D(4, 3), layers.Dense(1)])
    with pytest.warns(UserWarning, match=r"^You are saving a model that has not yet been built\. "
                                         r"It might not contain any weights yet\."):
        model.save(tmp_path / "u.keras")
    loaded = load_model(tmp_path / "u.keras")
    assert not loaded.built and loaded.get_weights() == []
    assert [type(a).__name__ for a in loaded.layers] == ["Conv1D", "Dense"]


def test_overwrite_false_asks_first(stock, tmp_path, monkeypatch, capsys):
    model, _ = stock
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"old")
    answers = iter(["maybe", "n"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    model.save_weights(path, overwrite=False)
    assert path.read_bytes() == b"old"
    answers = iter(["y"])
    model.save_weights(path, overwrite=False)
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert capsys.readouterr().out == "[TIP] Next time specify overwrite=True!\n"


def test_load_weights_keyword_errors(stock, tmp_path):
    model, _ = stock
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with pytest.raises(ValueError, match=r"^Invalid keyword arguments: \{'strict': True\}$"):
        model.load_weights(path, strict=True)
    with pytest.raises(ValueError, match=r"^`by_name` only supports loading legacy '\.h5' or "
                                         r"'\.hdf5' files\."):
        model.load_weights(path, by_name=True)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match=r"Unable to read the `\.keras` file .*missing\.keras"):
        model.load_weights(tmp_path / "missing.keras")
