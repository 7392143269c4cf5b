"""Pooling, embedding and optimizer-update speed: fastconv vs the NumPy reference vs PyTorch.

Run: python -m pytest bench/bench_pool.py --benchmark-only -p no:cacheprovider \
         --benchmark-group-by=group --benchmark-columns=median,min,iqr,rounds
     (FASTCONV_NUM_THREADS sets the thread count; PyTorch gets the same count).
Groups (float32):
  maxpool5   MaxPooling1D(5) on (32, 94, 32), forward + backward (the IMDb model's pool);
             PyTorch gets its own (B, C, T) layout and autograd, no transposes.
  embedding  lookup of (32, 100) ids in a (20000, 128) table, forward + dense backward.
  rmsprop    one RMSprop step on a (20000, 128) weight (the IMDb embedding).
PyTorch entries are skipped when torch is not importable.
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


def _torch_threads():
    torch.set_num_threads(fastconv.get_num_threads())


# ---------------------------------------------------------------- max pool 5 on (32, 94, 32)

X = RNG.standard_normal((32, 94, 32), dtype=np.float32)
DY = RNG.standard_normal((32, 18, 32), dtype=np.float32)


def test_maxpool5_fastconv(benchmark):
    benchmark.group = "maxpool5 (32,94,32) fwd+bwd"
    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    y = np.empty((32, 18, 32), np.float32)
    dx = np.empty_like(X)

    def step():
        ops.max_pool1d(X, 5, out=y)
        ops.max_pool1d_backward(DY, X, 5, out=dx)

    benchmark.pedantic(step, rounds=2000, warmup_rounds=50)


def test_maxpool5_numpy_reference(benchmark):
    benchmark.group = "maxpool5 (32,94,32) fwd+bwd"

    def step():
        _reference.max_pool1d(X, 5)
        _reference.max_pool1d_backward(DY, X, 5)

    benchmark.pedantic(step, rounds=50, warmup_rounds=2)


@needs_torch
def test_maxpool5_torch(benchmark):
    benchmark.group = "maxpool5 (32,94,32) fwd+bwd"
    _torch_threads()
    xt = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 2, 1))).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(DY.transpose(0, 2, 1)))

    def step():
        xt.grad = None
        torch.nn.functional.max_pool1d(xt, 5).backward(dyt)

    benchmark.pedantic(step, rounds=2000, warmup_rounds=50)


# ---------------------------------------------------------------- embedding (20000, 128)

V, E = 20000, 128
TABLE = RNG.uniform(-0.05, 0.05, (V, E)).astype(np.float32)
IDS = RNG.integers(0, V, (32, 100)).astype(np.int32)
DEMB = RNG.standard_normal((32, 100, E), dtype=np.float32)


def test_embedding_fastconv(benchmark):
    benchmark.group = "embedding (32,100) ids, (20000,128) table, fwd+bwd"
    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    y = np.empty((32, 100, E), np.float32)
    dtable = np.empty((V, E), np.float32)

    def step():
        ops.embedding(IDS, TABLE, out=y)
        ops.embedding_backward(DEMB, IDS, V, out=dtable)

    benchmark.pedantic(step, rounds=200, warmup_rounds=5)


def test_embedding_numpy_reference(benchmark):
    benchmark.group = "embedding (32,100) ids, (20000,128) table, fwd+bwd"

    def step():
        _reference.embedding(IDS, TABLE)
        _reference.embedding_backward(DEMB, IDS, V)

    benchmark.pedantic(step, rounds=20, warmup_rounds=1)


@needs_torch
def test_embedding_torch(benchmark):
    benchmark.group = "embedding (32,100) ids, (20000,128) table, fwd+bwd"
    _torch_threads()
    w = torch.from_numpy(TABLE.copy()).requires_grad_(True)
    ids = torch.from_numpy(IDS.astype(np.int64))
    dy = torch.from_numpy(DEMB)

    def step():
        w.grad = None
        torch.nn.functional.embedding(ids, w).backward(dy)

    benchmark.pedantic(step, rounds=200, warmup_rounds=5)


# ---------------------------------------------------------------- RMSprop step on (20000, 128)

GRAD = RNG.standard_normal((V, E), dtype=np.float32) * 1e-3


def test_rmsprop_fastconv(benchmark):
    benchmark.group = "rmsprop step (20000,128)"
    benchmark.extra_info["threads"] = fastconv.get_num_threads()
    p, v = TABLE.copy(), np.zeros((V, E), np.float32)
    benchmark.pedantic(lambda: ops.rmsprop_update(p, GRAD, v, 1e-3), rounds=200, warmup_rounds=5)


def test_rmsprop_numpy_reference(benchmark):
    benchmark.group = "rmsprop step (20000,128)"
    p, v = TABLE.copy(), np.zeros((V, E), np.float32)
    benchmark.pedantic(lambda: _reference.rmsprop_update(p, GRAD, v, 1e-3), rounds=30,
                       warmup_rounds=2)


@needs_torch
def test_rmsprop_torch(benchmark):
    benchmark.group = "rmsprop step (20000,128)"
    _torch_threads()
    w = torch.from_numpy(TABLE.copy()).requires_grad_(True)
    w.grad = torch.from_numpy(GRAD)
    # PyTorch's RMSprop puts eps outside the root; same memory traffic, the closest peer.
    opt = torch.optim.RMSprop([w], lr=1e-3, alpha=0.9, eps=1e-7, foreach=False)
    benchmark.pedantic(opt.step, rounds=200, warmup_rounds=5)
