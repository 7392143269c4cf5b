"""The training fast paths are bit-identical to the checked public ops: the row-compact
embedding gradient and RMSprop update, and the optimizers' per-step Adam / RMSprop calls.

Oracle: the public dense ops (`embedding_backward`, `rmsprop_update`), themselves held against
the float64 NumPy reference elsewhere; here equality is bitwise (`tobytes`), for any threads.
The compiled array questions of the ops' argument fast paths (`ready`, `ready_out`,
`ready_dtype`) are held to their Python definitions in fastconv.ops._checks.
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


class _GradOwner:  # what RowGradient.dense() needs from a layer
    def __init__(self, shape, dtype):
        self.g = np.zeros(shape, dtype)

    def _grad(self, var):
        return self.g


def _lr32(value):  # optimizers keep learning_rate as a float32 variable, as Keras does
    return float(np.float32(value))


@pytest.mark.parametrize("threads,background", [(1, False), (2, False), (3, False),
                                                (2, True), (3, True)],
                         ids=["t1", "t2", "t3", "t2-background", "t3-background"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rmsprop_deferred_decay_equals_dense_steps(rng, num_threads, monkeypatch, dtype,
                                                   threads, background):
    """Plain RMSprop on an embedding table defers the velocity decay of untouched rows; held
    bitwise against the public dense update, step by step, through every switch back to the
    every-row update: negative learning rate, rho changed, velocity read and written, NaN.

    With `background` (fit's loop on 2+ threads), each row update runs on the background thread
    and every check below reads the table right after `apply` returns: the read must wait for
    the update, and leave no job running."""
    import contextlib

    from fastconv import optimizers as opt_mod
    from fastconv.layers.base import Variable

    num_threads(threads)
    started = []
    real_start = opt_mod._rmsprop_rows_deferred_start
    monkeypatch.setattr(opt_mod, "_rmsprop_rows_deferred_start",
                        lambda *a: started.append(1) or real_start(*a))
    v_rows, e, batch, steps = 400, 5, (3, 8), 300
    p = rng.standard_normal((v_rows, e)).astype(dtype)
    var = Variable(p.copy(), "embeddings")
    owner = _GradOwner(p.shape, p.dtype)
    opt = optimizers.RMSprop(learning_rate=0.01)
    vel = np.zeros_like(p)
    loop = opt._background_updates(True) if background else contextlib.nullcontext()
    with loop:
        _deferred_steps(rng, opt, var, owner, p, vel, v_rows, e, batch, steps, dtype, started)
    assert opt.variables[2].value.tobytes() == vel.tobytes()
    assert opt._deferred[id(var)].count >= 150  # the deferred path did run
    # in the background: every deferred step but those where the velocity was just read
    assert len(started) >= (140 if background else 0) and (background or not started)


def _deferred_steps(rng, opt, var, owner, p, vel, v_rows, e, batch, steps, dtype, started):
    from fastconv._ext import _optim
    from fastconv.layers.embedding import RowGradient

    rho = 0.9
    for step in range(steps):
        if step == 100:
            opt.learning_rate = -0.01  # lr*0 is -0.0: untouched rows' -0.0 weights turn +0.0
            p[::7] = -0.0
            var.assign(p)
        if step == 105:
            opt.learning_rate = 0.01
        if step == 150:
            rho = opt.rho = 0.8
        if step == 200:  # a reader sees current values; what it writes is honoured
            got = opt.variables[2]
            assert got.value.tobytes() == vel.tobytes()
            vel[::11] = -1e-3
            got.assign(vel)
        if step == 210:
            vel[::11] = np.abs(vel[::11])
            opt.variables[2].assign(vel)
        hot = rng.integers(0, 40, size=batch)  # rows 350+ are never touched
        cold = rng.integers(40, 350, size=batch)
        ids = np.where(rng.random(batch) < 0.8, hot, cold).astype(np.int32)
        dy = rng.standard_normal(batch + (e,)).astype(dtype)
        if step == 250:
            dy[0, 0, 0] = np.nan  # NaN velocity from here on: every-row updates only
        count, rows, grad, pos = _rows(dy, ids, v_rows)
        jobs = len(started)
        opt.apply([RowGradient(owner, var, count, rows, grad, pos)], [var])
        # a job started by this step runs until someone joins it: here, reading the table
        assert _optim.background_busy() == (len(started) > jobs), step
        with np.errstate(invalid="ignore"):
            rmsprop_update(p, embedding_backward(dy, ids, v_rows), vel,
                           _lr32(opt.learning_rate.value), rho=rho, epsilon=1e-7)
        assert var.value.tobytes() == p.tobytes(), step
        assert not _optim.background_busy(), step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rmsprop_deferred_decay_reaches_fixed_point(rng, dtype):
    """Rows untouched for 1,500 steps decay into subnormals and stop changing (rho*v == v):
    the catch-up may stop early there, and must stop at exactly the right value."""
    from fastconv.layers.base import Variable
    from fastconv.layers.embedding import RowGradient

    v_rows, e = 30, 4
    p = rng.standard_normal((v_rows, e)).astype(dtype)
    var = Variable(p.copy(), "embeddings")
    owner = _GradOwner(p.shape, p.dtype)
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.9)
    vel = np.zeros_like(p)
    for step in range(1500):
        if step == 0:
            ids = np.arange(v_rows, dtype=np.int32).reshape(1, -1)
        elif step == 700:  # touch a long-untouched row once more midway
            ids = np.array([[20]], np.int32)
        else:
            ids = rng.integers(0, 3, size=(1, 2)).astype(np.int32)
        dy = rng.standard_normal(ids.shape + (e,)).astype(dtype) * 1e3
        count, rows, grad, pos = _rows(dy, ids, v_rows)
        opt.apply([RowGradient(owner, var, count, rows, grad, pos)], [var])
        rmsprop_update(p, embedding_backward(dy, ids, v_rows), vel, _lr32(0.01), rho=0.9)
    assert var.value.tobytes() == p.tobytes()
    got = opt.variables[2].value
    assert got.tobytes() == vel.tobytes()
    if dtype == "float32":  # reached the subnormal fixed point of v = 0.9*v
        tiny = np.delete(vel, [0, 1, 2, 20], axis=0)
        assert np.all((tiny > 0) & (tiny < np.finfo(np.float32).tiny))


# ---- the compiled array questions of the argument fast paths ------------------------------
def _arrays():
    """Arrays the fast paths may be asked about: every layout, flag and type that changes an
    answer, and things that are not arrays at all."""
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    readonly = base.copy()
    readonly.flags.writeable = False
    raw = np.zeros(24 * 4 + 1, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(2, 3, 4)
    out = [base, base.astype(np.float64), base.astype(np.int32), base.astype(">f4"),
           base.astype(np.float16), np.asfortranarray(base), base[:, :, ::2], base[:1],
           base.reshape(6, 4), base.reshape(24), np.float32(1.0).reshape(()), readonly,
           misaligned, np.ma.masked_array(base), base.T,
           np.zeros((0, 3, 4), np.float32), np.zeros((2, 0, 4), np.float64),
           np.empty((2, 3, 4), np.float32)[:, :, :]]
    subclass = type("Sub", (np.ndarray,), {})
    out.append(base.view(subclass))
    out += [None, 1.0, [[1.0]], "x", base.tolist()]
    return out


def _dtypes():
    return [np.dtype(np.float32), np.dtype(np.float64), np.dtype(">f4"), np.dtype(np.int32),
            np.float32, "float32", None]


def test_compiled_ready_answers_as_the_python_definition():
    from fastconv._ext import _conv
    from fastconv.ops import _checks
    for a in _arrays():
        assert _conv.ready_dtype(a) is _checks.py_ready_dtype(a)
        for dt in _dtypes():
            for ndim in (0, 1, 2, 3, 4, np.int64(3), 3.0, 2**70, None):
                assert _conv.ready(a, dt, ndim) == _checks.py_ready(a, dt, ndim), (a, dt, ndim)
            shapes = [(2, 3, 4), (2, 3, 2), (1, 3, 4), (24,), (6, 4), (), [2, 3, 4],
                      (np.int64(2), 3, 4), (2.0, 3, 4), (2**70, 3, 4), (0, 3, 4), None]
            if isinstance(a, np.ndarray):
                shapes.append(a.shape)
            for shape in shapes:
                assert _conv.ready_out(a, shape, dt) == _checks.py_ready_out(a, shape, dt), \
                    (a, shape, dt)


def test_the_fast_paths_use_the_compiled_answers():
    from fastconv._ext import _conv
    from fastconv.ops import _checks, losses, pooling
    assert _checks.ready is _conv.ready and _checks.ready_out is _conv.ready_out
    assert _checks.ready_dtype is _conv.ready_dtype
    assert pooling.ready is _conv.ready and losses.ready_dtype is _conv.ready_dtype
