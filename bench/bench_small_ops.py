"""Fused bias + activation, the binary cross-entropy step and Adam / SGD steps: fastconv vs
the NumPy reference (or NumPy path) vs PyTorch.

Run: python -m pytest bench/bench_small_ops.py --benchmark-only -p no:cacheprovider \
         --benchmark-group-by=group --benchmark-columns=median,min,rounds
(FASTCONV_NUM_THREADS sets the thread count; PyTorch gets the same count.) float32 throughout.
"""
import numpy as np
import pytest

import fastconv
from fastconv import _reference, ops

try:
    import torch
except ImportError:  # pragma: no cover - optional peer
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
RNG = np.random.default_rng(0)

Y = RNG.standard_normal((32, 94, 32), dtype=np.float32)  # a Conv1D output of the IMDb model
BIAS = RNG.standard_normal(32, dtype=np.float32)
DY = RNG.standard_normal((32, 94, 32), dtype=np.float32)
GROUP_ACT = "bias+relu fwd and bwd (32,94,32)"


def test_bias_relu_fastconv(benchmark):
    benchmark.group = GROUP_ACT
    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    out = np.empty_like(Y)
    dz = np.empty_like(Y)

    def step():
        ops.bias_activation(Y, BIAS, "relu", out=out)
        ops.activation_backward(DY, out, "relu", out=dz)

    benchmark.pedantic(step, rounds=2000, warmup_rounds=50)


def test_bias_relu_numpy_reference(benchmark):
    benchmark.group = GROUP_ACT

    def step():
        out = _reference.bias_activation(Y, BIAS, "relu")
        _reference.activation_backward(DY, out, "relu")

    benchmark.pedantic(step, rounds=200, warmup_rounds=5)


@needs_torch
def test_bias_relu_torch(benchmark):
    benchmark.group = GROUP_ACT
    torch.set_num_threads(fastconv.get_num_threads())
    y = torch.from_numpy(Y).requires_grad_(True)
    b = torch.from_numpy(BIAS).requires_grad_(True)
    dy = torch.from_numpy(DY)

    def step():
        y.grad = b.grad = None
        torch.relu(y + b).backward(dy)  # also reduces db, a little more work than ours

    benchmark.pedantic(step, rounds=2000, warmup_rounds=50)


V, E = 20000, 128
P0 = RNG.uniform(-0.05, 0.05, (V, E)).astype(np.float32)
G = RNG.standard_normal((V, E), dtype=np.float32) * 1e-3


def test_adam_fastconv(benchmark):
    benchmark.group = "adam step (20000,128)"
    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    it = iter(range(1, 10**9))
    benchmark.pedantic(lambda: ops.adam_update(p, G, m, v, 1e-3, 0.9, 0.999, 1e-7, next(it)),
                       rounds=200, warmup_rounds=5)


def test_adam_numpy_reference(benchmark):
    benchmark.group = "adam step (20000,128)"
    p, m, v = P0.copy(), np.zeros_like(P0), np.zeros_like(P0)
    it = iter(range(1, 10**9))
    benchmark.pedantic(
        lambda: _reference.adam_update(p, G, m, v, 1e-3, 0.9, 0.999, 1e-7, next(it)),
        rounds=30, warmup_rounds=2)


@needs_torch
def test_adam_torch(benchmark):
    benchmark.group = "adam step (20000,128)"
    torch.set_num_threads(fastconv.get_num_threads())
    w = torch.from_numpy(P0.copy()).requires_grad_(True)
    w.grad = torch.from_numpy(G)
    opt = torch.optim.Adam([w], lr=1e-3, eps=1e-7, foreach=False)
    benchmark.pedantic(opt.step, rounds=200, warmup_rounds=5)


def test_sgd_momentum_fastconv(benchmark):
    benchmark.group = "sgd momentum step (20000,128)"
    p, m = P0.copy(), np.zeros_like(P0)
    benchmark.pedantic(lambda: ops.sgd_update(p, G, m, 0.01, 0.9), rounds=200, warmup_rounds=5)


@needs_torch
def test_sgd_momentum_torch(benchmark):
    benchmark.group = "sgd momentum step (20000,128)"
    torch.set_num_threads(fastconv.get_num_threads())
    w = torch.from_numpy(P0.copy()).requires_grad_(True)
    w.grad = torch.from_numpy(G)
    opt = torch.optim.SGD([w], lr=0.01, momentum=0.9, foreach=False)
    benchmark.pedantic(opt.step, rounds=200, warmup_rounds=5)


# The training step's loss on the IMDb model's output: labels (32,), sigmoid output (32, 1).
# The compiled pass against the NumPy formulas it replaced (same gradient bits) and torch.
LABELS = RNG.integers(0, 2, 32).astype(np.float32)
PROBS = RNG.uniform(0.0, 1.0, (32, 1)).astype(np.float32)
GROUP_BCE = "binary cross-entropy value+grad (32,1)"


def test_bce_step_fastconv(benchmark):
    benchmark.group = GROUP_BCE
    loss = fastconv.losses.BinaryCrossentropy()
    benchmark.pedantic(loss.value_and_grad, args=(LABELS, PROBS), rounds=5000, warmup_rounds=50)


def test_bce_step_numpy_path(benchmark):
    benchmark.group = GROUP_BCE
    loss = fastconv.losses.BinaryCrossentropy()
    numpy_path = fastconv.losses.Loss.value_and_grad     # the general path, no compiled pass
    benchmark.pedantic(numpy_path, args=(loss, LABELS, PROBS), rounds=5000, warmup_rounds=50)


@needs_torch
def test_bce_step_torch(benchmark):
    benchmark.group = GROUP_BCE
    torch.set_num_threads(fastconv.get_num_threads())
    y = torch.from_numpy(LABELS[:, None])
    p = torch.from_numpy(PROBS).requires_grad_(True)

    def step():
        p.grad = None
        torch.nn.functional.binary_cross_entropy(p, y).backward()

    benchmark.pedantic(step, rounds=5000, warmup_rounds=50)
