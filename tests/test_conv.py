"""Conv1D forward and backward against the oracles: naive loops (tiny sizes) -> the float64 NumPy
twin `fastconv._reference.conv` -> the compiled kernels behind `fastconv.ops.conv`.

Tolerances (TESTING.md A3), n = number of products summed per output element:
float64 rtol=1e-12, atol=1e-12*sqrt(n); float32 on N(0, 1) data rtol=1e-5, atol=1e-5*sqrt(n).
"""
import inspect
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastconv import _reference, ops
from fastconv._ext import _conv

DTYPES = (np.float32, np.float64)
PADDINGS = ("valid", "same", "causal")


def _tol(dtype, n):
    eps = 1e-12 if np.dtype(dtype) == np.float64 else 1e-5
    return dict(rtol=eps, atol=eps * np.sqrt(max(n, 1)))


def _geometry(length, k, strides, dilation, padding):
    keff = dilation * (k - 1) + 1
    if padding == "valid":
        return (length - keff) // strides + 1, 0
    out = -(-length // strides)
    if padding == "causal":
        return out, dilation * (k - 1)
    total = max((out - 1) * strides + keff - length, 0)
    return out, total // 2


def naive_conv1d(x, w, bias, strides, padding, dilation, groups, activation=None):
    """Direct loops over every output element (tiny sizes only), float64."""
    b_, t_, c_ = x.shape
    k_, cg, f_ = w.shape
    fg = f_ // groups
    s_, left = _geometry(t_, k_, strides, dilation, padding)
    y = np.zeros((b_, s_, f_))
    for b in range(b_):
        for s in range(s_):
            for f in range(f_):
                g = f // fg
                acc = 0.0 if bias is None else float(bias[f])
                for j in range(k_):
                    t = s * strides + j * dilation - left
                    if 0 <= t < t_:
                        for c in range(cg):
                            acc += float(x[b, t, g * cg + c]) * float(w[j, c, f])
                y[b, s, f] = acc
    if activation == "relu":
        y = np.maximum(y, 0)
    elif activation == "sigmoid":
        y = 1 / (1 + np.exp(-y))
    elif activation == "tanh":
        y = np.tanh(y)
    return y


def naive_conv1d_backward(dy, x, w, strides, padding, dilation, groups):
    b_, t_, c_ = x.shape
    k_, cg, f_ = w.shape
    fg = f_ // groups
    s_, left = _geometry(t_, k_, strides, dilation, padding)
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for b, s, f, j, c in itertools.product(range(b_), range(s_), range(f_), range(k_), range(cg)):
        t = s * strides + j * dilation - left
        if 0 <= t < t_:
            g = f // fg
            dx[b, t, g * cg + c] += float(dy[b, s, f]) * float(w[j, c, f])
            dw[j, c, f] += float(dy[b, s, f]) * float(x[b, t, g * cg + c])
    return dx, dw, dy.astype(np.float64).sum(axis=(0, 1))


def _case(rng, dtype, batch, length, channels, filters, k, groups=1, bias=True):
    x = rng.standard_normal((batch, length, channels)).astype(dtype)
    w = rng.standard_normal((k, channels // groups, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype) if bias else None
    return x, w, b


@pytest.fixture(params=["best", "baseline"])
def isa(request):
    """Run a test with each compiled kernel variant (AVX2+FMA and portable C)."""
    old = _conv.isa()
    used = _conv.set_isa(request.param)
    if request.param == "baseline":
        assert used == "baseline"
    yield used
    _conv.set_isa(old)


def test_reference_has_same_names_and_signatures():
    assert ops.conv.__all__ == _reference.conv.__all__ == ["conv1d", "conv1d_backward"]
    for name in ops.conv.__all__:
        assert (inspect.signature(getattr(ops, name))
                == inspect.signature(getattr(_reference, name)))


def test_kernel_variant_names():
    assert _conv.isa() in ("avx2+fma", "baseline")
    with pytest.raises(KeyError):
        _conv.set_isa("sse9")


# ---- naive-loop oracle, tiny sizes -----------------------------------------------------------

NAIVE_CASES = [
    # batch, length, C, F, K, strides, dilation, padding, groups
    (2, 7, 3, 4, 3, 1, 1, "valid", 1),
    (2, 7, 3, 4, 3, 2, 1, "same", 1),
    (1, 9, 4, 6, 2, 1, 3, "causal", 2),
    (2, 5, 2, 2, 5, 1, 1, "valid", 2),     # K == L, depthwise
    (1, 1, 1, 1, 1, 1, 1, "valid", 1),     # L == 1
    (2, 4, 2, 3, 3, 5, 1, "same", 1),      # stride > L
    (1, 10, 2, 3, 4, 3, 1, "same", 1),     # pad (1, 2): odd extra on the right
    (2, 6, 4, 4, 3, 1, 2, "same", 4),
    (1, 8, 3, 17, 2, 1, 1, "valid", 1),    # F not a multiple of the register panel
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", NAIVE_CASES,
                         ids=lambda c: "B{}-L{}-C{}-F{}-K{}-s{}-d{}-{}-g{}".format(*c))
def test_conv1d_matches_naive_loops(case, dtype, rng, isa):
    batch, length, c, f, k, s, d, pad, g = case
    x, w, b = _case(rng, dtype, batch, length, c, f, k, g)
    for act in (None, "relu", "sigmoid", "tanh"):
        y = ops.conv1d(x, w, b, s, pad, d, g, activation=act)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, naive_conv1d(x, w, b, s, pad, d, g, act),
                                   **_tol(dtype, k * c // g))
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = ops.conv1d_backward(dy, x, w, s, pad, d, g)
    want = naive_conv1d_backward(dy, x, w, s, pad, d, g)
    ns = (k * f // g, batch * y.shape[1], batch * y.shape[1])
    for name, a, r, n in zip(("dx", "dkernel", "dbias"), got, want, ns):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, r, **_tol(dtype, n), err_msg=name)


@pytest.mark.parametrize("case", NAIVE_CASES[:4], ids=str)
def test_reference_matches_naive_loops(case, rng):
    batch, length, c, f, k, s, d, pad, g = case
    x, w, b = _case(rng, np.float64, batch, length, c, f, k, g)
    y = _reference.conv1d(x, w, b, s, pad, d, g, activation="tanh")
    np.testing.assert_allclose(y, naive_conv1d(x, w, b, s, pad, d, g, "tanh"), rtol=1e-13,
                               atol=1e-13)
    dy = rng.standard_normal(y.shape)
    for a, r in zip(_reference.conv1d_backward(dy, x, w, s, pad, d, g),
                    naive_conv1d_backward(dy, x, w, s, pad, d, g)):
        np.testing.assert_allclose(a, r, rtol=1e-13, atol=1e-13)


# ---- float64 reference, A3 tolerances, the parameter grid --------------------------------------

GRID = [(s, d, pad) for s in (1, 2, 3) for d in (1, 2) for pad in PADDINGS if s == 1 or d == 1]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("s,d,pad", GRID, ids=lambda v: str(v))
def test_conv1d_matches_reference_grid(s, d, pad, dtype, rng, isa):
    for (batch, length, c, f, k, g) in [(3, 29, 6, 21, 3, 1), (2, 40, 8, 16, 5, 2),
                                        (2, 13, 3, 3, 7, 3), (1, 100, 5, 40, 1, 1)]:
        x, w, b = _case(rng, dtype, batch, length, c, f, k, g, bias=(k % 2 == 1))
        y = ops.conv1d(x, w, b, s, pad, d, g)
        np.testing.assert_allclose(y, _reference.conv1d(x, w, b, s, pad, d, g),
                                   **_tol(dtype, k * c // g))
        dy = rng.standard_normal(y.shape).astype(dtype)
        got = ops.conv1d_backward(dy, x, w, s, pad, d, g)
        want = _reference.conv1d_backward(dy, x, w, s, pad, d, g)
        ns = (k * f // g, batch * y.shape[1], batch * y.shape[1])
        for name, a, r, n in zip(("dx", "dkernel", "dbias"), got, want, ns):
            np.testing.assert_allclose(a, r, **_tol(dtype, n), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_benchmark_shapes_small_batch(dtype, rng):
    """The benchmark geometries (batch cut to 2) against the reference."""
    for (length, c, f, k) in [(100, 128, 32, 7), (18, 32, 32, 7), (50, 1, 16, 5), (300, 64, 64, 9)]:
        x, w, b = _case(rng, dtype, 2, length, c, f, k)
        y = ops.conv1d(x, w, b, activation="relu")
        np.testing.assert_allclose(y, _reference.conv1d(x, w, b, activation="relu"),
                                   **_tol(dtype, k * c))
        dy = rng.standard_normal(y.shape).astype(dtype)
        got = ops.conv1d_backward(dy, x, w)
        want = _reference.conv1d_backward(dy, x, w)
        for a, r, n in zip(got, want, (k * f, 2 * y.shape[1], 2 * y.shape[1])):
            np.testing.assert_allclose(a, r, **_tol(dtype, n))


# ---- hypothesis sweep (A2) --------------------------------------------------------------------

@st.composite
def conv_configs(draw):
    groups = draw(st.integers(1, 4))
    cg = draw(st.integers(1, 8 // groups))
    fg = draw(st.integers(1, 8 // groups))
    return dict(
        batch=draw(st.integers(0, 4)), length=draw(st.integers(0, 48)),
        channels=cg * groups, filters=fg * groups, groups=groups,
        k=draw(st.integers(1, 7)), strides=draw(st.integers(1, 4)),
        dilation=draw(st.integers(1, 3)), padding=draw(st.sampled_from(PADDINGS)),
        bias=draw(st.booleans()), dtype=draw(st.sampled_from(DTYPES)),
        activation=draw(st.sampled_from([None, "linear", "relu", "sigmoid", "tanh"])),
        seed=draw(st.integers(0, 2 ** 32 - 1)))


@settings(max_examples=600 * settings.default.max_examples // 100)  # 6,000 in the deep profile
@given(cfg=conv_configs())
def test_conv1d_hypothesis_sweep(cfg):
    rng = np.random.default_rng(cfg["seed"])
    dtype, s, d, pad, g = (cfg[n] for n in ("dtype", "strides", "dilation", "padding", "groups"))
    x, w, b = _case(rng, dtype, cfg["batch"], cfg["length"], cfg["channels"], cfg["filters"],
                    cfg["k"], g, cfg["bias"])
    if s > 1 and d > 1:
        with pytest.raises(ValueError, match=r"`strides > 1` not supported"):
            ops.conv1d(x, w, b, s, pad, d, g)
        return
    out_len, _ = _geometry(cfg["length"], cfg["k"], s, d, pad)
    if out_len <= 0:
        for fn in (ops.conv1d, _reference.conv1d):
            with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
                fn(x, w, b, s, pad, d, g)
        dy = np.zeros((cfg["batch"], 1, cfg["filters"]), dtype)
        with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
            ops.conv1d_backward(dy, x, w, s, pad, d, g)
        return
    y = ops.conv1d(x, w, b, s, pad, d, g, activation=cfg["activation"])
    assert y.shape == (cfg["batch"], out_len, cfg["filters"]) and y.dtype == dtype
    n = cfg["k"] * cfg["channels"] // g
    np.testing.assert_allclose(
        y, _reference.conv1d(x, w, b, s, pad, d, g, activation=cfg["activation"]),
        **_tol(dtype, n))
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = ops.conv1d_backward(dy, x, w, s, pad, d, g)
    want = _reference.conv1d_backward(dy, x, w, s, pad, d, g)
    m = cfg["batch"] * out_len
    for name, a, r, n in zip(("dx", "dkernel", "dbias"), got, want,
                             (cfg["k"] * cfg["filters"] // g, m, m)):
        assert a.shape == r.shape and a.dtype == dtype, name
        np.testing.assert_allclose(a, r, **_tol(dtype, n), err_msg=name)


# ---- named regression corpus (A4): never shrink ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_regression_corpus(dtype, rng):
    # K == L (valid): one output step
    x, w, b = _case(rng, dtype, 2, 6, 3, 4, 6)
    y = ops.conv1d(x, w, b)
    assert y.shape == (2, 1, 4)
    np.testing.assert_allclose(y, naive_conv1d(x, w, b, 1, "valid", 1, 1), **_tol(dtype, 18))
    # L == 1 with same and causal padding
    x, w, b = _case(rng, dtype, 2, 1, 3, 4, 5)
    for pad in ("same", "causal"):
        np.testing.assert_allclose(ops.conv1d(x, w, b, padding=pad),
                                   naive_conv1d(x, w, b, 1, pad, 1, 1), **_tol(dtype, 15))
    # batch 0: empty outputs, zero gradients for kernel and bias
    x, w, b = _case(rng, dtype, 0, 9, 3, 4, 3)
    y = ops.conv1d(x, w, b, padding="same")
    assert y.shape == (0, 9, 4) and y.dtype == dtype
    dx, dw, db = ops.conv1d_backward(np.zeros((0, 9, 4), dtype), x, w, padding="same")
    assert dx.shape == (0, 9, 3) and not dw.any() and not db.any() and dw.shape == w.shape
    # stride > L: one output step
    x, w, b = _case(rng, dtype, 1, 3, 2, 2, 2)
    assert ops.conv1d(x, w, b, strides=7, padding="same").shape == (1, 1, 2)
    # effective kernel == padded length: dilation 3, K 3 on L 7
    x, w, b = _case(rng, dtype, 1, 7, 2, 2, 3)
    y = ops.conv1d(x, w, b, dilation_rate=3)
    np.testing.assert_allclose(y, naive_conv1d(x, w, b, 1, "valid", 3, 1), **_tol(dtype, 6))
    # depthwise (groups == C)
    x, w, b = _case(rng, dtype, 2, 11, 5, 10, 3, groups=5)
    np.testing.assert_allclose(ops.conv1d(x, w, b, padding="same", groups=5),
                               naive_conv1d(x, w, b, 1, "same", 1, 5), **_tol(dtype, 3))
    # constant input: every interior output equals sum(w) * c + bias
    x = np.full((1, 20, 3), 0.5, dtype)
    w = rng.standard_normal((4, 3, 2)).astype(dtype)
    y = ops.conv1d(x, w)
    np.testing.assert_allclose(y, np.broadcast_to(0.5 * w.astype(np.float64).sum(axis=(0, 1)),
                                                  y.shape), **_tol(dtype, 12))


def test_nan_and_inf_propagate():
    """Policy: the kernels do not check values; NaN and inf propagate as in IEEE arithmetic."""
    for dtype in DTYPES:
        x = np.zeros((1, 8, 2), dtype)
        x[0, 3, 1] = np.nan
        x[0, 6, 0] = np.inf
        w = np.ones((3, 2, 1), dtype)
        y = ops.conv1d(x, w)[0, :, 0]
        assert y[0] == 0 and np.isnan(y[1:4]).all() and (y[4:6] == np.inf).all()
        assert (ops.conv1d(x, w, activation="tanh")[0, 4:6, 0] == 1).all()
        assert np.isnan(ops.conv1d(x, w, activation="relu")[0, 1:4, 0]).all()
        dx, dw, db = ops.conv1d_backward(np.ones((1, 6, 1), dtype), x, w)
        assert np.isnan(dw).any() and np.isfinite(dx).all() and np.isfinite(db).all()


def test_mixed_dtypes_promote(rng):
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4))
    y = ops.conv1d(x, w)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, _reference.conv1d(x.astype(np.float64), w), rtol=1e-12,
                               atol=1e-11)
    dx, dw, db = ops.conv1d_backward(y.astype(np.float32), x, w.astype(np.float32))
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    _, dw64, _ = ops.conv1d_backward(y, x, w.astype(np.float32))
    assert dw64.dtype == np.float64


def test_need_dx_false_skips_input_gradient(rng):
    x, w, _ = _case(rng, np.float64, 2, 10, 3, 4, 3)
    dy = rng.standard_normal((2, 8, 4))
    dx, dw, db = ops.conv1d_backward(dy, x, w, need_dx=False)
    assert dx is None
    _, dw2, db2 = ops.conv1d_backward(dy, x, w)
    assert np.array_equal(dw, dw2) and np.array_equal(db, db2)
    rx, rw, rb = _reference.conv1d_backward(dy, x, w, need_dx=False)
    assert rx is None
    np.testing.assert_allclose(rw, dw, rtol=1e-12, atol=1e-11)


def test_nested_lists_are_float64():
    y = ops.conv1d([[[1.0], [2.0], [3.0]]], [[[1.0]], [[1.0]]])
    assert y.dtype == np.float64
    assert y.tolist() == [[[3.0], [5.0]]]


def test_small_calls_use_fewer_threads(num_threads):
    """Thread count follows the work (results do not depend on it; see test_conv_threads)."""
    from types import SimpleNamespace

    from fastconv.ops import conv as conv_ops

    num_threads(4)
    per = conv_ops._MIN_MACS_PER_THREAD
    geom = dict(batch=1, out_len=1, k=1, channels=1, filters=1, groups=1)
    assert conv_ops._threads(SimpleNamespace(**geom)) == 1
    assert conv_ops._threads(SimpleNamespace(**{**geom, "batch": 2 * per})) == 2
    assert conv_ops._threads(SimpleNamespace(**{**geom, "batch": 100 * per})) == 4


# ---- narrow groups (fewer than 4 channels per group): their own dx and dkernel loops ---------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("cg,fg,k,s,d,pad,g", [
    (1, 16, 5, 1, 1, "valid", 1), (1, 40, 13, 1, 2, "same", 1), (2, 17, 7, 3, 1, "causal", 2),
    (3, 33, 9, 2, 1, "same", 1), (1, 8, 12, 1, 3, "causal", 3), (3, 5, 6, 1, 1, "valid", 2)],
    ids=lambda v: str(v))
def test_narrow_groups_long_sequences(cg, fg, k, s, d, pad, g, dtype, rng, isa):
    """Lengths beyond one 96-step chunk, tap blocks of 6 plus remainders, partial filter panels."""
    x, w, b = _case(rng, dtype, 3, 250, cg * g, fg * g, k, g)
    y = ops.conv1d(x, w, b, s, pad, d, g)
    np.testing.assert_allclose(y, _reference.conv1d(x, w, b, s, pad, d, g), **_tol(dtype, k * cg))
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = ops.conv1d_backward(dy, x, w, s, pad, d, g)
    want = _reference.conv1d_backward(dy, x, w, s, pad, d, g)
    ns = (k * fg, 3 * y.shape[1], 3 * y.shape[1])
    for name, a, r, n in zip(("dx", "dkernel", "dbias"), got, want, ns):
        np.testing.assert_allclose(a, r, **_tol(dtype, n), err_msg=name)


# ---- the argument fast path (kernel-ready calls skip the full checks) ---------------------------

def _no_fast_path(monkeypatch):
    from fastconv.ops import conv as conv_ops
    monkeypatch.setattr(conv_ops, "conv1d_fast_args", lambda *a: None)
    monkeypatch.setattr(conv_ops, "conv1d_backward_fast_args", lambda *a: None)


def _bits(a):
    return None if a is None else (a.dtype.str, a.shape, a.tobytes())


def _outcome(fn):
    try:
        res = fn()
    except (TypeError, ValueError) as err:
        return type(err).__name__, str(err)
    return tuple(_bits(r) for r in res) if isinstance(res, tuple) else _bits(res)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_fast_path_is_taken_for_kernel_ready_calls(dtype, rng, monkeypatch):
    from fastconv.ops import conv as conv_ops
    x, w, b = _case(rng, dtype, 3, 20, 4, 6, 3, 2)
    dy = rng.standard_normal((3, 10, 6)).astype(dtype)
    expect = ops.conv1d(x, w, b, 2, "same", 1, 2), ops.conv1d_backward(dy, x, w, 2, "same", 1, 2)

    def fail(*a):
        raise AssertionError("full checks used")
    monkeypatch.setattr(conv_ops, "conv1d_args", fail)
    monkeypatch.setattr(conv_ops, "conv1d_backward_args", fail)
    bufs = (np.empty_like(x), np.empty_like(w), np.empty_like(b))
    y = np.empty((3, 10, 6), dtype)
    assert ops.conv1d(x, w, b, 2, "same", 1, 2, out=y) is y
    got = ops.conv1d_backward(dy, x, w, 2, "same", 1, 2, out=bufs)
    assert all(g is buf for g, buf in zip(got, bufs))
    assert _bits(y) == _bits(expect[0])
    assert [_bits(a) for a in got] == [_bits(a) for a in expect[1]]


def _fast_path_calls(rng):
    """Calls the fast path takes, and near misses it must hand to the full checks."""
    x, w, b = _case(rng, np.float32, 2, 12, 3, 4, 3)
    dy = rng.standard_normal((2, 12, 4)).astype(np.float32)
    dy_valid = rng.standard_normal((2, 10, 4)).astype(np.float32)
    y = np.empty((2, 12, 4), np.float32)
    bufs = (np.empty_like(x), np.empty_like(w), np.empty_like(b))
    f = ops.conv1d
    bw = ops.conv1d_backward
    ro = np.empty_like(y)
    ro.flags.writeable = False
    return [
        lambda: f(x, w, b, 1, "same"), lambda: f(x, w, None, 1, "same", out=y),
        lambda: f(x, w, b, np.int64(1), "same"), lambda: f(x, w, b, 1, "SAME"),
        lambda: f(x, w, b, (1,), "same"), lambda: f(x, w, b, True, "same"),
        lambda: f(x, w, b, 2, "same", 2), lambda: f(x, w, b, 1, "same", 0),
        lambda: f(x, w, b, 1, "full"), lambda: f(x, w, b, 1, 1), lambda: f(x, w, b, 2 ** 31),
        lambda: f(x, w, b, 1, "same", 1, 3), lambda: f(x, w, b[:3]),
        lambda: f(x, w.astype(np.float64), b), lambda: f(np.asfortranarray(x), w, b),
        lambda: f(x, w, b, activation="relu"), lambda: f(x, w, b, activation="Relu"),
        lambda: f(x, w, b, activation=["relu"]), lambda: f(x[:, :2], w, b),
        lambda: f(x, w, b, 1, "same", out=ro), lambda: f(x, w, b, 1, "same", out=y[:, :11]),
        lambda: f(x, w, b, 1, "same", out=y.astype(np.float64)),
        lambda: f(x, w, b, 1, "same", out=x.reshape(2, 9, 4)),
        lambda: bw(dy, x, w, 1, "same"), lambda: bw(dy_valid, x, w),
        lambda: bw(dy, x, w, 1, "same", out=bufs), lambda: bw(dy, x, w, 1, "same", out=list(bufs)),
        lambda: bw(dy, x, w, 1, "same", need_dx=False, out=(x, bufs[1], None)),
        lambda: bw(dy, x, w, 1, "same", need_dx=1), lambda: bw(dy, x, w, 1, "same", out=bufs[:2]),
        lambda: bw(dy, x, w, 1, "same", out=(bufs[0], bufs[1], bufs[1].reshape(-1)[:4])),
        lambda: bw(dy, x, w, 1, "same", out=(dy.reshape(2, 12, 4)[:, :, :3].copy(), x, None)),
        lambda: bw(dy, x, w, 1, "same", out=(bufs[0], bufs[0].reshape(-1)[:36].reshape(3, 3, 4),
                                             None)),
        lambda: bw(dy, x, w), lambda: bw(dy.astype(np.float64), x, w, 1, "same"),
        lambda: bw(dy, x, w, 1, "causal", 1, 1, need_dx=np.True_),
    ]


def test_fast_path_same_results_and_errors_as_full_checks(rng, monkeypatch):
    fast = [_outcome(c) for c in _fast_path_calls(np.random.default_rng(5))]
    _no_fast_path(monkeypatch)
    slow = [_outcome(c) for c in _fast_path_calls(np.random.default_rng(5))]
    assert len(fast) == len(slow)
    for i, (a, b) in enumerate(zip(fast, slow)):
        assert a == b, i
    assert sum(isinstance(o, tuple) and o and o[0] in ("TypeError", "ValueError")
               for o in slow) >= 15
