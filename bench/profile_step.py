"""Where one IMDb training step spends its time: per layer forward/backward, loss, optimizer.

Trains the seed IMDb model on the real reviews (fastconv.datasets.imdb; FASTCONV_DATA or
../shared/data), warms up on 200 batches, then times 400 batches with each layer's forward and
backward, the loss and the optimizer step wrapped by a timer. Prints milliseconds per step.

    python bench/profile_step.py              # all threads
    python bench/profile_step.py --threads 1
    python bench/profile_step.py --kernels    # also each compiled kernel, as called by the ops
    python bench/profile_step.py --python     # the step's Python alone (see below)

The thread count stays as given (the fit loop's thread governor is turned off here).

--python measures the Python side of a step instead: the bytecodes and Python calls it runs
(counted with sys.settrace over 100 steps: the same counts on every run of the same code), and
its time with every compiled kernel the ops call replaced by a no-op (the row numbering and the
loss kept, as the step needs their results; the weights then no longer change). Set against
the real step, that shows how much slower the same Python runs between real kernels, which
leave the core's caches full of their own data.
"""
import argparse
import collections
import importlib
import os
import pkgutil
import sys
import time
import types

import fastconv
from fastconv.datasets import imdb
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.models import Sequential
from fastconv.utils import pad_sequences

from e2e import imdb_model    # bench/e2e.py, beside this script


def _timed(times, obj, name, key):
    fn = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[key] += time.perf_counter() - t
    setattr(obj, name, wrapper)


def _each_kernel(change):
    """Call change(proxy, module_attr, name, fn) for every compiled-kernel function the
    fastconv.ops modules call (their `_conv`, `_embedding`, ... module attributes), on a proxy
    of the extension module that then takes its place in the ops module."""
    import fastconv.ops as ops_pkg

    for info in pkgutil.iter_modules(ops_pkg.__path__):
        mod = importlib.import_module(f"fastconv.ops.{info.name}")
        for attr, ext in list(vars(mod).items()):
            if not (isinstance(ext, types.ModuleType) and ext.__name__.startswith("fastconv._ext")):
                continue
            proxy = types.SimpleNamespace(**{k: getattr(ext, k) for k in dir(ext)
                                             if not k.startswith("__")})
            for name, fn in vars(proxy).copy().items():
                if callable(fn) and not isinstance(fn, type):
                    change(proxy, attr, name, fn)
            setattr(mod, attr, proxy)


def _time_kernels(times):
    """Wrap every compiled kernel with a timer keyed "kernel <module>.<function>"."""
    _each_kernel(lambda proxy, attr, name, fn:
                 _timed(times, proxy, name, f"kernel {attr.lstrip('_')}.{name}"))


# kernels whose results the step's Python needs (row count, loss value), or that only report
# state: kept when --python replaces the kernels with no-ops
_KEEP = {"number_rows", "binary_crossentropy", "background_busy", "background_join",
         "kernel_max_threads", "any_overlap"}


def _no_kernel(proxy, attr, name, fn):
    if name not in _KEEP:
        # returns 0: the deferred row update then reports no bad values
        setattr(proxy, name, lambda *a, **k: 0)


def _python_side(model, x, y, steps):
    """Bytecodes and calls per step (settrace), then ms per step: real, and without kernels."""
    counts = {"op": 0, "call": 0}

    def tracer(frame, event, arg):
        if event == "call":
            counts["call"] += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            counts["op"] += 1
        return tracer

    n = 100 * 32
    sys.settrace(tracer)
    try:
        model.fit(x[:n], y[:n], batch_size=32, epochs=1, verbose=0)
    finally:
        sys.settrace(None)
    print(f"Python per step: {counts['op'] / 100:.0f} bytecodes, {counts['call'] / 100:.0f} "
          "calls of Python functions")
    n = steps * 32

    def per_step():
        t = time.perf_counter()
        model.fit(x[:n], y[:n], batch_size=32, epochs=1, verbose=0)
        return (time.perf_counter() - t) / steps * 1e3
    real = per_step()
    _each_kernel(_no_kernel)
    bare = [per_step() for _ in range(3)]
    print(f"ms per step: real {real:.3f}; every kernel a no-op (3 runs) "
          + ", ".join(f"{b:.3f}" for b in bare))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--kernels", action="store_true",
                    help="also time each compiled kernel (inside the layer times above)")
    ap.add_argument("--python", action="store_true",
                    help="the step's Python instead: bytecodes, calls, time without kernels")
    args = ap.parse_args(argv)
    os.environ["FASTCONV_ADAPTIVE_THREADS"] = "0"
    fastconv.set_num_threads(args.threads)
    (xtr, ytr), _ = imdb.load_data(num_words=20000)
    x, y = pad_sequences(xtr, maxlen=100), ytr.astype("float32")
    fastconv.utils.set_random_seed(1)
    model = imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense)
    model.fit(x[:6400], y[:6400], batch_size=32, epochs=1, verbose=0)
    if args.python:
        _python_side(model, x[6400:], y[6400:], args.steps)
        return
    times = collections.defaultdict(float)
    for layer in model.layers:
        _timed(times, layer, "forward", f"{layer.name} forward")
    for pair in model.__dict__.get("_pairs", {}).values():   # the fused Embedding -> Conv1D
        _timed(times, pair, "forward", f"{pair.emb.name}+{pair.conv.name} forward")
        _timed(times, pair, "backward", f"{pair.emb.name}+{pair.conv.name} backward")
    for layer in reversed(model.layers):
        _timed(times, layer, "backward", f"{layer.name} backward")
    _timed(times, model._loss_obj, "value_and_grad", "loss")
    _timed(times, model, "_update_metrics", "metrics")
    _timed(times, model.optimizer, "apply", "optimizer")
    kernel_times = collections.defaultdict(float)
    if args.kernels:
        _time_kernels(kernel_times)
    n = min(args.steps * 32, len(x) - 6400)
    t = time.perf_counter()
    model.fit(x[6400:6400 + n], y[6400:6400 + n], batch_size=32, epochs=1, verbose=0)
    total = time.perf_counter() - t
    steps = -(-n // 32)
    print(f"threads={args.threads}, {steps} steps of batch 32, ms per step:")
    for key, v in times.items():
        print(f"  {key:32s} {v / steps * 1e3:7.3f}")
    print(f"  {'(sum of the above)':32s} {sum(times.values()) / steps * 1e3:7.3f}")
    print(f"  {'whole step':32s} {total / steps * 1e3:7.3f}")
    if kernel_times:
        print("compiled kernels (already inside the times above), ms per step:")
        for key, v in sorted(kernel_times.items(), key=lambda kv: -kv[1]):
            print(f"  {key:40s} {v / steps * 1e3:7.3f}")


if __name__ == "__main__":
    main()
