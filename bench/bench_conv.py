"""Conv1D speed: fastconv vs the NumPy reference (small shapes) vs PyTorch (when installed).

Run: python -m pytest bench/bench_conv.py --benchmark-only -p no:cacheprovider
     (add --benchmark-group-by=group; FASTCONV_NUM_THREADS sets the thread count for both).
Each measurement is forward + backward to input, kernel and bias, float32, valid padding;
fastconv gets channels_last (B, T, C), PyTorch its own (B, C, T) layout, same thread count.
"""
import numpy as np
import pytest

import fastconv
from fastconv import _reference, ops

SHAPES = {  # name: (B, T, C, F, K)
    "S1": (32, 100, 128, 32, 7),
    "S2": (32, 18, 32, 32, 7),
    "S3": (32, 50, 1, 16, 5),
    "S4": (64, 1024, 64, 64, 9),
    "S5": (32, 4096, 256, 256, 3),
}
SMALL = ("S2", "S3")  # the NumPy reference is too slow to time on the others


def _data(name):
    b, t, c, f, k = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, t, c), dtype=np.float32)
    w = rng.standard_normal((k, c, f), dtype=np.float32) * 0.1
    bias = rng.standard_normal(f, dtype=np.float32)
    dy = rng.standard_normal((b, t - k + 1, f), dtype=np.float32)
    return x, w, bias, dy


def _rounds(name):
    return 3 if name in ("S4", "S5") else 20


@pytest.mark.parametrize("name", list(SHAPES))
def test_fastconv(benchmark, name):
    benchmark.group = f"conv1d-{name}"
    x, w, bias, dy = _data(name)
    y = np.empty(dy.shape, np.float32)
    bufs = (np.empty_like(x), np.empty_like(w), np.empty_like(bias))

    def step():
        ops.conv1d(x, w, bias, out=y)
        return ops.conv1d_backward(dy, x, w, out=bufs)

    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    benchmark.pedantic(step, rounds=_rounds(name), warmup_rounds=1)


@pytest.mark.parametrize("name", SMALL)
def test_numpy_reference(benchmark, name):
    benchmark.group = f"conv1d-{name}"
    x, w, bias, dy = _data(name)

    def step():
        _reference.conv1d(x, w, bias)
        return _reference.conv1d_backward(dy, x, w)

    benchmark.pedantic(step, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("name", list(SHAPES))
def test_torch(benchmark, name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(fastconv.get_num_threads())
    benchmark.group = f"conv1d-{name}"
    x, w, bias, dy = _data(name)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(2, 1, 0))).requires_grad_(True)
    bt = torch.from_numpy(bias).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 2, 1)))

    def step():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv1d(xt, wt, bt).backward(dyt)

    benchmark.extra_info["threads"] = torch.get_num_threads()
    benchmark.pedantic(step, rounds=_rounds(name), warmup_rounds=1)
