"""In-place SGD / RMSprop / Adam updates against float64 loops of Keras 3's formulas."""
import math
import os

import numpy as np
import pytest

from fastconv import _reference as ref
from fastconv import ops
from fastconv.ops import _checks

from _layouts import bitwise_equal, snapshot, variants

DTYPES = [np.float32, np.float64]

# (id, optimizer, hyper-parameters, slots used)
VARIANTS = [
    ("sgd", "sgd", dict(learning_rate=0.05), ()),
    ("sgd-momentum", "sgd", dict(learning_rate=0.05, momentum=0.9), ("m",)),
    ("sgd-nesterov", "sgd", dict(learning_rate=0.05, momentum=0.8, nesterov=True), ("m",)),
    ("rmsprop", "rmsprop", dict(learning_rate=0.01, rho=0.9, epsilon=1e-7), ("v",)),
    ("rmsprop-momentum", "rmsprop", dict(learning_rate=0.01, rho=0.8, epsilon=1e-6, momentum=0.5),
     ("v", "m")),
    ("rmsprop-centered", "rmsprop", dict(learning_rate=0.01, rho=0.9, epsilon=1e-7),
     ("v", "a")),
    ("rmsprop-centered-momentum", "rmsprop",
     dict(learning_rate=0.01, rho=0.95, epsilon=1e-7, momentum=0.3), ("v", "m", "a")),
    ("adam", "adam", dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7), ("m", "v")),
    ("adam-amsgrad", "adam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
     ("m", "v", "h")),
]
IDS = [v[0] for v in VARIANTS]


def step(impl, opt, hp, slots, p, g, s, t):
    """One update through `impl` (fastconv.ops or fastconv._reference); s maps slot -> array."""
    if opt == "sgd":
        return impl.sgd_update(p, g, s.get("m"), **hp)
    if opt == "rmsprop":
        return impl.rmsprop_update(p, g, s["v"], hp["learning_rate"], hp["rho"], hp["epsilon"],
                                   s.get("m"), hp.get("momentum", 0.0), s.get("a"))
    return impl.adam_update(p, g, s["m"], s["v"], hp["learning_rate"], hp["beta_1"],
                            hp["beta_2"], hp["epsilon"], t, s.get("h"))


def naive_step(opt, hp, slots, p, g, s, t):
    """Keras 3 formulas (KERAS_SURFACE.md section 8), float64, one element at a time."""
    lr = hp["learning_rate"]
    for i in range(p.size):
        gi = float(g.flat[i])
        if opt == "sgd":
            mu = hp.get("momentum", 0.0)
            if mu == 0:
                p.flat[i] -= lr * gi
            else:
                s["m"].flat[i] = mu * s["m"].flat[i] - lr * gi
                if hp.get("nesterov"):
                    p.flat[i] += mu * s["m"].flat[i] - lr * gi
                else:
                    p.flat[i] += s["m"].flat[i]
        elif opt == "rmsprop":
            rho, eps, mu = hp["rho"], hp["epsilon"], hp.get("momentum", 0.0)
            s["v"].flat[i] = rho * s["v"].flat[i] + (1 - rho) * gi * gi
            if "a" in s:
                s["a"].flat[i] = rho * s["a"].flat[i] + (1 - rho) * gi
                den = s["v"].flat[i] - s["a"].flat[i] ** 2 + eps
            else:
                den = s["v"].flat[i] + eps
            inc = lr * gi / math.sqrt(den)
            if mu > 0:
                s["m"].flat[i] = mu * s["m"].flat[i] + inc
                p.flat[i] -= s["m"].flat[i]
            else:
                p.flat[i] -= inc
        else:
            b1, b2, eps = hp["beta_1"], hp["beta_2"], hp["epsilon"]
            alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            s["m"].flat[i] += (gi - s["m"].flat[i]) * (1 - b1)
            s["v"].flat[i] += (gi * gi - s["v"].flat[i]) * (1 - b2)
            v = s["v"].flat[i]
            if "h" in s:
                s["h"].flat[i] = max(s["h"].flat[i], v)
                v = s["h"].flat[i]
            p.flat[i] -= alpha * s["m"].flat[i] / (math.sqrt(v) + eps)


def _run(impl, opt, hp, slots, p0, grads, dtype):
    p = p0.astype(dtype)
    s = {k: np.zeros(p0.shape, dtype) for k in slots}
    for t, g in enumerate(grads, start=1):
        if impl is None:
            naive_step(opt, hp, slots, p, g, s, t)
        else:
            assert step(impl, opt, hp, slots, p, g.astype(dtype), s, t) is None
    return p, s


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_several_steps_vs_float64_formulas(variant, dtype, rng):
    _, opt, hp, slots = variant
    p0 = rng.standard_normal((3, 7))
    grads = [rng.standard_normal((3, 7)) for _ in range(6)]
    if dtype == np.float32:
        grads = [g.astype(np.float32).astype(np.float64) for g in grads]
    p_n, s_n = _run(None, opt, hp, slots, p0.astype(dtype).astype(np.float64), grads,
                    np.float64)
    p, s = _run(ops, opt, hp, slots, p0, grads, dtype)
    kw = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p, p_n, **kw)
    for k in slots:
        np.testing.assert_allclose(s[k], s_n[k], **kw)


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_equal_to_keras_op_order_in_dtype(variant, dtype, rng):
    """The NumPy twin runs Keras' op sequence in the parameter dtype; the kernel must match it
    bit for bit over many steps (no FMA contraction, same rounding at every operation)."""
    _, opt, hp, slots = variant
    p0 = rng.standard_normal(1003)
    grads = [rng.standard_normal(1003) * 10 ** rng.uniform(-3, 1) for _ in range(12)]
    p, s = _run(ops, opt, hp, slots, p0, grads, dtype)
    p_r, s_r = _run(ref, opt, hp, slots, p0, grads, dtype)
    assert bitwise_equal(p, p_r)
    for k in slots:
        assert bitwise_equal(s[k], s_r[k])


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_step_size_is_computed_in_the_parameter_dtype(dtype):
    p, m, v = np.zeros(1, dtype), np.zeros(1, dtype), np.zeros(1, dtype)
    ops.adam_update(p, np.ones(1, dtype), m, v, 1e-3, 0.9, 0.999, 0.0, 1)
    dt = np.dtype(dtype).type
    alpha = dt(1e-3) * np.sqrt(dt(1) - dt(0.999)) / (dt(1) - dt(0.9))
    mm = dt(0) + (dt(1) - dt(0)) * dt(1.0 - 0.9)
    vv = dt(0) + (dt(1) - dt(0)) * dt(1.0 - 0.999)
    assert p[0] == dt(0) - (mm * alpha) / (np.sqrt(vv) + dt(0.0))


def test_bitwise_identical_for_any_thread_count(num_threads, rng, monkeypatch):
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    sizes = [1, 3, 97, 100, 101, 8191, 8192, 8193, 16385, 40000]
    for dtype in DTYPES:
        for n in sizes:
            p0 = rng.standard_normal(n)
            grads = [rng.standard_normal(n) for _ in range(2)]
            for _, opt, hp, slots in VARIANTS:
                base = None
                for threads in (1, 2, 3, 4, 8):
                    num_threads(threads)
                    p, s = _run(ops, opt, hp, slots, p0, grads, dtype)
                    got = [p] + [s[k] for k in slots]
                    if base is None:
                        base = got
                    else:
                        assert all(bitwise_equal(a, b) for a, b in zip(base, got)), (n, opt)


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_grad_layouts_dtypes_and_inputs_unmodified(variant, rng, tmp_path):
    _, opt, hp, slots = variant
    p0 = rng.standard_normal((6, 5)).astype(np.float32)
    g = rng.standard_normal((6, 5)).astype(np.float32)

    def run(grad):
        p = p0.copy()
        s = {k: np.full(p0.shape, 0.25, np.float32) for k in slots}
        before = snapshot(grad)
        step(ops, opt, hp, slots, p, grad, s, 3)
        assert snapshot(grad) == before
        return [p] + [s[k] for k in slots]

    expect = run(g)
    for name, var in variants(g, tmp_path):
        assert all(bitwise_equal(a, b) for a, b in zip(run(var), expect)), name
    # a float64 gradient is cast to the float32 parameter first, as Keras does
    assert all(bitwise_equal(a, b) for a, b in zip(run(g.astype(np.float64)), expect))
    # the update is really in place and touches every element
    assert not np.array_equal(expect[0], p0)


def test_empty_parameters_are_a_no_op():
    p = np.zeros((0, 3))
    ops.sgd_update(p, p.copy(), None, 0.1)
    ops.rmsprop_update(p, p.copy(), np.zeros((0, 3)), 0.1)
    ops.adam_update(p, p.copy(), np.zeros((0, 3)), np.zeros((0, 3)), 0.1, 0.9, 0.999, 1e-7, 1)


def _sgd(**kw):
    args = dict(param=np.zeros(4), grad=np.ones(4), momentum_buf=np.zeros(4), learning_rate=0.1,
                momentum=0.5)
    args.update(kw)
    return lambda impl: impl.sgd_update(**args)


def _rms(**kw):
    args = dict(param=np.zeros(4), grad=np.ones(4), velocity=np.zeros(4), learning_rate=0.1)
    args.update(kw)
    return lambda impl: impl.rmsprop_update(**args)


def _adam(**kw):
    args = dict(param=np.zeros(4), grad=np.ones(4), m=np.zeros(4), v=np.zeros(4),
                learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7, iteration=1)
    args.update(kw)
    return lambda impl: impl.adam_update(**args)


_P = np.zeros(8)
_RO = np.zeros(4)
_RO.flags.writeable = False
BAD = [  # (id, call, exception, regex)
    ("param-list", _sgd(param=[0.0] * 4), TypeError, r"`param`.*list"),
    ("param-int", _sgd(param=np.zeros(4, int)), TypeError, r"`param`.*param\.dtype=int64"),
    ("param-float16", _adam(param=np.zeros(4, np.float16)), TypeError, r"`param`.*float16"),
    ("param-strided", _sgd(param=_P[::2]), ValueError, r"`param`.*non-contiguous"),
    ("param-read-only", _rms(param=_RO), ValueError, r"`param`.*read-only"),
    ("grad-shape", _sgd(grad=np.ones(5)), ValueError, r"`grad`.*\(4,\).*grad\.shape=\(5,\)"),
    ("grad-int", _rms(grad=np.ones(4, int)), TypeError, r"`grad`.*grad\.dtype=int64"),
    ("grad-is-param", (lambda impl: impl.sgd_update(_P[:4], _P[:4], None, 0.1)), ValueError,
     r"`grad`.*does not overlap"),
    ("buf-shape", _sgd(momentum_buf=np.zeros(5)), ValueError,
     r"`momentum_buf`.*momentum_buf\.shape=\(5,\)"),
    ("buf-dtype", _rms(velocity=np.zeros(4, np.float32)), ValueError,
     r"`velocity`.*velocity\.dtype=float32"),
    ("buf-strided", _adam(m=_P[::2]), ValueError, r"`m`.*non-contiguous"),
    ("buf-read-only", _adam(v=_RO), ValueError, r"`v`.*read-only"),
    ("buf-list", _adam(v=[0.0] * 4), TypeError, r"`v`.*list"),
    ("buf-is-param", (lambda impl: impl.rmsprop_update(_P[:4], np.ones(4), _P[:4], 0.1)),
     ValueError, r"`velocity`.*does not overlap"),
    ("m-none", _adam(m=None), TypeError, r"`m`.*NoneType"),
    ("velocity-none", _rms(velocity=None), TypeError, r"`velocity`.*NoneType"),
    ("lr-str", _sgd(learning_rate="0.1"), TypeError, r"`learning_rate`.*learning_rate='0\.1'"),
    ("lr-bool", _rms(learning_rate=True), TypeError, r"`learning_rate`.*learning_rate=True"),
    ("lr-none", _adam(learning_rate=None), TypeError, r"`learning_rate`.*learning_rate=None"),
    ("lr-nan", _sgd(learning_rate=float("nan")), ValueError, r"`learning_rate`.*nan"),
    ("momentum-big", _sgd(momentum=1.5), ValueError, r"`momentum`.*\[0, 1\].*momentum=1\.5"),
    ("momentum-neg", _rms(momentum=-0.1), ValueError, r"`momentum`.*momentum=-0\.1"),
    ("momentum-no-buf", _sgd(momentum_buf=None), ValueError,
     r"`momentum_buf`.*momentum_buf=None"),
    ("rms-momentum-no-buf", _rms(momentum=0.5), ValueError, r"`momentum_buf`.*momentum=0\.5"),
    ("nesterov-str", _sgd(nesterov="yes"), TypeError, r"`nesterov`.*nesterov='yes'"),
    ("rho-big", _rms(rho=1.5), ValueError, r"`rho`.*rho=1\.5"),
    ("eps-neg", _rms(epsilon=-1e-7), ValueError, r"`epsilon`.*epsilon=-1e-07"),
    ("beta1-one", _adam(beta_1=1.0), ValueError, r"`beta_1`.*\[0, 1\).*beta_1=1\.0"),
    ("beta2-neg", _adam(beta_2=-0.5), ValueError, r"`beta_2`.*beta_2=-0\.5"),
    ("beta1-str", _adam(beta_1="0.9"), TypeError, r"`beta_1`.*beta_1='0\.9'"),
    ("iteration-0", _adam(iteration=0), ValueError, r"`iteration`.*iteration=0"),
    ("iteration-float", _adam(iteration=1.0), TypeError, r"`iteration`.*iteration=1\.0"),
    ("iteration-bool", _adam(iteration=True), TypeError, r"`iteration`.*iteration=True"),
    ("vhat-shape", _adam(vhat=np.zeros(3)), ValueError, r"`vhat`.*vhat\.shape=\(3,\)"),
    ("avg-grad-dtype", _rms(average_grad=np.zeros(4, np.float32)), ValueError,
     r"`average_grad`.*average_grad\.dtype=float32"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "ref"])
def test_bad_arguments_and_nothing_changes(impl, case):
    _, call, exc, msg = case
    before = _P.copy()
    with pytest.raises(exc, match=msg):
        call(impl)
    assert bitwise_equal(_P, before)


# Keras' torch backend converts tensors with np.array(tensor), and torch's __array__ predates
# NumPy 2's `copy` keyword: NumPy warns about it on every conversion.
_TORCH_ARRAY_WARNING = ("ignore:__array__ implementation doesn't accept a copy keyword"
                        ":DeprecationWarning")


@pytest.mark.deep
@pytest.mark.keras
@pytest.mark.filterwarnings(_TORCH_ARRAY_WARNING)
@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_matches_keras_optimizers(variant, rng, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    keras = pytest.importorskip("keras")
    _, opt, hp, slots = variant
    kw = dict(hp)
    if opt == "rmsprop" and "a" in slots:
        kw["centered"] = True
    if opt == "adam" and "h" in slots:
        kw["amsgrad"] = True
    cls = {"sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
           "adam": keras.optimizers.Adam}[opt]
    k_opt = cls(**kw)
    p0 = rng.standard_normal((4, 5)).astype(np.float32)
    var = keras.Variable(p0)
    grads = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3)]
    for g in grads:
        k_opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    # Keras stores the learning rate as a float32 variable: feed the same rounded value
    hp32 = dict(hp, learning_rate=float(np.float32(hp["learning_rate"])))
    p, _ = _run(ops, opt, hp32, slots, p0, grads, np.float32)
    np.testing.assert_allclose(p, keras.ops.convert_to_numpy(var.value), rtol=1e-5, atol=1e-7)
