"""End-to-end training and inference of the two Keras programs, fastconv vs Keras 3.

Run (one Keras backend per process, so the peers come from separate runs):
    python -m pytest bench/bench_e2e.py --benchmark-only -p no:cacheprovider
    KERAS_BACKEND=jax   python -m pytest bench/bench_e2e.py --benchmark-only -p no:cacheprovider
    KERAS_BACKEND=torch python -m pytest bench/bench_e2e.py --benchmark-only -p no:cacheprovider
Without KERAS_BACKEND only fastconv runs. The data are IMDb-shaped synthetic ids (no download
needed): the arithmetic per step is the real program's. The full side-by-side table of issue 5
(one process per framework, real data, peak RSS, import time, 1 vs 2 threads) is
`python bench/e2e.py`.
Groups: "stock-fit" (the whole 10-epoch fit), "imdb-fit-40-steps" (40 training steps of batch 32),
"imdb-predict-1280" (predict on 1,280 reviews, batch 32).
"""
import os

import numpy as np
import pytest

_PEER = os.environ.get("KERAS_BACKEND")
FRAMEWORKS = ["fastconv"] + ([f"keras-{_PEER}"] if _PEER in ("jax", "torch") else [])


def _api(framework):
    if framework == "fastconv":
        import fastconv as fw
        from fastconv import layers
        from fastconv.models import Sequential
    else:
        import keras as fw
        from keras import layers
        from keras.models import Sequential
    return fw, layers, Sequential


def _imdb_model(framework):
    fw, L, Sequential = _api(framework)
    fw.utils.set_random_seed(1)
    model = Sequential([L.Input((100,), dtype="int32"), L.Embedding(20000, 128),
                        L.Conv1D(32, 7, activation="relu"), L.MaxPooling1D(5),
                        L.Conv1D(32, 7, activation="relu"), L.GlobalMaxPooling1D(),
                        L.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def _imdb_data(n):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20000, size=(n, 100)).astype(np.int32)
    y = rng.integers(0, 2, size=(n,)).astype(np.float32)
    return x, y


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_stock_fit(benchmark, framework):
    fw, L, Sequential = _api(framework)
    np.random.seed(0)
    x = np.random.randn(1000, 50, 1)
    y = (x[:, 1:, 0].mean(axis=1) > x[:, :-1, 0].mean(axis=1)).astype("float64")[:, None]

    def run():
        fw.utils.set_random_seed(0)
        model = Sequential([L.Input((50, 1)), L.Conv1D(16, 5, activation="relu"),
                            L.MaxPooling1D(4), L.Flatten(), L.Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])
        model.fit(x, y, epochs=10, batch_size=32, verbose=0)

    benchmark.group = "stock-fit"
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_imdb_fit_steps(benchmark, framework):
    x, y = _imdb_data(32 * 40)
    model = _imdb_model(framework)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # build / compile
    benchmark.group = "imdb-fit-40-steps"
    benchmark.pedantic(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0),
                       rounds=3, iterations=1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_imdb_predict(benchmark, framework):
    x, _ = _imdb_data(1280)
    model = _imdb_model(framework)
    model.predict(x[:64], batch_size=32, verbose=0)
    benchmark.group = "imdb-predict-1280"
    benchmark.pedantic(lambda: model.predict(x, batch_size=32, verbose=0), rounds=3,
                       iterations=1)
