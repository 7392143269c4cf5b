"""Small models shaped like the two seed programs, shared by the saving and callback tests."""
import numpy as np

from fastconv import layers
from fastconv.models import Sequential


def stock_model(steps=50, optimizer="adam", dtype=None, compile=True):
    """The stock-prediction model: Conv1D(16, 5) -> MaxPooling1D(4) -> Flatten -> Dense(1)."""
    kw = {} if dtype is None else {"dtype": dtype}
    model = Sequential([
        layers.Input((steps, 1)),
        layers.Conv1D(16, 5, activation="relu", **kw),
        layers.MaxPooling1D(4, **kw),
        layers.Flatten(**kw),
        layers.Dense(1, activation="sigmoid", **kw),
    ])
    if compile:
        model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["acc"])
    return model


def imdb_model(vocab=200, length=30, optimizer="rmsprop", compile=True):
    """The IMDb architecture at toy size: two Conv1D layers (keys conv1d, conv1d_1)."""
    model = Sequential([
        layers.Input((length,), dtype="int32"),
        layers.Embedding(vocab, 8),
        layers.Conv1D(4, 7, activation="relu"),
        layers.MaxPooling1D(5),
        layers.Conv1D(4, 3, activation="relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])
    if compile:
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
    return model


def stock_data(rng, n=64, steps=50):
    x = rng.standard_normal((n, steps, 1)).astype(np.float32)
    y = (x[:, 1:, 0].mean(axis=1) > x[:, :-1, 0].mean(axis=1)).astype(np.float32)[:, None]
    return x, y


def imdb_data(rng, n=64, vocab=200, length=30):
    x = rng.integers(0, vocab, size=(n, length)).astype(np.int32)
    y = (rng.random((n, 1)) > 0.5).astype(np.float32)
    return x, y


def trained(model, x, y, epochs=1):
    """`model` after a short fit, so its optimizer holds slots (built, non-zero state)."""
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, shuffle=False)
    return model


def weights_equal(a, b):
    """Bitwise equality of two weight lists (shapes, dtypes and every bit)."""
    if len(a) != len(b):
        return False
    return all(x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
               for x, y in zip(a, b))


def optimizer_values(model):
    from fastconv.saving.weights_file import variable_value

    return [np.array(variable_value(v)) for v in model.optimizer.variables]
