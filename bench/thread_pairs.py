"""N threads against 1 on the IMDb training epoch, in one process, at the same moments.

Trains the seed IMDb model (fastconv.datasets.imdb; FASTCONV_DATA or ../shared/data) on the
25,000 training reviews, batch 32, switching the thread count every `--block` steps: 1, N, 1,
N, ... (the count changes no bit of the result, so this is the same training as on either
count). Each block is timed from its first step to the next block's first step, so the loop's
own work is in it. Prints the time per step on each count over the epoch, their ratio, and the
ratio block pair by block pair (median and quartiles).

Separate 1- and N-thread epochs (bench/e2e.py) run tens of seconds apart, and on these shared
hosts the speed of the machine drifts over that time; here both counts share every minute.

    python bench/thread_pairs.py                    # N = fastconv.get_num_threads()
    python bench/thread_pairs.py --block 32 --epochs 2
"""
import argparse
import os
import statistics
import time

import fastconv
from fastconv.callbacks import Callback
from fastconv.datasets import imdb
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.models import Sequential
from fastconv.utils import pad_sequences

from e2e import imdb_model    # bench/e2e.py, beside this script


class _Alternate(Callback):
    """Sets the thread count at each block start and records (count, seconds, steps)."""

    _no_kept_arrays = True    # touches no weights: fit may still overlap the table update

    def __init__(self, counts, block):
        super().__init__()
        self.counts, self.block = counts, block
        self.blocks = []
        self._start = None
        self._step = 0

    def _close(self):
        if self._start is not None:
            self.blocks.append((self._count, time.perf_counter() - self._start, self._steps))

    def on_train_batch_begin(self, batch, logs=None):
        if self._step % self.block == 0:
            self._close()
            self._count = self.counts[(self._step // self.block) % len(self.counts)]
            fastconv.set_num_threads(self._count)
            self._start, self._steps = time.perf_counter(), 0
        self._step += 1
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        self._close()
        self._start = None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--block", type=int, default=16, help="steps per block (default 16)")
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args(argv)
    if args.threads < 2 or args.block < 1 or args.epochs < 1:
        ap.error("--threads must be >= 2, --block and --epochs >= 1")
    os.environ["FASTCONV_ADAPTIVE_THREADS"] = "0"
    (xtr, ytr), _ = imdb.load_data(num_words=20000)
    x, y = pad_sequences(xtr, maxlen=100), ytr.astype("float32")
    fastconv.utils.set_random_seed(1)
    model = imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)     # build
    alt = _Alternate((1, args.threads), args.block)
    model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=0, callbacks=[alt])
    blocks = [b for b in alt.blocks if b[2] == args.block][2:]      # first pair: warm-up
    per_step = {n: [t / s for c, t, s in blocks if c == n] for n in (1, args.threads)}
    total = {n: sum(t for c, t, _ in blocks if c == n) / sum(s for c, _, s in blocks if c == n)
             for n in (1, args.threads)}
    pairs = [a / b for a, b in zip(per_step[1], per_step[args.threads])]
    q = statistics.quantiles(pairs, n=4)
    print(f"IMDb epoch{'s' if args.epochs > 1 else ''}, blocks of {args.block} steps on 1 and "
          f"{args.threads} threads in turn ({len(pairs)} pairs after the first):")
    print(f"  ms per step: 1 thread {total[1] * 1e3:.2f}, {args.threads} threads "
          f"{total[args.threads] * 1e3:.2f}: {total[1] / total[args.threads]:.2f}x faster")
    print(f"  block pairs: median {statistics.median(pairs):.2f}x, quartiles {q[0]:.2f}x-"
          f"{q[2]:.2f}x, range {min(pairs):.2f}x-{max(pairs):.2f}x")


if __name__ == "__main__":
    main()
