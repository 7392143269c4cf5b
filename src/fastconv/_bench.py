"""Kernel timing table behind `fastconv bench`: Conv1D forward + backward, fastconv vs PyTorch.

Each cell is the median wall time of one training step of a Conv1D layer (forward, then input,
kernel and bias gradients), float32, same thread count for both libraries; PyTorch runs in its
own (B, C, T) layout and is skipped when it is not installed. `bench/` holds the fuller
pytest-benchmark suite; this table is the quick look a user can run after `pip install`.
"""
import os
import platform
import sys
import time

import numpy as np

__all__ = ["SHAPES", "QUICK_SHAPES", "conv_table"]

SHAPES = {  # name: (B, T, C, F, K), "valid" padding, stride 1
    "imdb-conv1": (32, 100, 128, 32, 7),
    "imdb-conv2": (32, 18, 32, 32, 7),
    "stock-conv": (32, 50, 1, 16, 5),
    "long-seq": (64, 1024, 64, 64, 9),
    "wide": (32, 4096, 256, 256, 3),
}
QUICK_SHAPES = ("imdb-conv1", "imdb-conv2", "stock-conv")


def _median_seconds(fn, repeat, min_time):
    fn()  # warm-up: allocations, thread pool start
    times = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _fastconv_step(x, w, bias, dy):
    from . import ops

    y = np.empty(dy.shape, np.float32)
    grads = (np.empty_like(x), np.empty_like(w), np.empty_like(bias))

    def step():
        ops.conv1d(x, w, bias, out=y)
        ops.conv1d_backward(dy, x, w, out=grads)
    return step


def _torch_step(torch, x, w, bias, dy):
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(2, 1, 0))).requires_grad_(True)
    bt = torch.from_numpy(bias.copy()).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 2, 1)))

    def step():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv1d(xt, wt, bt).backward(dyt)
    return step


def conv_table(quick=False, threads=None, file=None, use_torch=True):
    """Time the Conv1D shapes and print a table; returns the rows as dicts.

    Args:
        quick: only the three shapes of the two seed models, fewer repeats.
        threads: OpenMP (and PyTorch) thread count; None keeps the current setting.
        file: where to print (default stdout).
        use_torch: compare with PyTorch when it is importable.
    """
    import fastconv

    out = file if file is not None else sys.stdout
    if threads is not None:
        fastconv.set_num_threads(threads)
    threads = fastconv.get_num_threads()
    torch = None
    if use_torch:
        try:
            import torch
        except ImportError:
            torch = None
        else:
            torch.set_num_threads(threads)
    names = QUICK_SHAPES if quick else tuple(SHAPES)
    repeat, min_time = (3, 0.05) if quick else (7, 0.3)
    print(f"fastconv {fastconv.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads={threads}, torch: {torch.__version__ if torch else 'not installed'}", file=out)
    print("Conv1D training step (forward + backward), float32, median ms", file=out)
    header = f"{'shape':<11} {'B, T, C, F, K':>22} {'fastconv':>9} {'torch':>9} {'torch/fc':>9}"
    print(header, file=out)
    print("-" * len(header), file=out)
    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        b, t, c, f, k = SHAPES[name]
        x = rng.standard_normal((b, t, c), dtype=np.float32)
        w = (0.1 * rng.standard_normal((k, c, f))).astype(np.float32)
        bias = rng.standard_normal(f).astype(np.float32)
        dy = rng.standard_normal((b, t - k + 1, f), dtype=np.float32)
        fc = 1e3 * _median_seconds(_fastconv_step(x, w, bias, dy), repeat, min_time)
        th = (1e3 * _median_seconds(_torch_step(torch, x, w, bias, dy), repeat, min_time)
              if torch is not None else float("nan"))
        rows.append({"shape": name, "dims": (b, t, c, f, k), "fastconv_ms": fc, "torch_ms": th})
        ratio = f"{th / fc:9.2f}" if torch is not None else f"{'-':>9}"
        torch_cell = f"{th:9.3f}" if torch is not None else f"{'-':>9}"
        print(f"{name:<11} {str((b, t, c, f, k)):>22} {fc:9.3f} {torch_cell} {ratio}", file=out)
    return rows
