"""LambdaCallback: a callback assembled from plain functions."""
from .base import Callback


class LambdaCallback(Callback):
    """Call the given functions at the matching points of training.

    `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`,
    `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`;
    other keyword arguments become attributes (e.g. `on_predict_end=f`).

    Example:
    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> cb.on_epoch_end(0, {}); seen
    [0]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)
