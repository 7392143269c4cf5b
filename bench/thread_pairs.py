"""N threads against 1 on the IMDb training epoch, in one process, at the same moments.

Trains the seed IMDb model (fastconv.datasets.imdb; FASTCONV_DATA or ../shared/data) on the
25,000 training reviews, batch 32, switching the thread count every `--block` steps: 1, N, 1,
N, ... (the count changes no bit of the result, so this is the same training as on either
count). Each block is timed from its first step to the next block's first step, so the loop's
own work is in it. Prints the time per step on each count over the epoch, their ratio, and the
ratio block pair by block pair (median and quartiles).

Separate 1- and N-thread epochs (bench/e2e.py) run tens of seconds apart, and on these shared
hosts the speed of the machine drifts over that time; here both counts share every minute.

With --background the blocks take three turns: 1 thread, N threads with the embedding table's
RMSprop update in place, N threads with it on the background thread (as fit does; the choice
changes no bit either), and the N-thread lines compare the two.

    python bench/thread_pairs.py                    # N = fastconv.get_num_threads()
    python bench/thread_pairs.py --block 32 --epochs 2
    python bench/thread_pairs.py --background --block 8
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
    """Sets the thread count (and whether the table update may run in the background) at each
    block start; records (turn, seconds, steps) per block."""

    _no_kept_arrays = True    # touches no weights: fit may still overlap the table update

    def __init__(self, turns, block):
        super().__init__()
        self.turns, self.block = turns, block
        self.blocks = []
        self._start = None
        self._step = 0

    def _close(self):
        if self._start is not None:
            self.blocks.append((self._count, time.perf_counter() - self._start, self._steps))

    def on_train_batch_begin(self, batch, logs=None):
        if self._step % self.block == 0:
            self._close()
            self._count = self.turns[(self._step // self.block) % len(self.turns)]
            fastconv.set_num_threads(self._count[0])
            self.model.optimizer._background = self._count[1]
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
    ap.add_argument("--background", action="store_true",
                    help="also compare N threads with and without the background table update")
    args = ap.parse_args(argv)
    if args.threads < 2 or args.block < 1 or args.epochs < 1:
        ap.error("--threads must be >= 2, --block and --epochs >= 1")
    os.environ["FASTCONV_ADAPTIVE_THREADS"] = "0"
    (xtr, ytr), _ = imdb.load_data(num_words=20000)
    x, y = pad_sequences(xtr, maxlen=100), ytr.astype("float32")
    fastconv.utils.set_random_seed(1)
    model = imdb_model(Sequential, Embedding, Conv1D, MaxPooling1D, GlobalMaxPooling1D, Dense)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)     # build
    n = args.threads
    turns = [(1, True), (n, False), (n, True)] if args.background else [(1, True), (n, True)]
    alt = _Alternate(turns, args.block)
    model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=0, callbacks=[alt])
    blocks = [b for b in alt.blocks if b[2] == args.block][len(turns):]   # first turn: warm-up
    per_step = {t: [s / k for c, s, k in blocks if c == t] for t in turns}
    total = {t: sum(s for c, s, _ in blocks if c == t) / sum(k for c, _, k in blocks if c == t)
             for t in turns}
    print(f"IMDb epoch{'s' if args.epochs > 1 else ''}, blocks of {args.block} steps on "
          f"{len(turns)} settings in turn ({len(per_step[turns[0]])} rounds after the first):")
    one = (1, True)
    for t in turns[1:]:
        pairs = [a / b for a, b in zip(per_step[one], per_step[t])]
        q = statistics.quantiles(pairs, n=4)
        what = f"{n} threads" + ("" if not args.background else
                                 (", table update in background" if t[1] else
                                  ", table update in place"))
        print(f"  {what}: ms per step 1 thread {total[one] * 1e3:.2f}, {n} threads "
              f"{total[t] * 1e3:.2f}: {total[one] / total[t]:.2f}x faster")
        print(f"    block pairs: median {statistics.median(pairs):.2f}x, quartiles "
              f"{q[0]:.2f}x-{q[2]:.2f}x, range {min(pairs):.2f}x-{max(pairs):.2f}x")
    if args.background:
        gain = [a - b for a, b in zip(per_step[(n, False)], per_step[(n, True)])]
        print(f"  background minus in place, ms per {n}-thread step: median "
              f"{-statistics.median(gain) * 1e3:+.3f}, quartiles "
              f"{-statistics.quantiles(gain, n=4)[2] * 1e3:+.3f} to "
              f"{-statistics.quantiles(gain, n=4)[0] * 1e3:+.3f}")


if __name__ == "__main__":
    main()
