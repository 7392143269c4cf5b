"""End-to-end speed and memory of the two Keras programs: fastconv vs Keras 3 (JAX, torch).

Each (framework, workload) pair runs in its own process, so import time, peak RSS and thread
pools are measured independently; the same script body runs on every framework, only the
imports differ, exactly as a user would switch.

    python bench/e2e.py                      # full table, 3 repeats, all installed peers
    python bench/e2e.py --quick              # 1 repeat, smaller IMDb slice
    python bench/e2e.py --frameworks fastconv --workloads stock
    python bench/e2e.py --frameworks keras-jax,keras-torch --json peers.json   # peers once,
    python bench/e2e.py --frameworks fastconv --merge peers.json               # then compare

With --threads > 1, fastconv's IMDb epoch also runs on 1 thread for the "2 vs 1 thread" row.
`--busy N` keeps N single-threaded busy-loop processes running during every measurement: the
speed a user gets while something else holds a core.

The IMDb data comes from fastconv.datasets.imdb (FASTCONV_DATA or ../shared/data) for every
framework, tokenised once and cached before any timing starts.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ("fastconv", "keras-jax", "keras-torch")
WORKLOADS = ("import", "imdb", "stock")


def _reset_peak_rss():
    """Start peak-RSS accounting here (Linux: VmHWM is reset by writing 5 to clear_refs), so
    the figure covers the framework and training, not the tokenised-text loading before it."""
    import gc
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense):
    """The seed IMDb program's model, compiled, from whichever framework's classes are given."""
    model = Sequential()
    model.add(Embedding(20000, 128))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(MaxPooling1D(5))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(GlobalMaxPooling1D())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def _child(framework, workload, n_train, threads):
    """Runs inside the child process: import the framework, run one workload, print JSON."""
    t0 = time.perf_counter()
    if framework == "fastconv":
        import fastconv as fw
        from fastconv.layers import (Conv1D, Dense, Embedding, Flatten, GlobalMaxPooling1D,
                                     MaxPooling1D)
        from fastconv.models import Sequential
        fw.set_num_threads(threads)
    else:
        os.environ["KERAS_BACKEND"] = framework.split("-")[1]
        import keras as fw
        from keras.layers import (Conv1D, Dense, Embedding, Flatten, GlobalMaxPooling1D,
                                  MaxPooling1D)
        from keras.models import Sequential
        if framework == "keras-torch":
            import torch
            torch.set_num_threads(threads)
    import_s = time.perf_counter() - t0
    import numpy as np
    out = {"import_s": import_s}
    if workload == "imdb":
        from fastconv.datasets import imdb
        from fastconv.utils import pad_sequences
        (xtr, ytr), (xte, yte) = imdb.load_data(num_words=20000)
        xtr_lists_holder = [xtr, xte]  # the Python lists are freed before training starts
        xtr = pad_sequences(xtr[:n_train], maxlen=100)
        ytr = ytr[:n_train].astype("float32")
        xte = pad_sequences(xte, maxlen=100)
        del xtr_lists_holder[:]
        _reset_peak_rss()
        fw.utils.set_random_seed(1)
        model = imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D,
                           Dense)
        model.fit(xtr[:64], ytr[:64], batch_size=32, epochs=1, verbose=0)  # build + compile
        t, c = time.perf_counter(), time.process_time()
        model.fit(xtr, ytr, batch_size=32, epochs=1, verbose=0)
        out["fit_epoch_s"] = time.perf_counter() - t
        out["fit_epoch_cpu_s"] = time.process_time() - c  # all threads; shows load on a shared box
        t = time.perf_counter()
        p = model.predict(xte, batch_size=32, verbose=0)
        out["predict_s"] = time.perf_counter() - t
        out["test_acc"] = float(np.mean((p[:, 0] > 0.5) == yte))
    elif workload == "stock":
        np.random.seed(0)
        x = np.random.randn(1000, 50, 1)
        y = (x[:, 1:, 0].mean(axis=1) > x[:, :-1, 0].mean(axis=1)).astype("float64")[:, None]
        fw.utils.set_random_seed(0)
        t, c = time.perf_counter(), time.process_time()
        model = Sequential()
        model.add(Conv1D(filters=16, kernel_size=5, activation="relu", input_shape=(50, 1)))
        model.add(MaxPooling1D(4))
        model.add(Flatten())
        model.add(Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])
        model.fit(x, y, epochs=10, batch_size=32, verbose=0)
        out["fit_s"] = time.perf_counter() - t
        out["fit_cpu_s"] = time.process_time() - c
    out["peak_rss_mb"] = _peak_rss_mb()
    print("E2E_RESULT " + json.dumps(out))


def _start_busy(n):
    """n processes that spin on one core each until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop_busy(procs):
    for p in procs:
        p.kill()
        p.wait()


def _run(framework, workload, n_train, threads, busy=0):
    procs = _start_busy(busy)
    try:
        return _run_child(framework, workload, n_train, threads)
    finally:
        _stop_busy(procs)


def _run_child(framework, workload, n_train, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), FASTCONV_NUM_THREADS=str(threads),
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                         f"intra_op_parallelism_threads={threads}",
               PYTHONWARNINGS="ignore")
    cmd = [sys.executable, __file__, "--child", framework, workload, str(n_train), str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in res.stdout.splitlines():
        if line.startswith("E2E_RESULT "):
            return json.loads(line[len("E2E_RESULT "):])
    sys.stderr.write(f"{framework}/{workload} failed:\n{res.stderr[-2000:]}\n")
    return None


def _gemm_scaling(threads, seconds=0.6):
    """How much faster `threads` threads run than 1 on fastconv's conv kernel alone, now: the
    three products of the IMDb distinct-row step (1152 x 128 x 224 each, L2-sized operands),
    timed in turn on 1 and `threads` threads. On these shared hosts the second core's speed
    comes and goes; this shows what the machine gave at the time of an epoch measurement."""
    import numpy as np
    from fastconv._ext import _conv
    rng = np.random.default_rng(0)
    u = rng.random((12, 96, 128), dtype=np.float32)
    q = rng.random((12, 96, 224), dtype=np.float32)
    w, wt = rng.random((1, 128, 224), dtype=np.float32), rng.random((1, 224, 128), dtype=np.float32)
    p, g = np.empty_like(q), np.empty_like(u)
    dw, db = np.empty_like(w), np.empty(224, np.float32)

    def three(nt):
        _conv.conv1d_forward(u, w, None, p, 1, 1, 0, 1, 0, nt)
        _conv.conv1d_backward(q, u, dw, None, dw, db, 1, 1, 0, 1, nt)
        _conv.conv1d_forward(q, wt, None, g, 1, 1, 0, 1, 0, nt)
    times = {1: [], threads: []}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for nt in (1, threads):
            t = time.perf_counter()
            three(nt)
            times[nt].append(time.perf_counter() - t)
    return statistics.median(times[1]) / statistics.median(times[threads])


def _installed(framework):
    if framework == "fastconv":
        return True
    mod = "jax" if framework == "keras-jax" else "torch"
    probe = f"import keras, {mod}"
    env = dict(os.environ, KERAS_BACKEND=mod)  # keras' default backend (tensorflow) is absent
    return subprocess.run([sys.executable, "-c", probe], capture_output=True,
                          env=env).returncode == 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quick", action="store_true", help="1 repeat, 5,000 IMDb training reviews")
    ap.add_argument("--busy", type=int, default=0,
                    help="busy-loop processes competing for the CPUs during each measurement")
    ap.add_argument("--json", help="also write all raw results to this file")
    ap.add_argument("--merge", action="append", default=[],
                    help="add the raw results of an earlier --json run (repeatable)")
    args = ap.parse_args(argv)
    n_train = 5000 if args.quick else 25000
    repeats = 1 if args.quick else args.repeats
    frameworks = [f for f in args.frameworks.split(",") if f and _installed(f)]
    raw = {}
    for wl in args.workloads.split(","):
        # Repeats go round the frameworks in turn (A B C A B C ...), so a machine that speeds up
        # or slows down during the run (these hosts are shared) weighs on every framework alike.
        runs = [(fw, fw, args.threads) for fw in frameworks]
        pair = wl == "imdb" and "fastconv" in frameworks and args.threads > 1
        if pair:
            # beside the configured-thread run, so each pair sees the host alike
            runs.insert(frameworks.index("fastconv") + 1, ("fastconv-1t", "fastconv", 1))
        for rep in range(repeats):
            order = list(runs)
            if pair and rep % 2:
                # every other repeat runs the 1-thread epoch first: a host that speeds up or
                # slows down over a pair then favours neither count
                i = order.index(("fastconv-1t", "fastconv", 1))
                order[i - 1], order[i] = order[i], order[i - 1]
            epochs = {}   # this repeat's fastconv epochs by key
            first_of_pair = True
            for key, fw, threads in order:
                if pair and key in ("fastconv", "fastconv-1t"):
                    if not first_of_pair and not args.busy:   # what the host gave just then
                        raw.setdefault(("gemm-scaling", wl), []).append(
                            _gemm_scaling(args.threads))
                    first_of_pair = False
                r = _run(fw, "none" if wl == "import" else wl, n_train, threads, args.busy)
                raw.setdefault((key, wl), [])
                if r:
                    raw[(key, wl)].append(r)
                    if pair and key in ("fastconv", "fastconv-1t"):
                        epochs[key] = r["fit_epoch_s"]
            if len(epochs) == 2:
                raw.setdefault(("thread-pairs", wl), []).append(
                    epochs["fastconv-1t"] / epochs["fastconv"])
    for path in args.merge:
        with open(path) as f:
            for k, v in json.load(f).items():
                fw, wl = k.split("/")
                raw.setdefault((fw, wl), v)
                if fw not in frameworks:
                    frameworks.append(fw)
    frameworks = [f for f in frameworks
                  if f not in ("fastconv-1t", "gemm-scaling", "thread-pairs")]
    keys = {"import": ["import_s"],
            "imdb": ["fit_epoch_s", "fit_epoch_cpu_s", "predict_s", "peak_rss_mb", "test_acc"],
            "stock": ["fit_s", "fit_cpu_s", "peak_rss_mb"]}
    print(f"\nthreads={args.threads}  repeats={repeats}  imdb train reviews={n_train}  "
          f"competing busy processes={args.busy}  (medians)")
    print(f"{'workload':<8} {'metric':<13}" + "".join(f"{f:>14}" for f in frameworks)
          + f"{'fastconv/best':>15}")
    for wl in args.workloads.split(","):
        for key in keys[wl]:
            vals = {}
            for fw in frameworks:
                xs = [r[key] for r in raw.get((fw, wl), []) if key in r]
                vals[fw] = statistics.median(xs) if xs else float("nan")
            peers = [v for f, v in vals.items() if f != "fastconv" and v == v]
            ratio = ""
            if key != "test_acc" and peers and "fastconv" in vals:
                ratio = f"{vals['fastconv'] / min(peers):.2f}"
            print(f"{wl:<8} {key:<13}" + "".join(f"{vals[f]:>14.3f}" for f in frameworks)
                  + f"{ratio:>15}")
    one = [r["fit_epoch_s"] for r in raw.get(("fastconv-1t", "imdb"), [])]
    two = [r["fit_epoch_s"] for r in raw.get(("fastconv", "imdb"), [])]
    if one and two:
        print(f"fastconv IMDb epoch: 1 thread {statistics.median(one):.2f} s, {args.threads} "
              f"threads {statistics.median(two):.2f} s: "
              f"{statistics.median(one) / statistics.median(two):.2f}x faster")
        pairs = raw.get(("thread-pairs", "imdb"), [])
        probe = raw.get(("gemm-scaling", "imdb"), [])
        print(f"  per repeat (each {args.threads}-thread epoch with a 1-thread one beside it, "
              f"taken after it, then before it, in turn): {', '.join(f'{x:.2f}x' for x in pairs)}"
              + (f" (median {statistics.median(pairs):.2f}x)" if pairs else "")
              + (f"; the conv kernel alone at those moments: "
                 f"{', '.join(f'{x:.2f}x' for x in probe)}" if probe else ""))
    try:
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
              f"on {os.cpu_count()} CPUs")
    except OSError:
        pass
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{k[0]}/{k[1]}": v for k, v in raw.items()}, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
