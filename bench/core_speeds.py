"""How fast each core runs the same kernel at the same moments, window by window.

One process per core, pinned to it, runs fastconv's conv kernel on 1 thread (the IMDb step's
distinct-row product, 2 chunks of 96 x 128 x 224) for `--seconds`, counting calls in windows of
`--window` seconds. Prints each core's median rate and, per window, the rate of each core over
core 0's. On an idle machine with equal cores the ratios stay near 1.00; on a shared host,
where other guests load the cores unevenly, they spread, and a parallel region split evenly
between threads waits for the slower core (the reason the big kernels hand out their work in
pieces taken in turn).

    python bench/core_speeds.py                 # all usable cores, 10 s
    python bench/core_speeds.py --seconds 30 --window 0.05
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _child(cpu, seconds, window):
    os.sched_setaffinity(0, {cpu})
    import numpy as np

    from fastconv._ext import _conv
    rng = np.random.default_rng(0)
    u = rng.random((2, 96, 128), dtype=np.float32)
    w = rng.random((1, 128, 224), dtype=np.float32)
    p = np.empty((2, 96, 224), np.float32)
    counts = []
    start = time.time()
    end = start + seconds
    while True:
        t0 = time.time()
        if t0 >= end:
            break
        n = 0
        while time.time() - t0 < window:
            _conv.conv1d_forward(u, w, None, p, 1, 1, 0, 1, 0, 1)
            n += 1
        counts.append(n)
    print(json.dumps(counts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--window", type=float, default=0.1, help="seconds per window (0.1)")
    args = ap.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(c), str(args.seconds),
                               str(args.window)], stdout=subprocess.PIPE, text=True)
             for c in cpus]
    rates = [json.loads(p.communicate()[0]) for p in procs]
    n = min(len(r) for r in rates)
    for cpu, r in zip(cpus, rates):
        print(f"cpu {cpu}: median {statistics.median(r) / args.window:.0f} calls/s over "
              f"{len(r)} windows of {args.window} s")
    for cpu, r in zip(cpus[1:], rates[1:]):
        ratios = [r[i] / rates[0][i] for i in range(n) if rates[0][i]]
        dec = statistics.quantiles(ratios, n=10)
        print(f"cpu {cpu} / cpu {cpus[0]}, per window: deciles "
              + " ".join(f"{d:.2f}" for d in dec)
              + f"; range {min(ratios):.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
