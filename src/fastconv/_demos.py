"""The two Keras programs fastconv is built around, as functions the `fastconv demo` command runs.

`imdb`: sentiment classification of IMDb reviews with Embedding + two Conv1D blocks (Keras'
Conv1D text-classification example). `stock`: a Conv1D on synthetic price series that predicts
whether the second half of a window rises. Both print Keras-style progress.
"""
import sys
import time

import numpy as np

__all__ = ["imdb", "stock", "DataError"]


class DataError(Exception):
    """The demo's data could not be found or read (the message says what to do)."""


def _epoch_timer():
    from .callbacks import Callback

    class EpochTimer(Callback):
        """Wall time of every epoch (the progress line rounds to whole seconds)."""

        def __init__(self):
            super().__init__()
            self.times = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def _seed(seed):
    if seed is not None:
        from .utils import set_random_seed

        set_random_seed(seed)


def _report_epochs(timer, out):
    times = timer.times
    if times:
        listed = ", ".join(f"{t:.1f}" for t in times)
        print(f"Time per epoch: {sum(times) / len(times):.1f} s (epochs: {listed} s)", file=out)


def imdb(data=None, epochs=2, batch_size=32, seed=None, verbose=1, out=None):
    """Train the IMDb Conv1D model and print the test accuracy and the time per epoch.

    Model (the seed program): Embedding(20000, 128) -> Conv1D(32, 7, relu) -> MaxPooling1D(5)
    -> Conv1D(32, 7, relu) -> GlobalMaxPooling1D -> Dense(1, sigmoid); rmsprop,
    binary_crossentropy, metrics ['acc']. Data: `imdb.load_data(num_words=20000)` padded to 100
    words with `pad_sequences`.

    Returns:
        dict with `test_loss`, `test_acc`, `epoch_times` (s), `history`.
    """
    from .datasets import imdb as imdb_data
    from .layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
    from .models import Sequential
    from .utils import pad_sequences

    out = out if out is not None else sys.stdout
    max_features = 20000
    maxlen = 100
    _seed(seed)

    t0 = time.perf_counter()
    try:
        (x_train, y_train), (x_test, y_test) = imdb_data.load_data(path=data,
                                                                   num_words=max_features)
    except (OSError, ValueError) as err:
        raise DataError(str(err)) from err
    x_train = pad_sequences(x_train, maxlen=maxlen)
    x_test = pad_sequences(x_test, maxlen=maxlen)
    print(f"IMDb reviews: {len(x_train)} train, {len(x_test)} test, padded to {maxlen} words "
          f"({time.perf_counter() - t0:.1f} s)", file=out)

    model = Sequential()
    model.add(Embedding(max_features, 128))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(MaxPooling1D(5))
    model.add(Conv1D(32, 7, activation="relu"))
    model.add(GlobalMaxPooling1D())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])

    timer = _epoch_timer()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose,
                        callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=verbose)
    print(f"Test accuracy: {acc:.4f} (loss {loss:.4f})", file=out)
    _report_epochs(timer, out)
    return {"test_loss": float(loss), "test_acc": float(acc), "epoch_times": timer.times,
            "history": history.history}


def _create_data(nb_samples, nb_steps):
    x = np.random.randn(nb_samples, nb_steps, 1)
    later = x[:, 1:, 0].mean(axis=1)
    earlier = x[:, :-1, 0].mean(axis=1)
    y = (later > earlier).astype(np.float64).reshape(nb_samples, 1)
    return x, y


def stock(epochs=10, batch_size=32, seed=None, verbose=2, out=None):
    """Train the seed's stock-movement Conv1D model on synthetic series; print accuracy and time.

    Model: Conv1D(16, 5, relu) on (50, 1) -> MaxPooling1D(4) -> Flatten -> Dense(1, sigmoid);
    adam, binary_crossentropy, metrics ['acc']; 1,000 random-walk samples (np.random.randn, as
    in the seed) plus 1,000 fresh ones for the reported accuracy.

    Returns:
        dict with `test_acc`, `epoch_times`, `history`.
    """
    from .layers import Conv1D, Dense, Flatten, Input, MaxPooling1D
    from .models import Sequential

    out = out if out is not None else sys.stdout
    _seed(seed)
    nb_samples, nb_steps, kernel_size, filters, pool_size = 1000, 50, 5, 16, 4
    x_train, y_train = _create_data(nb_samples, nb_steps)
    x_test, y_test = _create_data(nb_samples, nb_steps)

    # Input(...) instead of the seed's input_shape= argument, which only adds a warning.
    model = Sequential()
    model.add(Input(shape=(nb_steps, 1)))
    model.add(Conv1D(filters=filters, kernel_size=kernel_size, activation="relu"))
    model.add(MaxPooling1D(pool_size))
    model.add(Flatten())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])

    timer = _epoch_timer()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose,
                        callbacks=[timer])
    _, acc = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    print(f"Accuracy on 1,000 new series: {acc:.4f}", file=out)
    _report_epochs(timer, out)
    return {"test_acc": float(acc), "epoch_times": timer.times, "history": history.history}
