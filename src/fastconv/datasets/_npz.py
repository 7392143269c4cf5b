"""Read Keras' `imdb.npz` (ragged reviews stored as pickled object arrays) without trusting pickle.

NumPy can persist an object array only as a pickle stream, and `np.load(allow_pickle=True)`
would run whatever that stream asks for. Rebuilding an array of Python int lists needs three
globals and nothing else: `numpy.ndarray`, `numpy.dtype` and `multiarray._reconstruct`; the
unpickler below resolves exactly those (both the NumPy 1 `numpy.core` and NumPy 2 `numpy._core`
spellings, without importing the deprecated `numpy.core` alias) and refuses every other global.
Numeric members are read with pickling disabled.
"""
import pickle
import zipfile

import numpy as np

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray as _multiarray

__all__ = ["load_npz_restricted"]

_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"Refusing to load the global `{module}.{name}` from a dataset file: only NumPy "
                "arrays may be stored there. The file is corrupt or has been tampered with."
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("Refusing persistent ids in a dataset file.")


def _read_member(fp):
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in the header's text encoding (utf-8 instead of latin-1).
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not dtype.hasobject:
        count = int(np.prod(shape, dtype=np.int64))
        data = fp.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError("array data is truncated")
        array = np.frombuffer(data, dtype=dtype, count=count)
        return array.reshape(shape, order="F" if fortran else "C").copy()
    array = _ArrayOnlyUnpickler(fp).load()
    if not isinstance(array, np.ndarray):
        raise pickle.UnpicklingError("a dataset member did not hold a NumPy array")
    return array


def load_npz_restricted(path):
    """Return `{name: array}` for every member of the `.npz` at `path`.

    Raises:
        pickle.UnpicklingError: a member's pickle names a global outside the allow-list.
        ValueError: the file is not a readable `.npz` (message names the file).
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as fp:
                    arrays[info.filename[:-4]] = _read_member(fp)
    except pickle.UnpicklingError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, pickle.PickleError,
            AttributeError, TypeError, IndexError, KeyError) as err:
        raise ValueError(f"Cannot read the dataset file {path}: {err}") from None
    return arrays
