"""fastconv.ops.embedding_conv (the distinct-row Embedding -> Conv1D op and its tap kernels)
against its float64 NumPy twin (TESTING.md A1, A2), adjoint identities (B2), bitwise equality
across thread counts (E1, B5) and calls from several Python threads (F1)."""
import inspect
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
from fastconv._reference import embedding_conv as twin
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D
from fastconv.models import Sequential
from fastconv.ops import conv as conv_ops
from fastconv.ops import embedding_conv as ec
from fastconv.ops._checks import conv_geometry


@pytest.mark.parametrize("name", ["number_rows", "forward", "backward"])
def test_twin_has_the_same_signature(name):
    assert inspect.signature(getattr(ec, name)) == inspect.signature(getattr(twin, name))


@pytest.mark.parametrize("impl", [ec, twin], ids=["kernel", "twin"])
@pytest.mark.parametrize("bad, at", [(10, 0), (10, 5), (-1, 5), (2**40, 7), (-(2**40), 11)])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_number_rows_reports_an_id_outside_the_table(impl, bad, at, index):
    """-1 for an id outside [0, V), with pos put back to all -1 (the numbering of the ids
    before it undone); the same ids in range number as usual."""
    ids = np.array([[3, 1, 3, 0, 9, 1], [2, 2, 8, 1, 4, 3]], np.int64)
    rows = np.full(ids.size, 77, np.int32)
    pos = np.full(10, -1, np.int32)
    assert impl.number_rows(ids.astype(index), pos, rows) == 7
    assert rows[:7].tolist() == [3, 1, 0, 9, 2, 8, 4]
    assert pos[rows[:7]].tolist() == list(range(7))
    if index is np.int32 and abs(bad) > 2**31:
        return
    ids.reshape(-1)[at] = bad
    pos = np.full(10, -1, np.int32)
    assert impl.number_rows(ids.astype(index), pos, rows) == -1
    assert (pos == -1).all()


@pytest.mark.parametrize("impl", [ec, twin], ids=["kernel", "twin"])
def test_number_rows_puts_back_the_previous_numbering_first(impl):
    """`clear` rows of the previous numbering go back to -1 before the new one: rows the new
    ids share are renumbered, the others are left -1, and a bad id leaves all of pos -1."""
    pos = np.full(12, -1, np.int32)
    rows = np.zeros(8, np.int32)
    first = impl.number_rows(np.array([[5, 7, 5, 11]], np.int64), pos, rows)
    assert first == 3
    assert impl.number_rows(np.array([[2, 7, 2, 0]], np.int32), pos, rows, clear=first) == 3
    assert rows[:3].tolist() == [2, 7, 0]
    expect = np.full(12, -1, np.int32)
    expect[[2, 7, 0]] = [0, 1, 2]
    assert pos.tolist() == expect.tolist()
    assert impl.number_rows(np.array([[3, 12]], np.int32), pos, rows, clear=3) == -1
    assert (pos == -1).all()


def _run(impl, ids, table, kernel, bias, relu, strides, dilation, padding, dz_seed=1):
    """Every buffer forward and backward fill, for one implementation."""
    vocab, e = table.shape
    k, _, f = kernel.shape
    dt = table.dtype
    steps, left, _ = conv_geometry(ids.shape[1], k, strides, dilation, padding)
    pos = np.full(vocab, -1, np.int32)
    rows = np.zeros(ids.size, np.int32)
    count = impl.number_rows(ids, pos, rows)
    rp = ec.padded_rows(count)
    u = np.full((rp, e), np.nan, dt)
    out = np.full((ids.shape[0], steps, f), np.nan, dt)
    impl.forward(ids, table, kernel, pos, rows, count, u, np.empty((1, e, k * f), dt),
                 np.empty((rp, k * f), dt), out, strides, dilation, left, bias=bias, relu=relu)
    dz = np.random.default_rng(dz_seed).normal(size=out.shape).astype(dt)
    q = np.full((rp, k * f), np.nan, dt)
    dbias = np.full(f, np.nan, dt)
    dkernel = np.full(kernel.shape, np.nan, dt)
    g = np.full((rp, e), np.nan, dt)
    impl.backward(dz, ids, kernel, pos, count, u, q, dbias, strides, dilation, left,
                  dkernel=dkernel, dwcat=np.empty((1, e, k * f), dt), g=g,
                  wt=np.empty((1, k * f, e), dt))
    return dict(pos=pos, rows=rows[:count], out=out, u=u, q=q, dbias=dbias, dkernel=dkernel,
                g=g[:count], dz=dz, count=count)


@st.composite
def configs(draw):
    strides = draw(st.integers(1, 4))
    dilation = 1 if strides > 1 else draw(st.integers(1, 3))
    k = draw(st.integers(1, 7))
    padding = draw(st.sampled_from(["valid", "same", "causal"]))
    length = draw(st.integers(1, 48))
    steps, _, _ = conv_geometry(length, k, strides, dilation, padding)
    if steps < 1:      # the layers reject this before the op runs
        length = dilation * (k - 1) + 1
    return dict(batch=draw(st.integers(1, 4)), length=length, vocab=draw(st.integers(1, 12)),
                e=draw(st.integers(1, 8)), f=draw(st.sampled_from([1, 3, 8, 16, 17, 40])), k=k,
                strides=strides, dilation=dilation, padding=padding,
                bias=draw(st.booleans()), relu=draw(st.booleans()),
                index=draw(st.sampled_from([np.int32, np.int64])), seed=draw(st.integers(0, 999)))


def _arrays(c, dtype):
    rng = np.random.default_rng(c["seed"])
    ids = rng.integers(0, c["vocab"], size=(c["batch"], c["length"])).astype(c["index"])
    table = rng.normal(size=(c["vocab"], c["e"])).astype(dtype)
    kernel = rng.normal(size=(c["k"], c["e"], c["f"])).astype(dtype)
    bias = rng.normal(size=c["f"]).astype(dtype) if c["bias"] else None
    return ids, table, kernel, bias


@settings(max_examples=5 * settings.default.max_examples)
@given(configs())
def test_matches_twin_float64(c):
    ids, table, kernel, bias = _arrays(c, np.float64)
    args = (ids, table, kernel, bias, c["relu"], c["strides"], c["dilation"], c["padding"])
    got, want = _run(ec, *args), _run(twin, *args)
    for key in ("pos", "rows"):
        np.testing.assert_array_equal(got[key], want[key])
    n = c["k"] * c["e"]
    for key in ("out", "u", "q", "dbias", "dkernel", "g"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12 * np.sqrt(n),
                                   err_msg=key)


@settings(max_examples=2 * settings.default.max_examples)
@given(configs())
def test_adjoint_identities(c):
    """The op is bilinear in (table, kernel) without bias and relu: <y, g> = <table, dtable(g)>
    = <kernel, dkernel(g)>, in float64."""
    ids, table, kernel, _ = _arrays(c, np.float64)
    r = _run(ec, ids, table, kernel, None, False, c["strides"], c["dilation"], c["padding"])
    lhs = float(np.sum(r["out"] * r["dz"]))
    dtable = np.zeros_like(table)
    dtable[r["rows"]] = r["g"]
    for u, fu in ((table, dtable), (kernel, r["dkernel"])):
        rhs = float(np.sum(u * fu))
        assert abs(lhs - rhs) <= 1e-12 * np.linalg.norm(u) * np.linalg.norm(fu) + 1e-300


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def test_bitwise_equal_for_any_thread_count(num_threads, monkeypatch):
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)
    rng = np.random.default_rng(11)
    cases = 0
    for i in range(60):
        c = dict(batch=int(rng.integers(1, 9)), length=int(rng.choice([1, 5, 97, 100, 101])),
                 vocab=int(rng.integers(1, 300)), e=int(rng.integers(1, 40)),
                 f=int(rng.choice([1, 7, 16, 33])), k=int(rng.integers(1, 8)),
                 strides=1, dilation=int(rng.integers(1, 3)),
                 padding=str(rng.choice(["valid", "same", "causal"])), bias=True,
                 relu=bool(i % 2), index=np.int32, seed=i)
        steps, _, _ = conv_geometry(c["length"], c["k"], 1, c["dilation"], c["padding"])
        if steps < 1:
            continue
        dtype = np.float32 if i % 3 else np.float64
        arrays = _arrays(c, dtype)
        ref = None
        for n in (1, 2, 3, 4, 8):
            num_threads(n)
            got = _run(ec, *arrays, c["relu"], 1, c["dilation"], c["padding"])
            again = _run(ec, *arrays, c["relu"], 1, c["dilation"], c["padding"])
            for key in ("out", "q", "dbias", "dkernel", "g"):
                assert np.array_equal(_bits(got[key]), _bits(again[key])), (i, n, key)
                if ref is not None:
                    assert np.array_equal(_bits(got[key]), _bits(ref[key])), (i, n, key)
            ref = got
        cases += 1
    assert cases >= 50


def test_predict_from_python_threads(num_threads):
    """Several Python threads predicting with one model: each has its own row numbering."""
    fastconv.utils.set_random_seed(5)
    model = Sequential([Embedding(300, 16), Conv1D(12, 5, activation="relu"),
                        GlobalMaxPooling1D(), Dense(1)])
    model.build((None, 40))
    rng = np.random.default_rng(2)
    xs = [rng.integers(0, 20 + 30 * i, size=(12 + i, 40)) for i in range(6)]
    num_threads(1)
    serial = [model.predict(x, batch_size=4, verbose=0) for x in xs]
    assert model.__dict__.get("_pairs"), "the fused step did not run"
    barrier = threading.Barrier(len(xs))
    results = [None] * len(xs)
    errors = []

    def work(i):
        try:
            fastconv.set_num_threads(2)
            barrier.wait(timeout=30)
            results[i] = [model.predict(xs[i], batch_size=4, verbose=0) for _ in range(20)]
        except Exception as err:   # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and all(not t.is_alive() for t in threads)
    for i, per_round in enumerate(results):
        for got in per_round:
            np.testing.assert_array_equal(_bits(got), _bits(serial[i]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_holding_most_ids_is_split_by_tap(num_threads, monkeypatch, dtype):
    """Padding-heavy batches: one row holds 90 % of the ids, so the backward's (row, tap) split
    cuts inside that row; every thread count must still give the same bits, and the twin's
    numbers."""
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)
    rng = np.random.default_rng(5)
    ids = np.where(rng.random((6, 60)) < 0.9, 0, rng.integers(1, 50, (6, 60))).astype(np.int32)
    table = rng.normal(size=(50, 9)).astype(dtype)
    kernel = rng.normal(size=(7, 9, 33)).astype(dtype)
    bias = rng.normal(size=33).astype(dtype)
    ref = None
    for n in (1, 2, 3, 4):
        num_threads(n)
        got = _run(ec, ids, table, kernel, bias, True, 1, 1, "same")
        if ref is not None:
            for key in ("q", "dbias", "dkernel", "g"):
                assert np.array_equal(_bits(got[key]), _bits(ref[key])), (n, key)
        ref = got
    want = _run(twin, ids.astype(np.int64), table.astype(np.float64),
                kernel.astype(np.float64), bias.astype(np.float64), True, 1, 1, "same")
    # float32: dz itself is rounded to float32 first; sums of ~300 terms stay within 1e-4 of
    # each array's largest value (measured: 5e-6 to 1.4e-5)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for key in ("q", "dbias", "dkernel", "g"):
        np.testing.assert_allclose(ref[key], want[key], rtol=0,
                                   atol=tol * np.abs(want[key]).max(), err_msg=key)
