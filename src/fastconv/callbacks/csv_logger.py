"""CSVLogger: one CSV row per epoch with every logged value."""
import collections
import collections.abc
import csv
import os

import numpy as np

from .base import Callback


class CSVLogger(Callback):
    """Stream epoch results to a CSV file (Keras 3 format).

    The header is `epoch` followed by the sorted log keys; when no `val_` key is logged, a
    `val_` twin of every key is added and filled with `NA`. Epochs are numbered from 0; rows end
    with `\\r\\n` (the csv "excel" dialect); values are written with `str()`.

    Args:
        filename: path of the CSV file.
        separator: field separator, default `","`.
        append: append to an existing file (its header is kept if it is non-empty).

    Example:
    >>> CSVLogger("training.log", separator=";").sep
    ';'
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(value):
            if isinstance(value, str):
                return value
            if (isinstance(value, collections.abc.Iterable)
                    and not (isinstance(value, np.ndarray) and value.ndim == 0)):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            dialect = type("_Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
