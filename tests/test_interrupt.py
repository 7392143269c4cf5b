"""Ctrl-C during `fit` (issue: interruption): training stops at the next batch boundary with
the model usable - weights finite and equal to those after exactly the completed batches,
`predict` works - and ModelCheckpoint files are never half-written."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastconv
from fastconv import layers as L
from fastconv.callbacks import Callback
from fastconv.models import Sequential

BATCH = 4


def _model_and_data(seed, compile=True):
    fastconv.utils.set_random_seed(seed)
    m = Sequential([fastconv.Input((20, 2)), L.Conv1D(4, 3, activation="relu"),
                    L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")])
    if compile:
        m.compile("adam", "binary_crossentropy", metrics=["acc"])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((400, 20, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(1) > 0).astype(np.float32)[:, None]
    return m, x, y


def _replay(seed, steps):
    """Weights after exactly `steps` batches of the same (unshuffled) training."""
    m, x, y = _model_and_data(seed)
    x, y = np.concatenate([x] * 20), np.concatenate([y] * 20)  # as in the child process
    m.fit(x[:steps * BATCH], y[:steps * BATCH], batch_size=BATCH, epochs=1, shuffle=False,
          verbose=0)
    return m.get_weights()


class _Counter(Callback):
    def __init__(self, interrupt_at=None):
        super().__init__()
        self.done = 0
        self.interrupt_at = interrupt_at

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def default_sigint():
    """Python's default Ctrl-C handler, as in a program started from a terminal (a process
    started in the background by a non-interactive shell inherits SIGINT ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _bitwise_equal(a, b):
    return all(np.array_equal(u.view(np.uint32), v.view(np.uint32)) for u, v in zip(a, b))


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals are delivered to the main thread")
def test_sigint_stops_after_the_running_batch(seed, num_threads, default_sigint):
    num_threads(1)
    m, x, y = _model_and_data(seed)
    counter = _Counter(interrupt_at=7)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 1"):
        m.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, callbacks=[counter])
    assert counter.done == 7  # the batch during which Ctrl-C came was finished, no more
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    weights = m.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert _bitwise_equal(weights, _replay(seed, 7))
    assert np.isfinite(m.predict(x[:5], verbose=0)).all()
    m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # the model trains on afterwards


def test_a_programs_own_sigint_handler_is_kept(seed, num_threads):
    num_threads(1)
    seen = []
    old = signal.signal(signal.SIGINT, lambda *a: seen.append(1))
    try:
        m, x, y = _model_and_data(seed)
        m.fit(x[:40], y[:40], batch_size=BATCH, verbose=0, callbacks=[_Counter(interrupt_at=2)])
        assert seen == [1] and len(m.history.history["loss"]) == 1
    finally:
        signal.signal(signal.SIGINT, old)


_CHILD = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as when started from a terminal
    import fastconv
    sys.path.insert(0, {tests!r})
    from test_interrupt import BATCH, _Counter, _model_and_data
    from fastconv.callbacks import ModelCheckpoint

    class Ready(_Counter):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if self.done == 3:
                print("READY", flush=True)

    fastconv.set_num_threads(1)
    m, x, y = _model_and_data({seed})
    x, y = np.concatenate([x] * 20), np.concatenate([y] * 20)  # 2,000 batches per epoch
    ready = Ready()
    ckpt = ModelCheckpoint(os.path.join({folder!r}, "ckpt.weights.h5"), save_weights_only=True,
                           save_freq=1)
    try:
        m.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
              callbacks=[ready, ckpt])
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    m.save_weights(os.path.join({folder!r}, "final.weights.h5"))
    pred = m.predict(x[:3], verbose=0)
    print(json.dumps({{"outcome": outcome, "steps": ready.done,
                      "finite": bool(np.isfinite(pred).all())}}), flush=True)
""")


def test_ctrl_c_in_a_training_process(seed, tmp_path):
    code = _CHILD.format(tests=os.path.dirname(__file__), seed=seed, folder=str(tmp_path))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout.readline().strip() == "READY"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted" and report["finite"]
    steps = report["steps"]
    assert 3 <= steps < 2000
    assert sorted(os.listdir(tmp_path)) == ["ckpt.weights.h5", "final.weights.h5"]  # no temp file
    m, _, _ = _model_and_data(seed, compile=False)
    m.load_weights(str(tmp_path / "final.weights.h5"))
    final = m.get_weights()
    assert _bitwise_equal(final, _replay(seed, steps))
    m.load_weights(str(tmp_path / "ckpt.weights.h5"))  # the last checkpoint is complete
    assert _bitwise_equal(m.get_weights(), final)
