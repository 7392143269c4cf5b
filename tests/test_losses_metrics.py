"""Losses (values, clipping, gradients, reduction) and metrics (accuracy resolution)."""
import numpy as np
import pytest

from fastconv import losses as Ls
from fastconv import metrics as M

EPS = 1e-7


def _fd_grad(loss, y, p, sw=None, eps=1e-6):
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + eps
        fp = float(loss(y, p, sw))
        p[i] = old - eps
        fm = float(loss(y, p, sw))
        p[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def test_bce_values_clipping_and_gradients(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(6, 1)).astype(np.float64)
    p = rng.uniform(0.05, 0.95, size=(6, 1))
    loss = Ls.BinaryCrossentropy()
    expect = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(loss(y, p)) == pytest.approx(expect, rel=1e-12)
    value, grad = loss.value_and_grad(y, p)
    assert value == pytest.approx(expect, rel=1e-12)
    np.testing.assert_allclose(grad, _fd_grad(loss, y, p.copy()), rtol=1e-6, atol=1e-9)
    # clipped predictions: value uses eps, gradient is zero where clipped
    pc = np.array([[0.0], [1.0], [0.5]])
    yc = np.array([[1.0], [0.0], [1.0]])
    v, g = loss.value_and_grad(yc, pc)
    assert v == pytest.approx(-(2 * np.log(EPS) + np.log(0.5)) / 3, rel=1e-9)
    assert g[0, 0] == 0 and g[1, 0] == 0 and g[2, 0] == pytest.approx(-2 / 3)
    # y of shape (N,) against output (N, 1) is expanded, not broadcast to (N, N)
    assert float(loss(y[:, 0], p)) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [Ls.BinaryCrossentropy, Ls.CategoricalCrossentropy,
                                  Ls.MeanSquaredError,
                                  lambda: Ls.BinaryCrossentropy(from_logits=True)],
                         ids=["bce", "cce", "mse", "bce-logits"])
@pytest.mark.parametrize("width", [1, 3])
def test_value_and_grad_without_weights_equals_weights_of_one(seed, dtype, make, width):
    # the training step's unweighted path skips building the weights; it must give the same
    # bits as the general path with every weight 1 (clipped and NaN predictions included)
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, size=(33, width)).astype(dtype)
    p[0, 0], p[1, 0], p[2, 0] = 0.0, 1.0, np.nan
    y = rng.integers(0, 2, size=(33, width)).astype(dtype)
    loss = make()
    with np.errstate(invalid="ignore"):
        v0, g0 = loss.value_and_grad(y, p)
        v1, g1 = loss.value_and_grad(y, p, sample_weight=np.ones(33, dtype))
    assert np.array_equal(v0, v1, equal_nan=True)
    assert g0.dtype == g1.dtype == dtype and g0.shape == g1.shape == p.shape
    assert g0.tobytes() == g1.tobytes()


def test_value_and_grad_uses_an_overridden_reduce():
    class Halved(Ls.MeanSquaredError):
        def reduce(self, values, sample_weight=None):
            loss, w = super().reduce(values, sample_weight)
            return loss / 2, w / 2

    y, p = np.zeros((4, 1), np.float32), np.ones((4, 1), np.float32)
    value, grad = Halved().value_and_grad(y, p)
    assert value == float(Halved()(y, p)) == 0.5
    np.testing.assert_array_equal(grad, np.full((4, 1), 0.25, np.float32))


def test_bce_from_logits_and_label_smoothing(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(5, 2)).astype(np.float64)
    z = rng.standard_normal((5, 2)) * 3
    loss = Ls.BinaryCrossentropy(from_logits=True)
    s = 1 / (1 + np.exp(-z))
    expect = np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)))
    assert float(loss(y, z)) == pytest.approx(expect, rel=1e-10)
    np.testing.assert_allclose(loss.value_and_grad(y, z)[1], _fd_grad(loss, y, z.copy()),
                               rtol=1e-6, atol=1e-9)
    smooth = Ls.BinaryCrossentropy(label_smoothing=0.2)
    p = rng.uniform(0.1, 0.9, size=(5, 2))
    ys = y * 0.8 + 0.1
    assert float(smooth(y, p)) == pytest.approx(
        np.mean(-(ys * np.log(p) + (1 - ys) * np.log(1 - p))), rel=1e-10)


def test_categorical_and_sparse(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 1.0, size=(4, 3))
    labels = rng.integers(0, 3, size=4)
    onehot = np.eye(3)[labels]
    q = p / p.sum(-1, keepdims=True)
    expect = np.mean(-np.log(q[np.arange(4), labels]))
    cce, scce = Ls.CategoricalCrossentropy(), Ls.SparseCategoricalCrossentropy()
    assert float(cce(onehot, p)) == pytest.approx(expect, rel=1e-12)
    assert float(scce(labels, p)) == pytest.approx(expect, rel=1e-12)
    assert float(scce(labels[:, None], p)) == pytest.approx(expect, rel=1e-12)
    np.testing.assert_allclose(cce.value_and_grad(onehot, p)[1], _fd_grad(cce, onehot, p.copy()),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(scce.value_and_grad(labels, p)[1], _fd_grad(scce, labels, p.copy()),
                               rtol=1e-6, atol=1e-9)
    logits = Ls.CategoricalCrossentropy(from_logits=True)
    z = rng.standard_normal((4, 3))
    np.testing.assert_allclose(logits.value_and_grad(onehot, z)[1],
                               _fd_grad(logits, onehot, z.copy()), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="must have the same shape"):
        cce(onehot[:, :2], p)


def test_mse_mae_and_reduction_with_sample_weight(seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((5, 2))
    p = rng.standard_normal((5, 2))
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.0])
    mse, mae = Ls.MeanSquaredError(), Ls.MeanAbsoluteError()
    per = ((y - p) ** 2).mean(-1)
    # sum_over_batch_size divides by the number of values, not by the sum of weights
    assert float(mse(y, p, w)) == pytest.approx((per * w).sum() / 5, rel=1e-12)
    assert float(mae(y, p)) == pytest.approx(np.abs(y - p).mean(), rel=1e-12)
    np.testing.assert_allclose(mse.value_and_grad(y, p, w)[1], _fd_grad(mse, y, p.copy(), w),
                               rtol=1e-6, atol=1e-9)
    assert float(Ls.MeanSquaredError(reduction="sum")(y, p)) == pytest.approx(per.sum())


def test_loss_identifiers():
    assert isinstance(Ls.get("binary_crossentropy"), Ls.BinaryCrossentropy)
    for alias, cls in (("bce", Ls.BinaryCrossentropy), ("BCE", Ls.BinaryCrossentropy),
                       ("mse", Ls.MeanSquaredError), ("MAE", Ls.MeanAbsoluteError),
                       ("kld", Ls.KLDivergence), ("mape", Ls.MeanAbsolutePercentageError)):
        assert isinstance(Ls.get(alias), cls)
    with pytest.raises(ValueError, match="^Could not interpret loss identifier: nope$"):
        Ls.get("nope")
    assert Ls.BinaryCrossentropy().get_config() == {
        "name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1}
    assert Ls.resolve_crossentropy(np.zeros((3, 1)), np.zeros((3, 1))) is Ls.BinaryCrossentropy
    sparse = Ls.resolve_crossentropy(np.zeros(3), np.zeros((3, 4)))
    assert sparse is Ls.SparseCategoricalCrossentropy
    assert Ls.resolve_crossentropy(np.zeros((3, 4)), np.zeros((3, 4))) is Ls.CategoricalCrossentropy


def test_accuracy_resolution_and_thresholds():
    yb, pb = np.array([1.0, 0.0, 1.0, 0.0]), np.array([[0.5], [0.2], [0.51], [0.9]])
    m = M.resolve("acc", yb, pb)
    assert type(m) is M.BinaryAccuracy and m.name == "acc"
    m.update_state(yb, pb)
    assert m.result() == 0.5  # 0.5 is not > 0.5
    assert type(M.resolve("Accuracy", np.zeros(4), np.zeros((4, 3)))) is M.SparseCategoricalAccuracy
    assert type(M.resolve("accuracy", np.zeros((4, 1)), np.zeros((4, 3)))) is \
        M.SparseCategoricalAccuracy
    assert type(M.resolve("ACC", np.zeros((4, 3)), np.zeros((4, 3)))) is M.CategoricalAccuracy
    named = M.resolve("binary_accuracy", yb, pb)
    assert type(named) is M.BinaryAccuracy and named.name == "binary_accuracy"
    mse = M.resolve("mse", yb, pb)
    assert mse.name == "mse"
    mse.update_state(yb, pb)
    assert mse.result() == pytest.approx(np.float32(np.mean((yb - pb[:, 0]) ** 2)), rel=1e-6)
    with pytest.raises(ValueError, match="^Could not interpret metric identifier: nope$"):
        M.get("nope")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.9])
def test_binary_accuracy_labels_of_rank_one(dtype, threshold):
    """Labels (N,) against a (N, 1) prediction: the values of a float64 reference, and of the
    same labels given as (N, 1)."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200).astype(dtype)
    y[:3] = [0.5, np.nan, 2.0]
    p = rng.random((200, 1)).astype(dtype)
    p[3:8, 0] = [threshold, np.nan, np.inf, -np.inf, np.nextafter(dtype(threshold), dtype(2))]
    got = M.binary_accuracy(y, p, threshold=threshold)
    want = (y.astype(np.float64) == (p[:, 0].astype(np.float64) > threshold)).astype(np.float64)
    assert got.dtype == np.float32 and got.shape == (200,)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, M.binary_accuracy(y[:, None], p, threshold=threshold))


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_accuracy_integer_labels_of_rank_one(label_dtype, dtype):
    # the seed programs' labels are integers; values other than 0 and 1 never match
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200).astype(label_dtype)
    if label_dtype is not np.bool_:
        y[:2] = [2, 255 if label_dtype is np.uint8 else -1]
        if label_dtype is np.int64:
            y[2] = 2**24 + 1            # a float32 cast would round it, but not to 0 or 1
    p = rng.random((200, 1)).astype(dtype)
    p[:3, 0] = 0.9
    got = M.binary_accuracy(y, p)
    want = (y.astype(np.float64) == (p[:, 0].astype(np.float64) > 0.5)).astype(np.float64)
    assert got.dtype == np.float32 and got.shape == (200,)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, M.binary_accuracy(y[:, None], p))


@pytest.mark.parametrize("labels", ["float32", "float64", "int64", "bool", "list", "n1",
                                    "weighted"])
def test_binary_accuracy_metric_counts_as_the_general_path(labels):
    # BinaryAccuracy counts the fit loop's case directly; state and result must be those of the
    # general path (binary_accuracy's values, then their float64 mean)
    rng = np.random.default_rng(6)
    p = rng.random((301, 1)).astype(np.float32)
    p[:4, 0] = [0.5, np.nan, np.inf, np.nextafter(np.float32(0.5), np.float32(1))]
    y = rng.integers(0, 2, 301)
    kwargs = {}
    if labels in ("float32", "float64", "int64", "bool"):
        y = y.astype(labels)
    elif labels == "list":
        y = y.tolist()
    elif labels == "n1":
        y = y[:, None].astype(np.float32)
    else:
        y = y.astype(np.float32)
        kwargs["sample_weight"] = rng.random(301)
    fast, general = M.BinaryAccuracy(threshold=0.5), M.BinaryAccuracy(threshold=0.5)
    for _ in range(3):
        fast.update_state(y, p, **kwargs)
        M.MeanMetricWrapper.update_state(general, y, p, **kwargs)
    assert (fast.total, fast.count) == (general.total, general.count)
    assert fast.result() == general.result()
    want = np.mean(np.asarray(y, np.float64).reshape(-1) == (p[:, 0] > 0.5))
    if not kwargs:
        assert fast.result() == pytest.approx(want, rel=1e-7)


def test_metric_state_accumulates_and_resets():
    m = M.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    m.update_state(np.array([1]), np.array([[0.1, 0.9]]))
    assert m.result() == pytest.approx(2 / 3, rel=1e-6)
    assert m.result() == float(np.float32(2 / 3))
    m.reset_state()
    assert m.result() == 0.0
    c = M.CategoricalAccuracy()
    c.update_state(np.eye(3), np.eye(3)[[0, 2, 2]])
    assert c.result() == pytest.approx(2 / 3, rel=1e-6)


# ---- the training step's binary cross-entropy in one compiled pass (fastconv.ops.losses) ----
def _bce_numpy_path(y, p):
    """BinaryCrossentropy.value_and_grad without the compiled step (the general NumPy path)."""
    return Ls.Loss.value_and_grad(Ls.BinaryCrossentropy(), y, p)


_BCE_SHAPES = {"n1-labels-n": ((32, 1), (32,)), "n1": ((32, 1), (32, 1)), "nd": ((9, 5), (9, 5)),
               "vector": ((7,), (7,)), "rank3": ((3, 4, 6), (3, 4, 6))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", list(_BCE_SHAPES.values()), ids=list(_BCE_SHAPES))
def test_compiled_bce_step_matches_numpy_path_bits_and_float64_twin(seed, dtype, shapes):
    import fastconv._reference as ref
    import fastconv.ops as ops

    rng = np.random.default_rng(seed)
    pshape, yshape = shapes
    p = rng.uniform(0.0, 1.0, size=pshape).astype(dtype)
    eps, one = dtype(EPS), dtype(1)
    top = one - eps
    # the clip's edges and both sides of them
    edges = [0.0, -0.0, eps, np.nextafter(eps, one), np.nextafter(eps, dtype(0)), top,
             np.nextafter(top, one), np.nextafter(top, dtype(0)), one]
    p.flat[:len(edges)] = edges[:p.size]
    y = rng.integers(0, 2, size=yshape)                      # int labels, cast as Keras does
    if len(yshape) > 1:
        y = np.where(rng.random(yshape) < 0.3, rng.random(yshape), y)   # and soft labels
    got = ops.losses.binary_crossentropy_step(y, p, EPS)
    assert got is not None
    loss, grad = got
    want_loss, want_grad = _bce_numpy_path(y, p)
    assert grad.dtype == dtype and grad.shape == p.shape
    assert grad.tobytes() == want_grad.tobytes()
    twin_loss, twin_grad = ref.losses.binary_crossentropy_step(y, p, EPS)
    # every per-element term is >= 0, so a few roundings of each (and of 1 - pc, which the
    # dtype rounds before its log) bound the error of their mean by eps * (1 + loss)
    bound = 8 * np.finfo(dtype).eps * (1 + abs(twin_loss))
    assert abs(loss - twin_loss) <= bound
    assert abs(loss - want_loss) <= bound
    # -(y/pc) + (1-y)/(1-pc) cancels where a soft label is near the prediction: bound the
    # error by a few roundings of the two terms, not of their difference
    yc = np.broadcast_to(np.asarray(y, np.float64).reshape(p.shape[:-1] + (-1,)), p.shape)
    pc = np.clip(p.astype(np.float64), float(eps), float(top))
    terms = (np.abs(yc / pc) + np.abs((1 - yc) / (1 - pc))) * (p.shape[-1] ** -1) / (p.size
                                                                                  / p.shape[-1])
    assert np.all(np.abs(grad - twin_grad) <= 4 * np.finfo(dtype).eps * terms)
    clipped = [i for i in (0, 1, 4, 6, 8) if i < p.size]     # 0, -0, eps below, 1 - eps above, 1
    assert np.all(grad.flat[clipped] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_bce_step_nan_prediction(dtype):
    import fastconv.ops as ops

    p = np.array([[0.25], [np.nan], [0.75]], dtype)
    y = np.array([1.0, 0.0, 1.0], dtype)
    loss, grad = ops.losses.binary_crossentropy_step(y, p, EPS)
    want_loss, want_grad = _bce_numpy_path(y, p)
    assert np.isnan(loss) and np.isnan(want_loss)
    assert grad.tobytes() == want_grad.tobytes() and grad[1, 0] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_bce_step_nan_label(dtype):
    # a NaN label gives a NaN gradient on both paths (its sign bit may differ: which NaN a sum
    # returns depends on the order of its operands, which the compiler may swap)
    import fastconv.ops as ops

    p = np.array([[0.25], [0.5], [0.75]], dtype)
    y = np.array([1.0, np.nan, 0.0], dtype)
    loss, grad = ops.losses.binary_crossentropy_step(y, p, EPS)
    with np.errstate(invalid="ignore"):
        want_loss, want_grad = _bce_numpy_path(y, p)
    assert np.isnan(loss) and np.isnan(want_loss)
    np.testing.assert_array_equal(grad, want_grad)          # NaN where NaN, equal elsewhere
    assert np.isnan(grad[1, 0]) and grad[[0, 2]].tobytes() == want_grad[[0, 2]].tobytes()


def test_compiled_bce_step_long_last_axis_float32(seed):
    # float32 terms of a per-sample mean over 100,000 values: summed in float64, the mean stays
    # within a few float32 roundings of the float64 twin (a float32 running sum drifts by many)
    import fastconv._reference as ref
    import fastconv.ops as ops

    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, size=(2, 100_000)).astype(np.float32)
    y = rng.integers(0, 2, size=(2, 100_000))
    loss, grad = ops.losses.binary_crossentropy_step(y, p, EPS)
    twin_loss, _ = ref.losses.binary_crossentropy_step(y, p, EPS)
    assert abs(loss - twin_loss) <= 4 * np.finfo(np.float32).eps * (1 + abs(twin_loss))
    assert grad.tobytes() == _bce_numpy_path(y, p)[1].tobytes()


@pytest.mark.parametrize("case", ["strided", "int-pred", "str-labels", "shape", "empty", "0-d",
                                  "labels-n1-pred-n2"])
def test_compiled_bce_step_declines_other_forms(case):
    import fastconv.ops as ops

    p = np.full((4, 1), 0.5, np.float32)
    y = np.ones(4, np.float32)
    if case == "strided":
        p = np.full((4, 2), 0.5, np.float32)[:, :1]
    elif case == "int-pred":
        p = np.ones((4, 1), np.int64)
    elif case == "str-labels":
        y = np.array(["1"] * 4)
    elif case == "shape":
        y = np.ones(5, np.float32)
    elif case == "empty":
        p, y = np.ones((0, 1), np.float32), np.ones(0, np.float32)
    elif case == "0-d":
        p, y = np.array(0.5, np.float32), np.array(1.0, np.float32)
        assert type(p) is np.ndarray and p.ndim == 0
    else:
        p = np.full((4, 2), 0.5, np.float32)
    assert ops.losses.binary_crossentropy_step(y, p, EPS) is None


def test_bce_errors_are_those_of_the_numpy_path():
    with pytest.raises(ValueError, match=r"^Arguments `target` and `output` must have the same "
                                         r"shape\. Received: target\.shape=\(5, 1\), "
                                         r"output\.shape=\(4, 1\)$"):
        Ls.BinaryCrossentropy().value_and_grad(np.ones(5), np.full((4, 1), 0.5, np.float32))


def test_training_step_takes_the_compiled_bce_only_where_it_applies(monkeypatch):
    import fastconv.ops.losses as loss_ops

    calls = []
    kernel = loss_ops._losses

    class Counting:
        @staticmethod
        def binary_crossentropy(*args):
            calls.append(args[1].shape)
            return kernel.binary_crossentropy(*args)

    monkeypatch.setattr(loss_ops, "_losses", Counting)
    y, p = np.ones(4, np.float32), np.full((4, 1), 0.5, np.float32)
    Ls.BinaryCrossentropy().value_and_grad(y, p)
    assert calls == [(4, 1)]
    Ls.BinaryCrossentropy().value_and_grad(y, p, sample_weight=np.ones(4, np.float32))
    Ls.BinaryCrossentropy(label_smoothing=0.1).value_and_grad(y, p)
    Ls.BinaryCrossentropy(reduction="sum").value_and_grad(y, p)

    class Doubled(Ls.BinaryCrossentropy):
        def _values(self, y, p, need_grad):
            v, g = super()._values(y, p, need_grad)
            return 2 * v, None if g is None else 2 * g

    value, grad = Doubled().value_and_grad(y, p)
    assert calls == [(4, 1)]
    assert value == pytest.approx(2 * np.log(2), rel=1e-6)
    np.testing.assert_allclose(grad, np.full((4, 1), -1.0, np.float32), rtol=1e-6)

    class Flipped(Ls.BinaryCrossentropy):     # the labels turned around before the formula
        def _prepare(self, y_true, y_pred):
            y_true, y_pred = super()._prepare(y_true, y_pred)
            return 1 - y_true, y_pred

    class PerSample(Ls.BinaryCrossentropy):
        def per_sample(self, y_true, y_pred, need_grad=False):
            return Ls.BinaryCrossentropy().per_sample(1 - y_true, y_pred, need_grad)

    p2 = np.array([[0.9], [0.2]], np.float32)
    y2 = np.array([1.0, 0.0], np.float32)
    want = Ls.Loss.value_and_grad(Ls.BinaryCrossentropy(), 1 - y2, p2)
    replaced = Ls.BinaryCrossentropy()
    replaced._values = lambda y, q, need_grad: Ls.BinaryCrossentropy._values(replaced, 1 - y, q,
                                                                             need_grad)
    for loss in (Flipped(), PerSample(), replaced):
        value, grad = loss.value_and_grad(y2, p2)
        assert value == want[0] and grad.tobytes() == want[1].tobytes()
    original = Ls.BinaryCrossentropy._values
    monkeypatch.setattr(Ls.BinaryCrossentropy, "_values",
                        lambda self, y, q, need_grad: original(self, 1 - y, q, need_grad))
    value, grad = Ls.BinaryCrossentropy().value_and_grad(y2, p2)
    assert value == want[0] and grad.tobytes() == want[1].tobytes()
    assert calls == [(4, 1)]


def test_fit_with_the_compiled_bce_gives_the_numpy_path_weights(seed, monkeypatch):
    from fastconv.layers import Dense
    from fastconv.models import Sequential
    from fastconv.utils import set_random_seed

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 2, 64)

    def trained():
        set_random_seed(seed)
        model = Sequential([Dense(4, activation="relu"), Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        return model.get_weights(), history.history["loss"]

    w_fast, loss_fast = trained()
    monkeypatch.setattr(Ls.BinaryCrossentropy, "value_and_grad", Ls.Loss.value_and_grad)
    w_numpy, loss_numpy = trained()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(w_fast, w_numpy))
    np.testing.assert_allclose(loss_fast, loss_numpy, rtol=1e-6)
