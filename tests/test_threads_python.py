"""Thread safety from Python (TESTING.md F1): several Python threads, released together by a
barrier, call every kernel and `Sequential.predict` on shared read-only inputs and weights; each
result is bitwise equal to the serial one, with no crash or hang.

Two set-ups: 8 Python threads x 1 OpenMP thread, and 4 Python threads x 2 OpenMP threads (the
minimum-work thresholds are lowered so the small test arrays really use both OpenMP threads).
"""
import threading

import numpy as np
import pytest

import fastconv
from fastconv import layers as L
from fastconv import ops
from fastconv.models import Sequential
from fastconv.ops import _checks
from fastconv.ops import conv as conv_ops

from _kernel_calls import KERNEL_CALLS, _inputs

ROUNDS = 100
TIMEOUT = 60.0


def _bits(a):
    if a is None:
        return None
    a = np.asarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.dtype.itemsize]).copy()


def _same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(a, b)


def test_every_public_kernel_is_exercised():
    assert set(KERNEL_CALLS) == set(ops.__all__)


def _model(seed):
    fastconv.utils.set_random_seed(seed)
    m = Sequential([fastconv.Input((23, 4)), L.Conv1D(6, 3, activation="relu"),
                    L.MaxPooling1D(2), L.Conv1D(4, 2, padding="same"), L.GlobalAveragePooling1D(),
                    L.Dense(3, activation="softmax")])
    m.predict(np.zeros((1, 23, 4), np.float32), verbose=0)
    return m


def _run_threaded(n_threads, work):
    """Run work(i) for `ROUNDS` rounds in `n_threads` threads released together by a barrier.

    Returns a list (per thread) of lists (per round) of results, or raises the first error.
    """
    barrier = threading.Barrier(n_threads, timeout=TIMEOUT)
    results = [[] for _ in range(n_threads)]
    errors = []

    def body(i):
        try:
            for _ in range(ROUNDS):
                barrier.wait()
                results[i].append(work(i))
        except BaseException as err:  # noqa: BLE001 - reported in the main thread
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung (60 s timeout)"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def threaded_kernels(monkeypatch):
    """Every kernel call uses the thread count it is given, however small the arrays."""
    monkeypatch.setattr(_checks, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)


@pytest.mark.parametrize("py_threads,omp_threads", [(8, 1), (4, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_from_python_threads_equal_serial(py_threads, omp_threads, dtype, seed,
                                                  threaded_kernels):
    data = [_inputs(seed * 1000 + i, dtype) for i in range(py_threads)]
    serial = {name: [call(d) for d in data] for name, call in KERNEL_CALLS.items()}
    names = list(KERNEL_CALLS)

    def work(i):
        fastconv.set_num_threads(omp_threads)  # per-thread OpenMP setting
        return [KERNEL_CALLS[name](data[i]) for name in names]

    results = _run_threaded(py_threads, work)
    for i, per_round in enumerate(results):
        assert len(per_round) == ROUNDS
        for r, outs in enumerate(per_round):
            for name, got in zip(names, outs):
                assert _same(got, serial[name][i]), f"thread {i} round {r}: {name} differs"


@pytest.mark.parametrize("py_threads,omp_threads", [(8, 1), (4, 2)])
def test_predict_from_python_threads_on_shared_weights(py_threads, omp_threads, seed,
                                                       threaded_kernels, num_threads):
    model = _model(seed)
    before = [_bits(w) for w in model.get_weights()]
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((5 + i, 23, 4)).astype(np.float32) for i in range(py_threads)]
    num_threads(1)
    serial = [model.predict(x, batch_size=4, verbose=0) for x in xs]

    def work(i):
        fastconv.set_num_threads(omp_threads)
        return model.predict(xs[i], batch_size=4, verbose=0)

    results = _run_threaded(py_threads, work)
    for i, per_round in enumerate(results):
        for r, got in enumerate(per_round):
            assert _same(_bits(got), _bits(serial[i])), f"thread {i} round {r}: predict differs"
    after = [_bits(w) for w in model.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
