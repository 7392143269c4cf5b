"""The embedding table's RMSprop row update on the background thread (fit on 2+ threads).

Oracle: the same update run in the calling thread, compared bitwise (`tobytes`): the job runs
the same kernel code on the same rows in the same order. Around it: who may start a job (fit's
loop with fastconv's own callbacks only, 2+ threads), who waits for it (every reader of the
table or velocity, fit's exit, an error), and what runs beside it (kernels on one thread).
"""
import copy
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastconv
from fastconv import callbacks, optimizers
from fastconv._ext import _optim
from fastconv.callbacks.base import CallbackList
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D
from fastconv.models import Sequential
from fastconv.ops import _checks


def _case(rng, dtype, rows=300, width=16, count=120):
    p = rng.standard_normal((rows, width)).astype(dtype)
    v = (np.abs(rng.standard_normal((rows, width))) * 1e-3).astype(dtype)
    stamp = rng.integers(0, 40, rows).astype(np.int64)
    picked = rng.permutation(rows)[:count].astype(np.int32)
    grad = rng.standard_normal((count, width)).astype(dtype)
    return p, v, stamp, picked, grad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan-gradient"])
def test_job_equals_the_kernel_in_the_calling_thread(rng, dtype, nan):
    p, v, stamp, picked, grad = _case(rng, dtype)
    if nan:
        grad[5, 3] = grad[17, 0] = np.nan
    args = (0.01, 0.9, 1.0 - 0.9, 1e-7, 0.0)
    p2, v2, stamp2 = p.copy(), v.copy(), stamp.copy()
    bad = _optim.rmsprop_rows_deferred(p, grad, picked, picked.size, v, stamp, 41, *args, 1)
    assert _optim.rmsprop_rows_deferred_start(p2, grad, picked, picked.size, v2, stamp2, 41,
                                              *args, 7)
    assert _optim.background_busy()
    assert _optim.background_join(7) == bad == (2 if nan else 0)
    assert not _optim.background_busy()
    assert p2.tobytes() == p.tobytes() and v2.tobytes() == v.tobytes()
    assert stamp2.tobytes() == stamp.tobytes()


@pytest.mark.parametrize("delay", [0.0, 2e-4, 1e-3, 0.05],
                         ids=["at-once", "0.2ms", "1ms", "after-it-ends"])
def test_join_takes_over_or_helps_with_the_rest(rng, delay):
    """The joining thread runs whatever rows the background thread has not claimed yet (all of
    them when it joins before the thread wakes): same bits, and the bad-value count of both
    parts, wherever the split falls."""
    p, v, stamp, picked, grad = _case(rng, "float32", rows=60_000, width=64, count=30_000)
    grad[::97, 5] = np.nan                        # bad values in the rows of both threads
    args = (0.01, 0.9, 0.1, 1e-7, 0.0)
    p2, v2, stamp2 = p.copy(), v.copy(), stamp.copy()
    bad = _optim.rmsprop_rows_deferred(p, grad, picked, picked.size, v, stamp, 41, *args, 1)
    assert _optim.rmsprop_rows_deferred_start(p2, grad, picked, picked.size, v2, stamp2, 41,
                                              *args, 3)
    time.sleep(delay)
    assert _optim.background_join(3) == bad == len(range(0, picked.size, 97))
    assert p2.tobytes() == p.tobytes() and v2.tobytes() == v.tobytes()
    assert stamp2.tobytes() == stamp.tobytes()


def test_one_job_at_a_time_joined_by_its_name(rng):
    p, v, stamp, picked, grad = _case(rng, "float32")
    args = (p, grad, picked, picked.size, v, stamp, 41, 0.01, 0.9, 0.1, 1e-7, 0.0)
    assert _optim.background_join(1) == -1       # nothing started
    assert _optim.rmsprop_rows_deferred_start(*args, 1)
    assert not _optim.rmsprop_rows_deferred_start(*args, 2)     # busy: refused, nothing done
    assert _optim.background_join(2) == -1       # not a job in flight: no wait
    assert _optim.background_busy()
    assert _optim.background_join(1) == 0
    assert _optim.background_join(1) == -1 and not _optim.background_busy()


@pytest.mark.parametrize("bad", ["count", "width", "velocity", "stamp"])
def test_start_refuses_inconsistent_shapes(rng, bad):
    p, v, stamp, picked, grad = _case(rng, "float32")
    count = picked.size
    if bad == "count":
        count += 1
    elif bad == "width":
        grad = np.ascontiguousarray(grad[:, :-1])
    elif bad == "velocity":
        v = np.ascontiguousarray(v[:-1])
    else:
        stamp = stamp[:-1].copy()
    with pytest.raises(ValueError, match="^rmsprop_rows_deferred_start: inconsistent shapes$"):
        _optim.rmsprop_rows_deferred_start(p, grad, picked, count, v, stamp, 41, 0.01, 0.9,
                                           0.1, 1e-7, 0.0, 1)
    assert not _optim.background_busy()


def _model(seed):
    rng = np.random.default_rng(seed)
    model = Sequential([Embedding(300, 16), Conv1D(8, 3, activation="relu"),
                        GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.build((None, 20))
    model.set_weights([rng.standard_normal(w.shape).astype(w.dtype) * 0.1
                       for w in model.get_weights()])
    return model


def _data(rng, n=160):
    x = rng.integers(0, 300, size=(n, 20)).astype(np.int32)
    x[:, :6] = rng.integers(0, 12, size=(n, 6))     # frequent rows, as in text
    y = (rng.random(n) < 0.5).astype(np.float32)
    return x, y


@pytest.fixture
def starts(monkeypatch):
    """Counts the jobs that started on the background thread (with fit's thread governor off, which
    would move these small models to one thread)."""
    monkeypatch.setenv("FASTCONV_ADAPTIVE_THREADS", "0")
    counted = []
    real = optimizers._rmsprop_rows_deferred_start

    def start(*args):
        started = real(*args)
        counted.extend([1] if started else [])
        return started

    monkeypatch.setattr(optimizers, "_rmsprop_rows_deferred_start", start)
    return counted


def _state(model):
    return [w.tobytes() for w in model.get_weights()] + \
        [v.value.tobytes() for v in model.optimizer.variables]


def test_fit_gives_the_same_bits_with_and_without_the_background(rng, num_threads, starts,
                                                                 monkeypatch):
    from fastconv.ops import conv as conv_ops

    num_threads(2)
    # every kernel on 2 threads when it may: the step's other updates then really run on a
    # different thread count beside the job than without it
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)
    x, y = _data(rng)
    bg = _model(1)
    bg.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert len(starts) == 30         # one per step
    assert not _optim.background_busy() and _checks.max_threads() == 2
    monkeypatch.setattr(CallbackList, "_library_only", lambda self: False)
    plain = _model(1)
    plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert len(starts) == 30
    assert _state(bg) == _state(plain)


class _Spy(callbacks.Callback):
    pass


class _Declared(callbacks.Callback):
    _no_kept_arrays = True


@pytest.mark.parametrize("cbs,expect", [
    ([], True),
    ([callbacks.EarlyStopping(monitor="loss", patience=50)], True),
    ([callbacks.History()], True),
    ([_Spy()], False),                                   # user code between batches
    ([_Declared()], True),                               # says it keeps no weight array
    ([callbacks.LambdaCallback(on_batch_end=lambda b, logs: None)], False),
], ids=["none", "early-stopping", "history", "user-callback", "declared", "lambda"])
def test_only_fastconvs_own_callbacks_allow_the_background(rng, num_threads, starts, cbs,
                                                           expect):
    num_threads(2)
    x, y = _data(rng, 64)
    _model(2).fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=cbs)
    assert bool(starts) == expect


def test_one_thread_runs_the_update_in_place(rng, num_threads, starts):
    num_threads(1)
    x, y = _data(rng, 64)
    _model(3).fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not starts


def test_kernels_beside_the_job_take_one_thread(rng, num_threads, monkeypatch, starts):
    """The step's other updates run while the job holds the second core: one thread each; the
    next batch's conv, after the table read has joined the job, gets both again."""
    from fastconv.ops import embedding_conv

    num_threads(2)
    seen = {"update": set(), "forward": set()}
    real_update, real_forward = optimizers.RMSprop._update, embedding_conv.forward

    def update(self, *a):
        seen["update"].add((_checks.max_threads(), _optim.background_busy()))
        return real_update(self, *a)

    def forward(*a, **kw):
        seen["forward"].add((_checks.max_threads(), _optim.background_busy()))
        return real_forward(*a, **kw)

    monkeypatch.setattr(optimizers.RMSprop, "_update", update)
    monkeypatch.setattr(embedding_conv, "forward", forward)
    x, y = _data(rng, 64)
    _model(4).fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert len(starts) == 4
    assert seen == {"update": {(1, True)}, "forward": {(2, False)}}


def test_an_error_in_the_next_batch_leaves_the_update_finished(rng, num_threads, starts):
    """The second batch has an id outside the table: fit raises in that batch's forward, while
    the first batch's update may still run; fit waits for it before the error leaves."""
    num_threads(2)
    x, y = _data(rng, 32)
    x[20, 4] = 300
    model = _model(5)
    with pytest.raises(ValueError, match="ids"):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert len(starts) == 1 and not _optim.background_busy()
    ref = _model(5)
    num_threads(1)
    ref.fit(x[:16], y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert _state(model)[:5] == _state(ref)[:5]     # weights: the first batch's update, whole


def test_fork_with_a_job_running():
    """fork waits for a running job: the child holds the whole update and can join it by name;
    then, having no background thread, it makes its own and trains with it (a child waiting on
    the parent's thread would hang: the timeout fails the test)."""
    script = textwrap.dedent("""
        import os, sys
        import numpy as np
        import fastconv
        from fastconv._ext import _optim
        sys.path.insert(0, sys.argv[1])
        from test_background_update import _data, _model
        rng = np.random.default_rng(0)
        p = rng.standard_normal((200_000, 64)).astype(np.float32)
        v = np.abs(rng.standard_normal(p.shape)).astype(np.float32)
        stamp = rng.integers(0, 40, p.shape[0]).astype(np.int64)
        rows = rng.permutation(p.shape[0])[:100_000].astype(np.int32)
        grad = rng.standard_normal((rows.size, 64)).astype(np.float32)
        want = [p.copy(), v.copy(), stamp.copy()]
        args = (0.01, 0.9, 0.1, 1e-7, 0.0)
        _optim.rmsprop_rows_deferred(want[0], grad, rows, rows.size, want[1], want[2], 41,
                                     *args, 1)
        assert _optim.rmsprop_rows_deferred_start(p, grad, rows, rows.size, v, stamp, 41,
                                                  *args, 5)
        pid = os.fork()                                  # the job (milliseconds) still runs
        whole = [a.tobytes() for a in want] == [a.tobytes() for a in (p, v, stamp)]
        joined = _optim.background_join(5)
        same = [a.tobytes() for a in want] == [a.tobytes() for a in (p, v, stamp)]
        if pid == 0:
            fastconv.set_num_threads(2)
            x, y = _data(np.random.default_rng(1))
            _model(7).fit(x, y, batch_size=16, epochs=2, verbose=0)
            os._exit(0 if whole and joined == 0 and same and
                     not _optim.background_busy() else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status), "parent", joined, same)
    """)
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", script, here], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["child", "0", "parent", "0", "True"]


def test_two_tables_in_one_step(rng, num_threads, starts):
    """One job at a time: with two embedding tables, the first table's update goes to the
    background thread and the second runs in place (beside it, on one thread); both equal
    the updates of a step without the background."""
    from fastconv.layers.base import Variable
    from fastconv.layers.embedding import RowGradient
    from fastconv.ops.embedding import _embedding_backward_rows

    class Owner:  # what RowGradient.dense() needs from a layer
        def _grad(self, var):
            return np.zeros(var.shape, var.value.dtype)

    num_threads(2)
    tables = [rng.standard_normal((200, 6)).astype(np.float32) for _ in range(2)]
    steps = []
    for _ in range(5):
        ids = rng.integers(0, 200, size=(4, 10)).astype(np.int32)
        steps.append([(ids, rng.standard_normal((4, 10, 6)).astype(np.float32))
                      for _ in tables])
    results = []
    for background in (True, False):
        variables = [Variable(t.copy(), f"embeddings_{i}") for i, t in enumerate(tables)]
        opt = optimizers.RMSprop(learning_rate=0.01)
        with opt._background_updates(background):
            for step in steps:
                grads = []
                for var, (ids, dy) in zip(variables, step):
                    pos = np.full(200, -1, np.int32)
                    rows, grad = np.empty(ids.size, np.int32), np.empty((ids.size, 6), np.float32)
                    count = _embedding_backward_rows(dy, ids, pos, rows, grad)
                    grads.append(RowGradient(Owner(), var, count, rows, grad, pos))
                opt.apply(grads, variables)
        results.append([v.value.tobytes() for v in variables + opt.variables[2:]])
    assert len(starts) == 5          # the first table's update, each step
    assert results[0] == results[1]


@pytest.mark.parametrize("when", ["before-start", "after-start"])
def test_an_exception_around_the_start_leaves_no_job_behind(rng, num_threads, monkeypatch,
                                                             starts, when):
    """A second Ctrl-C can raise at any bytecode, also just before or just after the job
    starts: fit must still wait for the job, and the next fit use the background again."""
    num_threads(2)
    spy, calls = optimizers._rmsprop_rows_deferred_start, []

    def start(*args):
        calls.append(1)
        if len(calls) == 3:
            if when == "after-start":
                assert spy(*args)
            raise KeyboardInterrupt
        return spy(*args)

    monkeypatch.setattr(optimizers, "_rmsprop_rows_deferred_start", start)
    x, y = _data(rng, 96)
    model = _model(8)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not _optim.background_busy() and _checks.max_threads() == 2
    before = len(starts)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert len(starts) == before + 6


def test_two_fits_in_two_threads(rng, num_threads, starts):
    """One job at a time for the process: two models trained at once in two Python threads
    (switching as often as possible) take turns with the background thread, and each ends
    with the weights it gets alone."""
    x, y = _data(rng)
    num_threads(2)
    alone = []
    for seed in (10, 11):
        model = _model(seed)
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        alone.append(_state(model))
    models, errors = [_model(10), _model(11)], []

    def train(model):
        try:
            fastconv.set_num_threads(2)     # the OpenMP count is per calling thread
            model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        except BaseException as err:      # reported below
            errors.append(err)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=train, args=(m,)) for m in models]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors and not any(t.is_alive() for t in threads)
    assert [_state(m) for m in models] == alone
    assert len(starts) >= 60             # the two lone fits alone start 60 jobs


def test_a_trained_optimizer_copies_and_pickles(rng, num_threads):
    num_threads(2)
    x, y = _data(rng, 64)
    model = _model(12)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    state = [v.value.tobytes() for v in model.optimizer.variables]
    for clone in (copy.deepcopy(model.optimizer),
                  pickle.loads(pickle.dumps(model.optimizer))):
        assert [v.value.tobytes() for v in clone.variables] == state
