"""fastconv.utils.pad_sequences: hand-written Keras cases and a naive-loop oracle."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastconv.utils import pad_sequences
from fastconv.utils.sequence_utils import pad_sequences as direct


def _naive(seqs, maxlen, padding, truncating, value, dtype):
    if maxlen is None:
        maxlen = max(len(s) for s in seqs)
    rows = []
    for s in seqs:
        s = list(s)
        if len(s) > maxlen:
            s = s[len(s) - maxlen:] if truncating == "pre" else s[:maxlen]
        fill = [value] * (maxlen - len(s))
        rows.append(fill + s if padding == "pre" else s + fill)
    return np.array(rows, dtype=dtype).reshape(len(seqs), maxlen)


def test_reexported():
    assert pad_sequences is direct


def test_keras_documented_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(seqs).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]


def test_defaults_dtype_and_empty_sequences():
    out = pad_sequences([[], [7, 8], []], maxlen=3)
    assert out.dtype == np.int32 and out.shape == (3, 3)
    assert out.tolist() == [[0, 0, 0], [0, 7, 8], [0, 0, 0]]
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([], maxlen=4).shape == (0, 4)


def test_floats_truncate_into_int32_and_float_dtype_keeps_them():
    assert pad_sequences([[1.9, -2.7]]).tolist() == [[1, -2]]
    out = pad_sequences([[1.5], [2.5, 3.5]], dtype="float32", value=np.nan)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 0]) and out[0, 1] == 1.5 and out[1].tolist() == [2.5, 3.5]


def test_item_shapes_and_mismatch():
    seqs = [np.ones((2, 3)), np.zeros((1, 3))]
    out = pad_sequences(seqs, maxlen=3, dtype="float64", padding="post")
    assert out.shape == (2, 3, 3)
    assert out[0, :2].tolist() == np.ones((2, 3)).tolist() and out[0, 2].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match=r"^Shape of sample \(4,\) of sequence at position 1 "
                                         r"is different from expected shape \(3,\)$"):
        pad_sequences([np.ones((2, 3)), np.ones((1, 4))])


def test_object_and_string_dtypes():
    out = pad_sequences([["a", "bb"], ["c"]], dtype=object, value="")
    assert out.tolist() == [["a", "bb"], ["", "c"]]
    out = pad_sequences([["a"], ["b", "c"]], dtype="<U2", value="-", padding="post")
    assert out.tolist() == [["a", "-"], ["b", "c"]]
    with pytest.raises(ValueError, match=r"^`dtype` int32 is not compatible with `value`'s type: "
                                         r"<class 'str'>\nYou should set `dtype=object` for "
                                         r"variable length strings\.$"):
        pad_sequences([[1]], value="x")


def test_numpy_and_imdb_style_object_array_inputs():
    arr = np.empty(3, dtype=object)
    arr[0], arr[1], arr[2] = [1, 2, 3], [4], list(range(10, 20))
    out = pad_sequences(arr, maxlen=4)
    assert out.tolist() == [[0, 1, 2, 3], [0, 0, 0, 4], [16, 17, 18, 19]]
    assert pad_sequences(np.arange(6).reshape(2, 3), maxlen=2).tolist() == [[1, 2], [4, 5]]


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(truncating="middle"), ValueError, r'^Truncating type "middle" not understood$'),
    (dict(padding="both"), ValueError, r'^Padding type "both" not understood$'),
    (dict(maxlen=-1), ValueError, r"`maxlen`.*Received: maxlen=-1"),
    (dict(maxlen=2.0), TypeError, r"`maxlen`.*Received: maxlen=2\.0 of type float"),
    (dict(maxlen="3"), TypeError, r"`maxlen`.*of type str"),
    (dict(maxlen=True), TypeError, r"`maxlen`.*of type bool"),
])
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        pad_sequences([[1, 2, 3]], **kwargs)


def test_bad_sequences():
    with pytest.raises(ValueError, match=r"^`sequences` must be iterable\.$"):
        pad_sequences(x for x in [[1]])
    with pytest.raises(ValueError, match=r"^`sequences` must be a list of iterables\. "
                                         r"Found non-iterable: 5$"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"`sequences`.*at least one sequence"):
        pad_sequences([])


def test_maxlen_zero_gives_empty_rows():
    out = pad_sequences([[1, 2], []], maxlen=0)
    assert out.shape == (2, 0) and out.dtype == np.int32


@settings(max_examples=200)
@given(seqs=st.lists(st.lists(st.integers(-1000, 1000), max_size=12), min_size=1, max_size=8),
       maxlen=st.one_of(st.none(), st.integers(1, 15)),
       padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]),
       value=st.integers(-5, 5), dtype=st.sampled_from(["int32", "int64", "float64"]))
def test_matches_naive_loop(seqs, maxlen, padding, truncating, value, dtype):
    got = pad_sequences(seqs, maxlen=maxlen, dtype=dtype, padding=padding,
                        truncating=truncating, value=value)
    want = _naive(seqs, maxlen, padding, truncating, value, dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_against_keras_when_installed():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras_utils = pytest.importorskip("keras.utils")
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 50, rng.integers(0, 9)).tolist() for _ in range(30)]
    for kw in (dict(), dict(maxlen=5), dict(maxlen=5, padding="post", truncating="post"),
               dict(maxlen=7, value=-1, dtype="int64")):
        np.testing.assert_array_equal(pad_sequences(seqs, **kw),
                                      keras_utils.pad_sequences(seqs, **kw))
