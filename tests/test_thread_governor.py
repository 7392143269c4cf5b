"""The loop thread governor (fastconv.models._threads): it picks 1 thread when that is clearly
faster, returns to the configured count when that is faster, changes results by not one bit,
restores the configured count, and can be turned off."""
import numpy as np
import pytest

import fastconv
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D
from fastconv.models import Sequential
from fastconv.models import _threads


class FakeClock:
    """A step takes `cost[threads]` seconds, threads being the count in force during it."""

    def __init__(self, cost):
        self.cost, self.now = cost, 0.0

    def __call__(self):
        return self.now

    def run(self):
        self.now += self.cost[fastconv.get_num_threads()]


def _drive(gov, clock, steps):
    used = []
    for _ in range(steps):
        used.append(fastconv.get_num_threads())
        gov.step(clock.run)
    return used


def test_moves_to_one_thread_under_load_and_back(num_threads):
    num_threads(2)
    clock = FakeClock({2: 0.010, 1: 0.006})        # 2 threads collapse beside a busy process
    with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
        used = _drive(gov, clock, 200)
        assert gov.current == 1 and gov.switches == 1
        assert used[:_threads.FIRST_PROBE] == [2] * _threads.FIRST_PROBE
        assert used[-50:].count(1) >= 40            # mostly on 1 thread, probing 2 now and then
        clock.cost = {2: 0.004, 1: 0.006}           # the other process ended: back at the
        _drive(gov, clock, gov._until_probe + _threads.WINDOW)   # end of the next probe
        assert gov.current == 2 and gov.switches == 2
    assert fastconv.get_num_threads() == 2


def test_stays_on_configured_count_for_a_small_gain(num_threads):
    num_threads(2)
    clock = FakeClock({2: 0.010, 1: 0.0085})        # 15 % faster is within the noise margin
    with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
        used = _drive(gov, clock, 400)
    assert gov.switches == 0 and gov.current == 2
    probes = used.count(1)
    assert 0 < probes <= 4 * _threads.WINDOW        # few probes: the period doubles
    assert gov.period > _threads.PERIOD


def test_probe_period_grows_faster_on_clear_evidence(num_threads):
    num_threads(2)
    for one, growth in ((0.0105, 2), (0.016, 4)):   # 1 thread 5 % / 60 % slower than 2
        clock = FakeClock({2: 0.010, 1: one})
        with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
            _drive(gov, clock, _threads.FIRST_PROBE + _threads.WINDOW)   # the first probe
            assert gov.current == 2 and gov._probe is None
            assert gov.period == growth * _threads.PERIOD


def test_restores_count_after_an_exception(num_threads):
    num_threads(2)
    clock = FakeClock({2: 0.010, 1: 0.001})

    def boom():
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
            _drive(gov, clock, 30)
            assert fastconv.get_num_threads() == 1
            gov.step(boom)
    assert fastconv.get_num_threads() == 2


def test_single_thread_configuration_is_left_alone(num_threads):
    num_threads(1)
    clock = FakeClock({1: 0.01, 2: 0.0001})
    with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
        assert _drive(gov, clock, 100) == [1] * 100
    assert not gov.enabled


def test_environment_switch(monkeypatch, num_threads):
    num_threads(2)
    monkeypatch.setenv("FASTCONV_ADAPTIVE_THREADS", "0")
    with _threads.ThreadGovernor() as gov:
        assert not gov.enabled
    monkeypatch.setenv("FASTCONV_ADAPTIVE_THREADS", "1")
    with _threads.ThreadGovernor() as gov:
        assert gov.enabled
    monkeypatch.setenv("FASTCONV_ADAPTIVE_THREADS", "yes")
    with pytest.raises(ValueError) as err:
        with _threads.ThreadGovernor():
            pass
    assert str(err.value) == (
        "Invalid value for environment variable `FASTCONV_ADAPTIVE_THREADS`. Expected '0' or "
        "'1'. Received: FASTCONV_ADAPTIVE_THREADS='yes'")


def test_switching_changes_no_bit(rng, monkeypatch, num_threads):
    """fit / evaluate / predict with the count flipping at every probe equal, bit for bit, the
    same calls on a fixed count."""
    from fastconv.models import trainer
    from fastconv.ops import conv as conv_ops

    num_threads(2)
    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)   # every conv call uses 2 threads
    governors = []

    class Spy(_threads.ThreadGovernor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            governors.append(self)

    monkeypatch.setattr(trainer, "ThreadGovernor", Spy)
    x = rng.integers(0, 50, size=(160, 40))
    y = (x[:, :3].sum(axis=1) > 75).astype(np.float32)
    results = []
    for adaptive in ("1", "0"):
        monkeypatch.setenv("FASTCONV_ADAPTIVE_THREADS", adaptive)
        monkeypatch.setattr(_threads, "FIRST_PROBE", 2)
        monkeypatch.setattr(_threads, "PERIOD", 3)
        monkeypatch.setattr(_threads, "WINDOW", 2)
        monkeypatch.setattr(_threads, "LEAVE", 1e9)     # every probe switches
        monkeypatch.setattr(_threads, "RETURN", 1e9)
        fastconv.utils.set_random_seed(7)
        model = Sequential([Embedding(60, 16), Conv1D(24, 5, activation="relu"),
                            GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        loss = model.evaluate(x, y, batch_size=8, verbose=0)
        pred = model.predict(x, batch_size=8, verbose=0)
        results.append(model.get_weights() + [np.array(loss), pred])
        assert fastconv.get_num_threads() == 2
        # fit, evaluate, predict: each loop switched several times when adaptive
        assert [g.switches >= 3 for g in governors[-3:]] == [adaptive == "1"] * 3
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_count_set_during_the_loop_stands(num_threads):
    num_threads(2)
    clock = FakeClock({2: 0.010, 1: 0.001, 3: 0.010})
    with _threads.ThreadGovernor(enabled=True, clock=clock) as gov:
        _drive(gov, clock, 3)
        fastconv.set_num_threads(3)                 # e.g. from a callback
        used = _drive(gov, clock, 100)
    assert used == [3] * 100 and not gov.enabled
    assert fastconv.get_num_threads() == 3


def test_choice_carries_over_between_calls(num_threads):
    """A model keeps one governor per loop: a second short call starts on the count the first
    one settled on, without probing again from scratch."""
    num_threads(2)
    clock = FakeClock({2: 0.010, 1: 0.005})
    gov = _threads.ThreadGovernor(enabled=True, clock=clock)
    with gov:
        _drive(gov, clock, 60)
    assert gov.current == 1 and fastconv.get_num_threads() == 2
    period = gov.period
    with gov:
        used = _drive(gov, clock, 2)
    assert used == [1, 1] and gov.period >= period
    num_threads(4)                                  # a new configured count starts afresh
    clock.cost[4] = 0.010
    with gov:
        used = _drive(gov, clock, _threads.FIRST_PROBE)
    assert used == [4] * _threads.FIRST_PROBE
