"""Leaks and growth (TESTING.md I1-I3).

I1: per kernel, after 100 warm-up calls, N calls (2,000 in CI, 10,000 in the deep tier) grow the
resident set by at most 1 MiB and the traced Python heap (after gc.collect()) by at most 64 KiB.
I2: the same loop on the error path (calls that fail validation late, after most checks ran).
I3: the reference count of every input is unchanged after 1,000 calls.
I4 (200 epochs of fit) is tests/test_model.py::test_long_fit_does_not_grow_memory.
"""
import gc
import os
import sys
import tracemalloc

import numpy as np
import pytest

from fastconv import ops

from _kernel_calls import KERNEL_CALLS, _inputs

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="RSS is read from /proc (Linux)")

WARMUP = 100
RSS_LIMIT = 1 << 20
TRACED_LIMIT = 64 << 10


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _growth(call, n):
    """(RSS growth, traced-heap growth) in bytes over `n` calls, after the warm-up.

    One pass with tracemalloc on: its bookkeeping is proportional to live blocks, so it adds no
    RSS growth of its own unless the calls leak.
    """
    tracemalloc.start()
    try:
        for _ in range(WARMUP):
            call()
        gc.collect()
        rss0, traced0 = _rss(), tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            call()
        gc.collect()
        return _rss() - rss0, tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()


DATA = _inputs(7, np.float32)
DATA64 = _inputs(8, np.float64)


def _expect_error(call, exc):
    def run():
        try:
            call()
        except exc:
            return
        raise AssertionError("the invalid call did not raise")
    return run


_F16 = np.zeros((3, 23, 4), np.float16)
_BAD_OUT = np.empty((3, 21, 5), np.float32)
_P, _G, _V = np.zeros(6), np.ones(6), np.zeros(6)
BAD_CALLS = {  # each fails after most checks (late in validation), with its exception type
    "conv1d": (lambda d: ops.conv1d(d["x"], d["w"], d["b"], out=_BAD_OUT), ValueError),
    "conv1d_backward": (lambda d: ops.conv1d_backward(d["dy"][:, :20], d["x"], d["w"]),
                        ValueError),
    "max_pool1d": (lambda d: ops.max_pool1d(d["x"], 30), ValueError),
    "max_pool1d_backward": (lambda d: ops.max_pool1d_backward(d["dyp"][:, :10], d["x"], 2),
                            ValueError),
    "average_pool1d": (lambda d: ops.average_pool1d(_F16, 2), TypeError),
    "average_pool1d_backward":
        (lambda d: ops.average_pool1d_backward(d["dyp"], d["x"], 2, padding="causal"),
         ValueError),
    "global_max_pool1d": (lambda d: ops.global_max_pool1d(d["x"][:, :0]), ValueError),
    "global_max_pool1d_backward": (lambda d: ops.global_max_pool1d_backward(d["dyp"], d["x"]),
                                   ValueError),
    "global_average_pool1d": (lambda d: ops.global_average_pool1d(d["x"][0]), ValueError),
    "global_average_pool1d_backward":
        (lambda d: ops.global_average_pool1d_backward(d["dyg"][:2], d["x"]), ValueError),
    "embedding": (lambda d: ops.embedding(d["ids"] + 5, d["table"]), ValueError),
    "embedding_backward": (lambda d: ops.embedding_backward(d["dye"], d["ids"], 3), ValueError),
    "bias_activation": (lambda d: ops.bias_activation(d["y"], d["b"][:5], "tanh"), ValueError),
    "activation_backward": (lambda d: ops.activation_backward(d["y"], d["y"].T, "tanh"),
                            ValueError),
    "sgd_update": (lambda d: ops.sgd_update(_P, _G, _P, 0.1, momentum=0.9), ValueError),
    "rmsprop_update": (lambda d: ops.rmsprop_update(_P, _G, _V, 0.1, rho=1.5), ValueError),
    "adam_update": (lambda d: ops.adam_update(_P, _G, _V, _V[:5], 0.1, 0.9, 0.999, 1e-7, 1),
                    ValueError),
}


def test_error_table_covers_every_kernel():
    assert set(BAD_CALLS) == set(KERNEL_CALLS)


# AddressSanitizer keeps freed memory in a quarantine (up to 256 MiB), so the resident set grows
# by design under it; the traced-heap bound still applies there.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def _check(call, n):
    rss, traced = _growth(call, n)
    assert UNDER_ASAN or rss <= RSS_LIMIT, f"RSS grew by {rss} bytes over {n} calls"
    assert traced <= TRACED_LIMIT, f"traced heap grew by {traced} bytes over {n} calls"


@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_calls_do_not_grow_memory(name):
    call = KERNEL_CALLS[name]
    _check(lambda: (call(DATA), call(DATA64)), 1000)  # 2,000 calls, both dtypes


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_error_path_does_not_grow_memory(name):
    bad, exc = BAD_CALLS[name]
    _check(_expect_error(lambda: bad(DATA), exc), 2000)


@pytest.mark.deep
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_calls_do_not_grow_memory_deep(name):
    call = KERNEL_CALLS[name]
    _check(lambda: (call(DATA), call(DATA64)), 5000)


@pytest.mark.deep
@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_error_path_does_not_grow_memory_deep(name):
    bad, exc = BAD_CALLS[name]
    _check(_expect_error(lambda: bad(DATA), exc), 10000)


def _refcounts(d):
    return {k: sys.getrefcount(v) for k, v in d.items()}


@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_input_refcounts_unchanged(name):
    call = KERNEL_CALLS[name]
    bad, exc = BAD_CALLS[name]
    data = _inputs(9, np.float32)
    call(data)
    before = _refcounts(data)
    for _ in range(1000):
        call(data)
        try:
            bad(data)
        except exc:
            pass
    gc.collect()
    assert _refcounts(data) == before
