"""Which implementation of `fastconv.ops` the layers and optimizers call.

`ops` is `fastconv.ops` (the compiled kernels) unless the environment variable
`FASTCONV_BACKEND=reference` explicitly selects the NumPy twins in `fastconv._reference` (same
names and signatures). There is no silent fallback: a broken compiled build fails at import, and
an unknown value of the variable is an error. The choice is made once, at import.

Example:
>>> from fastconv import _backend
>>> _backend.name in ("compiled", "reference")
True
"""
import importlib
import os

__all__ = ["ops", "name"]

_CHOICES = {"compiled": "fastconv.ops", "reference": "fastconv._reference"}


def _select():
    raw = os.environ.get("FASTCONV_BACKEND", "compiled").strip().lower() or "compiled"
    if raw not in _CHOICES:
        raise ValueError(
            "Invalid value for environment variable `FASTCONV_BACKEND`. Expected 'compiled' or "
            f"'reference'. Received: FASTCONV_BACKEND={raw!r}")
    return raw, importlib.import_module(_CHOICES[raw])


name, ops = _select()
