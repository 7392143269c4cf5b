"""Conv1D results are bitwise identical for 1, 2, 3, 4 and 8 OpenMP threads (TESTING.md E1), for
every output of forward and backward, with both kernel variants; and safe to call from several
Python threads at once (F1)."""
import threading

import numpy as np
import pytest

from fastconv import ops
from fastconv._ext import _conv
from fastconv.ops import conv as conv_ops

THREADS = (1, 2, 3, 4, 8)


@pytest.fixture(autouse=True)
def all_threads_even_for_small_work(monkeypatch):
    """ops.conv runs small calls on fewer threads; here every call uses all of them."""
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _configs():
    """>= 50 configs: sizes 97/100/101, work smaller than the thread count, groups, padding."""
    out = []
    for dtype in (np.float32, np.float64):
        for batch, length, c, f, k, s, d, pad, g in [
            (1, 5, 1, 1, 1, 1, 1, "valid", 1),      # less work than threads
            (2, 3, 2, 3, 3, 1, 1, "same", 1),
            (3, 97, 5, 7, 3, 1, 1, "same", 1),
            (3, 100, 8, 16, 5, 2, 1, "valid", 1),
            (5, 101, 6, 33, 4, 1, 2, "causal", 3),
            (8, 100, 32, 32, 7, 1, 1, "valid", 1),
            (4, 97, 12, 8, 9, 3, 1, "same", 4),
            (9, 101, 3, 97, 2, 1, 3, "same", 1),
            (1, 100, 64, 64, 3, 1, 1, "valid", 1),  # one batch item: forward serial, dW split
            (2, 60, 97, 20, 2, 2, 1, "causal", 1),
            (7, 33, 4, 4, 33, 1, 1, "valid", 2),
            (16, 18, 32, 32, 7, 1, 1, "valid", 1),
            (4, 50, 1, 16, 5, 1, 1, "causal", 1),
        ]:
            out.append((dtype, batch, length, c, f, k, s, d, pad, g))
    return out


CONFIGS = _configs()


class _Geom:
    def __init__(self, cfg):
        dtype, self.batch, length, self.channels, self.filters, self.k, s, d, pad, self.groups = cfg
        keff = d * (self.k - 1) + 1
        self.out_len = (length - keff) // s + 1 if pad == "valid" else -(-length // s)


def _macs(cfg):
    g = _Geom(cfg)
    return g.batch * g.out_len * g.k * (g.channels // g.groups) * g.filters


def _run(cfg, rng_seed):
    dtype, batch, length, c, f, k, s, d, pad, g = cfg
    rng = np.random.default_rng(rng_seed)
    x = rng.standard_normal((batch, length, c)).astype(dtype)
    w = rng.standard_normal((k, c // g, f)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y = ops.conv1d(x, w, b, s, pad, d, g, activation="tanh")
    dy = rng.standard_normal(y.shape).astype(dtype)
    return (y, *ops.conv1d_backward(dy, x, w, s, pad, d, g))


@pytest.mark.parametrize("variant", ["best", "baseline"])
def test_bitwise_identical_across_thread_counts(variant, num_threads, seed):
    old = _conv.isa()
    _conv.set_isa(variant)
    try:
        assert len(CONFIGS) * 2 >= 50
        for i, cfg in enumerate(CONFIGS):
            num_threads(1)
            ref = _run(cfg, seed + i)
            for n in THREADS[1:]:
                num_threads(n)
                assert conv_ops._threads(_Geom(cfg)) == min(n, _macs(cfg))
                got = _run(cfg, seed + i)
                for name, a, r in zip(("y", "dx", "dkernel", "dbias"), got, ref):
                    assert np.array_equal(_bits(a), _bits(r)), (name, n, cfg)
    finally:
        _conv.set_isa(old)


@pytest.mark.parametrize("omp_threads", [1, 2])
def test_concurrent_python_threads_match_serial(omp_threads, num_threads, seed):
    """8 Python threads released by a barrier, each on its own inputs, 100 rounds in total."""
    num_threads(omp_threads)
    n_py = 8 if omp_threads == 1 else 4
    cfgs = [CONFIGS[i % len(CONFIGS)] for i in range(2, 2 + n_py)]
    serial = [_run(cfg, seed + i) for i, cfg in enumerate(cfgs)]
    barrier = threading.Barrier(n_py)
    failures = []

    def worker(i):
        try:
            for _ in range(100 // n_py):
                barrier.wait(timeout=60)
                got = _run(cfgs[i], seed + i)
                if not all(np.array_equal(a, r) for a, r in zip(got, serial[i])):
                    failures.append(i)
        except Exception as err:  # reported below; a thread must not die silently
            failures.append(repr(err))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_py)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
