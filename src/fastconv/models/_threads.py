"""Thread count for a loop of similar steps (fit, evaluate, predict), chosen by measurement.

Every kernel gives bitwise the same result for any thread count (tests/test_conv_threads.py and
the kernels' design notes), so the count changes speed only. Two threads win on an idle 2-core
machine; when another process holds a core they lose badly, because every parallel region ends
at a barrier that waits for the thread the OS has set aside (an IMDb epoch: 5.6 s on 2 threads
idle, 11.5 s on 2 threads beside one busy process, 6.9 s on 1). So the loop runs on the
configured count and, every `period` steps, times a few steps on the other choice (1 thread, or
back to the configured count) and moves to 1 thread only when its median step time is clearly
lower (LEAVE), back to the configured count when that is lower at all (RETURN). A probe that
confirms the current choice doubles the period (quadruples it when the other choice was more
than SURE times slower; up to MAX_PERIOD), so a steady machine pays for few probes.

FASTCONV_ADAPTIVE_THREADS=0 turns it off (the configured count is used throughout), and so does
a change of the thread count during the loop (`fastconv.set_num_threads` in a callback, say):
the user's count then stands. A model keeps one governor per kind of loop (fit, evaluate,
predict) across calls, so short calls do not each start probing afresh.
"""
import os
import time

from .._config import _cfg, get_num_threads

FIRST_PROBE = 6     # steps before the first probe
PERIOD = 40         # steps between probes after a switch
MAX_PERIOD = 640
WINDOW = 8          # steps per probe; the first after a switch is not counted (warm-up)
# Leave the configured count only for a clear gain (step times on a shared machine are noisy
# and 1 thread is never much faster on an idle one); return to it on any gain.
LEAVE = 0.8
RETURN = 1.0
# A probe this much slower than the choice in force is clear evidence: the period grows 4x
# instead of 2x (on an idle 2-core machine an IMDb epoch then spends 3 probes on 1 thread, not 5).
SURE = 1.25


def _median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def adaptive_enabled():
    raw = os.environ.get("FASTCONV_ADAPTIVE_THREADS", "1").strip()
    if raw not in ("0", "1"):
        raise ValueError("Invalid value for environment variable `FASTCONV_ADAPTIVE_THREADS`. "
                         f"Expected '0' or '1'. Received: FASTCONV_ADAPTIVE_THREADS={raw!r}")
    return raw == "1"


class ThreadGovernor:
    """Use as `with ThreadGovernor() as gov:` around a loop; call `gov.step(fn, *args)` for each
    step. Restores the configured thread count on exit."""

    def __init__(self, enabled=None, clock=time.perf_counter):
        self._want = enabled
        self.clock = clock
        self.configured = None
        self.enabled = False                # decided when a loop starts
        self.switches = 0

    def __enter__(self):
        """Start a loop: re-read the configured count; keep the choice and probe schedule of the
        previous loop if the count is unchanged, else start afresh. Step times are not kept
        (batch sizes differ between calls)."""
        configured = get_num_threads()
        if configured != self.configured:
            self.configured = configured
            self.current = configured       # the choice in force
            self.period = PERIOD
            self._until_probe = FIRST_PROBE
        enabled = adaptive_enabled() if self._want is None else self._want
        self.enabled = bool(enabled) and self.configured > 1
        self._recent = []                   # step times on `current` since the last probe
        self._probe = None                  # times on the other choice while probing
        self._set(self.current if self.enabled else self.configured)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            _cfg.omp_set_num_threads(self.configured)
        return False

    def _set(self, n):
        _cfg.omp_set_num_threads(n)
        self._last_set = n

    @property
    def _other(self):
        return 1 if self.current != 1 else self.configured

    def step(self, fn, *args):
        if not self.enabled:
            return fn(*args)
        t = self.clock()
        out = fn(*args)
        self.record(self.clock() - t)
        return out

    def record(self, seconds):
        """Account one step's time and set the thread count for the next step."""
        if get_num_threads() != self._last_set:    # changed by someone else: theirs stands
            self.enabled = False
            self.configured = get_num_threads()
            return
        if self._probe is None:
            self._recent.append(seconds)
            self._recent = self._recent[-2 * WINDOW:]
            self._until_probe -= 1
            if self._until_probe <= 0 and len(self._recent) > 1:
                self._probe = []
                self._set(self._other)
            return
        self._probe.append(seconds)
        if len(self._probe) < WINDOW:
            return
        probe = _median(self._probe[1:])
        here = _median(self._recent[1:] if len(self._recent) > 2 else self._recent)
        self._probe = None
        if probe < (LEAVE if self.current == self.configured else RETURN) * here:
            self.current = self._other
            self.switches += 1
            self.period = PERIOD
            self._recent = []
        else:
            self.period = min((4 if probe >= SURE * here else 2) * self.period, MAX_PERIOD)
        self._set(self.current)
        self._until_probe = self.period
