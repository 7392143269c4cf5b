"""IMDb test accuracy of the seed program after 2 epochs: fastconv vs Keras 3, mean of 3 seeds.

Issue bar: fastconv within 1 point of Keras. Each (framework, seed) run is its own process, the
same script body with only the imports switched; both read the same data through
fastconv.datasets.imdb (num_words 20000, maxlen 100; FASTCONV_DATA or ../shared/data).

    python bench/accuracy.py                          # fastconv and keras-jax, seeds 0 1 2
    python bench/accuracy.py --frameworks fastconv --seeds 0
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from e2e import imdb_model  # bench/ is the script's folder, so first on sys.path

EPOCHS = 2


def _child(framework, seed):
    if framework == "fastconv":
        import fastconv as fw
        from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
        from fastconv.models import Sequential
    else:
        os.environ["KERAS_BACKEND"] = framework.split("-")[1]
        import keras as fw
        from keras.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
        from keras.models import Sequential
    from fastconv.datasets import imdb
    from fastconv.utils import pad_sequences
    (xtr, ytr), (xte, yte) = imdb.load_data(num_words=20000)
    xtr, xte = pad_sequences(xtr, maxlen=100), pad_sequences(xte, maxlen=100)
    fw.utils.set_random_seed(seed)
    model = imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense)
    model.fit(xtr, ytr.astype("float32"), batch_size=32, epochs=EPOCHS, verbose=0)
    _, acc = model.evaluate(xte, yte.astype("float32"), batch_size=32, verbose=0)
    print("ACC_RESULT " + json.dumps({"acc": float(acc)}))


def _run(framework, seed):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run([sys.executable, __file__, "--child", framework, str(seed)],
                         capture_output=True, text=True, env=env)
    for line in res.stdout.splitlines():
        if line.startswith("ACC_RESULT "):
            return json.loads(line[len("ACC_RESULT "):])["acc"]
    sys.stderr.write(f"{framework} seed {seed} failed:\n{res.stderr[-2000:]}\n")
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default="fastconv,keras-jax")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child[0], int(args.child[1]))
    seeds = [int(s) for s in args.seeds.split(",")]
    frameworks = args.frameworks.split(",")
    table = {fw: [_run(fw, s) for s in seeds] for fw in frameworks}
    print(f"IMDb test accuracy after {EPOCHS} epochs (seeds {args.seeds})")
    print(f"{'framework':<12}" + "".join(f"{'seed ' + str(s):>10}" for s in seeds) + f"{'mean':>10}")
    means = {}
    for fw, accs in table.items():
        ok = [a for a in accs if a is not None]
        means[fw] = statistics.mean(ok) if ok else float("nan")
        cells = "".join(f"{a:>10.4f}" if a is not None else f"{'failed':>10}" for a in accs)
        print(f"{fw:<12}{cells}{means[fw]:>10.4f}")
    if "fastconv" in means and len(means) > 1:
        for fw, m in means.items():
            if fw != "fastconv":
                print(f"fastconv - {fw}: {100 * (means['fastconv'] - m):+.2f} points (bar: within 1)")


if __name__ == "__main__":
    main()
