"""Optimizers against the Keras 3 update formulas written out in float64."""
import math
import warnings

import numpy as np
import pytest

from fastconv import optimizers as O
from fastconv.layers.base import Variable


def _vars(rng, dtype):
    return [Variable(rng.standard_normal(s).astype(dtype), f"w{i}", path=f"layer/w{i}")
            for i, s in enumerate([(3, 2), (4,)])]


def _run(opt, rng, dtype, steps=4):
    variables = _vars(rng, dtype)
    start = [v.numpy().astype(np.float64) for v in variables]
    grads = [[rng.standard_normal(v.shape).astype(dtype) for v in variables] for _ in range(steps)]
    for g in grads:
        opt.apply(g, variables)
    return start, grads, variables


def ref_sgd(p, gs, lr, mu, nesterov):
    m = np.zeros_like(p)
    for g in gs:
        if mu == 0:
            p = p - lr * g
            continue
        m = mu * m - lr * g
        p = p + (mu * m - lr * g if nesterov else m)
    return p


def ref_rmsprop(p, gs, lr, rho, mu, eps, centered):
    v = np.zeros_like(p)
    a = np.zeros_like(p)
    m = np.zeros_like(p)
    for g in gs:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            den = v - a * a + eps
        else:
            den = v + eps
        inc = lr * g / np.sqrt(den)
        if mu > 0:
            m = mu * m + inc
            p = p - m
        else:
            p = p - inc
    return p


def ref_adam(p, gs, lr, b1, b2, eps, amsgrad):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vh = np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        if amsgrad:
            vh = np.maximum(vh, v)
            p = p - alpha * m / (np.sqrt(vh) + eps)
        else:
            p = p - alpha * m / (np.sqrt(v) + eps)
    return p


CASES = [
    ("sgd", dict(learning_rate=0.1), lambda p, gs: ref_sgd(p, gs, 0.1, 0.0, False)),
    ("sgd-momentum", dict(learning_rate=0.1, momentum=0.9),
     lambda p, gs: ref_sgd(p, gs, 0.1, 0.9, False)),
    ("sgd-nesterov", dict(learning_rate=0.05, momentum=0.5, nesterov=True),
     lambda p, gs: ref_sgd(p, gs, 0.05, 0.5, True)),
    ("rmsprop", dict(learning_rate=0.01),
     lambda p, gs: ref_rmsprop(p, gs, 0.01, 0.9, 0, 1e-7, False)),
    ("rmsprop-centered-momentum", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True),
     lambda p, gs: ref_rmsprop(p, gs, 0.01, 0.8, 0.5, 1e-7, True)),
    ("adam", dict(learning_rate=0.01),
     lambda p, gs: ref_adam(p, gs, 0.01, 0.9, 0.999, 1e-7, False)),
    ("adam-amsgrad", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, amsgrad=True),
     lambda p, gs: ref_adam(p, gs, 0.01, 0.8, 0.99, 1e-7, True)),
]
_CLS = {"sgd": O.SGD, "rmsprop": O.RMSprop, "adam": O.Adam}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[c[0] for c in CASES])
def test_update_formulas(name, kwargs, ref, dtype, seed):
    rng = np.random.default_rng(seed)
    opt = _CLS[name.split("-")[0]](**kwargs)
    start, grads, variables = _run(opt, rng, dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    # the learning rate is a float32 variable, as in Keras
    lr32 = float(np.float32(kwargs["learning_rate"]))
    for i, v in enumerate(variables):
        gs = [g[i].astype(np.float64) for g in grads]
        kw = dict(kwargs, learning_rate=lr32)
        expect = ref(start[i], gs) if lr32 == kwargs["learning_rate"] else \
            _CASE_REF(name, kw)(start[i], gs)
        assert v.value.dtype == np.dtype(dtype)
        np.testing.assert_allclose(v.value, expect, **tol)
    assert int(opt.iterations.value) == 4


def _CASE_REF(name, kw):
    lr = kw["learning_rate"]
    if name.startswith("sgd"):
        return lambda p, gs: ref_sgd(p, gs, lr, kw.get("momentum", 0.0), kw.get("nesterov", False))
    if name.startswith("rmsprop"):
        return lambda p, gs: ref_rmsprop(p, gs, lr, kw.get("rho", 0.9), kw.get("momentum", 0.0),
                                         1e-7, kw.get("centered", False))
    return lambda p, gs: ref_adam(p, gs, lr, kw.get("beta_1", 0.9), kw.get("beta_2", 0.999),
                                  1e-7, kw.get("amsgrad", False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop_gradient_buffers_reused_or_replaced(dtype):
    """The training loop hands the same gradient arrays every step, refilled in place: each
    step uses the new values, as it does when an array is replaced (the step-6 gradient of w0
    is a new array, of w1 a non-contiguous view) or the optimizer's slots are rebuilt."""
    rng = np.random.default_rng(5)
    variables = _vars(rng, dtype)
    start = [v.numpy().astype(np.float64) for v in variables]
    bufs = [np.empty(v.shape, dtype) for v in variables]
    opt = O.RMSprop(learning_rate=0.01, rho=0.8)
    seen = [[], []]
    for step in range(9):
        grads = list(bufs)
        for b in bufs:
            b[...] = rng.standard_normal(b.shape)
        if step == 6:
            grads[0] = bufs[0].copy()
            grads[1] = np.repeat(bufs[1], 2)[::2]
        for i, g in enumerate(grads):
            seen[i].append(np.array(g, dtype=np.float64))
        opt.apply(grads, variables)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    lr32 = float(np.float32(0.01))      # the learning rate is a float32 variable, as in Keras
    for v, p0, gs in zip(variables, start, seen):
        want = ref_rmsprop(p0, gs, lr32, 0.8, 0.0, 1e-7, False)
        np.testing.assert_allclose(v.numpy(), want, rtol=tol, atol=tol)
    # a gradient of the wrong shape is refused after fast steps as on the first step
    bad_shape = (r"^Invalid shape for argument `grad`\. Expected \(3, 2\) \(the shape of param\)\. "
                 r"Received: grad\.shape=\(2, 3\)$")
    with pytest.raises(ValueError, match=bad_shape):
        opt.apply([bufs[0].reshape(2, 3), bufs[1]], variables)
    with pytest.raises(ValueError, match=bad_shape):
        O.RMSprop().apply([bufs[0].reshape(2, 3), bufs[1]], variables)
    bufs[0].shape = (2, 3)      # the same array object, reshaped in place
    with pytest.raises(ValueError, match=bad_shape):
        opt.apply(list(bufs), variables)
    bufs[0].shape = (3, 2)
    # slots replaced by a rebuild: the steps go on from the new (zero) velocity
    opt2 = O.RMSprop(learning_rate=0.01, rho=0.8)
    opt2.apply(list(bufs), variables)
    opt2.built = False
    opt2._slot_map.clear()
    opt2._slots.clear()
    opt2.build(variables)
    after = [v.numpy().astype(np.float64) for v in variables]
    opt2.apply(list(bufs), variables)
    for v, p0, g in zip(variables, after, bufs):
        want = ref_rmsprop(p0, [g.astype(np.float64)], lr32, 0.8, 0.0, 1e-7, False)
        np.testing.assert_allclose(v.numpy(), want, rtol=tol, atol=tol)


def test_variable_order_and_dtypes(seed):
    rng = np.random.default_rng(seed)
    adam = O.Adam(amsgrad=True)
    vs = _vars(rng, "float32")
    adam.build(vs)
    names = [v.name for v in adam.variables]
    assert names[:2] == ["iteration", "learning_rate"]
    assert [n.rsplit("_", 1)[-1] for n in names[2:6]] == ["momentum", "velocity"] * 2
    assert all(n.endswith("velocity_hat") for n in names[6:])
    assert adam.variables[0].value.dtype == np.int32 and adam.variables[0].shape == ()
    assert adam.variables[1].value.dtype == np.float32
    rms = O.RMSprop(momentum=0.5, centered=True)
    rms.build(vs)
    kinds = [v.name.split("_", 1)[1] for v in rms.variables[2:]]
    assert [v.name.split("_", 1)[0] for v in rms.variables[2:]] == ["w0", "w1"] * 3
    assert kinds == ["velocity", "velocity", "momentum", "momentum", "average_gradient",
                     "average_gradient"]
    sgd = O.SGD()
    sgd.build(vs)
    assert len(sgd.variables) == 2
    sgdm = O.SGD(momentum=0.9)
    sgdm.build(vs)
    assert len(sgdm.variables) == 4


def test_learning_rate_is_float32_and_settable():
    adam = O.Adam()
    assert float(adam.learning_rate.value) == 0.0010000000474974513
    assert adam.get_config()["learning_rate"] == 0.0010000000474974513
    adam.learning_rate = 0.5
    assert float(adam.learning_rate.value) == 0.5
    assert O.RMSprop().get_config()["rho"] == 0.9
    assert O.SGD().get_config()["learning_rate"] == 0.009999999776482582


def test_clipping_and_weight_decay():
    v = Variable(np.array([1.0, 1.0]), "w")
    O.SGD(learning_rate=1.0, clipvalue=0.5).apply([np.array([3.0, -0.25])], [v])
    np.testing.assert_allclose(v.value, [0.5, 1.25])
    v = Variable(np.array([0.0, 0.0]), "w")
    O.SGD(learning_rate=1.0, clipnorm=1.0).apply([np.array([3.0, 4.0])], [v])
    np.testing.assert_allclose(v.value, [-0.6, -0.8])
    v = Variable(np.array([2.0]), "w")
    O.SGD(learning_rate=0.5, weight_decay=0.1).apply([np.array([0.0])], [v])
    np.testing.assert_allclose(v.value, [2.0 - 2.0 * 0.1 * 0.5])


ERRORS = [
    (lambda: O.Adam(learning_rate=1), ValueError,
     "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
     "callable (that takes in the current iteration value and returns the corresponding learning "
     "rate value). Received instead: learning_rate=1"),
    (lambda: O.Adam(lr=0.0001), ValueError, "Argument(s) not recognized: {'lr': 0.0001}"),
    (lambda: O.SGD(momentum=1.5), ValueError, "`momentum` must be a float between [0, 1]."),
    (lambda: O.SGD(momentum=1), ValueError, "`momentum` must be a float between [0, 1]."),
    (lambda: O.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
    (lambda: O.get("adagrad"), ValueError, "Could not interpret optimizer identifier: adagrad"),
    (lambda: O.get(3), ValueError, "Could not interpret optimizer identifier: 3"),
    (lambda: O.RMSprop(rho="x"), ValueError, "`rho`"),
]


@pytest.mark.parametrize("make,exc,text", ERRORS, ids=[f"err{i}" for i in range(len(ERRORS))])
def test_errors(make, exc, text):
    with pytest.raises(exc) as info:
        make()
    assert text in str(info.value)


def test_decay_warns_and_get_names():
    with pytest.warns(UserWarning, match="^Argument `decay` is no longer supported and will be "
                                         "ignored.$"):
        O.Adam(decay=0.1)
    assert type(O.get("rmsprop")) is O.RMSprop
    assert type(O.get("Adam")) is O.Adam
    assert type(O.get("SGD")) is O.SGD
    opt = O.Adam(learning_rate=0.01, beta_1=0.8)
    copy = O.deserialize(O.serialize(opt))
    assert copy.get_config()["beta_1"] == 0.8
    assert copy.get_config()["learning_rate"] == opt.get_config()["learning_rate"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        O.SGD(learning_rate=0.1)
