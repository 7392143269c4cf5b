"""Hostile and damaged files, crash-safe saves (TESTING.md K2, K3, K4, K6, K7)."""
import os
import pathlib
import pickle
import re
import struct
import tracemalloc
import zipfile
import zlib

import h5py
import numpy as np
import pytest

import fastconv
import fastconv.saving
from fastconv import layers
from fastconv.models import Sequential
from fastconv.saving import keras_archive, load_model, weights_file

from _saving_models import (optimizer_values, stock_data, stock_model, trained, weights_equal)

SAVING_SRC = pathlib.Path(fastconv.saving.__file__).parent
CALLBACKS_SRC = pathlib.Path(fastconv.__file__).parent / "callbacks"


def _small():
    return Sequential([layers.Input((10, 2)), layers.Conv1D(3, 3), layers.Dense(2)])


@pytest.fixture
def saved(tmp_path):
    """A small model, its `.weights.h5` and `.keras` files."""
    model = _small()
    model.save_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.keras")
    return model, tmp_path / "w.weights.h5", tmp_path / "m.keras"


@pytest.fixture
def target():
    """A model of the same architecture with other weights, and a snapshot of them."""
    model = _small()
    return model, model.get_weights()


# ---------------------------------------------------------------------------- K2 pickle


def test_no_pickle_in_saving_or_callbacks_source():
    for src in list(SAVING_SRC.glob("*.py")) + list(CALLBACKS_SRC.glob("*.py")):
        text = src.read_text()
        assert not re.search(
            r"^\s*(import|from)\s+(pickle|_pickle|marshal|dill|cloudpickle|shelve|joblib)\b"
            r"|\bpickle\.\w|allow_pickle\s*=\s*True|\beval\(|\bexec\(|__import__|importlib",
            text, re.M), src.name


class _Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickle_bytes(canary):
    return pickle.dumps({"weights": np.zeros(3), "x": _Canary(str(canary))})


def test_pickle_payloads_are_never_unpickled(saved, target, tmp_path):
    model, wpath, kpath = saved
    dst, before = target
    canary = tmp_path / "canary"
    payload = _pickle_bytes(canary)

    # 1. A pickle where a weights file should be.
    p1 = tmp_path / "pickled.weights.h5"
    p1.write_bytes(payload)
    with pytest.raises(ValueError, match=re.escape(str(p1))):
        dst.load_weights(p1)

    # 2. A pickle stored as an opaque dataset in place of a kernel.
    p2 = tmp_path / "opaque.weights.h5"
    p2.write_bytes(wpath.read_bytes())
    with h5py.File(p2, "r+") as f:
        del f["layers/conv1d/vars/0"]
        f["layers/conv1d/vars"].create_dataset("0", data=np.void(payload))
    with pytest.raises(ValueError, match="non-numeric element type"):
        dst.load_weights(p2)

    # 3. An object (variable-length string) array in place of a kernel.
    p3 = tmp_path / "object.weights.h5"
    p3.write_bytes(wpath.read_bytes())
    with h5py.File(p3, "r+") as f:
        del f["layers/conv1d/vars/0"]
        f["layers/conv1d/vars"].create_dataset(
            "0", data=np.array([pickle.dumps(_Canary(str(canary)), protocol=0).decode()],
                               dtype=object), dtype=h5py.string_dtype())
    with pytest.raises(ValueError, match="non-numeric element type"):
        dst.load_weights(p3)
    ragged = np.empty(1, dtype=object)
    ragged[0] = np.frombuffer(payload, np.uint8)
    with h5py.File(p3, "r+") as f:
        del f["layers/conv1d/vars/0"]
        f["layers/conv1d/vars"].create_dataset("0", data=ragged, dtype=h5py.vlen_dtype(np.uint8))
    with pytest.raises(ValueError, match="non-numeric element type"):
        dst.load_weights(p3)

    # 4. A `.keras` archive whose weights and config members are pickles.
    for member in ("model.weights.h5", "config.json"):
        p4 = tmp_path / f"pickled-{member}.keras"
        with zipfile.ZipFile(kpath) as src, zipfile.ZipFile(p4, "w") as out:
            for info in src.infolist():
                out.writestr(info.filename,
                             payload if info.filename == member else src.read(info.filename))
        with pytest.raises(ValueError, match=re.escape(str(p4))):
            load_model(p4)
        with pytest.raises(ValueError, match=re.escape(str(p4))):
            dst.load_weights(p4)

    assert not canary.exists()
    assert weights_equal(dst.get_weights(), before)


# ------------------------------------------------------------------------ K3 truncation


def _cut_points(n):
    points = {0, 1, 2, 4, 8, 16, 64, 256, 512, 1024, n // 4, n // 3, n // 2, 2 * n // 3,
              3 * n // 4, 9 * n // 10, n - 512, n - 64, n - 8, n - 2, n - 1}
    return sorted(p for p in points if 0 <= p < n)


@pytest.mark.parametrize("kind", ["weights", "keras"])
def test_truncated_files_fail_cleanly(kind, saved, target, tmp_path):
    model, wpath, kpath = saved
    dst, before = target
    data = (wpath if kind == "weights" else kpath).read_bytes()
    cuts = _cut_points(len(data))
    assert len(cuts) >= 20
    outcomes = {"error": 0, "loaded": 0}
    for cut in cuts:
        path = tmp_path / (f"cut{cut}.weights.h5" if kind == "weights" else f"cut{cut}.keras")
        path.write_bytes(data[:cut])
        try:
            dst.load_weights(path)
        except (ValueError, OSError) as exc:
            assert str(path) in str(exc), (cut, str(exc))
            assert weights_equal(dst.get_weights(), before), cut
            outcomes["error"] += 1
        else:
            # Only possible if the cut removed nothing that is read: then the load is exact.
            assert weights_equal(dst.get_weights(), model.get_weights()), cut
            dst.set_weights(before)
            outcomes["loaded"] += 1
        if kind == "keras":
            with pytest.raises((ValueError, OSError), match=re.escape(str(path))):
                load_model(path)
    assert outcomes == {"error": len(cuts), "loaded": 0}


# ------------------------------------------------------------------------ K4 byte flips


@pytest.mark.parametrize("kind", ["weights", "keras"])
def test_single_byte_flips(kind, saved, target, tmp_path, seed):
    model, wpath, kpath = saved
    dst, before = target
    data = bytearray((wpath if kind == "weights" else kpath).read_bytes())
    rng = np.random.default_rng(seed)
    shapes = [(w.shape, w.dtype) for w in before]
    path = tmp_path / ("flip.weights.h5" if kind == "weights" else "flip.keras")
    for _ in range(100):
        pos = int(rng.integers(len(data)))
        flipped = bytearray(data)
        flipped[pos] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(flipped))
        dst.set_weights(before)
        try:
            dst.load_weights(path)
        except (ValueError, OSError):
            assert weights_equal(dst.get_weights(), before), pos
        else:
            assert [(w.shape, w.dtype) for w in dst.get_weights()] == shapes, pos


# ------------------------------------------------------------------------ K6 hostile sizes


def _replace_dataset(path, name, make):
    with h5py.File(path, "r+") as f:
        parent, _, leaf = name.rpartition("/")
        del f[name]
        make(f[parent], leaf)


def test_shape_bomb_rejected_before_allocation(saved, target, tmp_path):
    _, wpath, _ = saved
    dst, before = target
    bomb = tmp_path / "bomb.weights.h5"
    bomb.write_bytes(wpath.read_bytes())
    # 2**40 float32 (4 TiB) declared, nothing stored: only a fill value.
    _replace_dataset(bomb, "layers/dense/vars/0", lambda g, n: g.create_dataset(
        n, shape=(2 ** 40,), dtype="f4", chunks=(2 ** 20,), compression="gzip", fillvalue=1.0))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"Not allowed: H5 dataset '/layers/dense/vars/0' "
                                             r"declares 4\.00 TiB but only 0\.00 B are stored"):
            dst.load_weights(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    assert weights_equal(dst.get_weights(), before)


def test_large_declared_shape_below_floor_is_refused_by_the_shape_check(saved, target, tmp_path):
    _, wpath, _ = saved
    dst, before = target
    big = tmp_path / "big.weights.h5"
    big.write_bytes(wpath.read_bytes())
    # 1 GiB declared: under the bomb floor, so the expected-shape check must stop it unread.
    _replace_dataset(big, "layers/dense/vars/0", lambda g, n: g.create_dataset(
        n, shape=(2 ** 28,), dtype="f4", chunks=(2 ** 20,), compression="gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"variable\.shape=\(3, 2\), Received: "
                                             r"value\.shape=\(268435456,\)"):
            dst.load_weights(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    assert weights_equal(dst.get_weights(), before)


@pytest.mark.parametrize("link", ["soft-dataset", "soft-group", "external-dataset",
                                  "external-group"])
def test_links_are_refused(link, saved, target, tmp_path):
    _, wpath, _ = saved
    dst, before = target
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["k"] = np.ones((3, 2), np.float32)
        f.create_group("g/vars")
    path = tmp_path / f"{link}.weights.h5"
    path.write_bytes(wpath.read_bytes())
    with h5py.File(path, "r+") as f:
        if link == "soft-dataset":
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = h5py.SoftLink("/layers/conv1d/vars/1")
            kind = "SoftLink"
        elif link == "soft-group":
            del f["layers/dense"]
            f["layers/dense"] = h5py.SoftLink("/layers/conv1d")
            kind = "SoftLink"
        elif link == "external-dataset":
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "/k")
            kind = "ExternalLink"
        else:
            del f["layers/dense"]
            f["layers/dense"] = h5py.ExternalLink(str(other), "/g")
            kind = "ExternalLink"
    with pytest.raises(ValueError, match=rf"Not allowed: H5 file with {kind}") as info:
        dst.load_weights(path)
    assert str(info.value).startswith(f"Unable to load weights from {path}: ")
    assert weights_equal(dst.get_weights(), before)


def test_external_and_virtual_datasets_are_refused(saved, target, tmp_path):
    _, wpath, _ = saved
    dst, before = target
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(6, np.float32).tobytes())
    ext = tmp_path / "ext.weights.h5"
    ext.write_bytes(wpath.read_bytes())
    _replace_dataset(ext, "layers/dense/vars/0", lambda g, n: g.create_dataset(
        n, shape=(3, 2), dtype="f4", external=[(str(raw), 0, 24)]))
    with pytest.raises(ValueError, match="Not allowed: H5 file with external Dataset"):
        dst.load_weights(ext)

    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f["k"] = np.ones((3, 2), np.float32)
    virt = tmp_path / "virt.weights.h5"
    virt.write_bytes(wpath.read_bytes())

    def make_virtual(group, name):
        layout = h5py.VirtualLayout(shape=(3, 2), dtype="f4")
        layout[:] = h5py.VirtualSource(str(src), "k", shape=(3, 2))
        group.create_virtual_dataset(name, layout)

    _replace_dataset(virt, "layers/dense/vars/0", make_virtual)
    with pytest.raises(ValueError, match="Not allowed: H5 file with virtual Dataset"):
        dst.load_weights(virt)
    assert weights_equal(dst.get_weights(), before)


def _rewrite_zip(src, dst, rename=None, extra=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr((rename or {}).get(info.filename, info.filename), zin.read(info))
        for name, data in extra:
            zout.writestr(name, data)


@pytest.mark.parametrize("member", ["../evil.txt", "assets/../../evil.txt", "/etc/evil",
                                    "assets\\..\\evil", "C:/evil"])
def test_zip_member_paths_escaping_are_refused(member, saved, target, tmp_path):
    _, _, kpath = saved
    dst, before = target
    path = tmp_path / "escape.keras"
    _rewrite_zip(kpath, path, extra=[(member, b"x")])
    with zipfile.ZipFile(path) as zf:  # zipfile keeps the hostile name as written
        assert any(".." in i.filename or i.filename.startswith("/") or ":" in i.filename
                   or "\\" in i.filename for i in zf.infolist()) or member.startswith("/")
    with pytest.raises(ValueError, match="Not allowed: ZIP member with unsafe path"):
        load_model(path)
    with pytest.raises(ValueError, match="Not allowed: ZIP member with unsafe path"):
        dst.load_weights(path)
    assert weights_equal(dst.get_weights(), before)
    assert not (tmp_path.parent / "evil.txt").exists()


def _handmade_zip(members):
    """A zip built byte by byte: (name, payload, declared_size) per member, zip64 sizes.

    `payload` is stored deflated; `declared_size` is what the headers claim it inflates to.
    """
    local, central = bytearray(), bytearray()
    for name, payload, declared in members:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = comp.compress(payload) + comp.flush()
        crc = zlib.crc32(payload)
        raw = name.encode()
        extra = struct.pack("<HHQQ", 1, 16, declared, len(data))
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF,
                             0xFFFFFFFF, len(raw), len(extra)) + raw + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra), 0, 0, 0, 0,
                               offset) + raw + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(local), 0)
    return bytes(local + central + end)


def test_zip_bomb_member_is_refused(saved, target, tmp_path):
    """A weights member declaring 5 GiB while storing ~100 bytes."""
    _, _, kpath = saved
    dst, before = target
    with zipfile.ZipFile(kpath) as zf:
        members = [(n, zf.read(n), len(zf.read(n))) for n in ("metadata.json", "config.json")]
    path = tmp_path / "bomb.keras"
    path.write_bytes(_handmade_zip(members + [("model.weights.h5", b"\0" * 100_000, 5 << 30)]))
    with zipfile.ZipFile(path) as zf:  # a well-formed archive as far as zipfile can tell
        info = zf.getinfo("model.weights.h5")
        assert (info.file_size, info.compress_size < 1000) == (5 << 30, True)
        assert zf.read("config.json") == members[1][1]
    with pytest.raises(ValueError, match=r"Not allowed: ZIP member 'model\.weights\.h5' declares "
                                         r"5\.00 GiB but only \d+\.\d\d B are stored on disk"):
        load_model(path)
    with pytest.raises(ValueError, match=r"Not allowed: ZIP member 'model\.weights\.h5'"):
        dst.load_weights(path)
    assert weights_equal(dst.get_weights(), before)
    # The same bytes declaring their true size load normally: the refusal is the size rule.
    honest = tmp_path / "honest.keras"
    with zipfile.ZipFile(kpath) as zf:
        weights = zf.read("model.weights.h5")
    honest.write_bytes(_handmade_zip(members + [("model.weights.h5", weights, len(weights))]))
    dst.load_weights(honest)
    assert weights_equal(dst.get_weights(), saved[0].get_weights())


def test_zip_bomb_rule_thresholds():
    def info(size, stored):
        zi = zipfile.ZipInfo("config.json")
        zi.file_size, zi.compress_size = size, stored
        return zi

    keras_archive._check_member(info(4 << 30, 1))          # not above the 4 GiB floor
    keras_archive._check_member(info((4 << 30) + 1, 50 << 20))  # only ~82x its stored size
    with pytest.raises(ValueError, match="decompression bomb"):
        keras_archive._check_member(info((4 << 30) + 1, 40 << 20))


def test_keras_archive_without_weights_member(saved, tmp_path):
    _, _, kpath = saved
    path = tmp_path / "noweights.keras"
    with zipfile.ZipFile(kpath) as zin, zipfile.ZipFile(path, "w") as zout:
        for i in zin.infolist():
            if i.filename != "model.weights.h5":
                zout.writestr(i.filename, zin.read(i))
    with pytest.raises(ValueError, match=r"expected a member 'model\.weights\.h5'"):
        load_model(path)


def test_unknown_layer_class_in_config_is_refused(saved, tmp_path):
    import json

    _, _, kpath = saved
    path = tmp_path / "lambda.keras"
    with zipfile.ZipFile(kpath) as zin, zipfile.ZipFile(path, "w") as zout:
        for i in zin.infolist():
            data = zin.read(i)
            if i.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["class_name"] = "Lambda"
                config["config"]["layers"][1]["config"]["function"] = "os.system"
                data = json.dumps(config).encode()
            zout.writestr(i.filename, data)
    with pytest.raises(ValueError, match="Lambda"):
        load_model(path)


# ---------------------------------------------------------------------- K7 atomic saves


def _fail_during_write(monkeypatch, kind):
    """Make the next save fail after part of the target's bytes were written."""
    if kind == "weights":
        original = weights_file.write_weights

        def broken(model, h5file):
            original(model, h5file)  # a whole file's worth of datasets, then a failure
            raise RuntimeError("disk full (simulated)")

        monkeypatch.setattr(weights_file, "write_weights", broken)
    else:
        original = zipfile.ZipFile.writestr

        def broken(self, name, data, *args, **kwargs):
            if str(getattr(name, "filename", name)) == "model.weights.h5":
                original(self, name, data[: len(data) // 2], *args, **kwargs)
                raise RuntimeError("disk full (simulated)")
            return original(self, name, data, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)


@pytest.mark.parametrize("kind", ["weights", "keras"])
def test_failed_save_leaves_old_file_and_no_temp_files(kind, saved, monkeypatch, tmp_path):
    model, wpath, kpath = saved
    path = wpath if kind == "weights" else kpath
    old = path.read_bytes()
    listing = sorted(os.listdir(tmp_path))
    other = _small()
    _fail_during_write(monkeypatch, kind)
    with pytest.raises(RuntimeError, match="disk full"):
        other.save_weights(path) if kind == "weights" else other.save(path)
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == listing
    # A new target that fails leaves nothing at all.
    fresh = tmp_path / ("new.weights.h5" if kind == "weights" else "new.keras")
    with pytest.raises(RuntimeError, match="disk full"):
        other.save_weights(fresh) if kind == "weights" else other.save(fresh)
    assert sorted(os.listdir(tmp_path)) == listing


def test_overwrite_replaces_and_keeps_permissions(saved, tmp_path):
    model, wpath, _ = saved
    os.chmod(wpath, 0o640)
    other = _small()
    other.save_weights(wpath)
    assert os.stat(wpath).st_mode & 0o777 == 0o640
    fresh = _small()
    fresh.load_weights(wpath)
    assert weights_equal(fresh.get_weights(), other.get_weights())
    new = tmp_path / "new.weights.h5"
    other.save_weights(new)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(new).st_mode & 0o777 == 0o666 & ~umask


def test_saving_through_a_symlink_keeps_the_link(saved, tmp_path):
    model, wpath, _ = saved
    link = tmp_path / "link.weights.h5"
    link.symlink_to(wpath)
    other = _small()
    other.save_weights(link)
    assert link.is_symlink() and os.readlink(link) == str(wpath)
    fresh = _small()
    fresh.load_weights(wpath)
    assert weights_equal(fresh.get_weights(), other.get_weights())


def test_loading_from_a_read_only_directory(saved, tmp_path):
    model, wpath, kpath = saved
    ro = tmp_path / "ro"
    ro.mkdir()
    for p in (wpath, kpath):
        (ro / p.name).write_bytes(p.read_bytes())
        os.chmod(ro / p.name, 0o444)
    os.chmod(ro, 0o555)
    try:
        stamp = {p: os.stat(ro / p).st_mtime_ns for p in os.listdir(ro)}
        dst = _small()
        dst.load_weights(ro / wpath.name)
        assert weights_equal(dst.get_weights(), model.get_weights())
        dst2 = _small()
        dst2.load_weights(ro / kpath.name)
        assert weights_equal(dst2.get_weights(), model.get_weights())
        loaded = load_model(ro / kpath.name)
        assert weights_equal(loaded.get_weights(), model.get_weights())
        assert {p: os.stat(ro / p).st_mtime_ns for p in os.listdir(ro)} == stamp
        if os.geteuid() != 0:  # root ignores directory permissions
            with pytest.raises(PermissionError):
                model.save_weights(ro / "new.weights.h5")
            assert sorted(os.listdir(ro)) == sorted(stamp)
    finally:
        os.chmod(ro, 0o755)


def test_failed_load_with_compiled_model_leaves_optimizer_unchanged(tmp_path, rng):
    x, y = stock_data(rng)
    model = trained(stock_model(), x, y)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:  # last layer broken: everything before it must not load
        del f["layers/dense/vars/1"]
    other = trained(stock_model(), x[::-1].copy(), y[::-1].copy())
    before, opt_before = other.get_weights(), optimizer_values(other)
    with pytest.raises(ValueError, match="A total of 1 objects could not be loaded"):
        other.load_weights(path)
    assert weights_equal(other.get_weights(), before)
    assert weights_equal(optimizer_values(other), opt_before)
