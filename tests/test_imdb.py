"""fastconv.datasets.imdb: Keras' load_data semantics, on small archives the tests build.

Oracle: an independent plain-Python pipeline (`_reference_*` below): the legacy word rule done with
str.replace per filter character, collections.Counter ranks, and Keras' load_data steps written
as list loops. No test needs the network: downloads come from a local http.server on 127.0.0.1.
"""
import collections
import gzip
import http.server
import io
import os
import pickle
import shutil
import socket
import tarfile
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastconv.datasets import imdb
from fastconv.datasets import _files, _tar

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

REVIEWS = {
    # (split, label, id, rating): text
    ("train", "neg", 0, 1): "This film was AWFUL!! Truly awful.<br /><br />Don't watch it.",
    ("train", "neg", 10, 2): "Bad, bad acting; a waste of time... (and money)",
    ("train", "neg", 2, 4): "Meh.\tNot the worst\nbut boring: 2/10 -- everyone's asleep",
    ("train", "pos", 1, 10): "Brilliant! Everyone's performance was brilliant; the ÉCLAT of it.",
    ("train", "pos", 3, 8): "A fine film, a FINE cast.\r\nWould watch again\x0bsoon",
    ("train", "pos", 12, 9): "Café società İstanbul ΟΔΟΣ zebra zebra apple apple",
    ("train", "pos", 7, 7): "",
    ("test", "neg", 4, 3): "Awful plot, unseenword and awful film.",
    ("test", "neg", 0, 1): "Boring boring boring; never again!",
    ("test", "pos", 9, 10): "Brilliant film, brilliant cast: zebra\xa0crossing",
    ("test", "pos", 1, 8): "A fine and brilliant film. Wow!",
}


# ----------------------------------------------------------------------------- oracles

def _reference_words(text):
    text = text.lower()
    for ch in FILTERS:
        text = text.replace(ch, " ")
    return [w for w in text.split(" ") if w != ""]


def _reference_order(reviews):
    def key(k):
        split, label, rid, _ = k
        return (split != "train", label != "neg", rid)
    return sorted(reviews, key=key)


def _reference_raw(reviews):
    """Word index and raw-rank reviews, computed the slow, obvious way."""
    keys = _reference_order(reviews)
    counts = collections.Counter()
    for k in keys:
        if k[0] == "train":
            counts.update(_reference_words(reviews[k]))
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    index = {w: i + 1 for i, w in enumerate(ranked)}
    out = {"train": ([], []), "test": ([], [])}
    for k in keys:
        seq = [index[w] for w in _reference_words(reviews[k]) if w in index]
        out[k[0]][0].append(seq)
        out[k[0]][1].append(1 if k[1] == "pos" else 0)
    return index, out


def _reference_load(reviews, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
                    oov_char=2, index_from=3):
    """Keras' load_data steps as plain list loops."""
    _, raw = _reference_raw(reviews)
    rng = np.random.RandomState(seed)
    splits = []
    for name in ("train", "test"):
        xs, ys = raw[name]
        order = np.arange(len(xs))
        rng.shuffle(order)
        xs = [xs[i] for i in order]
        ys = [ys[i] for i in order]
        if start_char is not None:
            xs = [[start_char] + [w + index_from for w in x] for x in xs]
        else:
            xs = [[w + index_from for w in x] for x in xs]
        splits.append((xs, ys))
    if maxlen:
        splits = [([x for x in xs if len(x) < maxlen],
                   [y for x, y in zip(xs, ys) if len(x) < maxlen]) for xs, ys in splits]
    if not num_words:
        num_words = max(max(x) for xs, _ in splits for x in xs if x)
    result = []
    for xs, ys in splits:
        if oov_char is not None:
            xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
        else:
            xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
        result.append((xs, ys))
    return result


# ----------------------------------------------------------------------------- fixtures

def _write_archive(path, reviews, *, fmt=tarfile.GNU_FORMAT, top="aclImdb", compress=True,
                   extras=True):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        def add(name, data, kind=tarfile.REGTYPE):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        for d in ("", "/train", "/test"):
            add(top + d, b"", tarfile.DIRTYPE)
        if extras:
            add(top + "/README", b"Large Movie Review Dataset (test copy)\n")
            add(top + "/train/unsup/0_0.txt", b"unlabelled text must be ignored ignored")
            info = tarfile.TarInfo(top + "/train/pos/999_9.txt.lnk")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(info)
        for (split, label, rid, rating), text in sorted(reviews.items(), key=repr):
            add(f"{top}/{split}/{label}/{rid}_{rating}.txt", text.encode("utf-8"))
    data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0) if compress else data)
    return path


def _write_folder(root, reviews):
    for (split, label, rid, rating), text in reviews.items():
        d = root / split / label
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{rid}_{rating}.txt").write_bytes(text.encode("utf-8"))
    return root


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty cache folder; no FASTCONV_DATA; downloads pointed at a closed port."""
    h = tmp_path / "home"
    monkeypatch.setenv("FASTCONV_HOME", str(h))
    monkeypatch.delenv("FASTCONV_DATA", raising=False)
    monkeypatch.delenv("FASTCONV_OFFLINE", raising=False)
    monkeypatch.delenv("FASTCONV_IMDB_SHA256", raising=False)
    monkeypatch.setenv("FASTCONV_IMDB_URL", f"http://127.0.0.1:{_closed_port()}/aclImdb_v1.tar.gz")
    return h / "datasets"


@pytest.fixture
def archive(tmp_path):
    return _write_archive(str(tmp_path / "aclImdb_v1.tar.gz"), REVIEWS)


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _as_lists(x):
    return [list(r) for r in x]


# ----------------------------------------------------------------------------- word rule

@settings(max_examples=150)
@given(st.lists(st.text(alphabet=st.sampled_from(
    list("aZ ,.'!\t\n\r\x0b\x0c\x00\x01\x1f\x85\xa0<>/-_") + ["É", "İ", "Σ", "ß", "ﬁ", "K"]),
    max_size=30), min_size=1, max_size=5))
def test_corpus_tokenizer_equals_legacy_rule(texts):
    raws = [t.encode("utf-8") for t in texts]
    ids, doc_of, words = imdb._tokenize_corpus(raws, [f"r{i}" for i in range(len(raws))])
    words = [w.decode("utf-8") for w in words]
    got = [[] for _ in texts]
    for i, d in zip(ids.tolist(), doc_of.tolist()):
        got[d].append(words[i])
    assert got == [_reference_words(t) for t in texts]


def test_per_review_fallback_equals_one_pass(monkeypatch):
    texts = [t for t in REVIEWS.values()] + ["a\x00b \x00 c", "x\x01y"]
    raws = [t.encode("utf-8") for t in texts]
    names = [str(i) for i in range(len(raws))]
    fast = imdb._tokenize_corpus(raws, names)
    monkeypatch.setattr(imdb, "_SEPARATORS", [b"\x00", b"\x01"])  # both occur: no separator left
    slow = imdb._tokenize_corpus(raws, names)
    for a, b in zip(fast, slow):
        assert list(a) == list(b)
    words = [w.decode() for w in slow[2]]
    got = [[] for _ in texts]
    for i, d in zip(slow[0].tolist(), slow[1].tolist()):
        got[d].append(words[i])
    assert got == [_reference_words(t) for t in texts]


def test_word_index_ranks_by_train_frequency_with_codepoint_ties(home, archive):
    index = imdb.get_word_index(archive)
    expected, _ = _reference_raw(REVIEWS)
    assert index == expected
    # Hand-checked facts the reference could share a mistake on:
    assert index["a"] == 1  # the only word seen 3 times in training reviews
    assert [index[w] for w in ("apple", "awful", "bad", "br", "brilliant", "zebra")] == [
        2, 3, 4, 5, 6, 15]  # the 14 words seen twice, in code-point order
    assert index["\r"] == 16  # "\r\n": \n is filtered, \r is kept as a word (legacy rule)
    assert "everyone's" in index and "br" in index  # apostrophes kept; <br /> -> br
    assert "unseenword" not in index and "never" not in index  # test-only words
    assert "unsup" not in str(index) and "ignored" not in index  # unsup folder skipped
    assert "café" in index and "istanbul" not in index and "i̇stanbul" in index  # Unicode lower()
    assert "ολοσ" not in index and "οδος" in index  # final-sigma rule of str.lower()
    assert "watch\x0bsoon" not in index and "again\x0bsoon" in index  # \v is not a separator
    assert "2" in index and "10" in index


def test_default_load_matches_reference(home, archive):
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(archive)
    (rx_tr, ry_tr), (rx_te, ry_te) = _reference_load(REVIEWS)
    assert _as_lists(x_tr) == rx_tr and _as_lists(x_te) == rx_te
    assert y_tr.tolist() == ry_tr and y_te.tolist() == ry_te
    assert x_tr.dtype == object and x_tr.ndim == 1 and y_tr.dtype == np.int64
    assert all(type(w) is int for r in x_tr for w in r)


KERAS_ARGS = [
    dict(num_words=8),
    dict(num_words=8, skip_top=4),
    dict(skip_top=2),                       # start mark 1 < skip_top -> OOV (Keras quirk)
    dict(maxlen=9),
    dict(maxlen=0),                         # falsy: no filtering
    dict(seed=0), dict(seed=7, num_words=12),
    dict(start_char=None), dict(start_char=None, index_from=0),
    dict(oov_char=None, num_words=10), dict(oov_char=None, skip_top=5, maxlen=12),
    dict(index_from=10, start_char=5, oov_char=3, num_words=20),
    dict(seed=2**32 - 1),
]


@pytest.mark.parametrize("kwargs", KERAS_ARGS,
                         ids=lambda k: "-".join(f"{a}{v}" for a, v in k.items()))
def test_keras_steps_match_reference(home, archive, kwargs):
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(archive, **kwargs)
    (rx_tr, ry_tr), (rx_te, ry_te) = _reference_load(REVIEWS, **kwargs)
    assert _as_lists(x_tr) == rx_tr
    assert _as_lists(x_te) == rx_te
    assert y_tr.tolist() == ry_tr and y_te.tolist() == ry_te


def test_quirks_by_hand(home, archive):
    top = len(imdb.get_word_index(archive)) + 3  # id of the rarest training word
    (q_tr, _), (q_te, _) = imdb.load_data(archive, num_words=None)
    ids = {w for r in list(q_tr) + list(q_te) for w in r}
    assert top not in ids and top - 1 in ids and 2 in ids  # the largest id alone became OOV
    (s_tr, _), _ = imdb.load_data(archive, skip_top=2)
    assert all(r[0] == 2 for r in s_tr)  # start mark became OOV
    (o_tr, _), _ = imdb.load_data(archive, num_words=6, oov_char=None, start_char=None)
    assert all(3 <= w < 6 for r in o_tr for w in r)


def test_seed_shuffle_continues_the_stream(home, archive):
    (x_tr, _), (x_te, _) = imdb.load_data(archive, seed=3)
    (u_tr, _), _ = imdb.load_data(archive, seed=3)
    (v_tr, _), _ = imdb.load_data(archive, seed=6)
    assert _as_lists(x_tr) == _as_lists(u_tr) and _as_lists(x_tr) != _as_lists(v_tr)
    _, raw = _reference_raw(REVIEWS)
    rng = np.random.RandomState(3)
    first = np.arange(len(raw["train"][0]))
    rng.shuffle(first)
    second = np.arange(len(raw["test"][0]))
    rng.shuffle(second)  # same generator, continuing
    expect_te = [[1] + [w + 3 for w in raw["test"][0][i]] for i in second]
    assert _as_lists(x_te) == expect_te
    fresh = np.arange(len(raw["test"][0]))
    np.random.RandomState(3).shuffle(fresh)
    assert fresh.tolist() != second.tolist()  # the check above can tell the two apart


def test_equal_lengths_give_a_2d_object_array(home, tmp_path):
    reviews = {("train", "neg", 0, 1): "a b", ("train", "pos", 1, 9): "b c",
               ("test", "neg", 0, 1): "c a", ("test", "pos", 1, 9): "a a"}
    path = _write_archive(str(tmp_path / "eq.tar.gz"), reviews)
    (x_tr, _), (x_te, _) = imdb.load_data(path)
    # train counts: b 2, a 1, c 1 -> ranks b=1, a=2, c=3; ids = rank + 3 after start mark 1;
    # c's id 6 is the largest, so num_words=None turns it into OOV 2 (Keras quirk).
    assert x_tr.shape == (2, 3) and x_tr.dtype == object and x_te.shape == (2, 3)
    assert sorted(x_tr.tolist()) == [[1, 4, 2], [1, 5, 4]]
    assert sorted(x_te.tolist()) == [[1, 2, 5], [1, 5, 5]]


def test_maxlen_dropping_everything_raises(home, archive):
    with pytest.raises(ValueError, match=r"^After filtering for sequences shorter than maxlen=2, "
                                         r"no sequence was kept\. Increase maxlen\.$"):
        imdb.load_data(archive, maxlen=2)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(num_words=-1), ValueError, r"`num_words`.*Received: num_words=-1"),
    (dict(num_words=2.5), TypeError, r"`num_words`.*Received: num_words=2\.5 of type float"),
    (dict(skip_top=None), TypeError, r"`skip_top`.*Received: skip_top=None"),
    (dict(maxlen="100"), TypeError, r"`maxlen`.*Received: maxlen='100' of type str"),
    (dict(maxlen=True), TypeError, r"`maxlen`.*of type bool"),
    (dict(seed=-3), ValueError, r"`seed`.*Received: seed=-3"),
    (dict(start_char=1.0), TypeError, r"`start_char`.*of type float"),
    (dict(oov_char="x"), TypeError, r"`oov_char`.*of type str"),
    (dict(index_from=-1), ValueError, r"`index_from`.*Received: index_from=-1"),
])
def test_bad_arguments(home, archive, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        imdb.load_data(archive, **kwargs)


# ----------------------------------------------------------------------------- sources

@pytest.mark.parametrize("variant", ["gnu-gz", "pax-gz", "ustar-tar", "long-names", "folder",
                                     "folder-parent", "dir-with-archive", "env-file", "env-dir",
                                     "cache-dir"])
def test_every_source_gives_the_same_data(home, tmp_path, monkeypatch, variant):
    expected = _reference_load(REVIEWS)
    if variant == "gnu-gz":
        src = _write_archive(str(tmp_path / "a.tar.gz"), REVIEWS)
    elif variant == "pax-gz":
        src = _write_archive(str(tmp_path / "a.tgz"), REVIEWS, fmt=tarfile.PAX_FORMAT)
    elif variant == "ustar-tar":
        src = _write_archive(str(tmp_path / "a.tar"), REVIEWS, fmt=tarfile.USTAR_FORMAT,
                             compress=False)
    elif variant == "long-names":  # > 100 chars: GNU long-name records
        src = _write_archive(str(tmp_path / "a.tar.gz"), REVIEWS, top="d" * 120 + "/aclImdb")
    elif variant == "folder":
        src = str(_write_folder(tmp_path / "aclImdb", REVIEWS))
    elif variant == "folder-parent":
        _write_folder(tmp_path / "aclImdb", REVIEWS)
        src = str(tmp_path)
    elif variant == "dir-with-archive":
        _write_archive(str(tmp_path / "aclImdb_v1_labeled.tar.gz"), REVIEWS)
        src = str(tmp_path)
    elif variant in ("env-file", "env-dir"):
        path = _write_archive(str(tmp_path / "aclImdb_v1.tar.gz"), REVIEWS)
        monkeypatch.setenv("FASTCONV_DATA", path if variant == "env-file" else str(tmp_path))
        src = None
    else:
        home.mkdir(parents=True)
        _write_archive(str(home / "aclImdb_v1.tar.gz"), REVIEWS)
        src = None
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(src)
    assert (_as_lists(x_tr), y_tr.tolist()) == tuple(expected[0])
    assert (_as_lists(x_te), y_te.tolist()) == tuple(expected[1])


def test_fast_tar_reader_agrees_with_tarfile(tmp_path):
    path = _write_archive(str(tmp_path / "a.tar.gz"), REVIEWS, fmt=tarfile.PAX_FORMAT,
                          top="p" * 150)
    ours = dict(_tar.iter_regular_files(path, lambda n: True, 1 << 20))
    with tarfile.open(path) as tf:
        theirs = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
    assert ours == theirs and len(ours) == len(REVIEWS) + 2


def test_cache_is_written_once_and_reused(home, archive):
    first = imdb.load_data(archive, num_words=10)
    files = sorted(os.listdir(home))
    assert len(files) == 1 and files[0].startswith("imdb-v1-") and files[0].endswith(".npz")
    with np.load(home / files[0], allow_pickle=False) as f:
        assert f["tokens"].dtype == np.int32 and f["offsets"].dtype == np.int64
    # Break the source: the second call must be served from the cache alone... it is keyed by
    # the archive's hash, so the archive is still read but never re-tokenised.
    stamp = os.stat(home / files[0]).st_mtime_ns
    second = imdb.load_data(archive, num_words=10)
    assert os.stat(home / files[0]).st_mtime_ns == stamp
    assert _as_lists(first[0][0]) == _as_lists(second[0][0])
    # A changed archive is a different key: a second cache file appears.
    changed = dict(REVIEWS)
    changed[("train", "neg", 50, 1)] = "brand new words"
    _write_archive(archive, changed)
    assert "brand" in imdb.get_word_index(archive)
    assert len(os.listdir(home)) == 2


def test_worker_process_build_is_identical(home, archive, monkeypatch, num_threads):
    serial = imdb._build(_files.DataSource("archive", archive), 0)
    monkeypatch.setattr(imdb, "_PARALLEL_MIN_BYTES", 0)
    num_threads(2)
    job = imdb._run_worker("archive", archive, "test")
    assert job is not None
    result = imdb._collect_worker(job)
    assert result is not None  # the worker really ran and answered
    parallel = imdb._build(_files.DataSource("archive", archive), 1)
    for name in ("tokens", "offsets", "labels", "vocab", "counts"):
        assert np.array_equal(getattr(serial, name), getattr(parallel, name)), name


# ----------------------------------------------------------------------------- damage

def _cuts(size):
    return sorted({0, 1, 10, 100, size // 4, size // 2, size - 9, size - 1})


def test_truncated_archive_is_rejected_and_not_cached(home, archive):
    data = _read(archive)
    for cut in _cuts(len(data)):
        with open(archive, "wb") as f:
            f.write(data[:cut])
        with pytest.raises((ValueError, FileNotFoundError)) as info:
            imdb.load_data(archive)
        assert archive in str(info.value) or "IMDb" in str(info.value), cut
        assert not home.exists() or not os.listdir(home), cut


def test_truncated_plain_tar_is_rejected(home, tmp_path):
    path = _write_archive(str(tmp_path / "a.tar"), REVIEWS, compress=False)
    data = _read(path)
    for cut in (512, 1024 + 100, len(data) // 2, len(data) - 1024 * 9):
        with open(path, "wb") as f:
            f.write(data[:cut])
        with pytest.raises(ValueError, match="truncated|corrupt"):
            imdb.load_data(path)


def test_corrupt_archive_is_rejected(home, archive):
    data = bytearray(_read(archive))
    for pos in (len(data) // 3, len(data) // 2, len(data) - 6):
        broken = bytearray(data)
        broken[pos] ^= 0xFF
        with open(archive, "wb") as f:
            f.write(broken)
        with pytest.raises(ValueError, match="Cannot read the IMDb archive"):
            imdb.load_data(archive)
    assert not home.exists() or not os.listdir(home)


def test_archive_without_reviews(home, tmp_path):
    path = _write_archive(str(tmp_path / "a.tar.gz"), {("train", "pos", 1, 9): "x"})
    with pytest.raises(ValueError, match=r"No test reviews in .*a\.tar\.gz"):
        imdb.load_data(path)


def test_review_that_is_not_utf8(home, tmp_path):
    path = tmp_path / "latin1.tar"
    with tarfile.open(path, "w") as tf:
        for name, data in (("aclImdb/train/pos/1_9.txt", "caf\xe9".encode("latin-1")),
                           ("aclImdb/test/neg/2_1.txt", b"fine")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match=r"Review aclImdb/train/pos/1_9\.txt is not valid UTF-8"):
        imdb.load_data(str(path))


def test_not_an_archive(home, tmp_path):
    bogus = tmp_path / "data.bin"
    bogus.write_bytes(b"hello" * 200)
    with pytest.raises(ValueError, match=r"Invalid IMDb data file .*data\.bin"):
        imdb.load_data(str(bogus))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "extra-member",
                                    "object-array", "bad-offsets", "other-key"])
def test_damaged_cache_gives_a_clear_error(home, archive, damage):
    imdb.load_data(archive)
    (cache,) = [home / f for f in os.listdir(home)]
    raw = cache.read_bytes()
    with np.load(cache, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    if damage == "truncate":
        cache.write_bytes(raw[:len(raw) // 2])
    elif damage == "garbage":
        cache.write_bytes(b"\x00" * 1000)
    elif damage == "empty":
        cache.write_bytes(b"")
    else:
        if damage == "extra-member":
            members["extra"] = np.zeros(3)
        elif damage == "object-array":
            members["tokens"] = np.array([[1, 2], [3]], dtype=object)
        elif damage == "bad-offsets":
            members["offsets"] = members["offsets"][::-1].copy()
        else:
            members["source_key"] = np.str_("0" * 64)
        with open(cache, "wb") as f:
            np.savez(f, **members)
    with pytest.raises(ValueError, match=r"IMDb token cache .* is damaged .* Delete it"):
        imdb.load_data(archive)


# ----------------------------------------------------------------------------- Keras imdb.npz

def _keras_npz(path, x_train, y_train, x_test, y_test):
    def obj(seqs):
        a = np.empty(len(seqs), dtype=object)
        for i, s in enumerate(seqs):
            a[i] = list(s)
        return a
    np.savez(path, x_train=obj(x_train), y_train=np.asarray(y_train, np.int64),
             x_test=obj(x_test), y_test=np.asarray(y_test, np.int64))
    return str(path)


def test_keras_npz_is_read_with_array_only_unpickler(home, tmp_path):
    _, raw = _reference_raw(REVIEWS)
    path = _keras_npz(tmp_path / "imdb.npz", *raw["train"], *raw["test"])
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(path, num_words=9)
    (rx_tr, ry_tr), (rx_te, ry_te) = _reference_load(REVIEWS, num_words=9)
    assert _as_lists(x_tr) == rx_tr and _as_lists(x_te) == rx_te
    assert y_tr.tolist() == ry_tr and y_te.tolist() == ry_te


class _Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (shutil.copyfile, (__file__, self.path))


def test_tampered_keras_npz_raises_unpickling_error(home, tmp_path):
    canary = tmp_path / "canary"
    path = tmp_path / "imdb.npz"
    _keras_npz(path, [[1, 2]], [0], [[3]], [1])
    # Replace x_train's pickle stream with one whose __reduce__ would create the canary.
    import zipfile
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    evil = np.empty(1, dtype=object)
    evil[0] = _Canary(str(canary))
    buf = io.BytesIO()
    np.lib.format.write_array(buf, evil, allow_pickle=True)
    members["x_train.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    with pytest.raises(pickle.UnpicklingError, match="shutil.copyfile"):
        imdb.load_data(str(path))
    assert not canary.exists()


# ----------------------------------------------------------------------------- download

class _Server:
    """A one-file HTTP server on 127.0.0.1 that counts requests and stops itself."""

    def __init__(self, body, *, declared=None):
        self.body, self.declared, self.requests = body, declared, 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(owner.declared or len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/aclImdb_v1.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def test_download_verify_and_cache(home, archive, monkeypatch, capsys):
    body = _read(archive)
    with _Server(body) as server:
        monkeypatch.setenv("FASTCONV_IMDB_URL", server.url)
        monkeypatch.setenv("FASTCONV_IMDB_SHA256", _sha256(body))
        (x_tr, _), _ = imdb.load_data(num_words=10)
        assert server.requests == 1
        imdb.load_data()
        assert server.requests == 1  # second call: found in the cache folder
    assert (home / "aclImdb_v1.tar.gz").read_bytes() == body
    assert not [f for f in os.listdir(home) if f.endswith(".part")]
    err = capsys.readouterr().err
    assert f"Downloading data from {server.url}" in err and "MB" in err
    assert _as_lists(x_tr) == _reference_load(REVIEWS, num_words=10)[0][0]


def test_download_checksum_mismatch(home, archive, monkeypatch):
    body = _read(archive)
    with _Server(body) as server:
        monkeypatch.setenv("FASTCONV_IMDB_URL", server.url)
        monkeypatch.setenv("FASTCONV_IMDB_SHA256", "0" * 64)
        with pytest.raises(ValueError, match=rf"has SHA-256 {_sha256(body)}, expected 0{{64}}"):
            imdb.load_data()
    assert not home.exists() or os.listdir(home) == []


def test_download_cut_short(home, archive, monkeypatch):
    body = _read(archive)
    with _Server(body[:len(body) // 2], declared=len(body)) as server:
        monkeypatch.setenv("FASTCONV_IMDB_URL", server.url)
        monkeypatch.setenv("FASTCONV_IMDB_SHA256", _sha256(body))
        with pytest.raises(OSError, match="download from .* failed"):
            imdb.load_data()
    assert not home.exists() or os.listdir(home) == []


def test_no_network_error_says_where_to_put_the_file(home):
    with pytest.raises(OSError) as info:
        imdb.load_data()
    msg = str(info.value)
    assert "download from http://127.0.0.1:" in msg and str(home) in msg
    assert "aclImdb_v1.tar.gz" in msg and "FASTCONV_DATA" in msg and "path=" in msg


def test_offline_switch(home, monkeypatch):
    monkeypatch.setenv("FASTCONV_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=f"downloads are off .*{home}"):
        imdb.get_word_index()


def test_missing_path_and_empty_folder(home, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.tar\.gz .*does not exist"):
        imdb.load_data(str(tmp_path / "nope.tar.gz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No IMDb data in the folder"):
        imdb.load_data(str(tmp_path / "empty"))


# ----------------------------------------------------------------------------- the real archive

def _real_archive():
    candidates = [os.environ.get("FASTCONV_DATA", ""),
                  os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")]
    for c in candidates:
        if c and os.path.isdir(c):
            c = os.path.join(c, "aclImdb_v1_labeled.tar.gz")
        if c and os.path.isfile(c):
            return c
    return None


@pytest.mark.skipif(_real_archive() is None, reason="the IMDb archive is not available")
def test_real_archive_layout():
    counts = collections.Counter()

    def want(name):
        m = imdb._REVIEW_RE.search(name)
        if m:
            counts[m.group(1, 2)] += 1
        return False  # count names only; skip the bytes

    assert list(_tar.iter_regular_files(_real_archive(), want, 1 << 20)) == []
    assert counts == {(s, l): 12500 for s in ("train", "test") for l in ("neg", "pos")}


@pytest.mark.deep
@pytest.mark.skipif(_real_archive() is None, reason="the IMDb archive is not available")
def test_real_archive_full_build(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTCONV_HOME", str(tmp_path))
    index = imdb.get_word_index(_real_archive())
    assert len(index) == 88582
    assert [w for w, _ in sorted(index.items(), key=lambda kv: kv[1])[:7]] == [
        "the", "and", "a", "of", "to", "is", "br"]
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(_real_archive(), num_words=20000)
    assert len(x_tr) == len(x_te) == 25000
    assert y_tr.sum() == y_te.sum() == 12500
    assert max(max(x) for x in x_tr) == 19999 and all(x[0] == 1 for x in x_tr)
