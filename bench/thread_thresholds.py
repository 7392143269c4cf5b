"""Where a second OpenMP thread starts to pay, for the two kinds of kernel the ops tell apart.

The ops give a call more than one thread only above a work threshold (fastconv.ops._checks
.MIN_WORK_PER_THREAD elements for memory-bound passes, fastconv.ops.conv._MIN_MACS_PER_THREAD
multiply-adds for convolutions). This script times the compiled kernels directly, with the
thread count forced, over sizes around those thresholds, 1 and N threads taken in turn, and
prints the speed-up of N threads at each size and the size the ops switch at.

    python bench/thread_thresholds.py                # N = fastconv.get_num_threads()
    python bench/thread_thresholds.py --busy 1       # beside one busy-loop process

Run it beside a busy process too: there a fork/join waits for a thread the OS has set aside,
which the fit loop's thread governor (fastconv/models/_threads.py) answers by itself.
"""
import argparse
import multiprocessing
import statistics
import time

import numpy as np

import fastconv
from fastconv._ext import _activation, _conv
from fastconv.ops import _checks
from fastconv.ops import conv as conv_ops


def _busy():  # pragma: no cover - runs in a child process
    while True:
        pass


def _time(fn, reps):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def _paired(fn1, fn2, reps, rounds=7):
    """Median per-call seconds of fn1 and fn2, measured in alternation."""
    a, b = [], []
    for _ in range(rounds):
        a.append(_time(fn1, reps))
        b.append(_time(fn2, reps))
    return statistics.median(a), statistics.median(b)


def stream_rows(n_threads, rng):
    """The relu backward (3 arrays per element), as the memory-bound passes."""
    out = []
    for n in (4096, 16384, 32768, 65536, 131072, 262144, 1 << 20):
        dy, y = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
        dz = np.empty_like(dy)
        reps = max(20, 2_000_000 // n)
        t1, tn = _paired(lambda: _activation.act_backward(dy, y, dz, 1, 1),
                         lambda: _activation.act_backward(dy, y, dz, 1, n_threads), reps)
        out.append(("relu backward", f"{n} elements", 3 * n, t1, tn))
    return out


def conv_rows(n_threads, rng):
    """Conv1D forward + backward (32 x 32 channels, kernel 7, batch 32), as the GEMM kernels."""
    out = []
    for steps in (1, 2, 4, 8, 16, 32):
        x = rng.random((32, steps + 6, 32), dtype=np.float32)
        w = rng.random((7, 32, 32), dtype=np.float32)
        y = np.empty((32, steps, 32), np.float32)
        dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty(32, np.float32)
        macs = 32 * steps * 7 * 32 * 32
        reps = max(20, 400_000_000 // (macs * 4))

        def step(nt):
            _conv.conv1d_forward(x, w, None, y, 1, 1, 0, 1, 0, nt)
            _conv.conv1d_backward(y, x, w, dx, dw, db, 1, 1, 0, 1, nt)
        t1, tn = _paired(lambda: step(1), lambda: step(n_threads), reps)
        out.append(("conv1d fwd+bwd", f"{steps} output steps", macs, t1, tn))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes to run beside")
    args = ap.parse_args(argv)
    if args.threads < 2:
        ap.error("needs --threads >= 2 (this machine reports 1)")
    procs = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.busy)]
    for p in procs:
        p.start()
    try:
        rng = np.random.default_rng(0)
        rows = stream_rows(args.threads, rng) + conv_rows(args.threads, rng)
    finally:
        for p in procs:
            p.terminate()
    print(f"{args.threads} threads vs 1, {args.busy} busy processes beside (medians of 7 "
          "alternating rounds)")
    print(f"{'kernel':16s} {'size':18s} {'work':>10s} {'1 thread':>10s} "
          f"{f'{args.threads} threads':>10s} {'speed-up':>8s}")
    for name, size, work, t1, tn in rows:
        print(f"{name:16s} {size:18s} {work:10d} {t1 * 1e6:8.1f}us {tn * 1e6:8.1f}us "
              f"{t1 / tn:7.2f}x")
    print(f"The ops use 2 threads from {2 * _checks.MIN_WORK_PER_THREAD} elements of work "
          f"(memory-bound passes) and from {2 * conv_ops._MIN_MACS_PER_THREAD} multiply-adds "
          "(conv).")


if __name__ == "__main__":
    main()
