"""Fused bias + activation and the activation backward against naive loops and _reference."""
import math
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
ACTS = ["linear", "relu", "sigmoid", "tanh"]


def tol(dtype):
    return dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-7)


def naive_act(name, z):
    if name == "linear":
        return z
    if name == "relu":
        return max(z, 0.0)
    if name == "sigmoid":
        return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
    return math.tanh(z)


def naive_grad(name, dy, y):
    return {"linear": dy, "relu": dy if y > 0 else 0.0, "sigmoid": dy * y * (1 - y),
            "tanh": dy * (1 - y * y)}[name]


@pytest.mark.parametrize("act", ACTS)
def test_vs_naive_loops(act, rng):
    y = rng.standard_normal((3, 4)) * 4
    b = rng.standard_normal(4)
    dy = rng.standard_normal((3, 4))
    z_n = np.array([[naive_act(act, y[i, j] + b[j]) for j in range(4)] for i in range(3)])
    for impl in (ops, ref):
        out = impl.bias_activation(y, b, act)
        np.testing.assert_allclose(out, z_n, rtol=1e-14, atol=1e-300)
        g_n = np.array([[naive_grad(act, dy[i, j], out[i, j]) for j in range(4)]
                        for i in range(3)])
        np.testing.assert_allclose(impl.activation_backward(dy, out, act), g_n, rtol=1e-14)
        np.testing.assert_allclose(impl.bias_activation(y, None, act),
                                   [[naive_act(act, v) for v in row] for row in y], rtol=1e-14)


@settings(max_examples=N_SWEEP)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
       act=st.sampled_from(ACTS + [None]), use_bias=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_sweep_vs_reference(shape, act, use_bias, dtype, seed):
    r = np.random.default_rng(seed)
    y = (r.standard_normal(shape) * 5).astype(dtype)
    b = r.standard_normal(shape[-1]).astype(dtype) if use_bias else None
    out = ops.bias_activation(y, b, act)
    assert out.shape == shape and out.dtype == dtype
    np.testing.assert_allclose(out, ref.bias_activation(y, b, act), **tol(dtype))
    dy = r.standard_normal(shape).astype(dtype)
    g = ops.activation_backward(dy, out, act)
    assert g.shape == shape and g.dtype == dtype
    np.testing.assert_allclose(g, ref.activation_backward(dy, out, act), **tol(dtype))
    if act in (None, "linear", "relu"):
        assert bitwise_equal(out, ref.bias_activation(y, b, act))
        assert bitwise_equal(g, ref.activation_backward(dy, out, act))


def test_backward_matches_finite_differences(rng):
    for i in range(240):
        act = ACTS[i % 4]
        shape = tuple(int(s) for s in rng.integers(1, 5, 2))
        z = rng.standard_normal(shape) * 3
        z[np.abs(z) < 1e-3] = 0.5  # stay off relu's kink
        b = rng.standard_normal(shape[-1])
        z[np.abs(z + b) < 1e-3] += 0.01
        g = rng.standard_normal(shape)
        ana = ops.activation_backward(g, ops.bias_activation(z, b, act), act).reshape(-1)
        eps = 1e-6
        num = np.empty(z.size)
        flat = z.reshape(-1)
        for k in range(z.size):
            keep = flat[k]
            flat[k] = keep + eps
            up = np.vdot(ops.bias_activation(z, b, act), g)
            flat[k] = keep - eps
            down = np.vdot(ops.bias_activation(z, b, act), g)
            flat[k] = keep
            num[k] = (up - down) / (2 * eps)
        assert (np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana)).all(), act


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_inf_policy(dtype):
    nan, inf = np.nan, np.inf
    z = np.array([nan, inf, -inf, -1000.0, 1000.0, 0.0], dtype)
    relu = ops.bias_activation(z, None, "relu")
    assert np.isnan(relu[0]) and relu[1:].tolist() == [inf, 0, 0, 1000, 0]
    sig = ops.bias_activation(z, None, "sigmoid")
    assert np.isnan(sig[0]) and sig[1:].tolist() == [1, 0, 0, 1, 0.5]
    th = ops.bias_activation(z, None, "tanh")
    assert np.isnan(th[0]) and th[1:].tolist() == [1, -1, -1, 1, 0]
    # relu backward is a select: a NaN/inf gradient on an inactive unit gives exactly 0
    dy = np.array([nan, inf, nan, 1.0], dtype)
    y = np.array([0.0, 0.0, 2.0, nan], dtype)
    g = ops.activation_backward(dy, y, "relu")
    assert g[:2].tolist() == [0, 0] and np.isnan(g[2]) and g[3] == 0
    # the multiplicative ones propagate
    assert np.isnan(ops.activation_backward(dy, np.full(4, 0.5, dtype), "sigmoid")[0])
    assert np.isnan(ops.activation_backward(np.ones(1, dtype), np.array([nan], dtype), "tanh"))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place(act, dtype, rng):
    y = rng.standard_normal((5, 7)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    expect = ops.bias_activation(y, b, act)
    work = y.copy()
    assert ops.bias_activation(work, b, act, out=work) is work
    assert bitwise_equal(work, expect)
    dy = rng.standard_normal((5, 7)).astype(dtype)
    g_expect = ops.activation_backward(dy, expect, act)
    assert ops.activation_backward(dy, expect, act, out=dy) is dy
    assert bitwise_equal(dy, g_expect)


def test_bitwise_identical_for_any_thread_count(num_threads, rng, monkeypatch):
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    shapes = [(1,), (3, 1), (97,), (100, 3), (101, 5), (7, 4097), (2, 3, 8193), (5000,)]
    while len(shapes) < 25:  # x 2 dtypes = 50 configs
        shapes.append(tuple(int(s) for s in rng.integers(1, 60, int(rng.integers(1, 4)))))
    for dtype in DTYPES:
        for shape in shapes:
            y = (rng.standard_normal(shape) * 3).astype(dtype)
            b = rng.standard_normal(shape[-1]).astype(dtype)
            dy = rng.standard_normal(shape).astype(dtype)
            base = None
            for n in (1, 2, 3, 4, 8):
                num_threads(n)
                got = []
                for act in ACTS:
                    out = ops.bias_activation(y, b, act)
                    got += [out, ops.activation_backward(dy, out, act)]
                if base is None:
                    base = got
                else:
                    assert all(bitwise_equal(a, c) for a, c in zip(base, got)), (n, shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_bitwise_equal_and_inputs_unmodified(dtype, rng, tmp_path):
    y = rng.standard_normal((4, 6, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    dy = rng.standard_normal((4, 6, 5)).astype(dtype)
    yact = ops.bias_activation(y, b, "sigmoid")
    calls = [(lambda a, c: ops.bias_activation(a, c, "tanh"), [y, b]),
             (lambda a, c: ops.activation_backward(a, c, "sigmoid"), [dy, yact])]
    for fn, args in calls:
        expect = fn(*args)
        for pos in range(len(args)):
            for name, var in variants(args[pos], tmp_path):
                new = list(args)
                new[pos] = var
                before = snapshot(*new)
                assert bitwise_equal(fn(*new), expect), (pos, name)
                assert snapshot(*new) == before


def test_mixed_dtypes_promote(rng):
    y = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4)
    out = ops.bias_activation(y, b, "relu")
    assert out.dtype == np.float64
    assert bitwise_equal(out, ops.bias_activation(y.astype(np.float64), b, "relu"))
    assert ops.activation_backward(y, out, "tanh").dtype == np.float64
    with pytest.raises(ValueError, match=r"`out`.*out\.dtype=float32"):
        ops.bias_activation(y, b, "relu", out=y)  # in place needs the result dtype


def test_out_buffers(rng):
    y = rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    buf = np.full((3, 4), np.nan)
    assert ops.bias_activation(y, b, "tanh", out=buf) is buf and not np.isnan(buf).any()
    with pytest.raises(ValueError, match=r"`out`.*out\.shape=\(3, 5\)"):
        ops.bias_activation(y, b, "tanh", out=np.empty((3, 5)))
    with pytest.raises(ValueError, match="non-contiguous"):
        ops.bias_activation(y, b, "tanh", out=np.empty((3, 8))[:, ::2])
    big = np.zeros(13)
    big[:12] = y.ravel()
    shifted_in, shifted_out = big[:12].reshape(3, 4), big[1:].reshape(3, 4)
    with pytest.raises(ValueError, match="does not overlap"):
        ops.bias_activation(shifted_in, b, "tanh", out=shifted_out)
    bias_home = np.zeros(12)
    with pytest.raises(ValueError, match="does not overlap"):
        ops.bias_activation(y, bias_home[:4], "tanh", out=bias_home.reshape(3, 4))
    with pytest.raises(ValueError, match="does not overlap"):
        ops.activation_backward(shifted_in, y, "tanh", out=shifted_out)
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.activation_backward(y, y, "tanh", out=ro)


Y = np.zeros((2, 3))
BAD_FWD = [  # (id, y, bias, activation, exception, regex)
    ("y-int", Y.astype(int), None, "relu", TypeError, r"`y`.*y\.dtype=int64"),
    ("y-float16", Y.astype(np.float16), None, "relu", TypeError, r"`y`.*y\.dtype=float16"),
    ("y-complex", Y.astype(complex), None, "relu", TypeError, r"`y`.*complex128"),
    ("y-bool", Y.astype(bool), None, "relu", TypeError, r"`y`.*y\.dtype=bool"),
    ("y-none", None, None, "relu", TypeError, r"`y`.*NoneType"),
    ("y-0d", np.zeros(()), None, "relu", ValueError, r"`y`.*y\.shape=\(\)"),
    ("bias-len", Y, np.zeros(4), "relu", ValueError, r"`bias`.*\(3,\).*bias\.shape=\(4,\)"),
    ("bias-2d", Y, np.zeros((1, 3)), "relu", ValueError, r"`bias`.*bias\.shape=\(1, 3\)"),
    ("bias-int", Y, np.zeros(3, int), "relu", TypeError, r"`bias`.*bias\.dtype=int64"),
    ("act-unknown", Y, None, "gelu", ValueError, r"`activation`.*activation='gelu'"),
    ("act-case", Y, None, "ReLU", ValueError, r"`activation`.*activation='ReLU'"),
    ("act-int", Y, None, 3, TypeError, r"`activation`.*activation=3"),
    ("act-callable", Y, None, np.tanh, TypeError, r"`activation`.*ufunc"),
]


@pytest.mark.parametrize("case", BAD_FWD, ids=[c[0] for c in BAD_FWD])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "ref"])
def test_bad_forward_arguments(impl, case):
    _, y, b, act, exc, msg = case
    with pytest.raises(exc, match=msg):
        impl.bias_activation(y, b, act)


BAD_BWD = [  # (id, dy, y, activation, exception, regex)
    ("dy-int", Y.astype(np.int32), Y, "tanh", TypeError, r"`dy`.*dy\.dtype=int32"),
    ("dy-float16", Y.astype(np.float16), Y, "tanh", TypeError, r"`dy`.*float16"),
    ("dy-object", Y.astype(object), Y, "tanh", TypeError, r"`dy`.*dy\.dtype=object"),
    ("y-int", Y, Y.astype(np.int8), "tanh", TypeError, r"`y`.*y\.dtype=int8"),
    ("y-shape", Y, np.zeros((3, 2)), "tanh", ValueError, r"`y`.*\(2, 3\).*y\.shape=\(3, 2\)"),
    ("y-rank", Y, np.zeros(3), "tanh", ValueError, r"`y`.*y\.shape=\(3,\)"),
    ("act-unknown", Y, Y, "softmax", ValueError, r"`activation`.*activation='softmax'"),
    ("act-int", Y, Y, 1, TypeError, r"`activation`.*activation=1"),
]


@pytest.mark.parametrize("case", BAD_BWD, ids=[c[0] for c in BAD_BWD])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "ref"])
def test_bad_backward_arguments(impl, case):
    _, dy, y, act, exc, msg = case
    with pytest.raises(exc, match=msg):
        impl.activation_backward(dy, y, act)

