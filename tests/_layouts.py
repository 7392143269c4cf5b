"""Array layout variants and bitwise comparison shared by the kernel tests.

Every variant holds the same values as the array it was made from; a kernel must give a result
bitwise equal to the one for the plain C-contiguous copy (TESTING.md C1).
"""
import itertools

import numpy as np

_FILES = itertools.count()

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(_UINT[a.dtype.itemsize]) if a.dtype.kind == "f" else a


def bitwise_equal(a, b):
    """Same dtype, shape and bit pattern (NaN payloads and signed zeros included)."""
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(bits(a), bits(b)))


def _gap_fill(dtype):
    return np.nan if dtype.kind == "f" else np.iinfo(dtype).min


def variants(a, tmp_path):
    """[(name, array)] views/copies of `a` in many memory layouts, all with `a`'s values."""
    out = [("C", np.ascontiguousarray(a).copy())]
    if a.ndim >= 2:
        out.append(("F", np.asfortranarray(a)))
    if a.ndim >= 1:
        rev = (slice(None, None, -1),) * a.ndim
        out.append(("negative-strides", a[rev].copy()[rev]))
        big = np.full(a.shape[:-1] + (2 * a.shape[-1],), _gap_fill(a.dtype), dtype=a.dtype)
        big[..., ::2] = a
        out.append(("gaps-hold-nan", big[..., ::2]))
    ro = a.copy()
    ro.flags.writeable = False
    out.append(("read-only", ro))
    if a.size:
        for offset in (0, 1):
            path = tmp_path / f"mm{next(_FILES)}-{offset}.bin"
            with open(path, "wb") as f:
                f.write(b"\0" * offset)
                f.write(np.ascontiguousarray(a).tobytes())
            mm = np.memmap(path, dtype=a.dtype, mode="r", offset=offset, shape=a.shape)
            out.append((f"memmap-offset{offset}", mm))
    return out


def snapshot(*arrays):
    return [None if a is None else (a.dtype, a.shape, np.ascontiguousarray(a).tobytes())
            for a in arrays]

