"""Layers against independent float64 NumPy references: outputs, gradients, shapes, configs."""
import json
import math

import numpy as np
import pytest

import fastconv
from fastconv import layers as L


# ---------------------------------------------------------------- naive references (float64)
def ref_conv1d(x, w, b, stride, padding, dilation, groups, act):
    B, T, C = x.shape
    K, Cg, F = w.shape
    keff = dilation * (K - 1) + 1
    if padding == "valid":
        lo = hi = 0
        S = (T - keff) // stride + 1
    elif padding == "causal":
        lo, hi = dilation * (K - 1), 0
        S = (T - 1) // stride + 1
    else:
        S = (T - 1) // stride + 1
        total = max((S - 1) * stride + keff - T, 0)
        lo, hi = total // 2, total - total // 2
    xp = np.zeros((B, T + lo + hi, C))
    xp[:, lo:lo + T] = x
    Fg = F // groups
    y = np.zeros((B, S, F))
    for b_ in range(B):
        for s in range(S):
            for f in range(F):
                g = f // Fg
                acc = 0.0 if b is None else b[f]
                for j in range(K):
                    for c in range(Cg):
                        acc += xp[b_, s * stride + j * dilation, g * Cg + c] * w[j, c, f]
                y[b_, s, f] = acc
    return _ref_act(y, act)


def _ref_act(y, act):
    if act in (None, "linear"):
        return y
    if act == "relu":
        return np.maximum(y, 0)
    if act == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if act == "tanh":
        return np.tanh(y)
    if act == "softmax":
        e = np.exp(y - y.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    if act == "elu":
        return np.where(y > 0, y, np.expm1(y))
    raise AssertionError(act)


def ref_pool(x, P, stride, padding, kind):
    B, T, C = x.shape
    if padding == "valid":
        S = (T - P) // stride + 1
        lo = 0
    else:
        S = (T - 1) // stride + 1
        total = max((S - 1) * stride + P - T, 0)
        lo = total // 2
    y = np.zeros((B, S, C))
    for s in range(S):
        start = s * stride - lo
        idx = [i for i in range(start, start + P) if 0 <= i < T]
        win = x[:, idx, :]
        y[:, s, :] = win.max(axis=1) if kind == "max" else win.mean(axis=1)
    return y


# ---------------------------------------------------------------- helpers
def _rng(seed, salt):
    return np.random.default_rng(seed * 1000 + salt)


def _numeric_grad(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        fp = f()
        arr[i] = old - eps
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def _check_grads(layer, x, rng, check_dx=True):
    """Finite differences on <layer(x), g> in float64 for dx and every trainable weight."""
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g, need_dx=check_dx)
    dx = None if dx is None else np.array(dx, copy=True)
    grads = [np.array(gr, copy=True) for gr in layer.gradients]

    def objective():
        return float((layer.forward(x, training=False) * g).sum())

    if check_dx:
        num = _numeric_grad(objective, x)
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-7)
    for var, ana in zip(layer.trainable_weights, grads):
        num = _numeric_grad(objective, var.value)
        np.testing.assert_allclose(ana, num, rtol=1e-6, atol=1e-7, err_msg=var.path)


# ---------------------------------------------------------------- Conv1D
CONV_CASES = [
    # (T, C, F, K, stride, padding, dilation, groups, act, bias)
    (9, 1, 3, 3, 1, "valid", 1, 1, "relu", True),
    (10, 2, 4, 4, 3, "same", 1, 1, "linear", True),
    (8, 4, 4, 3, 1, "causal", 2, 2, "tanh", False),
    (7, 3, 2, 2, 2, "valid", 1, 1, "sigmoid", True),
    (6, 2, 2, 3, 1, "same", 2, 2, "elu", True),
    (5, 2, 6, 5, 1, "same", 1, 2, "softmax", True),
]


def _case_id(c):
    return f"T{c[0]}-C{c[1]}-F{c[2]}-K{c[3]}-s{c[4]}-{c[5]}-d{c[6]}-g{c[7]}-{c[8]}"


@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv1d_forward_matches_naive_loops(case, seed):
    T, C, F, K, s, pad, d, g, act, bias = case
    rng = _rng(seed, 1)
    layer = L.Conv1D(F, K, strides=s, padding=pad, dilation_rate=d, groups=g, activation=act,
                     use_bias=bias, dtype="float64")
    x = rng.standard_normal((2, T, C))
    layer.build(x.shape)
    if bias:
        layer.bias.assign(rng.standard_normal(F))
    y = layer(x)
    ref = ref_conv1d(x, layer.kernel.value, layer.bias.value if bias else None, s, pad, d, g, act)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
    # float32 layer on the same weights: within float32 accuracy of the float64 reference.
    l32 = L.Conv1D(F, K, strides=s, padding=pad, dilation_rate=d, groups=g, activation=act,
                   use_bias=bias)
    l32.build(x.shape)
    l32.set_weights([w.astype(np.float32) for w in layer.get_weights()])
    y32 = l32(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, ref, rtol=1e-5, atol=1e-5 * math.sqrt(K * C))


@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv1d_gradients_finite_differences(case, seed):
    T, C, F, K, s, pad, d, g, act, bias = case
    rng = _rng(seed, 2)
    layer = L.Conv1D(F, K, strides=s, padding=pad, dilation_rate=d, groups=g, activation=act,
                     use_bias=bias, dtype="float64")
    x = rng.standard_normal((2, T, C))
    layer.build(x.shape)
    if bias:
        layer.bias.assign(rng.standard_normal(F) * 0.1)
    _check_grads(layer, x, rng)


def test_conv1d_channels_first_equals_channels_last(seed):
    rng = _rng(seed, 3)
    x = rng.standard_normal((2, 9, 3))
    a = L.Conv1D(4, 3, padding="same", dtype="float64")
    b = L.Conv1D(4, 3, padding="same", data_format="channels_first", dtype="float64")
    a.build(x.shape)
    b.build((2, 3, 9))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x), np.swapaxes(b(np.swapaxes(x, 1, 2)), 1, 2))
    _check_grads(b, np.ascontiguousarray(np.swapaxes(x, 1, 2)), rng)


def test_conv1d_weights_shapes_order_and_glorot_limits():
    layer = L.Conv1D(16, 5)
    layer.build((None, 50, 1))
    assert layer.built
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert [w.shape for w in layer.weights] == [(5, 1, 16), (16,)]
    assert np.abs(layer.kernel.value).max() <= math.sqrt(6 / 85)
    assert np.abs(layer.kernel.value).max() > 0.5 * math.sqrt(6 / 85)
    assert not layer.bias.value.any()
    nb = L.Conv1D(32, 7, use_bias=False, groups=2)
    nb.build((None, 100, 128))
    assert [w.shape for w in nb.weights] == [(7, 64, 32)]
    big = L.Conv1D(32, 7)
    big.build((None, 100, 128))
    assert np.abs(big.kernel.value).max() <= math.sqrt(6 / 1120)


def test_compute_output_shape_matches_real_output(seed):
    rng = _rng(seed, 4)
    n = 0
    for T in (5, 8, 13):
        for K in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    if s > 1 and d > 1:
                        continue
                    for pad in ("valid", "same", "causal"):
                        if pad == "valid" and d * (K - 1) + 1 > T:
                            continue
                        layer = L.Conv1D(2, K, strides=s, dilation_rate=d, padding=pad)
                        x = rng.standard_normal((3, T, 2)).astype(np.float32)
                        expect = (None,) + layer(x).shape[1:]
                        assert layer.compute_output_shape((None, T, 2)) == expect
                        n += 1
    for T in (4, 7, 12):
        for P in (1, 2, 3, 4):
            for s in (None, 1, 2, 3):
                for pad in ("valid", "same"):
                    if pad == "valid" and P > T:
                        continue
                    for cls in (L.MaxPooling1D, L.AveragePooling1D):
                        layer = cls(P, strides=s, padding=pad)
                        x = rng.standard_normal((2, T, 3)).astype(np.float32)
                        expect = (None,) + layer(x).shape[1:]
                        assert layer.compute_output_shape((None, T, 3)) == expect
                        n += 1
    assert n >= 100
    assert L.MaxPooling1D(5).compute_output_shape((None, 94, 32)) == (None, 18, 32)
    assert L.MaxPooling1D(4).compute_output_shape((None, 46, 16)) == (None, 11, 16)
    same = L.Conv1D(4, 4, strides=3, padding="same")
    assert same.compute_output_shape((None, 10, 1)) == (None, 4, 4)


# ---------------------------------------------------------------- pooling
POOL_CASES = [(7, 2, None, "valid"), (10, 3, 2, "same"), (9, 4, 1, "same"), (8, 2, 3, "valid"),
              (5, 5, None, "same")]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"T{c[0]}-P{c[1]}-s{c[2]}-{c[3]}")
def test_pooling_forward_and_gradients(kind, case, seed):
    T, P, s, pad = case
    rng = _rng(seed, 5)
    cls = L.MaxPooling1D if kind == "max" else L.AveragePooling1D
    layer = cls(P, strides=s, padding=pad, dtype="float64")
    # distinct values spaced apart so max-pool gradients are well defined
    x = rng.permutation(2 * T * 3).reshape(2, T, 3) * 0.01 + rng.standard_normal((2, T, 3)) * 1e-4
    y = layer(x)
    np.testing.assert_allclose(y, ref_pool(x, P, P if s is None else s, pad, kind), rtol=1e-12)
    assert layer.weights == [] and layer.built
    _check_grads(layer, x, rng)


@pytest.mark.parametrize("cls,fn", [(L.GlobalMaxPooling1D, np.max),
                                    (L.GlobalAveragePooling1D, np.mean)])
def test_global_pooling(cls, fn, seed):
    rng = _rng(seed, 6)
    x = rng.permutation(2 * 5 * 3).reshape(2, 5, 3).astype(np.float64)
    layer = cls(dtype="float64")
    np.testing.assert_allclose(layer(x), fn(x, axis=1), rtol=1e-12)
    keep = cls(keepdims=True, dtype="float64")
    assert keep(x).shape == (2, 1, 3) == keep.compute_output_shape((2, 5, 3))
    _check_grads(layer, x, rng)
    _check_grads(keep, x.copy(), rng)
    cf = cls(data_format="channels_first", dtype="float64")
    np.testing.assert_allclose(cf(np.swapaxes(x, 1, 2)), fn(x, axis=1), rtol=1e-12)


def test_pooling_aliases_and_defaults():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalMaxPool1D is L.GlobalMaxPooling1D
    assert L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    assert L.Convolution1D is L.Conv1D
    m = L.MaxPooling1D()
    assert m.pool_size == (2,) and m.strides == (2,)
    with pytest.raises(TypeError):
        L.AveragePooling1D()  # pool_size is required


# ---------------------------------------------------------------- Dense, Embedding, others
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)])
@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_forward_and_gradients(shape, act, seed):
    rng = _rng(seed, 7)
    layer = L.Dense(3, activation=act, dtype="float64")
    x = rng.standard_normal(shape)
    layer.build(x.shape)
    layer.bias.assign(rng.standard_normal(3))
    ref = _ref_act(x @ layer.kernel.value + layer.bias.value, act)
    np.testing.assert_allclose(layer(x), ref, rtol=1e-12, atol=1e-12)
    assert [w.shape for w in layer.weights] == [(5, 3), (3,)]
    _check_grads(layer, x, rng)


def test_embedding_lookup_gradient_and_init(seed):
    rng = _rng(seed, 8)
    layer = L.Embedding(7, 3, dtype="float64")
    ids = np.array([[0, 3, 3], [6, 1, 3]])
    y = layer(ids)
    np.testing.assert_array_equal(y, layer.embeddings.value[ids])
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)
    lim = L.Embedding(1000, 8)
    lim.build()
    v = lim.embeddings.value
    assert v.dtype == np.float32 and v.min() >= -0.05 and v.max() <= 0.05 and v.std() > 0.02
    g = rng.standard_normal((2, 3, 3))
    layer.forward(ids, training=True)
    layer.backward(g)
    expect = np.zeros((7, 3))
    np.add.at(expect, ids.ravel(), g.reshape(-1, 3))
    np.testing.assert_allclose(layer.gradients[0], expect, rtol=1e-12)
    # float ids truncate to int32 as Keras casts them
    np.testing.assert_array_equal(layer(np.array([[1.7, 2.2]])), layer.embeddings.value[[[1, 2]]])
    with pytest.raises(ValueError, match="7"):
        layer(np.array([[7]]))


def test_embedding_weights_argument_builds():
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    layer = L.Embedding(3, 2, weights=[table])
    assert layer.built
    np.testing.assert_array_equal(layer.get_weights()[0], table)


def test_flatten_dropout_activation(seed):
    rng = _rng(seed, 9)
    x = rng.standard_normal((2, 4, 3))
    f = L.Flatten(dtype="float64")
    np.testing.assert_array_equal(f(x), x.reshape(2, 12))
    assert f.compute_output_shape((None, 11, 16)) == (None, 176)
    fcf = L.Flatten(data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(fcf(x), np.swapaxes(x, 1, 2).reshape(2, 12))
    _check_grads(fcf, x.copy(), rng)
    d = L.Dropout(0.25, dtype="float64")
    np.testing.assert_array_equal(d(x), x)  # inference: identity
    big = np.ones((400, 500))
    np.random.seed(seed)
    out = d.forward(big, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    np.testing.assert_array_equal(d.backward(np.ones_like(big)), out)
    assert not L.Dropout(1.0).forward(np.ones((3, 3), np.float32), training=True).any()
    a = L.Activation("relu", dtype="float64")
    np.testing.assert_array_equal(a(x), np.maximum(x, 0))
    for name in ("sigmoid", "tanh", "softmax", "elu", "gelu", "selu", "softplus", "silu", "mish"):
        _check_grads(L.Activation(name, dtype="float64"), x.copy() + 0.01, rng)


# ---------------------------------------------------------------- config round trips
def _all_layers():
    return [L.Conv1D(4, 3, strides=2, padding="same", activation="tanh", use_bias=False),
            L.Conv1D(6, 2, groups=3, dilation_rate=2, padding="causal"),
            L.MaxPooling1D(3, strides=1, padding="same"), L.AveragePooling1D(2),
            L.GlobalMaxPooling1D(keepdims=True), L.GlobalAveragePooling1D(),
            L.Dense(3, activation="relu"), L.Flatten(), L.Dropout(0.3, seed=1),
            L.Activation("softmax"), L.Embedding(10, 4, mask_zero=True)]


@pytest.mark.parametrize("layer", _all_layers(), ids=lambda la: type(la).__name__)
def test_config_round_trip(layer, seed):
    config = layer.get_config()
    copy = type(layer).from_config(config)
    assert json.dumps(copy.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    rng = _rng(seed, 10)
    if isinstance(layer, L.Embedding):
        x = rng.integers(0, 10, size=(2, 5))
    elif isinstance(layer, L.Dense):
        x = rng.standard_normal((2, 5)).astype(np.float32)
    else:
        x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    y = layer(x)
    copy.build(x.shape) if not copy.built else None
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(copy(x), y)
    assert L.deserialize(L.serialize(layer)).get_config() == config


def test_conv1d_config_matches_keras_layout():
    c = L.Conv1D(16, 5, activation="relu", name="c").get_config()
    assert list(c) == ["name", "trainable", "dtype", "filters", "kernel_size", "strides",
                       "padding", "data_format", "dilation_rate", "groups", "activation",
                       "use_bias", "kernel_initializer", "bias_initializer",
                       "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                       "kernel_constraint", "bias_constraint"]
    assert c["kernel_size"] == (5,) and c["activation"] == "relu"
    assert c["kernel_initializer"] == {
        "module": "keras.initializers", "class_name": "GlorotUniform",
        "config": {"seed": None, "input_axes": None, "output_axes": None},
        "registered_name": None}
    assert c["dtype"]["config"] == {"name": "float32"}


# ---------------------------------------------------------------- construction errors
def _err(exc, text):
    return exc, text


CONSTRUCTOR_ERRORS = [
    (lambda: L.Conv1D(0, 3), ValueError,
     "Invalid value for argument `filters`. Expected a strictly positive value. "
     "Received filters=0."),
    (lambda: L.Conv1D(16, 0), ValueError,
     "The `kernel_size` argument must be a tuple of 1 integers. Received kernel_size=0, including "
     "values {0} that do not satisfy `value > 0`"),
    (lambda: L.Conv1D(16, 3, strides=0), ValueError,
     "The `strides` argument must be a tuple of 1 integers. Received strides=0, including values "
     "{0} that do not satisfy `value > 0`"),
    (lambda: L.Conv1D(16, 3, dilation_rate=-1), ValueError,
     "The `dilation_rate` argument must be a tuple of 1 integers. Received dilation_rate=-1, "
     "including values {-1} that do not satisfy `value > 0`"),
    (lambda: L.Conv1D(16, 3, groups=0), ValueError,
     "The number of groups must be a positive integer. Received: groups=0."),
    (lambda: L.Conv1D(16, 3, groups=3), ValueError,
     "The number of filters must be evenly divisible by the number of groups. Received: groups=3, "
     "filters=16."),
    (lambda: L.Conv1D(16, 3, strides=2, dilation_rate=2), ValueError,
     "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
     "strides=(2,) and dilation_rate=(2,)"),
    (lambda: L.Conv1D(16, (3, 3)), ValueError,
     "The `kernel_size` argument must be a tuple of 1 integers. Received kernel_size=(3, 3)"),
    (lambda: L.Conv1D(16, 3.7), ValueError,
     "The `kernel_size` argument must be a tuple of 1 integers. Received kernel_size=3.7"),
    (lambda: L.Conv1D(16, True), ValueError,
     "The `kernel_size` argument must be a tuple of 1 integers. Received kernel_size=True"),
    (lambda: L.Conv1D(16, "3"), ValueError,
     "The `kernel_size` argument must be a tuple of 1 integers. Received kernel_size=3"),
    (lambda: L.Conv1D(None, 3), TypeError, "Invalid type for argument `filters`"),
    (lambda: L.Conv1D("16", 3), TypeError, "Received: filters='16'"),
    (lambda: L.Conv1D(16, 3, activation="nope"), ValueError,
     "Could not interpret activation function identifier: nope"),
    (lambda: L.Conv1D(16, 3, batch_input_shape=(None, 50, 1)), ValueError,
     "Unrecognized keyword arguments passed to Conv1D: {'batch_input_shape': (None, 50, 1)}"),
    (lambda: L.Conv1D(16, 3, trainable="yes"), ValueError,
     "Expected `trainable` to be a boolean. Received: trainable=yes (of type <class 'str'>)"),
    (lambda: L.MaxPooling1D(0), ValueError,
     "The `pool_size` argument must be a tuple of 1 integers. Received pool_size=0"),
    (lambda: L.MaxPooling1D(2, strides=-1), ValueError,
     "The `strides` argument must be a tuple of 1 integers. Received strides=-1, including "
     "values {-1} that do not satisfy `value >= 0`"),
    (lambda: L.Embedding(0, 3), ValueError,
     "`input_dim` must be a positive integer. Received: input_dim=0 (of type int)."),
    (lambda: L.Embedding(True, 3), ValueError, "Received: input_dim=True (of type bool)."),
    (lambda: L.Embedding(10, 2.0), ValueError, "Received: output_dim=2.0 (of type float)."),
    (lambda: L.Embedding(np.int64(10), 2), ValueError, "(of type int64)."),
    (lambda: L.Embedding(None, 2), ValueError, "Received: input_dim=None (of type NoneType)."),
    (lambda: L.Dense(0), ValueError,
     "Received an invalid value for `units`, expected a positive integer. Received: units=0"),
    (lambda: L.Dense(2.5), ValueError, "Received: units=2.5"),
    (lambda: L.Dropout(1.5), ValueError,
     "Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
     "Received: rate=1.5"),
    (lambda: L.Dropout(-0.1), ValueError, "Received: rate=-0.1"),
    (lambda: L.Activation("bogus"), ValueError,
     "Could not interpret activation function identifier: bogus"),
    (lambda: L.Dense(2, dtype="float16"), ValueError, "Invalid value for argument `dtype`"),
    (lambda: L.Dense(2, data_format="channels_last"), ValueError,
     "Unrecognized keyword arguments passed to Dense: {'data_format': 'channels_last'}"),
    (lambda: L.Dense(True), ValueError, "Received: units=True"),
    (lambda: L.Dense(None), ValueError, "Received: units=None"),
    (lambda: L.Dense(3, kernel_initializer="x"), ValueError,
     "Could not interpret initializer identifier: x"),
    (lambda: L.Dense(3, kernel_regularizer="l2"), ValueError, "`kernel_regularizer`"),
    (lambda: L.Dense(3, dtype="int32"), ValueError, "Received: dtype='int32'"),
    (lambda: L.MaxPooling1D(True), ValueError,
     "The `pool_size` argument must be a tuple of 1 integers. Received pool_size=True"),
    (lambda: L.MaxPooling1D(2.5), ValueError, "Received pool_size=2.5"),
    (lambda: L.MaxPooling1D("2"), ValueError, "including element 2 of type <class 'str'>"),
    (lambda: L.MaxPooling1D((2, 2)), ValueError, "Received pool_size=(2, 2)"),
    (lambda: L.MaxPooling1D(2, data_format="nchw"), ValueError,
     "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
     "Received: data_format=nchw"),
    (lambda: L.MaxPooling1D(2, foo=1), ValueError,
     "Unrecognized keyword arguments passed to MaxPooling1D: {'foo': 1}"),
    (lambda: L.MaxPooling1D(2, name=3), TypeError, "Received: name=3"),
    (lambda: L.AveragePooling1D(None), ValueError, "Received pool_size=None"),
    (lambda: L.GlobalMaxPooling1D(data_format="x"), ValueError, "Received: data_format=x"),
    (lambda: L.GlobalAveragePooling1D(foo=1), ValueError,
     "Unrecognized keyword arguments passed to GlobalAveragePooling1D: {'foo': 1}"),
    (lambda: L.Flatten(data_format="x"), ValueError, "Received: data_format=x"),
    (lambda: L.Dropout("0.5"), ValueError, "Received: rate=0.5"),
    (lambda: L.Dropout(None), ValueError, "Received: rate=None"),
    (lambda: L.Dropout(True), ValueError, "Received: rate=True"),
    (lambda: L.Dropout(0.5, foo=2), ValueError,
     "Unrecognized keyword arguments passed to Dropout: {'foo': 2}"),
    (lambda: L.Embedding(3, 2, foo=1), ValueError,
     "Unrecognized keyword arguments passed to Embedding: {'foo': 1}"),
    (lambda: L.Embedding(3, 2, embeddings_initializer="zzz"), ValueError,
     "Could not interpret initializer identifier: zzz"),
    (lambda: L.Embedding(3, 0), ValueError,
     "`output_dim` must be a positive integer. Received: output_dim=0 (of type int)."),
    (lambda: L.Activation(3), ValueError, "Could not interpret activation function identifier: 3"),
    (lambda: L.Conv1D(2, 3, padding=None), ValueError, "Received: padding=None"),
    (lambda: L.Conv1D(2, 3, data_format="x"), ValueError, "Received: data_format=x"),
    (lambda: L.Conv1D(2, 3, kernel_initializer="bad"), ValueError,
     "Could not interpret initializer identifier: bad"),
]


@pytest.mark.parametrize("make,exc,text", CONSTRUCTOR_ERRORS,
                         ids=[f"err{i}" for i in range(len(CONSTRUCTOR_ERRORS))])
def test_constructor_errors(make, exc, text):
    with pytest.raises(exc) as info:
        make()
    assert text in str(info.value)


def test_padding_errors():
    with pytest.raises(ValueError, match=r"^The `padding` argument must be a list/tuple or one of "
                                         r"\{.*\}\. Received: full$"):
        L.Conv1D(16, 3, padding="full")
    assert L.Conv1D(16, 3, padding="SAME").padding == "same"
    pool = L.MaxPooling1D(2, padding="SAME")  # not lower-cased: fails when built
    with pytest.raises(ValueError, match="^Argument `padding` must be either 'valid' or 'same'. "
                                         "Received: padding=SAME$"):
        pool(np.zeros((1, 4, 1), np.float32))


def test_build_time_errors():
    with pytest.raises(ValueError) as info:
        L.Conv1D(16, 5).build((None, 4, 1))
    assert str(info.value) == (
        "Computed output size would be zero or negative. Received `inputs shape=(None, 4, 1)`, "
        "`kernel shape=(5, 1, 16)`, `dilation_rate=[1]`, `strides=(1,)`, `padding=valid`.")
    with pytest.raises(ValueError) as info:
        L.Conv1D(4, 3, groups=2).build((None, 50, 3))
    assert str(info.value) == (
        "The number of input channels must be evenly divisible by the number of groups. Received "
        "groups=2, but the input has 3 channels (full input shape is (None, 50, 3)).")
    with pytest.raises(ValueError) as info:
        L.MaxPooling1D(5).compute_output_shape((None, 4, 16))
    assert str(info.value) == (
        "Computed output size would be zero or negative. Received: `inputs.shape=[None 4 16]`, "
        "`pool_size=[5]`, `strides=(5,)`, `padding=valid`.")
    conv = L.Conv1D(4, 3, name="c1")
    with pytest.raises(ValueError, match=r"^Input 0 with name 'None' of layer 'c1' is incompatible "
                                         r"with the layer: expected min_ndim=3, found ndim=2. "
                                         r"Full shape received: \(32, 50\)$"):
        conv(np.zeros((32, 50), np.float32))
    conv(np.zeros((2, 50, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 1, but "
                                         r"received input with shape \(32, 50, 2\)$"):
        conv(np.zeros((32, 50, 2), np.float32))


# ---------------------------------------------------------------- naming and warnings
def test_auto_names_are_process_unique():
    a, b = L.GlobalAveragePooling1D(), L.GlobalAveragePooling1D()
    assert a.name.startswith("global_average_pooling1d")
    assert a.name != b.name
    base = "max_pooling1d"
    names = [L.MaxPooling1D().name for _ in range(3)]
    nums = [0 if n == base else int(n.rsplit("_", 1)[1]) for n in names]
    assert nums[1] == nums[0] + 1 and nums[2] == nums[0] + 2
    assert L.Dense(1, name="out").name == "out"
    from fastconv.layers.base import to_snake_case
    assert to_snake_case("Conv1D") == "conv1d"
    assert to_snake_case("GlobalMaxPooling1D") == "global_max_pooling1d"
    assert to_snake_case("Sequential") == "sequential"


def test_input_shape_and_input_length_warnings():
    with pytest.warns(UserWarning, match=r"^Do not pass an `input_shape`/`input_dim` argument to a "
                                         r"layer. When using Sequential models, prefer using an "
                                         r"`Input\(shape\)` object as the first layer in the model "
                                         r"instead.$"):
        layer = L.Conv1D(16, 5, input_shape=(50, 1))
    assert layer._input_shape_arg == (50, 1) and not layer.built
    with pytest.warns(UserWarning,
                      match="^Argument `input_length` is deprecated. Just remove it.$"):
        emb = L.Embedding(100, 8, input_length=10)
    assert not emb.built
    with pytest.warns(UserWarning):
        dense = L.Dense(2, input_dim=7)
    assert dense._input_shape_arg == (7,)


def test_set_weights_errors_and_atomicity():
    layer = L.Conv1D(16, 5)
    layer.build((None, 50, 1))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"^You called `set_weights\(weights\)` on layer 'conv1d"):
        layer.set_weights(before[:1])
    with pytest.raises(ValueError, match=r"weight shape \(5, 1, 16\) is not compatible with "
                                         r"provided weight shape \(5, 1, 8\)\.$"):
        layer.set_weights([np.zeros((5, 1, 8)), np.zeros(16)])
    with pytest.raises(ValueError):
        layer.set_weights([np.ones((5, 1, 16)), np.zeros(3)])
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_float64_layers_keep_float64(seed):
    rng = _rng(seed, 11)
    x = rng.standard_normal((2, 8, 2)).astype(np.float32)
    for layer in (L.Conv1D(3, 2, dtype="float64"), L.MaxPooling1D(dtype="float64"),
                  L.Flatten(dtype="float64")):
        assert layer(x).dtype == np.float64
    assert L.Conv1D(3, 2)(x.astype(np.float64)).dtype == np.float32


def test_initializers_fans_and_seeding():
    from fastconv import initializers as I
    assert I.compute_fans((5, 1, 16)) == (5, 80)
    assert I.compute_fans((176, 1)) == (176, 1)
    assert I.compute_fans((7,)) == (7, 7)
    fastconv.utils.set_random_seed(5)
    a = L.Dense(4)
    a.build((None, 3))
    fastconv.utils.set_random_seed(5)
    b = L.Dense(4)
    b.build((None, 3))
    np.testing.assert_array_equal(a.kernel.value, b.kernel.value)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: nope"):
        I.get("nope")
    with pytest.raises(ValueError, match="seed"):
        fastconv.utils.set_random_seed(1.5)


def test_custom_layer_with_call_only():
    class Double(L.Layer):
        def call(self, inputs, training=False):
            return inputs * 2

    m = fastconv.Sequential([fastconv.Input((3,)), Double(), L.Dense(1)])
    x = np.ones((2, 3), np.float32)
    kernel, bias = m.layers[1].get_weights()
    np.testing.assert_allclose(m.predict(x, verbose=0), (2 * x) @ kernel + bias, rtol=1e-6)
    m.compile("sgd", "mse")
    m.train_on_batch(x, np.zeros((2, 1)))  # Double is first: no gradient needed through it
    bad = fastconv.Sequential([fastconv.Input((3,)), L.Dense(2), Double()])
    bad.compile("sgd", "mse")
    with pytest.raises(NotImplementedError, match="cannot be trained by fastconv"):
        bad.train_on_batch(x, np.zeros((2, 2)))
    with pytest.raises(NotImplementedError, match="does not implement `call\\(\\)`"):
        L.Layer()(x)


def test_functional_calls_are_refused_clearly():
    inp = fastconv.Input((10, 1))
    with pytest.raises(TypeError, match="functional API"):
        L.Conv1D(2, 3)(inp)
    with pytest.raises(TypeError, match="functional API"):
        fastconv.Sequential([L.Dense(1)])(inp)


def test_compute_output_shape_other_layers(seed):
    rng = _rng(seed, 12)
    checked = 0
    for _ in range(50):
        B, T, C = (int(v) for v in rng.integers(1, 6, size=3))
        units = int(rng.integers(1, 5))
        x3 = rng.standard_normal((B, T, C)).astype(np.float32)
        for layer, x in ((L.Dense(units), x3), (L.Dense(units), x3[:, 0]), (L.Flatten(), x3),
                         (L.GlobalMaxPooling1D(), x3),
                         (L.GlobalAveragePooling1D(keepdims=True), x3),
                         (L.Dropout(0.5), x3), (L.Activation("softmax"), x3),
                         (L.Embedding(7, units), rng.integers(0, 7, size=(B, T)))):
            assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + layer(x).shape[1:]
            checked += 1
    assert checked == 400
