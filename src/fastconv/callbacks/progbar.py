"""Progress output of fit/evaluate/predict in Keras 3's exact formats (verbose 1 and 2)."""
import math
import sys
import time

from .base import Callback

__all__ = ["Progbar", "ProgbarLogger"]

_BOLD, _RESET, _GREEN, _GREY = "\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m"


def _format_time_per_step(t):
    if t >= 1 or t == 0:
        return f" {t:.0f}s/step"
    if t >= 1e-3:
        return f" {t * 1e3:.0f}ms/step"
    return f" {t * 1e6:.0f}us/step"


class Progbar:
    """A progress bar that shows the latest value of each metric.

    verbose=1 redraws one line (at most every `interval` seconds and at the end);
    verbose=2 prints one summary line when finalized.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, file=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.file = file
        self._values = {}
        self._order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0
        # Keras redraws with backspaces + carriage return on POSIX even without a terminal.
        self._dynamic = hasattr(sys.stdout, "isatty") and sys.stdout.isatty() or \
            "posix" in sys.builtin_module_names

    def _write(self, text):
        out = self.file if self.file is not None else sys.stdout
        out.write(text)
        out.flush()

    def _step_time(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            t = (now - self._time_after_first_step) / (current - 1)
        else:
            t = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return t

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            if k not in self._order:
                self._order.append(k)
            self._values[k] = v
        now = time.time()
        per_step = self._step_time(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            msg = ("\b" * self._prev_width + "\r") if self._dynamic else "\n"
            special = 0
            if self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                bar = f"{_BOLD}{current:{digits}d}/{self.target}{_RESET} "
                special += 8
                filled = int(self.width * float(current) / self.target)
                if filled > 0:
                    bar += f"{_GREEN}{'━' * filled}{_RESET}"
                    special += 9
                bar += f"{_GREY}{'━' * (self.width - filled)}{_RESET}"
                special += 9
            else:
                bar = "%7d/Unknown" % current
            if self.target is not None and self.target > 0 and not finalize:
                eta = per_step * (self.target - current)
                if eta > 3600:
                    eta_s = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
                elif eta > 60:
                    eta_s = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    eta_s = "%ds" % eta
                info = f" {_BOLD}{eta_s}{_RESET}"
            else:
                info = f" {_BOLD}{now - self._start:.0f}s{_RESET}"
            special += 8
            info += _format_time_per_step(per_step)
            for k in self._order:
                v = self._values[k]
                info += f" - {k}: {v:.4f}" if abs(v) > 1e-3 else f" - {k}: {v:.4e}"
            width = len(bar) + len(info) - special
            msg += bar + info
            if self._prev_width > width:
                msg += " " * (self._prev_width - width)
            if finalize:
                msg += "\n"
            self._write(msg)
            self._prev_width = width
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s"
            info += " -" + _format_time_per_step(per_step)
            for k in self._order:
                v = self._values[k]
                info += f" - {k}: {v:.4f}" if v > 1e-3 else f" - {k}: {v:.4e}"
            self._write(info + "\n")
        self._last_update = now


class ProgbarLogger(Callback):
    """Prints `Epoch i/E` and the progress bar / per-epoch line during fit, evaluate, predict."""

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _init(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._reset()
            self._init()

    def on_predict_begin(self, logs=None):
        self._reset()
        self._init()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._init()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def _update(self, batch, logs):
        self._init()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(logs)
