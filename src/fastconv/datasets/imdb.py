"""IMDb movie-review sentiment data (Large Movie Review Dataset), with Keras' `load_data` semantics.

fastconv builds the word-id sequences from the reviews themselves instead of downloading Keras'
pre-tokenised `imdb.npz` (which it can still read, see below). How the build works:

* Reviews: the labelled files `{train,test}/{neg,pos}/<id>_<rating>.txt` of Stanford's
  `aclImdb_v1.tar.gz`, of a repack with the same layout, or of an extracted `aclImdb/` folder;
  text decoded as UTF-8. Before the seed shuffle the order is fixed: within each split sorted by
  (label, integer id), negatives (label 0) first, then positives (label 1); names not of the
  `<id>_<rating>.txt` form come after the numbered ones of their folder, by name.
* Words: Keras' legacy `text_to_word_sequence` rule: lower-case, replace each of
  ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~`` and tab/newline by a space, split on single spaces,
  drop empty pieces. Apostrophes stay (`everyone's`) and `<br />` yields the token `br`.
* Word index: counts over the training reviews only; rank 1 = most frequent. Ties are broken by
  the word itself in Unicode code-point order (so "a" before "b"); the order does not depend on
  the order of files in the archive. A test-review word absent from the training reviews is
  dropped from that review (what Keras documents for its own file); `oov_char` marks only words
  cut by `num_words` / `skip_top`.
* The result is cached as `imdb-v1-<key>.npz` in the cache folder (no pickle: flat int32 ranks,
  int64 offsets, int8 labels, the vocabulary as UTF-8 bytes), keyed by the SHA-256 of the
  archive (or, for a folder, of its file names, sizes and modification times). A damaged cache
  raises an error naming the file; delete it and it is rebuilt.

Where the data is looked for, and the download, are described in `fastconv.datasets._files`;
`path=` may also name Keras' own `imdb.npz` (read with an array-only unpickler).
"""
import collections
import hashlib
import itertools
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from . import _files
from ._tar import ArchiveError, iter_regular_files

__all__ = ["load_data", "get_word_index"]

_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_BYTES_TABLE = bytes.maketrans(_FILTERS.encode("ascii"), b" " * len(_FILTERS))
# Bytes that survive lower-casing, filtering and whitespace splitting; one absent from every
# review separates reviews when the whole corpus is tokenised in one pass.
_SEPARATORS = [bytes([b]) for b in itertools.chain(range(0x00, 0x09), range(0x0e, 0x20))]
_REVIEW_RE = re.compile(r"(?:^|/)(train|test)/(neg|pos)/([^/]+\.txt)$")
_MAX_REVIEW_BYTES = 1 << 20
_PARALLEL_MIN_BYTES = 8 << 20  # smaller sources build faster than a worker starts
_CACHE_FORMAT = 1
_CACHE_KEYS = {"format", "source_key", "tokens", "offsets", "labels", "n_train", "vocab",
               "counts"}


class _Corpus:
    """Raw reviews as flat int32 frequency ranks (1 = most frequent) plus offsets and labels."""

    __slots__ = ("tokens", "offsets", "labels", "n_train", "vocab", "counts", "_words")

    def __init__(self, tokens, offsets, labels, n_train, vocab, counts):
        self.tokens, self.offsets, self.labels = tokens, offsets, labels
        self.n_train, self.vocab, self.counts = int(n_train), vocab, counts
        self._words = None

    def words(self):
        """Vocabulary in rank order (index 0 holds rank 1)."""
        if self._words is None:
            raw = self.vocab.tobytes()
            self._words = raw.decode("utf-8").split("\n") if raw else []
        return self._words


# ----------------------------------------------------------------------------- tokenising

def _prepare(raw, name):
    """UTF-8 bytes of one review with non-ASCII text already lower-cased the Unicode way."""
    if raw.isascii():
        return raw
    try:
        return raw.decode("utf-8").lower().encode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"Review {name} is not valid UTF-8 ({err}).") from None


def _tokenize_corpus(raws, names):
    """Tokenise every review in one pass (Keras' legacy word rule, see the module docstring).

    Filtering and splitting run on UTF-8 bytes: every filter character is ASCII, and ASCII bytes
    never occur inside a multi-byte UTF-8 sequence, so this equals the rule applied to the text.

    Returns `(ids, doc_of_token, words)`: per token a first-seen word id (int32) and its review
    number, and the distinct words as bytes in first-seen order.
    """
    docs = [_prepare(r, n) for r, n in zip(raws, names)]
    sep = next((s for s in _SEPARATORS if not any(s in d for d in docs)), None)
    if sep is None:  # pathological input: every candidate byte occurs somewhere
        return _tokenize_per_review(docs)
    big = (b" " + sep + b" ").join(docs).lower().translate(_BYTES_TABLE)
    # bytes.split() also splits on \r \v \f, which the legacy rule keeps inside words.
    if any(c in big for c in (b"\r", b"\x0b", b"\x0c")):
        pieces = [t for t in big.split(b" ") if t]
    else:
        pieces = big.split()
    del big
    ids_of = collections.defaultdict(itertools.count().__next__)
    _ = ids_of[sep]  # id 0 = the separator
    ids = np.fromiter(map(ids_of.__getitem__, pieces), dtype=np.int32, count=len(pieces))
    del pieces
    is_sep = ids == 0
    doc_of_token = np.cumsum(is_sep, dtype=np.int32)
    keep = ~is_sep
    words = list(ids_of)[1:]
    return ids[keep] - 1, doc_of_token[keep], words


def _tokenize_per_review(docs):
    ids_of = collections.defaultdict(itertools.count().__next__)
    ids, doc_of = [], []
    for i, d in enumerate(docs):
        pieces = [t for t in d.lower().translate(_BYTES_TABLE).split(b" ") if t]
        ids.extend(map(ids_of.__getitem__, pieces))
        doc_of.extend([i] * len(pieces))
    return (np.asarray(ids, dtype=np.int32), np.asarray(doc_of, dtype=np.int32), list(ids_of))


def _rank(ids, doc_of_token, words, n_docs, n_train):
    """Frequency ranks over the training reviews.

    Returns `(tokens, offsets, vocab, counts)`; words that occur only in test reviews are dropped.
    """
    n_words = len(words)
    in_train = doc_of_token < n_train
    counts = np.bincount(ids[in_train], minlength=n_words)
    seen = np.flatnonzero(counts)
    order = sorted(seen.tolist(), key=lambda i: (-counts[i], words[i]))
    rank_of = np.zeros(n_words, dtype=np.int32)
    rank_of[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    ranks = rank_of[ids]
    keep = ranks > 0
    tokens = ranks[keep]
    lengths = np.bincount(doc_of_token[keep], minlength=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    vocab = np.frombuffer(b"\n".join(words[i] for i in order), dtype=np.uint8)
    return tokens, offsets, vocab, counts[order].astype(np.int64)


# ----------------------------------------------------------------------------- reading reviews

def _sort_key(split, label, filename):
    head = filename[:-4].split("_", 1)[0]
    numbered = head.isdigit()
    return (split == "test", label == "pos", not numbered, int(head) if numbered else 0, filename)


def _read_archive(path, split):
    found = {}

    def want(name):
        match = _REVIEW_RE.search(name)
        return match is not None and match.group(1) == split

    for name, data in iter_regular_files(path, want, _MAX_REVIEW_BYTES):
        _, label, filename = _REVIEW_RE.search(name).groups()
        found[(label, filename, name)] = data  # a repeated path: the last copy wins, as in tar
    return found


def _read_folder(path, split):
    found = {}
    for label in ("neg", "pos"):
        folder = os.path.join(path, split, label)
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            if entry.name.endswith(".txt") and entry.is_file():
                if entry.stat().st_size > _MAX_REVIEW_BYTES:
                    raise ValueError(f"Review {entry.path} is larger than {_MAX_REVIEW_BYTES} "
                                     "bytes; not an IMDb review.")
                with open(entry.path, "rb") as f:
                    found[(label, entry.name, entry.path)] = f.read()
    return found


def _folder_scan(path):
    """(identity key, total bytes) of an extracted review folder."""
    h = hashlib.sha256()
    total = 0
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = os.path.join(path, split, label)
            if not os.path.isdir(folder):
                continue
            rows = []
            for e in os.scandir(folder):
                if e.name.endswith(".txt"):
                    st = e.stat()
                    rows.append((e.name, st.st_size, st.st_mtime_ns))
                    total += st.st_size
            for name, size, mtime in sorted(rows):
                h.update(f"{split}/{label}/{name}\0{size}\0{mtime}\n".encode(
                    "utf-8", "surrogateescape"))
    return "dir-" + h.hexdigest(), total


def _tokenize_split(kind, path, split):
    """Read and tokenise one split. Returns `(labels, ids, doc_of_token, words)`."""
    try:
        found = _read_archive(path, split) if kind == "archive" else _read_folder(path, split)
    except ArchiveError as err:
        raise ValueError(f"Cannot read the IMDb archive {path}: {err}. Replace the file "
                         "(e.g. download it again).") from None
    keys = sorted(found, key=lambda k: _sort_key(split, k[0], k[1]))
    if not keys:
        raise ValueError(f"No {'training' if split == 'train' else 'test'} reviews in {path}: "
                         f"expected files aclImdb/{split}/{{neg,pos}}/<id>_<rating>.txt.")
    labels = np.array([k[0] == "pos" for k in keys], dtype=np.int8)
    raws = [found[k] for k in keys]
    names = [k[2] for k in keys]
    del found
    ids, doc_of_token, words = _tokenize_corpus(raws, names)
    return labels, ids, doc_of_token, words


def _run_worker(kind, path, split):
    """Tokenise `split` in a separate interpreter (`python -m fastconv.datasets._worker`).

    A plain subprocess, not multiprocessing: spawning would re-import the caller's `__main__`,
    which breaks scripts without an `if __name__ == "__main__"` guard. Returns a Popen and the
    result file, or None when no worker could be started.
    """
    if not sys.executable:
        return None
    fd, out = tempfile.mkstemp(prefix="fastconv-imdb-", suffix=".npz")
    os.close(fd)
    env = dict(os.environ, FASTCONV_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastconv.datasets._worker", kind, path, split, out],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    except OSError:
        os.unlink(out)
        return None
    return proc, out


def _collect_worker(job):
    """The worker's `(labels, ids, doc_of_token, words)`, or None if it failed."""
    proc, out = job
    try:
        proc.communicate(timeout=600)
        if proc.returncode != 0:
            return None
        with open(out, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            vocab = f["words"].tobytes()
            return (f["labels"], f["ids"], f["doc_of_token"],
                    vocab.split(b"\n") if vocab else [])
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.exists(out):
            os.unlink(out)


def _use_worker(source_bytes):
    if source_bytes < _PARALLEL_MIN_BYTES or os.environ.get("FASTCONV_IMDB_SERIAL") == "1":
        return False
    from .._config import get_num_threads

    return get_num_threads() >= 2


def _build(source, source_bytes):
    """Tokenise all reviews and rank the words. Test split in a worker process when worthwhile."""
    job = _run_worker(source.kind, source.path, "test") if _use_worker(source_bytes) else None
    try:
        train = _tokenize_split(source.kind, source.path, "train")
    except BaseException:
        if job is not None:
            job[0].kill()
            _collect_worker(job)
        raise
    test = _collect_worker(job) if job is not None else None
    if test is None:
        test = _tokenize_split(source.kind, source.path, "test")
    labels_tr, ids_tr, doc_tr, words_tr = train
    labels_te, ids_te, doc_te, words_te = test
    index = {w: i for i, w in enumerate(words_tr)}
    words = list(words_tr)
    remap = np.empty(len(words_te), dtype=np.int32)
    for j, w in enumerate(words_te):
        i = index.get(w)
        if i is None:
            i = index[w] = len(words)
            words.append(w)
        remap[j] = i
    n_train = labels_tr.size
    ids = np.concatenate([ids_tr, remap[ids_te]])
    doc_of_token = np.concatenate([doc_tr, doc_te + n_train])
    n_docs = n_train + labels_te.size
    tokens, offsets, vocab, counts = _rank(ids, doc_of_token, words, n_docs, n_train)
    labels = np.concatenate([labels_tr, labels_te])
    return _Corpus(tokens, offsets, labels, n_train, vocab, counts)


# ----------------------------------------------------------------------------- cache

def _cache_path(key):
    return os.path.join(_files.cache_dir(), f"imdb-v{_CACHE_FORMAT}-{key[-24:]}.npz")


def _bad_cache(path, why):
    return ValueError(f"The IMDb token cache {path} is damaged ({why}). Delete it; the next "
                      "load_data() rebuilds it from the reviews.")


def _read_cache(path, key):
    try:
        # An open file object, not the path: np.load leaks its own handle when the zip is bad.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            if set(f.files) != _CACHE_KEYS:
                raise _bad_cache(path, f"members {sorted(f.files)}")
            data = {k: f[k] for k in _CACHE_KEYS}
    except ValueError as err:
        if str(err).startswith("The IMDb token cache"):
            raise
        raise _bad_cache(path, err) from None
    except Exception as err:  # zipfile/zlib/EOF/OS errors from a cut or overwritten file
        raise _bad_cache(path, f"{type(err).__name__}: {err}") from None
    try:
        fmt, stored_key = int(data["format"]), str(data["source_key"])
        tokens, offsets, labels = data["tokens"], data["offsets"], data["labels"]
        n_train, vocab, counts = int(data["n_train"]), data["vocab"], data["counts"]
    except (TypeError, ValueError) as err:
        raise _bad_cache(path, err) from None
    if fmt != _CACHE_FORMAT or stored_key != key:
        raise _bad_cache(path, "it belongs to a different archive or format")
    checks = [
        (tokens.dtype == np.int32 and tokens.ndim == 1, "tokens"),
        (offsets.dtype == np.int64 and offsets.ndim == 1 and offsets.size >= 3, "offsets"),
        (labels.dtype == np.int8 and labels.shape == (offsets.size - 1,), "labels"),
        (vocab.dtype == np.uint8 and vocab.ndim == 1, "vocab"),
        (counts.dtype == np.int64 and counts.ndim == 1, "counts"),
    ]
    for ok, what in checks:
        if not ok:
            raise _bad_cache(path, f"bad `{what}` array")
    n_docs = offsets.size - 1
    n_vocab = counts.size
    if not (0 < n_train < n_docs):
        raise _bad_cache(path, "bad review count")
    if offsets[0] != 0 or offsets[-1] != tokens.size or np.any(np.diff(offsets) < 0):
        raise _bad_cache(path, "offsets do not match the tokens")
    if tokens.size and (tokens.min() < 1 or tokens.max() > n_vocab):
        raise _bad_cache(path, "word ids out of range")
    if np.any((labels != 0) & (labels != 1)):
        raise _bad_cache(path, "labels other than 0/1")
    if np.any(np.diff(counts) > 0) or (n_vocab and counts[-1] < 1):
        raise _bad_cache(path, "word counts not in rank order")
    expected_newlines = max(n_vocab - 1, 0)
    if int(np.count_nonzero(vocab == 10)) != expected_newlines:
        raise _bad_cache(path, "vocabulary size does not match")
    return _Corpus(tokens, offsets, labels, n_train, vocab, counts)


def _write_cache(path, key, corpus):
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".imdb-", suffix=".npz.part")
    except OSError as err:
        warnings.warn(f"fastconv: cannot write the IMDb token cache in {folder} ({err}); "
                      "the reviews will be tokenised again next time.", RuntimeWarning,
                      stacklevel=4)
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, format=np.int64(_CACHE_FORMAT), source_key=np.str_(key),
                     tokens=corpus.tokens, offsets=corpus.offsets, labels=corpus.labels,
                     n_train=np.int64(corpus.n_train), vocab=corpus.vocab, counts=corpus.counts)
            f.flush()
            os.fsync(f.fileno())
        _files.publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _corpus_from_keras_npz(path):
    from ._npz import load_npz_restricted

    arrays = load_npz_restricted(path)
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
    if missing:
        raise ValueError(f"{path} is not Keras' imdb.npz: missing {sorted(missing)}.")
    parts = []
    try:
        for xs in (arrays["x_train"], arrays["x_test"]):
            seqs = [list(x) for x in xs]
            lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
            flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64,
                               count=int(lengths.sum()))
            parts.append((flat, lengths))
        labels = np.concatenate([np.asarray(arrays["y_train"]).astype(np.int64, casting="safe"),
                                 np.asarray(arrays["y_test"]).astype(np.int64, casting="safe")])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} is not Keras' imdb.npz: {err}") from None
    tokens = np.concatenate([parts[0][0], parts[1][0]])
    lengths = np.concatenate([parts[0][1], parts[1][1]])
    if labels.shape != lengths.shape:
        raise ValueError(f"{path} is not Keras' imdb.npz: label and review counts differ.")
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _Corpus(tokens, offsets, labels, len(parts[0][1]), np.zeros(0, np.uint8),
                   np.zeros(0, np.int64))


def _load_corpus(path):
    source = _files.find_imdb(path)
    if source.kind == "keras_npz":
        return source, _corpus_from_keras_npz(source.path)
    if source.kind == "archive":
        key, size = _files.sha256_file(source.path), os.path.getsize(source.path)
    else:
        key, size = _folder_scan(source.path)
    cache = _cache_path(key)
    if os.path.exists(cache):
        return source, _read_cache(cache, key)
    corpus = _build(source, size)
    _write_cache(cache, key, corpus)
    return source, corpus


# ----------------------------------------------------------------------------- Keras steps

def _int_arg(name, value, *, none_ok, minimum=None):
    expected = ("None or " if none_ok else "") + (
        "a non-negative int" if minimum == 0 else "an int")
    if value is None:
        if none_ok:
            return None
        raise TypeError(f"Invalid type for argument `{name}`. Expected {expected}. "
                        f"Received: {name}=None")
    if isinstance(value, bool):
        raise TypeError(f"Invalid type for argument `{name}`. Expected {expected}. "
                        f"Received: {name}={value!r} of type bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"Invalid type for argument `{name}`. Expected {expected}. "
                        f"Received: {name}={value!r} of type {type(value).__name__}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"Invalid value for argument `{name}`. Expected {expected}. "
                         f"Received: {name}={value}")
    return value


def _gather(tokens, offsets, order):
    lengths = np.diff(offsets)[order]
    new_offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    src = np.repeat(offsets[:-1][order] - new_offsets[:-1], lengths)
    src += np.arange(new_offsets[-1], dtype=np.int64)
    return tokens[src], new_offsets


def _prepend(tokens, offsets, value):
    n = offsets.size - 1
    new_offsets = offsets + np.arange(n + 1, dtype=np.int64)
    out = np.empty(tokens.size + n, dtype=np.int64)
    is_start = np.zeros(out.size, dtype=bool)
    is_start[new_offsets[:-1]] = True
    out[is_start] = value
    out[~is_start] = tokens
    return out, new_offsets


def _keep_mask(tokens, offsets, mask):
    kept = np.zeros(tokens.size + 1, dtype=np.int64)
    np.cumsum(mask, out=kept[1:])
    return tokens[mask], kept[offsets]


def _to_object_array(tokens, offsets):
    bounds = offsets.tolist()
    seqs = [tokens[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])]
    if seqs and all(len(s) == len(seqs[0]) for s in seqs):
        return np.array(seqs, dtype=object)  # Keras' np.array(..., dtype=object) gives 2-D here
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = s
    return out


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3):
    """Loads the IMDb movie-review sentiment data: 25,000 training and 25,000 test reviews.

    Each review is a list of word ids: a word's id is its frequency rank in the training
    reviews (1 = most frequent) plus `index_from`. Steps, in Keras' order: shuffle the training
    reviews with `np.random.RandomState(seed)`, then the test reviews with the same generator;
    prepend `start_char` and shift ids by `index_from`; with `maxlen`, drop (not truncate)
    every review whose length, start mark included, is `>= maxlen`; if `num_words` is falsy
    it becomes the largest id present; every id outside `[skip_top, num_words)` becomes
    `oov_char` (or is removed if `oov_char` is None).
    Keras' quirks are kept: with `num_words=None` the largest id itself becomes `oov_char`;
    with `skip_top > start_char` the start mark becomes `oov_char` too; `maxlen=0` keeps all.

    Args:
        path: None, or an archive / extracted `aclImdb` folder / Keras `imdb.npz` / a folder
            holding one of them. None searches `FASTCONV_DATA`, then the cache folder
            (`$FASTCONV_HOME/datasets` or `~/.fastconv/datasets`), then downloads.
        num_words: None or int: keep ids below this (as shifted ids), others become `oov_char`.
        skip_top: int: ids below this become `oov_char`.
        maxlen: None or int: drop reviews of this length or longer.
        seed: int or None: seed of the shuffle.
        start_char: int or None: id put at the start of every review.
        oov_char: int or None: id of cut words; None removes them.
        index_from: int: offset added to every frequency rank.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x are 1-D object arrays of Python int lists
        (2-D if every list has the same length, as in Keras), y int64 arrays of 0 (negative)
        and 1 (positive).

    Raises:
        FileNotFoundError / OSError: no data found and none could be downloaded; the message
            says where to put the file.
        ValueError: bad arguments, nothing left after `maxlen`, damaged archive or cache.
        TypeError: an argument of the wrong type.

    Example:
    >>> from fastconv.datasets import imdb
    >>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=20000)  # doctest: +SKIP
    >>> len(x_train), x_train[0][0], int(max(max(x) for x in x_train)) < 20000  # doctest: +SKIP
    (25000, 1, True)
    """
    if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("Invalid type for argument `path`. Expected None or a file or folder "
                        f"path (str or os.PathLike). Received: path={path!r}")
    num_words = _int_arg("num_words", num_words, none_ok=True, minimum=0)
    skip_top = _int_arg("skip_top", skip_top, none_ok=False, minimum=0)
    maxlen = _int_arg("maxlen", maxlen, none_ok=True, minimum=0)
    if seed is not None:
        seed = _int_arg("seed", seed, none_ok=False, minimum=0)
    start_char = _int_arg("start_char", start_char, none_ok=True)
    oov_char = _int_arg("oov_char", oov_char, none_ok=True)
    index_from = _int_arg("index_from", index_from, none_ok=False, minimum=0)

    _, corpus = _load_corpus(path)
    n_train = corpus.n_train
    tokens = corpus.tokens
    offsets = corpus.offsets
    split = [(tokens[:offsets[n_train]], offsets[:n_train + 1], corpus.labels[:n_train]),
             (tokens[offsets[n_train]:], offsets[n_train:] - offsets[n_train],
              corpus.labels[n_train:])]

    rng = np.random.RandomState(seed)
    parts = []
    for toks, offs, labels in split:
        indices = np.arange(offs.size - 1)
        rng.shuffle(indices)
        toks, offs = _gather(toks, offs, indices)
        labels = labels[indices].astype(np.int64)
        toks = toks.astype(np.int64)
        toks += index_from
        if start_char is not None:
            toks, offs = _prepend(toks, offs, start_char)
        parts.append([toks, offs, labels])

    if maxlen:
        for part in parts:
            toks, offs, labels = part
            keep_review = np.diff(offs) < maxlen
            keep_token = np.repeat(keep_review, np.diff(offs))
            toks, offs = _keep_mask(toks, offs, keep_token)
            part[:] = [toks, offs[np.r_[True, keep_review]], labels[keep_review]]
        if any(p[2].size == 0 for p in parts):
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, "
                             "no sequence was kept. Increase maxlen.")

    if not num_words:
        sizes = [p[0] for p in parts if p[0].size]
        num_words = int(max(s.max() for s in sizes)) if sizes else 0

    results = []
    for toks, offs, labels in parts:
        in_range = (toks >= skip_top) & (toks < num_words)
        if oov_char is not None:
            toks = np.where(in_range, toks, oov_char)
        else:
            toks, offs = _keep_mask(toks, offs, in_range)
        results.append((_to_object_array(toks, offs), labels))
    return results[0], results[1]


def get_word_index(path=None):
    """Retrieves the `{word: rank}` dictionary of the IMDb data (rank 1 = most frequent).

    A review id `i` from `load_data` (with `index_from=3`) is the word of rank `i - 3`;
    ids 0, 1, 2 are padding, start and out-of-vocabulary marks.

    Args:
        path: None or the same locations as `load_data`; also a `.json` word-index file
            (Keras' `imdb_word_index.json`). For Keras' `imdb.npz`, the file
            `imdb_word_index.json` next to it is used.

    Returns:
        A dict mapping each word of the training reviews to its frequency rank.

    Example:
    >>> from fastconv.datasets import imdb
    >>> index = imdb.get_word_index()  # doctest: +SKIP
    >>> index["the"], index["and"]  # doctest: +SKIP
    (1, 2)
    """
    if path is not None and os.fspath(path).endswith(".json"):
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return json.load(f)
    source, corpus = _load_corpus(path)
    if source.kind == "keras_npz":
        beside = os.path.join(os.path.dirname(source.path), "imdb_word_index.json")
        if not os.path.isfile(beside):
            raise FileNotFoundError(f"Keras' imdb.npz carries no words; put imdb_word_index.json "
                                    f"next to it ({beside}) or pass its path.")
        with open(beside, encoding="utf-8") as f:
            return json.load(f)
    return {word: rank for rank, word in enumerate(corpus.words(), start=1)}
