"""Ctrl-C during `fit`: finish the running batch, then stop with the model usable.

While `fit` runs in the main thread with Python's default SIGINT handler, the first Ctrl-C only
sets a flag. The training loop looks at the flag between batches, so an interrupt never lands in
the middle of an optimizer update (weights half-updated) or of a checkpoint save; `fit` then
raises KeyboardInterrupt. A second Ctrl-C raises at once, as usual. Any handler installed by the
program itself is left alone.
"""
import signal
import threading


class DeferredInterrupt:
    """Context manager: `pending` becomes True on the first SIGINT received inside it.

    Example:
    >>> with DeferredInterrupt() as stop:
    ...     stop.pending
    False
    """

    def __init__(self):
        self.pending = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False
