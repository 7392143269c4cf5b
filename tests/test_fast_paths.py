"""The training fast paths are bit-identical to the checked public ops: the row-compact
embedding gradient and RMSprop update, and the optimizers' per-step Adam / RMSprop calls.

Oracle: the public dense ops (`embedding_backward`, `rmsprop_update`), themselves held against
the float64 NumPy reference elsewhere; here equality is bitwise (`tobytes`), for any threads.
"""
import numpy as np
import pytest

import fastconv
from fastconv import layers, models, optimizers
from fastconv.ops import embedding_backward, rmsprop_update
from fastconv.ops.embedding import _embedding_backward_rows
from fastconv.ops.optim import _rmsprop_update_rows


def _rows(dy, ids, v):
    pos = np.full(v, -1, dtype=np.int32)
    rows = np.empty(ids.size, np.int32)
    grad = np.empty((ids.size, dy.shape[-1]), dy.dtype)
    count = _embedding_backward_rows(dy, ids, pos, rows, grad)
    return count, rows, grad, pos


@pytest.mark.parametrize("threads", [1, 2, 3], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_rows_equal_dense(rng, num_threads, dtype, threads):
    num_threads(threads)
    v, e = 50, 6
    ids = rng.integers(0, v, size=(7, 9)).astype(np.int32)
    ids[0, :4] = 3  # repeats add up
    dy = rng.standard_normal((7, 9, e)).astype(dtype)
    dy[1, 2] = -0.0  # 0 + (-0) is +0 in the dense sum; the compact sum must agree
    count, rows, grad, pos = _rows(dy, ids, v)
    dense = embedding_backward(dy, ids, v)
    assert sorted(rows[:count].tolist()) == sorted(set(ids.ravel().tolist()))
    assert grad[:count].tobytes() == dense[rows[:count]].tobytes()
    expect_pos = np.full(v, -1, np.int32)
    expect_pos[rows[:count]] = np.arange(count)
    np.testing.assert_array_equal(pos, expect_pos)


@pytest.mark.parametrize("threads", [1, 2, 3], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("case", ["plain", "eps0-v0", "neg-lr", "nan-v", "neg-zero-p"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rmsprop_rows_equal_dense(rng, num_threads, dtype, case, threads):
    num_threads(threads)
    v_rows, e = 3000, 5  # several row blocks, runs of touched and untouched rows
    ids = rng.integers(0, v_rows, size=(4, 30)).astype(np.int64)
    dy = rng.standard_normal((4, 30, e)).astype(dtype)
    p = rng.standard_normal((v_rows, e)).astype(dtype)
    vel = np.abs(rng.standard_normal((v_rows, e))).astype(dtype)
    lr, eps = 0.01, 1e-7
    if case == "eps0-v0":
        vel[::2] = 0.0  # 0/sqrt(0) = NaN in the dense update: must happen here too
        eps = 0.0
    elif case == "neg-lr":
        lr = -0.01  # -0 increments turn -0 weights into +0
        p[::3] = -0.0
    elif case == "nan-v":
        vel[5:9] = np.nan
    elif case == "neg-zero-p":
        p[::2] = -0.0
    count, rows, grad, pos = _rows(dy, ids, v_rows)
    dense_g = embedding_backward(dy, ids, v_rows)
    p1, v1 = p.copy(), vel.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rmsprop_update(p1, dense_g, v1, lr, rho=0.9, epsilon=eps)
        _rmsprop_update_rows(p, grad[:count], vel, pos, lr, rho=0.9, epsilon=eps)
    assert p.tobytes() == p1.tobytes()
    assert vel.tobytes() == v1.tobytes()


def _imdb_like_model(optimizer, seed):
    fastconv.utils.set_random_seed(seed)
    model = models.Sequential([
        layers.Embedding(300, 8), layers.Conv1D(4, 3, activation="relu"),
        layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
    return model


@pytest.mark.parametrize("opt", ["rmsprop", "rmsprop-momentum", "adam", "rmsprop-clip"])
def test_fit_with_row_gradient_equals_dense_fit(rng, opt, seed):
    x = rng.integers(0, 300, size=(96, 12)).astype(np.int32)
    y = rng.integers(0, 2, size=(96, 1)).astype(np.float32)

    def make():
        if opt == "rmsprop":
            return optimizers.RMSprop()
        if opt == "rmsprop-momentum":
            return optimizers.RMSprop(momentum=0.5)
        if opt == "rmsprop-clip":
            return optimizers.RMSprop(clipnorm=0.01)
        return optimizers.Adam()

    fast = _imdb_like_model(make(), seed)
    calls = []
    row_update = fast.optimizer._update_rows
    fast.optimizer._update_rows = lambda *a: (calls.append(1), row_update(*a))
    dense_opt = make()
    dense_opt._row_updates_ok = lambda: False  # forces RowGradient.dense() for every variable
    dense = _imdb_like_model(dense_opt, seed)
    np.random.seed(seed)
    h1 = fast.fit(x, y, batch_size=32, epochs=2, verbose=0).history
    np.random.seed(seed)
    h2 = dense.fit(x, y, batch_size=32, epochs=2, verbose=0).history
    assert h1 == h2
    assert bool(calls) == (opt == "rmsprop")  # the fast path ran exactly where it is exact
    for a, b in zip(fast.get_weights(), dense.get_weights()):
        assert a.tobytes() == b.tobytes()
    for a, b in zip(fast.optimizer.variables, dense.optimizer.variables):
        assert np.asarray(a.value).tobytes() == np.asarray(b.value).tobytes()
    # the public gradient view is the dense scatter-add of the last step
    emb = fast.layers[0]
    g = emb.gradients[0]
    assert g.shape == (300, 8)
    assert np.count_nonzero(np.any(g != 0, axis=1)) <= 32 * 12


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", ["adam", "adam-amsgrad", "rmsprop"])
def test_optimizer_step_equals_public_op(rng, opt, dtype):
    from fastconv.layers.base import Variable
    from fastconv.ops import adam_update

    p0 = rng.standard_normal((7, 3)).astype(dtype)
    grads = [rng.standard_normal((7, 3)).astype(dtype) for _ in range(3)]
    var = Variable(p0.copy(), "w")
    if opt == "rmsprop":
        o = optimizers.RMSprop(learning_rate=0.01)
    else:
        o = optimizers.Adam(learning_rate=0.01, amsgrad=opt == "adam-amsgrad")
    p, m, v, vh = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
    lr = float(np.float32(0.01))  # optimizers keep learning_rate as a float32 variable (Keras)
    for t, g in enumerate(grads, start=1):
        o.apply([g], [var])
        if opt == "rmsprop":
            rmsprop_update(p, g, v, lr)
        else:
            adam_update(p, g, m, v, lr, 0.9, 0.999, 1e-7, t,
                        vhat=vh if opt == "adam-amsgrad" else None)
    assert var.value.tobytes() == p.tobytes()


@pytest.mark.parametrize("opt", [lambda: optimizers.RMSprop(rho=1.5),
                                 lambda: optimizers.Adam(beta_1=1.0)], ids=["rho", "beta_1"])
def test_optimizer_fast_path_keeps_the_ops_checks(opt):
    from fastconv.layers.base import Variable

    var = Variable(np.zeros(3, np.float32), "w")
    with pytest.raises(ValueError, match="Invalid value for argument `(rho|beta_1)`"):
        opt().apply([np.ones(3, np.float32)], [var])


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_activation_backward_into_equals_public_op(rng, act, layout):
    from fastconv.ops import activation_backward
    from fastconv.ops.activation import _activation_backward_into

    dy = rng.standard_normal((4, 6, 5)).astype(np.float32)
    y = rng.random((4, 6, 5)).astype(np.float32)
    if layout == "strided":
        dy = np.asfortranarray(dy)  # takes the checked path; same values
    out = np.empty((4, 6, 5), np.float32)
    got = _activation_backward_into(dy, y, act, out)
    assert got is out
    assert out.tobytes() == activation_backward(dy, y, act).tobytes()
