"""The main job end to end: the seed IMDb program learns on the real reviews.

Keras 3 reaches 0.82-0.84 test accuracy with this model within 3 epochs; fastconv must reach
0.82 within 3 epochs too (it usually does after the first). Runs the seed program's model
exactly (Embedding -> Conv1D -> MaxPooling1D -> Conv1D -> GlobalMaxPooling1D -> Dense, rmsprop).
"""
import numpy as np
import pytest

import fastconv
from fastconv.datasets import imdb
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.models import Sequential
from fastconv.utils import pad_sequences


@pytest.fixture
def seed(request):
    """Seed 0 in the default suite; each seed of FASTCONV_TEST_SEEDS when that is set (the deep
    tier's sample, FASTCONV_DEEP_IMDB_SEEDS). Not the run's random seed: the 0.82 bar lies
    inside the seed-to-seed spread of a 3-epoch run (over seeds 0-60, seed 33 peaks at 0.8178
    with the distinct-id Embedding+Conv1D step and at 0.8215 without it; the other 60 reach 0.82),
    so a random seed would fail about one CI run in 60 without any change to fastconv."""
    return getattr(request, "param", 0)


def test_imdb_seed_model_reaches_keras_accuracy(imdb_archive, seed):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(imdb_archive, num_words=20000)
    x_train = pad_sequences(x_train, maxlen=100)
    x_test = pad_sequences(x_test, maxlen=100)
    assert x_train.shape == x_test.shape == (25000, 100)
    fastconv.utils.set_random_seed(seed)
    model = Sequential()
    model.add(Embedding(20000, 128))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(MaxPooling1D(5))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(GlobalMaxPooling1D())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    accuracies = []
    for _ in range(3):
        model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
        loss, acc = model.evaluate(x_test, y_test, verbose=0)
        # evaluate's accuracy must be the plain fraction of correct predictions
        pred = model.predict(x_test, verbose=0)[:, 0]
        assert abs(acc - np.mean((pred > 0.5) == y_test)) < 1e-6
        accuracies.append(acc)
        if acc >= 0.82:
            break
    assert max(accuracies) >= 0.82, f"test accuracy per epoch: {accuracies}"
