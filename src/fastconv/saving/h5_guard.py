"""Defensive access to HDF5 files whose origin is not trusted.

A weights file may come from anywhere, so every group and dataset is reached through these
helpers, which refuse what a weights file written by fastconv or Keras never contains and what
could make a read touch other files or allocate unbounded memory:

- soft, external and user-defined links (only hard links are followed);
- external datasets (raw data stored in another file) and virtual datasets;
- datasets declaring far more bytes than the file stores (a "shape bomb": a chunked dataset of
  shape (2**40,) holding only a fill value);
- non-numeric element types (strings, objects, compounds, references): h5py never unpickles,
  but such data has no business in a weights file.

Nothing here reads array data; `read_array` does, after the caller has checked the shape.
"""
import math

import h5py
import numpy as np

# Same policy as Keras (`saving_lib.py`): a dataset is a bomb when it declares more than 4 GiB
# and more than 1000 times what is stored. Below that floor the caller's shape check bounds
# every allocation by the model's own size.
_BOMB_FLOOR_BYTES = 1 << 32
_BOMB_MAX_EXPANSION = 1000

_NUMERIC_KINDS = frozenset("biuf")


def readable_size(num_bytes):
    """`1536` -> `"1.50 KiB"` (binary units, two decimals)."""
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024.0 or unit == "TiB":
            return f"{size:.2f} {unit}"
        size /= 1024.0
    return f"{size:.2f} TiB"  # pragma: no cover


def _link_class(parent, name):
    return parent.get(name, default=None, getclass=True, getlink=True)


def _check_link(parent, name):
    link = _link_class(parent, name)
    if link is None:
        raise KeyError(name)
    if link is not h5py.HardLink:
        raise ValueError(f"Not allowed: H5 file with {link.__name__} at '{parent.name}/{name}'")


def has_member(parent, name):
    """True if `parent` has a member called `name` (a link of any kind, not followed)."""
    return _link_class(parent, name) is not None


def get_group(parent, path):
    """The group at `path` (slash-separated, relative to `parent`), following hard links only.

    Raises:
        KeyError: a component does not exist.
        ValueError: a component is a link other than a hard link, or not a group.
    """
    current = parent
    for part in path.split("/"):
        if not part or part in (".", ".."):
            raise ValueError(f"Invalid path in H5 file: {path}")
        _check_link(current, part)
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise ValueError(
                f"Invalid H5 file: expected a group at '{current.name}', found "
                f"{type(current).__name__}")
    return current


def get_dataset(group, name):
    """The dataset `name` of `group`, after the link, storage and element-type checks.

    Raises:
        KeyError: no such member.
        ValueError: a refused link, layout, size or element type (see module docstring).
    """
    _check_link(group, name)
    dataset = group[name]
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(
            f"Invalid H5 file: expected a dataset at '{group.name}/{name}', found "
            f"{type(dataset).__name__}")
    if dataset.external:
        raise ValueError(f"Not allowed: H5 file with external Dataset: {dataset.external}")
    if dataset.is_virtual:
        raise ValueError("Not allowed: H5 file with virtual Dataset")
    if dataset.shape is None:
        raise ValueError(f"Invalid H5 file: dataset '{dataset.name}' has an empty dataspace")
    dtype = dataset.dtype
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(
            f"Not allowed: H5 dataset '{dataset.name}' has non-numeric element type {dtype}; "
            "weights must be stored as plain numbers")
    declared = math.prod(dataset.shape) * dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > _BOMB_FLOOR_BYTES and declared > _BOMB_MAX_EXPANSION * stored:
        raise ValueError(
            f"Not allowed: H5 dataset '{dataset.name}' declares {readable_size(declared)} but "
            f"only {readable_size(stored)} are stored on disk; refusing to load a potential "
            "decompression/shape bomb.")
    return dataset


def read_array(dataset):
    """Read a dataset already passed through `get_dataset` into a native-byte-order array."""
    value = np.empty(dataset.shape, dtype=dataset.dtype.newbyteorder("="))
    if value.size:
        dataset.read_direct(value)
    return value
