"""Printed output: summary() table, verbose=0/1/2 progress formats (timings masked)."""
import re

import numpy as np
import pytest

import fastconv
from fastconv import layers as L
from fastconv.callbacks.progbar import Progbar, _format_time_per_step
from fastconv.models import Sequential

STOCK_SUMMARY = """\
Model: "{name}"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv1d (Conv1D)                 │ (None, 46, 16)         │            96 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling1d (MaxPooling1D)    │ (None, 11, 16)         │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 176)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 1)              │           177 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 273 (1.07 KB)
 Trainable params: 273 (1.07 KB)
 Non-trainable params: 0 (0.00 B)
"""

MASK = re.compile(r"\d+(s|ms|us)\b")


def stock_model(name="sequential"):
    return Sequential([fastconv.Input((50, 1)),
                       L.Conv1D(16, 5, activation="relu", name="conv1d"),
                       L.MaxPooling1D(4, name="max_pooling1d"), L.Flatten(name="flatten"),
                       L.Dense(1, activation="sigmoid", name="dense")], name=name)


def data(n=100, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 50, 1)
    return x, (x[:, 1:, 0].mean(1) > x[:, :-1, 0].mean(1)).astype(float)[:, None]


@pytest.fixture(autouse=True)
def one_thread(num_threads):
    num_threads(1)


def test_summary_exact(capsys):
    m = stock_model()
    m.summary()
    assert capsys.readouterr().out == STOCK_SUMMARY.format(name="sequential")
    m.compile("adam", "binary_crossentropy")
    m.summary()
    assert capsys.readouterr().out == STOCK_SUMMARY.format(name="sequential")  # optimizer unbuilt
    x, y = data(40)
    m.fit(x, y, verbose=0)
    m.summary()
    out = capsys.readouterr().out
    assert out.endswith(" Total params: 821 (3.21 KB)\n Trainable params: 273 (1.07 KB)\n"
                        " Non-trainable params: 0 (0.00 B)\n Optimizer params: 548 (2.14 KB)\n")
    lines = []
    m.summary(print_fn=lines.append)
    assert lines == [out]


def test_summary_unbuilt_wrapping_and_batch_shapes(capsys):
    m = Sequential([L.Embedding(20000, 128, name="embedding"), L.Conv1D(32, 7, name="conv1d"),
                    L.MaxPooling1D(5, name="max_pooling1d"),
                    L.GlobalMaxPooling1D(name="global_max_pooling1d"), L.Dense(1, name="dense")])
    m.summary()
    out = capsys.readouterr().out.splitlines()
    assert out[4] == "│ embedding (Embedding)           │ ?                      │   0 (unbuilt) │"
    assert out[8] == "│ max_pooling1d (MaxPooling1D)    │ ?                      │             0 │"
    assert out[10] == "│ global_max_pooling1d            │ ?                      │             0 │"
    assert out[11] == "│ (GlobalMaxPooling1D)            │                        │               │"
    assert out[-3:] == [" Total params: 0 (0.00 B)", " Trainable params: 0 (0.00 B)",
                        " Non-trainable params: 0 (0.00 B)"]
    m.predict(np.zeros((128, 100), dtype=np.int32), verbose=0, batch_size=128)
    m.summary(line_length=60, show_trainable=True)
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "┃ Layer (type)          ┃ Output Shape     ┃ Param # ┃ Tr… ┃"
    assert out[4] == "│ embedding (Embedding) │ (128, 100, 128)  │ 2,560,… │  Y  │"
    assert out[8] == "│ max_pooling1d         │ (128, 18, 32)    │       0 │  -  │"
    assert " Total params: 2,588,737 (9.88 MB)" in out


def test_verbose_2_lines(capsys):
    fastconv.utils.set_random_seed(0)
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = data(100)
    m.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=2)
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 7
    assert lines[0::2][:3] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1:6:2]:
        assert re.fullmatch(r"3/3 - \d+s - \d+(s|ms|us)/step - acc: \d\.\d{4} - loss: \d\.\d{4}"
                            r" - val_acc: \d\.\d{4} - val_loss: \d\.\d{4}", line), line
    h = m.history.history
    assert lines[5].endswith(f"acc: {h['acc'][-1]:.4f} - loss: {h['loss'][-1]:.4f} - val_acc: "
                             f"{h['val_acc'][-1]:.4f} - val_loss: {h['val_loss'][-1]:.4f}")
    m.fit(x, y, epochs=1, verbose=2)
    one = capsys.readouterr().out
    assert not one.startswith("Epoch")  # no "Epoch 1/1" line for a single epoch
    assert re.fullmatch(r"4/4 - \d+s - \d+(s|ms|us)/step - acc: \d\.\d{4} - loss: \d\.\d{4}\n", one)


def test_verbose_0_prints_nothing(capsys):
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = data(50)
    m.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    m.evaluate(x, y, verbose=0)
    m.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def _visible(s):
    return re.sub(r"\x1b\[\d+m", "", s)


def test_verbose_1_redraws_and_final_line(capsys):
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = data(224)
    m.fit(x, y, epochs=2, batch_size=32, verbose=1)
    out = capsys.readouterr().out
    epochs = out.split("Epoch ")[1:]
    assert [e.split("\n", 1)[0] for e in epochs] == ["1/2", "2/2"]
    body = epochs[1].split("\n", 1)[1]
    assert body.endswith("\n") and body.startswith("\r")
    frames = body[:-1].split("\r")[1:]
    prev = 0
    for k, frame in enumerate(frames):
        # every redraw: the previous visible width in backspaces, then "\r"
        text = frame.rstrip("\b")
        if k + 1 < len(frames):
            assert len(frame) - len(text) == len(_visible(text))
        prev = len(_visible(text))
    final = frames[-1]
    assert re.fullmatch(
        "\x1b\\[1m7/7\x1b\\[0m \x1b\\[32m" + "━" * 20 + "\x1b\\[0m\x1b\\[37m\x1b\\[0m "
        "\x1b\\[1m\\d+s\x1b\\[0m \\d+(s|ms|us)/step - acc: \\d\\.\\d{4} - loss: \\d\\.\\d{4} *",
        final), repr(final)
    assert prev > 40
    rendered = MASK.sub("T", _visible(final)).rstrip()
    assert re.fullmatch(r"7/7 ━{20} T T/step - acc: \d\.\d{4} - loss: \d\.\d{4}", rendered)


def test_evaluate_and_predict_bars(capsys):
    m = stock_model()
    m.compile("adam", "binary_crossentropy", metrics=["acc"])
    x, y = data(40)
    loss, acc = m.evaluate(x, y, verbose=1)
    out = _visible(capsys.readouterr().out)
    final = out.rstrip("\n").split("\r")[-1].rstrip()
    assert re.fullmatch(r"2/2 ━{20} \d+s \d+(s|ms|us)/step - acc: \d\.\d{4} - loss: \d\.\d{4}",
                        final)
    assert final.endswith(f"acc: {acc:.4f} - loss: {loss:.4f}")
    m.predict(x[:5], verbose=1)
    final = _visible(capsys.readouterr().out).rstrip("\n").split("\r")[-1].rstrip()
    assert re.fullmatch(r"1/1 ━{20} \d+s \d+(s|ms|us)/step", final)


def test_value_and_time_formats(capsys):
    assert _format_time_per_step(0) == " 0s/step"
    assert _format_time_per_step(2.4) == " 2s/step"
    assert _format_time_per_step(0.0123) == " 12ms/step"
    assert _format_time_per_step(5e-5) == " 50us/step"
    bar = Progbar(10, verbose=2)
    bar.update(10, [("a", 0.0), ("b", -0.5), ("c", 0.25), ("d", 0.0005)], finalize=True)
    out = capsys.readouterr().out
    assert re.fullmatch(r"10/10 - \d+s - \d+(s|ms|us)/step - a: 0\.0000e\+00 - b: -5\.0000e-01 - "
                        r"c: 0\.2500 - d: 5\.0000e-04\n", out)
    bar = Progbar(10, verbose=1)
    bar.update(3, [("b", -0.5), ("d", 0.0005)])
    out = _visible(capsys.readouterr().out)
    assert re.fullmatch(r"\r 3/10 ━{20} \d+s \d+(s|ms|us)/step - b: -0\.5000 - "
                        r"d: 5\.0000e-04", out)
