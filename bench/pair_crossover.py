"""Where the Embedding -> Conv1D pair path stops paying: training steps with it and without it.

A Sequential model runs an Embedding followed by a Conv1D as one step over the batch's R
distinct ids when `fastconv.layers._embedding_conv.worth_it` says so (a cost model in E, F, K,
R and B*S), else as the two layers. This trains the seed IMDb model's shape (Embedding(200000,
E) -> Conv1D(F, K, relu) -> MaxPooling1D(5) -> Conv1D(32, 7) -> GlobalMaxPooling1D ->
Dense(1)) on random ids drawn from vocabularies of growing size, so R grows from a few hundred
to nearly all B*T positions, with the pair path forced on and off in turns every 8 steps (same
moments, same data), and prints the median step time of each and the R where `worth_it`
draws the line.

    python bench/pair_crossover.py                     # E=128, F=32, K=7, batch 32 x 100
    python bench/pair_crossover.py --embed 64 --filters 128 --kernel 3 --threads 1
    python bench/pair_crossover.py --batch 512 --steps 48
"""
import argparse
import os
import statistics
import time

import numpy as np

import fastconv
from fastconv.callbacks import Callback
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.layers import _embedding_conv as pair
from fastconv.models import Sequential


def _model(vocab, embed, filters, kernel):
    model = Sequential()
    model.add(Embedding(vocab, embed))
    model.add(Conv1D(filters, kernel, activation="relu"))
    model.add(MaxPooling1D(5))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(GlobalMaxPooling1D())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


class _Turns(Callback):
    """Forces the pair path on and off in turns every `block` steps; records per-step times."""

    def __init__(self, state, block=8):
        super().__init__()
        self.state, self.block = state, block
        self.times = {True: [], False: []}
        self._i, self._t = 0, None

    def on_train_batch_begin(self, batch, logs=None):
        if self._i % self.block == 0:
            now = time.perf_counter()
            if self._t is not None and self._i > 2 * self.block:    # first two blocks: warm-up
                self.times[self.state["on"]].append((now - self._t) / self.block)
            self.state["on"] = not self.state["on"]
            self._t = now
        self._i += 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--filters", type=int, default=32)
    ap.add_argument("--kernel", type=int, default=7)
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=160, help="steps per vocabulary size")
    args = ap.parse_args(argv)
    if args.steps < 48:
        ap.error("--steps must be at least 48 (two warm-up blocks of 8, then both paths twice)")
    os.environ["FASTCONV_ADAPTIVE_THREADS"] = "0"
    fastconv.set_num_threads(args.threads)
    batch, length, vocab_max = args.batch, 100, 200_000
    steps = batch * (length - args.kernel + 1)
    decide = pair.worth_it
    limit = max((r for r in range(batch * length + 1)
                 if decide(r, batch * length, steps, args.embed, args.kernel, args.filters, 4)),
                default=0)
    state = {"on": False}
    counts = []
    numbering = pair.EmbeddingConv._numbering

    def counted(self, ids, training):
        out = numbering(self, ids, training)
        counts.append(out[2])
        return out

    pair.worth_it = lambda *args: state["on"]
    pair.EmbeddingConv._numbering = counted
    print(f"E={args.embed} F={args.filters} K={args.kernel}, batch {batch} x {length}, "
          f"threads={args.threads}; worth_it takes the pair path up to R = {limit:.0f}")
    print(f"{'vocabulary':>10s} {'R':>6s} {'pair ms':>8s} {'layers ms':>9s} {'layers/pair':>11s}")
    rng = np.random.default_rng(0)
    for vocab in (400, 1000, 2000, 3000, 4000, 6000, 10000, 30000, vocab_max):
        x = rng.integers(0, vocab, (batch * args.steps, length)).astype(np.int32)
        y = rng.integers(0, 2, batch * args.steps).astype(np.float32)
        turns = _Turns(state)
        counts.clear()
        _model(vocab_max, args.embed, args.filters, args.kernel).fit(
            x, y, batch_size=batch, epochs=1, verbose=0, callbacks=[turns])
        on = statistics.median(turns.times[True]) * 1e3
        off = statistics.median(turns.times[False]) * 1e3
        print(f"{vocab:10d} {statistics.mean(counts):6.0f} {on:8.2f} {off:9.2f} {off / on:11.2f}")


if __name__ == "__main__":
    main()
