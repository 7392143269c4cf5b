"""Print the Conv1D speed table: fastconv vs PyTorch (if installed), forward + both backwards.

Usage: python bench/conv_table.py [--threads N] [--repeat R] [--shapes S1,S2,...] [--cpu-time]

Each timing is the median over R runs of conv1d + conv1d_backward (dx, dkernel, dbias), float32,
channels_last for fastconv and PyTorch's own (B, C, T) layout for torch, same thread count.
The two rates, NumPy's matmul and the forward pass ("fwd"), are each from their fastest run:
rates say what the code reaches, and on a shared machine every disturbance only adds time.
--cpu-time times with the process CPU clock instead of the wall clock: on a shared machine this
shows the cost of the arithmetic without the time spent descheduled (use it with --threads 1).
"""
import argparse
import os
import platform
import time

import numpy as np

import fastconv
from fastconv import ops

SHAPES = {  # name: (B, T, C, F, K)
    "S1": (32, 100, 128, 32, 7),
    "S2": (32, 18, 32, 32, 7),
    "S3": (32, 50, 1, 16, 5),
    "S4": (64, 1024, 64, 64, 9),
    "S5": (32, 4096, 256, 256, 3),
}


_CLOCK = time.perf_counter


def _times_ms(fn, repeat, min_time=0.2):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time and len(times) < 1000):
        t0 = _CLOCK()
        fn()
        times.append(_CLOCK() - t0)
    return 1e3 * np.array(times)


def _median_ms(fn, repeat, min_time=0.2):
    return float(np.median(_times_ms(fn, repeat, min_time)))


def _best_ms(fn, repeat, min_time=0.2):
    """Fastest run: what the code reaches when the shared machine leaves it alone (rates)."""
    return float(np.min(_times_ms(fn, repeat, min_time)))


def conv_flops(b, t, c, f, k):
    s = t - k + 1  # valid padding
    return 2.0 * b * s * c * f * k


def fastconv_step(x, w, bias, dy, bufs):
    y, dx, dk, db = bufs

    def run():
        ops.conv1d(x, w, bias, out=y)
        ops.conv1d_backward(dy, x, w, out=(dx, dk, db))
    return run


def torch_step(torch, x, w, bias, dy):
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(2, 1, 0))).requires_grad_(True)
    bt = torch.from_numpy(bias).requires_grad_(True)
    dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 2, 1)))

    def run():
        y = torch.nn.functional.conv1d(xt, wt, bt)
        xt.grad = wt.grad = bt.grad = None
        y.backward(dyt)
    return run


def matmul_gflops(n=4096, repeat=3):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    ms = _best_ms(lambda: a @ b, repeat, min_time=0)
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--no-matmul", action="store_true")
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args()
    if args.cpu_time:
        global _CLOCK
        _CLOCK = time.process_time
    fastconv.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    from fastconv._ext import _conv
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"threads={args.threads}; fastconv kernels: {_conv.isa()}; "
          f"torch: {torch.__version__ if torch else 'not installed'}; "
          f"clock: {'process CPU time' if args.cpu_time else 'wall'}; "
          f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if not args.no_matmul:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=args.threads, user_api="blas"):
            mm = matmul_gflops()
        print(f"numpy float32 matmul 4096^3: {mm:.1f} GFLOP/s (best of 3)")
    print(f"{'shape':5} {'B,T,C,F,K':>22} {'fastconv ms':>12} {'torch ms':>9} {'ratio':>6} "
          f"{'GFLOP/s':>8} {'fwd ms':>8} {'fwd GFLOP/s':>11}")
    rng = np.random.default_rng(0)
    for name in args.shapes.split(","):
        b, t, c, f, k = SHAPES[name]
        x = rng.standard_normal((b, t, c), dtype=np.float32)
        w = rng.standard_normal((k, c, f), dtype=np.float32) * 0.1
        bias = rng.standard_normal(f, dtype=np.float32)
        s = t - k + 1
        dy = rng.standard_normal((b, s, f), dtype=np.float32)
        bufs = (np.empty((b, s, f), np.float32), np.empty_like(x), np.empty_like(w),
                np.empty_like(bias))
        rep = args.repeat if b * t * c * f * k < 5e8 else max(3, args.repeat // 2)
        ms = _median_ms(fastconv_step(x, w, bias, dy, bufs), rep)
        fwd = _best_ms(lambda: ops.conv1d(x, w, bias, out=bufs[0]), args.repeat)
        flops = conv_flops(b, t, c, f, k)
        tms = _median_ms(torch_step(torch, x, w, bias, dy), rep) if torch else float("nan")
        print(f"{name:5} {str((b, t, c, f, k)):>22} {ms:12.3f} {tms:9.3f} {ms / tms:6.2f} "
              f"{3 * flops / (ms * 1e-3) / 1e9:8.1f} {fwd:8.3f} "
              f"{flops / (fwd * 1e-3) / 1e9:11.1f}")


if __name__ == "__main__":
    main()
