"""Embedding lookup and its scatter-add backward against naive loops and fastconv._reference."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from fastconv import _reference as ref
from fastconv import ops
from fastconv.ops import _checks

from _layouts import bitwise_equal, snapshot, variants

DEEP = os.environ.get("FASTCONV_HYPOTHESIS_PROFILE") == "deep"
N_SWEEP = 5000 if DEEP else 500
DTYPES = [np.float32, np.float64]
INDEX_DTYPES = [np.int32, np.int64]
THREADS = [1, 2, 3, 4, 8]


def naive(ids, table, dy):
    flat = ids.reshape(-1)
    e = table.shape[1]
    y = np.zeros((flat.size, e))
    dt = np.zeros(table.shape)
    dyf = dy.reshape(-1, e)
    for n, i in enumerate(flat):
        for j in range(e):
            y[n, j] = table[i, j]
            dt[i, j] += dyf[n, j]
    return y.reshape(ids.shape + (e,)), dt


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_vs_naive_loops(idt, dtype, rng):
    ids = rng.integers(0, 6, (3, 4)).astype(idt)
    table = rng.standard_normal((6, 5)).astype(dtype)
    dy = rng.standard_normal((3, 4, 5)).astype(dtype)
    y_n, dt_n = naive(ids, table, dy)
    for impl in (ops, ref):
        y = impl.embedding(ids, table)
        assert y.dtype == dtype and np.array_equal(y, y_n)
        d = impl.embedding_backward(dy, ids, 6)
        assert d.dtype == dtype
        np.testing.assert_allclose(d, dt_n, rtol=1e-6 if dtype == np.float32 else 1e-15,
                                   atol=1e-6 if dtype == np.float32 else 1e-15)


@settings(max_examples=N_SWEEP)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
       v=st.integers(1, 20), e=st.integers(0, 8), dtype=st.sampled_from(DTYPES),
       idt=st.sampled_from(INDEX_DTYPES), seed=st.integers(0, 2**32 - 1))
def test_sweep_vs_reference(shape, v, e, dtype, idt, seed):
    r = np.random.default_rng(seed)
    ids = r.integers(0, v, shape).astype(idt)
    table = r.standard_normal((v, e)).astype(dtype)
    y = ops.embedding(ids, table)
    assert y.shape == shape + (e,) and y.dtype == dtype
    assert bitwise_equal(y, ref.embedding(ids, table))
    dy = r.standard_normal(shape + (e,)).astype(dtype)
    d = ops.embedding_backward(dy, ids, v)
    assert d.shape == (v, e) and d.dtype == dtype
    repeats = max(np.bincount(ids.reshape(-1), minlength=1).max(), 1)
    if dtype == np.float64:
        np.testing.assert_allclose(d, ref.embedding_backward(dy, ids, v), rtol=1e-12,
                                   atol=1e-12 * np.sqrt(repeats))
    else:
        np.testing.assert_allclose(d, ref.embedding_backward(dy, ids, v), rtol=1e-5,
                                   atol=1e-5 * np.sqrt(repeats))


def _configs(rng, n):
    for _ in range(n):
        v, e = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        shape = tuple(int(s) for s in rng.integers(1, 4, int(rng.integers(1, 3))))
        yield rng.integers(0, v, shape), v, e


def test_table_gradient_finite_differences(rng):
    for ids, v, e in _configs(rng, 200):
        table = rng.standard_normal((v, e))
        g = rng.standard_normal(ids.shape + (e,))
        ana = ops.embedding_backward(g, ids, v).reshape(-1)
        num = np.empty(table.size)
        flat = table.reshape(-1)
        eps = 1e-6
        for i in range(table.size):
            keep = flat[i]
            flat[i] = keep + eps
            up = np.vdot(ops.embedding(ids, table), g)
            flat[i] = keep - eps
            down = np.vdot(ops.embedding(ids, table), g)
            flat[i] = keep
            num[i] = (up - down) / (2 * eps)
        assert (np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana)).all()


def test_scatter_is_adjoint_of_lookup(rng):
    for _ in range(1000):
        v, e = int(rng.integers(1, 30)), int(rng.integers(1, 9))
        ids = rng.integers(0, v, tuple(int(s) for s in rng.integers(1, 6, 2)))
        u = rng.standard_normal((v, e))
        g = rng.standard_normal(ids.shape + (e,))
        atg = ops.embedding_backward(g, ids, v)
        lhs, rhs = np.vdot(ops.embedding(ids, u), g), np.vdot(u, atg)
        assert abs(lhs - rhs) <= 1e-12 * np.linalg.norm(u) * np.linalg.norm(atg)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 7, 64, 1000])
def test_k_copies_give_exactly_k_times_g(k, dtype, rng):
    # g on a 2^-10 grid, so every partial sum j*g is exact and repeated adds must equal k*g
    g = (rng.integers(-1024, 1024, 16) / 1024.0).astype(dtype)
    ids = np.full(k, 3, np.int64)
    d = ops.embedding_backward(np.tile(g, (k, 1)), ids, 5)
    assert bitwise_equal(d[3], (g.astype(np.float64) * k).astype(dtype))
    assert not d[[0, 1, 2, 4]].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_indices_cover_whole_vocabulary(dtype, rng):
    v = 257
    ids = rng.permutation(v).reshape(1, v)
    dy = rng.standard_normal((1, v, 6)).astype(dtype)
    d = ops.embedding_backward(dy, ids, v)
    expect = np.empty((v, 6), dtype)
    expect[ids[0]] = dy[0]
    assert bitwise_equal(d, expect)
    table = rng.standard_normal((v, 6)).astype(dtype)
    assert bitwise_equal(ops.embedding(ids, table)[0], table[ids[0]])
    # every vocabulary index, with repeats, int32 and int64 alike
    ids2 = np.concatenate([np.arange(v), rng.integers(0, v, 500)])
    dy2 = rng.standard_normal((ids2.size, 6)).astype(dtype)
    assert bitwise_equal(ops.embedding_backward(dy2, ids2.astype(np.int32), v),
                         ops.embedding_backward(dy2, ids2.astype(np.int64), v))


def test_bitwise_identical_for_any_thread_count(num_threads, rng, monkeypatch):
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    cfgs = [(1, 1, 1), (97, 3, 5), (100, 10, 3), (101, 101, 7), (3, 200, 2), (2, 5, 100),
            (20000, 64, 16)]
    while len(cfgs) < 50:
        cfgs.append((int(rng.integers(1, 120)), int(rng.integers(0, 150)),
                     int(rng.integers(1, 20))))
    for dtype in DTYPES:
        for v, n, e in cfgs:
            ids = rng.integers(0, min(v, 7) if n > v else v, n)  # many repeats too
            table = rng.standard_normal((v, e)).astype(dtype)
            dy = rng.standard_normal((n, e)).astype(dtype)
            base = None
            for t in THREADS:
                num_threads(t)
                got = (ops.embedding(ids, table), ops.embedding_backward(dy, ids, v))
                if base is None:
                    base = got
                else:
                    assert bitwise_equal(got[0], base[0]) and bitwise_equal(got[1], base[1])


def test_repeated_calls_bitwise_equal(rng):
    ids = rng.integers(0, 50, (8, 30))
    dy = rng.standard_normal((8, 30, 16))
    base = ops.embedding_backward(dy, ids, 50)
    for _ in range(20):
        assert bitwise_equal(ops.embedding_backward(dy, ids, 50), base)


@pytest.mark.parametrize("idt", INDEX_DTYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_bitwise_equal_and_inputs_unmodified(idt, dtype, rng, tmp_path):
    ids = rng.integers(0, 40, (4, 9)).astype(idt)
    table = rng.standard_normal((40, 6)).astype(dtype)
    dy = rng.standard_normal((4, 9, 6)).astype(dtype)
    calls = [(ops.embedding, [ids, table]),
             (lambda d, i: ops.embedding_backward(d, i, 40), [dy, ids])]
    for fn, args in calls:
        expect = fn(*args)
        for pos in range(len(args)):
            for name, var in variants(args[pos], tmp_path):
                new = list(args)
                new[pos] = var
                before = snapshot(*new)
                assert bitwise_equal(fn(*new), expect), (pos, name)
                assert snapshot(*new) == before


def test_out_buffers(rng):
    ids = rng.integers(0, 10, (3, 4))
    table = rng.standard_normal((10, 5))
    dy = rng.standard_normal((3, 4, 5))
    for call, shape in ((lambda out=None: ops.embedding(ids, table, out=out), (3, 4, 5)),
                        (lambda out=None: ops.embedding_backward(dy, ids, 10, out=out), (10, 5))):
        buf = np.full(shape, np.nan)
        assert call(out=buf) is buf and not np.isnan(buf).any()
        assert bitwise_equal(buf, call())
        with pytest.raises(ValueError, match=r"`out`.*out\.shape="):
            call(out=np.empty(shape[:-1] + (6,)))
        with pytest.raises(ValueError, match=r"`out`.*out\.dtype=float32"):
            call(out=np.empty(shape, np.float32))
        with pytest.raises(ValueError, match="non-contiguous"):
            call(out=np.empty(shape[:-1] + (10,))[..., ::2])
    big = rng.standard_normal((20, 5))
    with pytest.raises(ValueError, match="does not overlap"):
        ops.embedding(ids, big, out=big.reshape(-1)[:60].reshape(3, 4, 5))


def test_float32_dy_gives_float32_table_gradient(rng):
    ids = rng.integers(0, 10, 7)
    dy = rng.standard_normal((7, 3)).astype(np.float32)
    d = ops.embedding_backward(dy, ids, 10)
    assert d.dtype == np.float32
    assert ops.embedding(ids, np.zeros((10, 3), np.float32)).dtype == np.float32
    assert ops.embedding([1, 2], np.eye(3)).tolist() == [[0, 1, 0], [0, 0, 1]]


TABLE = np.zeros((10, 4))
IDS = np.array([[1, 2, 3]])
BAD_FWD = [  # (id, ids, table, exception, regex)
    ("ids-float32", IDS.astype(np.float32), TABLE, TypeError, r"`ids`.*int32 or int64.*float32"),
    ("ids-float64", IDS.astype(float), TABLE, TypeError, r"`ids`.*ids\.dtype=float64"),
    ("ids-uint8", IDS.astype(np.uint8), TABLE, TypeError, r"`ids`.*ids\.dtype=uint8"),
    ("ids-int16", IDS.astype(np.int16), TABLE, TypeError, r"`ids`.*ids\.dtype=int16"),
    ("ids-uint64", IDS.astype(np.uint64), TABLE, TypeError, r"`ids`.*ids\.dtype=uint64"),
    ("ids-bool", IDS.astype(bool), TABLE, TypeError, r"`ids`.*ids\.dtype=bool"),
    ("ids-object", IDS.astype(object), TABLE, TypeError, r"`ids`.*ids\.dtype=object"),
    ("ids-list-float", [[1.0, 2.5]], TABLE, TypeError, r"`ids`.*ids\.dtype=float64"),
    ("ids-none", None, TABLE, TypeError, r"`ids`.*NoneType"),
    ("ids-negative", np.array([[1, -1, 2]]), TABLE, ValueError,
     r"`ids`.*\[0, 10\).*Received: ids\[0, 1\]=-1"),
    ("ids-too-big", np.array([[1, 2], [3, 10]]), TABLE, ValueError,
     r"`ids`.*\[0, 10\).*Received: ids\[1, 1\]=10"),
    ("ids-huge", np.array([2**40]), TABLE, ValueError, r"Received: ids\[0\]=1099511627776"),
    ("ids-int32-min", np.array([5, -2**31], np.int32), TABLE, ValueError,
     r"Received: ids\[1\]=-2147483648"),
    ("table-int", IDS, TABLE.astype(np.int64), TypeError, r"`table`.*table\.dtype=int64"),
    ("table-float16", IDS, TABLE.astype(np.float16), TypeError, r"`table`.*float16"),
    ("table-complex", IDS, TABLE.astype(complex), TypeError, r"`table`.*complex128"),
    ("table-1d", IDS, np.zeros(10), ValueError, r"`table`.*2-D.*table\.shape=\(10,\)"),
    ("table-3d", IDS, np.zeros((10, 4, 1)), ValueError, r"`table`.*table\.shape=\(10, 4, 1\)"),
]


@pytest.mark.parametrize("case", BAD_FWD, ids=[c[0] for c in BAD_FWD])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "ref"])
def test_bad_forward_arguments(impl, case):
    _, ids, table, exc, msg = case
    with pytest.raises(exc, match=msg):
        impl.embedding(ids, table)


DY = np.zeros((1, 3, 4))
BAD_BWD = [  # (id, dy, ids, input_dim, exception, regex)
    ("dim-0", DY, IDS, 0, ValueError, r"`input_dim`.*input_dim=0"),
    ("dim-neg", DY, IDS, -5, ValueError, r"`input_dim`.*input_dim=-5"),
    ("dim-true", DY, IDS, True, TypeError, r"`input_dim`.*input_dim=True"),
    ("dim-float", DY, IDS, 3.7, TypeError, r"`input_dim`.*input_dim=3\.7"),
    ("dim-str", DY, IDS, "3", TypeError, r"`input_dim`.*input_dim='3'"),
    ("dim-none", DY, IDS, None, TypeError, r"`input_dim`.*input_dim=None"),
    ("ids-too-big", DY, IDS, 3, ValueError, r"`ids`.*\[0, 3\).*Received: ids\[0, 2\]=3"),
    ("ids-negative", DY, -IDS, 10, ValueError, r"`ids`.*Received: ids\[0, 0\]=-1"),
    ("ids-float", DY, IDS.astype(float), 10, TypeError, r"`ids`.*ids\.dtype=float64"),
    ("ids-uint32", DY, IDS.astype(np.uint32), 10, TypeError, r"`ids`.*ids\.dtype=uint32"),
    ("dy-int", DY.astype(np.int32), IDS, 10, TypeError, r"`dy`.*dy\.dtype=int32"),
    ("dy-float16", DY.astype(np.float16), IDS, 10, TypeError, r"`dy`.*dy\.dtype=float16"),
    ("dy-shape", np.zeros((1, 4, 4)), IDS, 10, ValueError,
     r"`dy`.*ids\.shape=\(1, 3\).*dy\.shape=\(1, 4, 4\)"),
    ("dy-rank", np.zeros((3, 4)), IDS, 10, ValueError, r"`dy`.*dy\.shape=\(3, 4\)"),
]


@pytest.mark.parametrize("case", BAD_BWD, ids=[c[0] for c in BAD_BWD])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "ref"])
def test_bad_backward_arguments(impl, case):
    _, dy, ids, dim, exc, msg = case
    with pytest.raises(exc, match=msg):
        impl.embedding_backward(dy, ids, dim)

