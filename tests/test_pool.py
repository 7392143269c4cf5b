"""Max / average / global pooling: fastconv.ops against naive loops and fastconv._reference."""
import math
import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastconv import _reference as ref
from fastconv import ops
from fastconv.ops import _checks

from _layouts import bitwise_equal, snapshot, variants

DEEP = os.environ.get("FASTCONV_HYPOTHESIS_PROFILE") == "deep"
N_SWEEP = 5000 if DEEP else 500
DTYPES = [np.float32, np.float64]
THREADS = [1, 2, 3, 4, 8]

WINDOWED = {  # name: (forward, backward, reference forward, reference backward)
    "max": (ops.max_pool1d, ops.max_pool1d_backward, ref.max_pool1d, ref.max_pool1d_backward),
    "avg": (ops.average_pool1d, ops.average_pool1d_backward, ref.average_pool1d,
            ref.average_pool1d_backward),
}
GLOBAL = {
    "gmax": (ops.global_max_pool1d, ops.global_max_pool1d_backward, ref.global_max_pool1d,
             ref.global_max_pool1d_backward),
    "gavg": (ops.global_average_pool1d, ops.global_average_pool1d_backward,
             ref.global_average_pool1d, ref.global_average_pool1d_backward),
}


def tol(dtype, n):
    if np.dtype(dtype) == np.float64:
        return dict(rtol=1e-12, atol=1e-12 * math.sqrt(n))
    return dict(rtol=1e-5, atol=1e-5 * math.sqrt(n))


# ---------------------------------------------------------------- naive loop oracle (tiny sizes)

def naive_geometry(t, p, s, padding):
    if padding == "valid":
        return (t - p) // s + 1, 0
    out_len = (t - 1) // s + 1 if t else 0
    total = max((out_len - 1) * s + p - t, 0)
    return out_len, total // 2


def naive_windows(t, p, s, padding):
    out_len, left = naive_geometry(t, p, s, padding)
    return [[i for i in range(j * s - left, j * s - left + p) if 0 <= i < t]
            for j in range(out_len)]


def naive_pick(cells):
    """Index (into cells) of the first NaN, else of the first maximum."""
    for k, v in enumerate(cells):
        if math.isnan(v):
            return k
    return cells.index(max(cells))


def naive_pool(kind, x, dy, p, s, padding):
    b_, t_, c_ = x.shape
    wins = naive_windows(t_, p, s, padding)
    y = np.zeros((b_, len(wins), c_))
    dx = np.zeros((b_, t_, c_))
    for b in range(b_):
        for c in range(c_):
            for j, cells_t in enumerate(wins):
                cells = [float(x[b, t, c]) for t in cells_t]
                if kind == "max":
                    k = naive_pick(cells)
                    y[b, j, c] = cells[k]
                    dx[b, cells_t[k], c] += dy[b, j, c]
                else:
                    y[b, j, c] = math.fsum(cells) / len(cells)
                    for t in cells_t:
                        dx[b, t, c] += dy[b, j, c] / len(cells)
    return y, dx


TINY = [(t, p, s, pad) for t in (1, 2, 5, 7) for p in (1, 2, 3) for s in (1, 2, 3)
        for pad in ("valid", "same") if pad == "same" or t >= p]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("t,p,s,pad", TINY, ids=[f"T{t}-P{p}-s{s}-{pad}" for t, p, s, pad in TINY])
def test_windowed_vs_naive_loops(kind, t, p, s, pad, rng):
    x = rng.standard_normal((2, t, 3))
    f, fb, rf, rfb = WINDOWED[kind]
    n_out = naive_geometry(t, p, s, pad)[0]
    dy = rng.standard_normal((2, n_out, 3))
    y_n, dx_n = naive_pool(kind, x, dy, p, s, pad)
    for fwd, bwd in ((f, fb), (rf, rfb)):
        np.testing.assert_allclose(fwd(x, p, s, pad), y_n, **tol(np.float64, p))
        np.testing.assert_allclose(bwd(dy, x, p, s, pad), dx_n, **tol(np.float64, p))


@pytest.mark.parametrize("t", [1, 2, 5, 9])
def test_global_vs_naive_loops(t, rng):
    x = rng.standard_normal((3, t, 4))
    dy = rng.standard_normal((3, 4))
    ymax = np.array([[max(x[b, :, c]) for c in range(4)] for b in range(3)])
    yavg = np.array([[math.fsum(x[b, :, c]) / t for c in range(4)] for b in range(3)])
    dmax = np.zeros_like(x)
    for b in range(3):
        for c in range(4):
            dmax[b, list(x[b, :, c]).index(ymax[b, c]), c] = dy[b, c]
    for impl in (ops, ref):
        np.testing.assert_array_equal(impl.global_max_pool1d(x), ymax)
        np.testing.assert_array_equal(impl.global_max_pool1d_backward(dy, x), dmax)
        np.testing.assert_allclose(impl.global_average_pool1d(x), yavg, **tol(np.float64, t))
        np.testing.assert_allclose(impl.global_average_pool1d_backward(dy, x),
                                   np.repeat(dy[:, None, :] / t, t, axis=1), rtol=1e-15)


# ---------------------------------------------------------------- hypothesis sweep vs reference

@settings(max_examples=N_SWEEP)
@given(b=st.integers(0, 4), t=st.integers(0, 48), c=st.integers(1, 8), p=st.integers(1, 7),
       s=st.integers(1, 4), pad=st.sampled_from(["valid", "same"]),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_windowed_sweep_vs_reference(b, t, c, p, s, pad, dtype, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((b, t, c)).astype(dtype)
    out_len, _ = naive_geometry(t, p, s, pad)
    if pad == "valid" and out_len <= 0:
        for fn in (ops.max_pool1d, ref.max_pool1d, ops.average_pool1d, ref.average_pool1d):
            with pytest.raises(ValueError, match="Computed output size would be zero"):
                fn(x, p, s, pad)
        return
    dy = r.standard_normal((b, out_len, c)).astype(dtype)
    for kind, (f, fb, rf, rfb) in WINDOWED.items():
        y = f(x, p, s, pad)
        assert y.dtype == dtype and y.shape == (b, out_len, c)
        dx = fb(dy, x, p, s, pad)
        assert dx.dtype == dtype and dx.shape == x.shape
        if kind == "max":
            np.testing.assert_array_equal(y, rf(x, p, s, pad))
        else:
            np.testing.assert_allclose(y, rf(x, p, s, pad), **tol(dtype, p))
        np.testing.assert_allclose(dx, rfb(dy, x, p, s, pad), **tol(dtype, p))


@settings(max_examples=N_SWEEP)
@given(b=st.integers(0, 4), t=st.integers(1, 48), c=st.integers(0, 8),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_global_sweep_vs_reference(b, t, c, dtype, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((b, t, c)).astype(dtype)
    dy = r.standard_normal((b, c)).astype(dtype)
    for kind, (f, fb, rf, rfb) in GLOBAL.items():
        y = f(x)
        assert y.dtype == dtype and y.shape == (b, c)
        dx = fb(dy, x)
        if kind == "gmax":
            np.testing.assert_array_equal(y, rf(x))
            np.testing.assert_array_equal(dx, rfb(dy, x))
        else:
            np.testing.assert_allclose(y, rf(x), **tol(dtype, t))
            np.testing.assert_allclose(dx, rfb(dy, x), **tol(dtype, 1))


# ---------------------------------------------------------------- gradients

def _configs(rng, n):
    out = []
    while len(out) < n:
        b, t, c = int(rng.integers(1, 3)), int(rng.integers(1, 13)), int(rng.integers(1, 4))
        p, s = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        pad = ["valid", "same"][int(rng.integers(2))]
        if pad == "valid" and t < p:
            continue
        out.append((b, t, c, p, s, pad))
    return out


def _fd_check(fwd, grad, x, g, eps=1e-6):
    """Central differences of <fwd(x), g> against the analytic gradient.

    Pools act on each sample alone, so all 2n perturbed copies of x go through ONE call as a
    batch of n*B samples.
    """
    n = x.size
    shifts = np.eye(n).reshape((n,) + x.shape) * eps
    up = fwd((x + shifts).reshape((-1,) + x.shape[1:])).reshape((n,) + g.shape)
    down = fwd((x - shifts).reshape((-1,) + x.shape[1:])).reshape((n,) + g.shape)
    num = ((up * g).reshape(n, -1).sum(1) - (down * g).reshape(n, -1).sum(1)) / (2 * eps)
    ana = grad.reshape(-1)
    bad = np.abs(num - ana) > 1e-7 + 1e-6 * np.abs(ana)
    assert not bad.any(), (num[bad], ana[bad])


def test_max_pool_finite_differences(rng):
    for b, t, c, p, s, pad in _configs(rng, 200):
        # distinct values spaced >= 1e-3 (a +-1e-6 step never changes a window's argmax)
        x = (rng.permutation(b * t * c).astype(np.float64) - b * t * c / 2).reshape(b, t, c)
        x *= 2e-3
        y = ops.max_pool1d(x, p, s, pad)
        g = rng.standard_normal(y.shape)
        _fd_check(lambda z: ops.max_pool1d(z, p, s, pad), ops.max_pool1d_backward(g, x, p, s, pad),
                  x, g)


def test_average_pool_finite_differences(rng):
    for b, t, c, p, s, pad in _configs(rng, 200):
        x = rng.standard_normal((b, t, c))
        y = ops.average_pool1d(x, p, s, pad)
        g = rng.standard_normal(y.shape)
        _fd_check(lambda z: ops.average_pool1d(z, p, s, pad),
                  ops.average_pool1d_backward(g, x, p, s, pad), x, g)


def test_global_pools_finite_differences(rng):
    for _ in range(200):
        b, t, c = int(rng.integers(1, 3)), int(rng.integers(1, 13)), int(rng.integers(1, 4))
        x = (rng.permutation(b * t * c) - b * t * c / 2).reshape(b, t, c) * 2e-3
        g = rng.standard_normal((b, c))
        _fd_check(ops.global_max_pool1d, ops.global_max_pool1d_backward(g, x), x, g)
        _fd_check(ops.global_average_pool1d, ops.global_average_pool1d_backward(g, x), x, g)


def test_average_pools_adjoint(rng):
    """<A u, g> == <u, A^T g> for the (linear) average pools, float64."""
    for b, t, c, p, s, pad in _configs(rng, 1000):
        u = rng.standard_normal((b, t, c))
        au = ops.average_pool1d(u, p, s, pad)
        g = rng.standard_normal(au.shape)
        atg = ops.average_pool1d_backward(g, u, p, s, pad)
        assert abs(np.vdot(au, g) - np.vdot(u, atg)) <= 1e-12 * np.linalg.norm(u) * max(
            np.linalg.norm(atg), 1e-300)
    for _ in range(1000):
        b, t, c = int(rng.integers(1, 3)), int(rng.integers(1, 13)), int(rng.integers(1, 4))
        u = rng.standard_normal((b, t, c))
        g = rng.standard_normal((b, c))
        atg = ops.global_average_pool1d_backward(g, u)
        assert abs(np.vdot(ops.global_average_pool1d(u), g) - np.vdot(u, atg)) <= (
            1e-12 * np.linalg.norm(u) * np.linalg.norm(atg))


# ---------------------------------------------------------------- exact tie / NaN / inf rules

def _x(*vals, dtype=np.float64):
    return np.array(vals, dtype=dtype).reshape(1, -1, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_max_pool_exact_rules(impl, dtype):
    nan, inf = np.nan, np.inf

    def run(vals, p, s=None, pad="valid"):
        x = _x(*vals, dtype=dtype)
        y = impl.max_pool1d(x, p, s, pad)
        dx = impl.max_pool1d_backward(np.arange(1, y.size + 1, dtype=dtype).reshape(y.shape),
                                      x, p, s, pad)
        return y.ravel(), dx.ravel()

    # ties: the first maximum takes the gradient
    y, dx = run([1, 3, 3, 2], 4)
    assert y.tolist() == [3] and dx.tolist() == [0, 1, 0, 0]
    # overlapping windows on a constant input: each window's first cell; the sums add up
    y, dx = run([5, 5, 5, 5], 3, 1)
    assert y.tolist() == [5, 5] and dx.tolist() == [1, 2, 0, 0]
    # a NaN anywhere in a window gives NaN; the gradient goes to the first NaN
    # same padding, S = 3, windows [-1..2] [1..4] [3..6]: first NaNs at 1, 1, 3
    y, dx = run([1, nan, 3, nan, 7, 0], 4, 2, "same")
    assert np.isnan(y).all() and dx.tolist() == [0, 1 + 2, 0, 3, 0, 0]
    x = _x(1, nan, 3, nan, dtype=dtype)
    yy = impl.max_pool1d(x, 4)
    assert np.isnan(yy).all()
    assert impl.max_pool1d_backward(np.ones((1, 1, 1), dtype), x, 4).ravel().tolist() == [
        0, 1, 0, 0]
    y, dx = run([nan, nan, nan], 3)
    assert np.isnan(y).all() and dx.tolist() == [1, 0, 0]
    y, dx = run([2, 9, nan], 3)
    assert np.isnan(y).all() and dx.tolist() == [0, 0, 1]
    # all -inf window: -inf, gradient to its first REAL cell (same padding never wins)
    y, dx = run([-inf, -inf, -inf], 3, 1, "same")
    assert y.tolist() == [-inf] * 3 and dx.tolist() == [1 + 2, 3, 0]
    # +inf wins, -inf loses
    y, dx = run([-inf, inf, 2], 3)
    assert y.tolist() == [inf] and dx.tolist() == [0, 1, 0]
    # negative inputs with same padding: the pad (not a zero) never wins
    y, dx = run([-5, -7, -6, -8], 3, 1, "same")
    assert y.tolist() == [-5, -5, -6, -6] and dx.tolist() == [1 + 2, 0, 3 + 4, 0]


def test_max_pool_nan_window_rule_with_same_padding():
    nan = np.nan
    x = _x(1, nan, 3, nan, 7, 0)
    y = ops.max_pool1d(x, 4, 2, "same")  # S = 3, total pad 2 -> windows [-1..2], [1..4], [3..6]
    assert np.isnan(y.ravel()).all()
    dx = ops.max_pool1d_backward(np.array([1.0, 2.0, 4.0]).reshape(1, 3, 1), x, 4, 2, "same")
    assert dx.ravel().tolist() == [0, 1 + 2, 0, 4, 0, 0]
    assert bitwise_equal(dx, ref.max_pool1d_backward(np.array([1.0, 2.0, 4.0]).reshape(1, 3, 1),
                                                      x, 4, 2, "same"))


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_global_max_exact_rules(impl):
    nan, inf = np.nan, np.inf
    x = np.array([[[1, -inf], [3, -inf], [3, -inf], [nan, -inf], [-inf, -inf]]])
    y = impl.global_max_pool1d(x)
    assert np.isnan(y[0, 0]) and y[0, 1] == -inf
    dx = impl.global_max_pool1d_backward(np.array([[2.0, 5.0]]), x)
    assert dx[0, :, 0].tolist() == [0, 0, 0, 2, 0] and dx[0, :, 1].tolist() == [5, 0, 0, 0, 0]
    x2 = np.array([[[1.0], [4.0], [4.0], [inf], [inf]]])
    assert impl.global_max_pool1d_backward(np.ones((1, 1)), x2).ravel().tolist() == [0, 0, 0, 1, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_average_pool_same_divides_by_real_cells(dtype):
    x = np.ones((2, 7, 3), dtype)
    for p in range(1, 8):
        for s in range(1, 4):
            assert (ops.average_pool1d(x, p, s, "same") == 1).all()
    y = ops.average_pool1d(_x(1, 2, 3, 4, dtype=dtype), 3, 1, "same").ravel()
    assert y.tolist() == [1.5, 2, 3, 3.5]
    inf = np.inf
    y = ops.average_pool1d(_x(1, inf, 3, np.nan, dtype=dtype), 2).ravel()
    assert y[0] == inf and np.isnan(y[1])


REGRESSION = [  # (B, T, C, P, s, padding), named corpus: never shrink
    (2, 5, 3, 5, 1, "valid"),  # pool = length
    (2, 1, 3, 1, 1, "valid"),  # length 1
    (2, 1, 3, 4, 3, "same"),   # length 1 with a window wider than the input
    (0, 6, 3, 2, 2, "valid"),  # empty batch
    (2, 3, 3, 2, 5, "valid"),  # stride > length
    (2, 4, 3, 7, 5, "same"),   # stride > length, same
    (3, 6, 2, 6, 6, "same"),   # window = padded length
    (2, 0, 3, 3, 1, "same"),   # zero length with same: zero steps out
    (2, 94, 32, 5, 5, "valid"),  # the IMDb model's pool
    (2, 46, 16, 4, 4, "valid"),
]


@pytest.mark.parametrize("cfg", REGRESSION, ids=["-".join(map(str, c)) for c in REGRESSION])
@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_corpus(cfg, dtype, rng):
    b, t, c, p, s, pad = cfg
    for x in (rng.standard_normal((b, t, c)).astype(dtype), np.full((b, t, c), 0.25, dtype)):
        for kind, (f, fb, rf, rfb) in WINDOWED.items():
            y = f(x, p, s, pad)
            assert y.shape == (b, naive_geometry(t, p, s, pad)[0], c)
            np.testing.assert_allclose(y, rf(x, p, s, pad), **tol(dtype, p))
            dy = rng.standard_normal(y.shape).astype(dtype)
            np.testing.assert_allclose(fb(dy, x, p, s, pad), rfb(dy, x, p, s, pad), **tol(dtype, p))
    assert ops.max_pool1d(np.zeros((1, 94, 8), dtype), 5).shape == (1, 18, 8)
    assert ops.max_pool1d(np.zeros((1, 46, 8), dtype), 4).shape == (1, 11, 8)


# ---------------------------------------------------------------- determinism

def _all_outputs(x, dy_w, dy_g, p, s, pad):
    outs = []
    for f, fb, _, _ in WINDOWED.values():
        outs += [f(x, p, s, pad), fb(dy_w, x, p, s, pad)]
    for f, fb, _, _ in GLOBAL.values():
        outs += [f(x), fb(dy_g, x)]
    return outs


def _thread_configs(rng):
    cfgs = [(1, 1, 1, 1, 1, "valid"), (1, 3, 2, 2, 1, "same"), (2, 5, 1, 3, 2, "same"),
            (97, 7, 3, 2, 2, "valid"), (100, 9, 5, 3, 1, "same"), (101, 12, 17, 5, 2, "same"),
            (3, 97, 4, 5, 5, "valid"), (2, 100, 33, 4, 3, "same"), (1, 101, 101, 7, 2, "same")]
    while len(cfgs) < 50:
        b, t, c = int(rng.integers(1, 12)), int(rng.integers(1, 40)), int(rng.integers(1, 40))
        p, s = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        pad = ["valid", "same"][int(rng.integers(2))]
        if pad == "same" or t >= p:
            cfgs.append((b, t, c, p, s, pad))
    return cfgs


def test_bitwise_identical_for_any_thread_count(num_threads, rng, monkeypatch):
    # every call really runs on n threads, however small its work
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    for dtype in DTYPES:
        for b, t, c, p, s, pad in _thread_configs(rng):
            x = rng.standard_normal((b, t, c)).astype(dtype)
            out_len = naive_geometry(t, p, s, pad)[0]
            dy_w = rng.standard_normal((b, out_len, c)).astype(dtype)
            dy_g = rng.standard_normal((b, c)).astype(dtype)
            base = None
            for n in THREADS:
                num_threads(n)
                outs = _all_outputs(x, dy_w, dy_g, p, s, pad)
                if base is None:
                    base = outs
                else:
                    assert all(bitwise_equal(a, o) for a, o in zip(base, outs)), (n, b, t, c)


def test_repeated_calls_bitwise_equal(rng):
    x = rng.standard_normal((5, 23, 7))
    dy_w = rng.standard_normal((5, 8, 7))
    dy_g = rng.standard_normal((5, 7))
    base = _all_outputs(x, dy_w, dy_g, 3, 3, "same")
    for _ in range(20):
        assert all(bitwise_equal(a, o) for a, o in
                   zip(base, _all_outputs(x, dy_w, dy_g, 3, 3, "same")))


def test_concurrent_python_threads_match_serial(rng):
    xs = [rng.standard_normal((4, 31, 6)) for _ in range(8)]
    dys = [rng.standard_normal((4, 16, 6)) for _ in range(8)]
    serial = [(ops.max_pool1d(x, 3, 2, "same"), ops.max_pool1d_backward(d, x, 3, 2, "same"),
               ops.average_pool1d_backward(d, x, 3, 2, "same")) for x, d in zip(xs, dys)]
    barrier = threading.Barrier(8)
    bad = []

    def work(i):
        barrier.wait()
        for _ in range(100):
            got = (ops.max_pool1d(xs[i], 3, 2, "same"),
                   ops.max_pool1d_backward(dys[i], xs[i], 3, 2, "same"),
                   ops.average_pool1d_backward(dys[i], xs[i], 3, 2, "same"))
            if not all(bitwise_equal(a, b) for a, b in zip(got, serial[i])):
                bad.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads) and not bad


# ---------------------------------------------------------------- layouts, buffers, dtypes

@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_bitwise_equal_and_inputs_unmodified(dtype, rng, tmp_path):
    x = rng.standard_normal((3, 11, 5)).astype(dtype)
    dy_w = rng.standard_normal((3, 6, 5)).astype(dtype)
    dy_g = rng.standard_normal((3, 5)).astype(dtype)
    calls = []
    for f, fb, _, _ in WINDOWED.values():
        calls.append((lambda a, f=f: f(a, 3, 2, "same"), [x]))
        calls.append((lambda d, a, fb=fb: fb(d, a, 3, 2, "same"), [dy_w, x]))
    for f, fb, _, _ in GLOBAL.values():
        calls.append((f, [x]))
        calls.append((fb, [dy_g, x]))
    for fn, args in calls:
        expect = fn(*args)
        for pos in range(len(args)):
            for name, v in variants(args[pos], tmp_path):
                new = list(args)
                new[pos] = v
                before = snapshot(*new)
                got = fn(*new)
                assert bitwise_equal(got, expect), (fn, pos, name)
                assert snapshot(*new) == before, (fn, pos, name)


def test_size_zero_axes():
    for shape in [(0, 5, 3), (2, 5, 0), (0, 0, 0)]:
        x = np.zeros(shape)
        for f, fb, rf, _ in WINDOWED.values():
            if shape[1] == 0:
                assert f(x, 2, 1, "same").shape == (shape[0], 0, shape[2])
                continue
            y = f(x, 2)
            assert y.shape == (shape[0], 2, shape[2]) and bitwise_equal(y, rf(x, 2))
            assert fb(y, x, 2).shape == shape
        if shape[1]:
            for f, fb, _, _ in GLOBAL.values():
                assert f(x).shape == (shape[0], shape[2])
                assert fb(f(x), x).shape == shape


def test_mixed_dtypes_promote(rng):
    x = rng.standard_normal((2, 9, 3))
    dy = rng.standard_normal((2, 3, 3)).astype(np.float32)
    for _, fb, _, _ in WINDOWED.values():
        got = fb(dy, x, 3)
        assert got.dtype == np.float64 and bitwise_equal(got, fb(dy.astype(np.float64), x, 3))
        got = fb(dy.astype(np.float64), x.astype(np.float32), 3)
        assert got.dtype == np.float64
    assert ops.global_max_pool1d_backward(dy[:, 0], x).dtype == np.float64
    assert ops.max_pool1d(x.tolist(), 3).dtype == np.float64


@pytest.mark.parametrize("kind", ["max", "avg", "gmax", "gavg"])
def test_out_buffers(kind, rng):
    x = rng.standard_normal((3, 10, 4))
    if kind in WINDOWED:
        f, fb, _, _ = WINDOWED[kind]
        fwd = lambda a, out=None: f(a, 2, out=out)  # noqa: E731
        bwd = lambda d, a, out=None: fb(d, a, 2, out=out)  # noqa: E731
        yshape = (3, 5, 4)
    else:
        f, fb, _, _ = GLOBAL[kind]
        fwd, bwd, yshape = f, fb, (3, 4)
    dy = rng.standard_normal(yshape)
    for call, shape, args in ((fwd, yshape, (x,)), (bwd, x.shape, (dy, x))):
        expect = call(*args)
        buf = np.full(shape, np.nan)
        assert call(*args, out=buf) is buf
        assert not np.isnan(buf).any() and bitwise_equal(buf, expect)
        bad_shape = np.empty(shape[:-1] + (shape[-1] + 1,))
        with pytest.raises(ValueError, match=r"Invalid value for argument `out`.*out\.shape="):
            call(*args, out=bad_shape)
        with pytest.raises(ValueError, match=r"out\.dtype=float32"):
            call(*args, out=np.empty(shape, np.float32))
        with pytest.raises(ValueError, match="non-contiguous"):
            call(*args, out=np.empty(shape[:-1] + (2 * shape[-1],))[..., ::2])
        ro = np.empty(shape)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            call(*args, out=ro)
        with pytest.raises(TypeError, match="Invalid type for argument `out`"):
            call(*args, out=[0.0])
    # an out buffer overlapping an input is refused
    big = np.zeros((3, 10, 4))
    big[...] = x
    with pytest.raises(ValueError, match="does not overlap"):
        bwd(dy, big, out=big)


# ---------------------------------------------------------------- bad inputs (table-driven)

X = np.zeros((2, 8, 3))
BAD = [  # (id, kwargs change, exception, message regex)
    ("x-int", dict(x=np.zeros((2, 8, 3), np.int32)), TypeError, r"`x`.*x\.dtype=int32"),
    ("x-float16", dict(x=np.zeros((2, 8, 3), np.float16)), TypeError, r"`x`.*x\.dtype=float16"),
    ("x-complex", dict(x=np.zeros((2, 8, 3), complex)), TypeError, r"`x`.*x\.dtype=complex128"),
    ("x-bool", dict(x=np.zeros((2, 8, 3), bool)), TypeError, r"`x`.*x\.dtype=bool"),
    ("x-object", dict(x=np.zeros((2, 8, 3), object)), TypeError, r"`x`.*x\.dtype=object"),
    ("x-none", dict(x=None), TypeError, r"`x`.*NoneType"),
    ("x-2d", dict(x=np.zeros((8, 3))), ValueError, r"`x`.*3-D.*x\.shape=\(8, 3\)"),
    ("x-4d", dict(x=np.zeros((1, 2, 8, 3))), ValueError, r"`x`.*x\.shape=\(1, 2, 8, 3\)"),
    ("pool-0", dict(pool_size=0), ValueError, r"`pool_size`.*pool_size=0"),
    ("pool-neg", dict(pool_size=-2), ValueError, r"`pool_size`.*pool_size=-2"),
    ("pool-true", dict(pool_size=True), TypeError, r"`pool_size`.*pool_size=True"),
    ("pool-float", dict(pool_size=3.7), TypeError, r"`pool_size`.*pool_size=3\.7"),
    ("pool-str", dict(pool_size="3"), TypeError, r"`pool_size`.*pool_size='3'"),
    ("pool-none", dict(pool_size=None), TypeError, r"`pool_size`.*pool_size=None"),
    ("pool-tuple2", dict(pool_size=(2, 2)), ValueError, r"`pool_size`.*pool_size=\(2, 2\)"),
    ("strides-0", dict(strides=0), ValueError, r"`strides`.*strides=0"),
    ("strides-true", dict(strides=True), TypeError, r"`strides`.*strides=True"),
    ("strides-float", dict(strides=1.5), TypeError, r"`strides`.*strides=1\.5"),
    ("padding-causal", dict(padding="causal"), ValueError, r"`padding`.*padding='causal'"),
    ("padding-full", dict(padding="full"), ValueError, r"`padding`.*padding='full'"),
    ("padding-int", dict(padding=1), TypeError, r"`padding`.*padding=1"),
    ("empty-output", dict(pool_size=9), ValueError,
     r"Computed output size would be zero or negative\. Received: `inputs\.shape=\[2 8 3\]`, "
     r"`pool_size=\[9\]`, `strides=\(9,\)`, `padding=valid`\."),
]


def _windowed_calls():
    for name in ("max", "avg"):
        for impl_name, (f, fb) in (("ops", WINDOWED[name][:2]), ("ref", WINDOWED[name][2:])):
            yield f"{name}-fwd-{impl_name}", f, False
            yield f"{name}-bwd-{impl_name}", fb, True


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
@pytest.mark.parametrize("call", list(_windowed_calls()), ids=lambda c: c[0])
def test_bad_arguments(call, case):
    _, fn, backward = call
    _, change, exc, msg = case
    kw = dict(x=X, pool_size=2, strides=None, padding="valid")
    kw.update(change)
    if backward:
        kw["dy"] = np.zeros((2, 4, 3))
    with pytest.raises(exc, match=msg):
        fn(**kw)


BAD_DY = [
    ("dy-shape", np.zeros((2, 5, 3)), ValueError,
     r"`dy`.*Expected \(2, 4, 3\).*dy\.shape=\(2, 5, 3\)"),
    ("dy-channels", np.zeros((2, 4, 2)), ValueError, r"`dy`.*dy\.shape=\(2, 4, 2\)"),
    ("dy-int", np.zeros((2, 4, 3), np.int64), TypeError, r"`dy`.*dy\.dtype=int64"),
    ("dy-2d", np.zeros((2, 4)), ValueError, r"`dy`.*dy\.shape=\(2, 4\)"),
]


@pytest.mark.parametrize("case", BAD_DY, ids=[c[0] for c in BAD_DY])
@pytest.mark.parametrize("fn", [ops.max_pool1d_backward, ops.average_pool1d_backward,
                                ref.max_pool1d_backward, ref.average_pool1d_backward])
def test_bad_dy(fn, case):
    _, dy, exc, msg = case
    with pytest.raises(exc, match=msg):
        fn(dy, X, 2)


BAD_GLOBAL = [
    ("x-int", np.zeros((2, 8, 3), np.int8), None, TypeError, r"`x`.*x\.dtype=int8"),
    ("x-float16", np.zeros((2, 8, 3), np.float16), None, TypeError, r"x\.dtype=float16"),
    ("x-complex", np.zeros((2, 8, 3), np.complex64), None, TypeError, r"x\.dtype=complex64"),
    ("x-bool", np.zeros((2, 8, 3), bool), None, TypeError, r"x\.dtype=bool"),
    ("x-object", np.zeros((2, 8, 3), object), None, TypeError, r"x\.dtype=object"),
    ("x-2d", np.zeros((8, 3)), None, ValueError, r"`x`.*x\.shape=\(8, 3\)"),
    ("x-4d", np.zeros((1, 1, 8, 3)), None, ValueError, r"`x`.*x\.shape=\(1, 1, 8, 3\)"),
    ("x-no-steps", np.zeros((2, 0, 3)), None, ValueError, r"`x`.*at least 1 step.*\(2, 0, 3\)"),
    ("x-str", "abc", None, TypeError, r"`x`.*str"),
    ("dy-shape", X, np.zeros((2, 4)), ValueError, r"`dy`.*Expected \(2, 3\).*dy\.shape=\(2, 4\)"),
    ("dy-3d", X, np.zeros((2, 1, 3)), ValueError, r"`dy`.*dy\.shape=\(2, 1, 3\)"),
    ("dy-int", X, np.zeros((2, 3), np.int32), TypeError, r"`dy`.*dy\.dtype=int32"),
]


@pytest.mark.parametrize("case", BAD_GLOBAL, ids=[c[0] for c in BAD_GLOBAL])
@pytest.mark.parametrize("kind,impl", [(k, i) for k in GLOBAL for i in ("ops", "ref")])
def test_bad_global_arguments(kind, impl, case):
    f, fb = GLOBAL[kind][:2] if impl == "ops" else GLOBAL[kind][2:]
    _, x, dy, exc, msg = case
    with pytest.raises(exc, match=msg):
        if dy is None:
            f(x)
        else:
            fb(dy, x)
    if dy is None:
        with pytest.raises(exc, match=msg):
            fb(np.zeros((2, 3)), x)


# Keras' torch backend converts tensors with np.array(tensor), and torch's __array__ predates
# NumPy 2's `copy` keyword: NumPy warns about it on every conversion.
_TORCH_ARRAY_WARNING = ("ignore:__array__ implementation doesn't accept a copy keyword"
                        ":DeprecationWarning")


@pytest.mark.deep
@pytest.mark.keras
@pytest.mark.filterwarnings(_TORCH_ARRAY_WARNING)
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kind", ["max", "average"])
def test_matches_keras_pooling_ops(kind, padding, monkeypatch, rng):
    """Keras 3 (JAX unless KERAS_BACKEND says otherwise; pads excluded from the average, -inf
    pads for the max), float32 data; the 100 configs split between the two paddings."""
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    keras = pytest.importorskip("keras")
    if kind == "average" and padding == "same" and keras.backend.backend() == "torch":
        pytest.skip("KERAS_SURFACE.md section 0: Keras' torch backend replicates the edge into "
                    "`same` average-pool windows and counts it; fastconv excludes pads (JAX)")
    ours, theirs = {"max": (ops.max_pool1d, keras.ops.max_pool),
                    "average": (ops.average_pool1d, keras.ops.average_pool)}[kind]
    for b, t, c, p, s, pad in _configs(rng, 100):
        x = rng.standard_normal((b, t, c)).astype(np.float32)
        if pad != padding:
            continue
        expect = keras.ops.convert_to_numpy(theirs(x, p, s, pad))
        np.testing.assert_allclose(ours(x, p, s, pad), expect, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- the max-pool argument fast path

def _outcome(fn):
    try:
        res = fn()
    except (TypeError, ValueError) as err:
        return type(err).__name__, str(err)
    return res.dtype.str, res.shape, res.tobytes()


def _max_pool_calls(rng):
    """Kernel-ready calls (fast path) and near misses the full checks must handle."""
    x = rng.standard_normal((3, 23, 5)).astype(np.float32)
    x[0, 3, 1] = np.nan
    x[1, 4:9, 2] = 7.0  # ties: the first maximum wins
    dy = rng.standard_normal((3, 4, 5)).astype(np.float32)
    dy_s = rng.standard_normal((3, 12, 5)).astype(np.float32)
    y, dx = np.empty((3, 4, 5), np.float32), np.empty_like(x)
    f, fb = ops.max_pool1d, ops.max_pool1d_backward
    return [
        lambda: f(x, 5), lambda: f(x, 5, out=y), lambda: f(x, 5, 5, "valid"),
        lambda: f(x, 3, 2, "same"), lambda: f(x, 5, 1), lambda: f(x, np.int64(5)),
        lambda: f(x, 5, padding="VALID"), lambda: f(x, 0), lambda: f(x, 5, out=x[:, :4]),
        lambda: f(x, 5, out=y.astype(np.float64)), lambda: f(np.asfortranarray(x), 5),
        lambda: f(x, 40), lambda: f(x, 5, padding="causal"),
        lambda: fb(dy, x, 5), lambda: fb(dy, x, 5, out=dx), lambda: fb(dy_s, x, 3, 2, "same"),
        lambda: fb(rng.standard_normal((3, 19, 5)).astype(np.float32), x, 5, 1),
        lambda: fb(dy.astype(np.float64), x, 5), lambda: fb(dy[:, :3], x, 5),
        lambda: fb(dy, x, 5, out=dx.astype(np.float64)), lambda: fb(dy, x, 0),
        lambda: fb(dy.astype(np.int32), x, 0), lambda: fb(dy, x, 5, out=x),
        lambda: fb(dy, x, 5, out=np.asfortranarray(dx)),
        lambda: ops.average_pool1d(x, 3, 2, "same"), lambda: ops.average_pool1d(x, 5, out=y),
        lambda: ops.average_pool1d(x, 5, out=x[:, :4]),
    ]


# ----------------------------------------- the global-pool argument fast path, and both checked

def _global_pool_calls(rng):
    """Kernel-ready global-pool calls (fast path) and near misses the full checks must handle."""
    x = rng.standard_normal((3, 7, 5)).astype(np.float32)
    x[0, 3, 1] = np.nan
    x[1, 2:5, 2] = 7.0  # ties: the first maximum wins
    dy = rng.standard_normal((3, 5)).astype(np.float32)
    y, dx = np.empty((3, 5), np.float32), np.empty_like(x)
    f, fb, fa = ops.global_max_pool1d, ops.global_max_pool1d_backward, ops.global_average_pool1d
    return [
        lambda: f(x), lambda: f(x, out=y), lambda: f(x, out=y.astype(np.float64)),
        lambda: f(x, out=x[:, 0]), lambda: f(np.asfortranarray(x)), lambda: f(x[:, :0]),
        lambda: f(x[0]), lambda: f(np.ones(x.shape, np.int32)), lambda: f(x[:0]),
        lambda: fa(x), lambda: fa(x, out=y), lambda: fa(x, out=x[:, 1]),
        lambda: fb(dy, x), lambda: fb(dy, x, out=dx), lambda: fb(dy.astype(np.float64), x),
        lambda: fb(dy[:, :4], x), lambda: fb(dy, x, out=x), lambda: fb(dy, x, out=dx[:, :, :4]),
        lambda: fb(dy, x, out=np.asfortranarray(dx)), lambda: fb(dy, x[:, :0]),
        lambda: fb(dy.astype(np.int32), x), lambda: fb(dy[None], x),
        lambda: fb(np.asfortranarray(dy), x), lambda: fb(dy[:0], x[:0]),
    ]


@pytest.mark.parametrize("calls, switch, errors",
                         [(_max_pool_calls, "_ready_pool_x", 10),
                          (_global_pool_calls, "_ready_global", 8)],
                         ids=["max-pool", "global-pool"])
def test_pool_fast_paths_same_results_and_errors_as_full_checks(monkeypatch, calls, switch, errors):
    from fastconv.ops import pooling as pool_ops
    fast = [_outcome(c) for c in calls(np.random.default_rng(3))]
    monkeypatch.setattr(pool_ops, switch, lambda *a: None)     # every call takes the full checks
    slow = [_outcome(c) for c in calls(np.random.default_rng(3))]
    for i, (a, b) in enumerate(zip(fast, slow)):
        assert a == b, i
    assert sum(o[0] in ("TypeError", "ValueError") for o in slow) >= errors


def test_pool_fast_paths_are_taken(rng, monkeypatch):
    from fastconv.ops import pooling as pool_ops
    x = rng.standard_normal((2, 10, 3))
    dy, dy_global = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3))
    calls = [lambda: ops.max_pool1d(x, 2), lambda: ops.max_pool1d_backward(dy, x, 2),
             lambda: ops.global_max_pool1d(x), lambda: ops.global_max_pool1d_backward(dy_global, x),
             lambda: ops.global_max_pool1d(x, out=np.empty((2, 3)))]
    expect = [call() for call in calls]

    def fail(*a, **k):
        raise AssertionError("full checks used")
    monkeypatch.setattr(pool_ops, "float_array", fail)
    for call, want in zip(calls, expect):
        assert bitwise_equal(call(), want)
