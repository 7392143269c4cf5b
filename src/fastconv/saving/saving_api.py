"""Public save/load entry points: `save_model`, `load_model`, `save_weights`, `load_weights`.

`Sequential.save`, `save_weights` and `load_weights` call these. Files are Keras 3's own formats
(`.keras` zip archives and `.weights.h5` HDF5 files), read with h5py and `json` only: no pickle
anywhere. Saves go to a temporary file in the target directory and are renamed into place, so a
failed save leaves any existing file intact and no temporary file behind.
"""
import os

import h5py

from . import keras_archive, model_config, weights_file
from .atomic import atomic_path

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]


def _ask_to_overwrite(filepath):
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def _path_string(filepath, argument="filepath"):
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(
            f"Invalid type for argument `{argument}`. Expected a str or os.PathLike. "
            f"Received: {argument}={filepath!r} of type {type(filepath).__name__}") from None


def _check_built(model, loading):
    if not model.built:
        if loading:
            raise ValueError(
                "You are loading weights into a model that has not yet been built. Try building "
                "the model first by calling it on some data or by using `build()`.")
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model first "
            "by calling it on some data or by using `build()`.")


def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """Write the model's variables to a Keras 3 `.weights.h5` file.

    Args:
        model: a built fastconv model.
        filepath: path ending in `.weights.h5`.
        overwrite: if False and the file exists, ask on stdin before replacing it.
        max_shard_size: not supported (must be None).

    Raises:
        ValueError: wrong extension, unbuilt model, or `max_shard_size` given.

    Example:
    >>> import os, tempfile
    >>> from fastconv import Sequential, layers
    >>> model = Sequential([layers.Input((8, 1)), layers.Conv1D(2, 3)])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.weights.h5")
    >>> save_weights(model, path)
    >>> load_weights(model, path)
    """
    path = _path_string(filepath)
    if max_shard_size is not None:
        raise ValueError(
            "Invalid value for argument `max_shard_size`. fastconv writes single-file weights "
            f"only. Expected None. Received: max_shard_size={max_shard_size!r}")
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if os.path.exists(path) and not overwrite and not _ask_to_overwrite(path):
        return
    _check_built(model, loading=False)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5file:
            weights_file.write_weights(model, h5file)


def _apply_from_h5(model, h5file, skip_mismatch, source):
    """Validate `h5file` against `model`, then assign. Errors other than Keras' mismatch report
    name `source`."""
    try:
        apply = weights_file.read_weights(model, h5file, skip_mismatch=skip_mismatch)
    except weights_file.LoadingMismatchError:
        raise
    except ValueError as exc:
        raise ValueError(f"Unable to load weights from {source}: {exc}") from exc
    except (OSError, KeyError, RuntimeError, TypeError, IndexError) as exc:
        raise ValueError(
            f"Unable to load weights from {source}: the file is damaged or not a weights file "
            f"({type(exc).__name__}: {exc})") from exc
    apply()


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Load variables from a `.weights.h5` or `.keras` file (written by fastconv or Keras 3).

    The file is validated completely before any variable changes; on error the model is unchanged.

    Args:
        model: a built fastconv model.
        filepath: path ending in `.weights.h5` or `.keras`.
        skip_mismatch: warn about, and skip, layers whose variable count or shapes differ
            (instead of raising).

    Raises:
        ValueError: unsupported extension, unbuilt model, unreadable or unsafe file, or (unless
            `skip_mismatch`) layers whose variables do not match the file; `by_name`,
            `objects_to_skip` or unknown keyword arguments.
        FileNotFoundError: no file at `filepath` (`.weights.h5`).
    """
    path = _path_string(filepath)
    if kwargs.get("by_name") is not None:
        raise ValueError(
            f"`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: {path}")
    if kwargs.get("objects_to_skip") is not None:
        raise ValueError(
            "Invalid value for argument `objects_to_skip`. fastconv does not support it. "
            f"Received: objects_to_skip={kwargs['objects_to_skip']!r}")
    kwargs = {k: v for k, v in kwargs.items() if k not in ("by_name", "objects_to_skip")}
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if not isinstance(skip_mismatch, bool):
        raise TypeError("Invalid type for argument `skip_mismatch`. Expected a bool. "
                        f"Received: skip_mismatch={skip_mismatch!r}")
    if not path.endswith((".weights.h5", ".keras")):
        raise ValueError(
            f"File format not supported: filepath={path}. fastconv supports Keras 3 `.keras` "
            "files and `.weights.h5` files.")
    _check_built(model, loading=True)
    if path.endswith(".keras"):
        with keras_archive.Archive(path) as archive:
            _apply_from_h5(model, archive.weights, skip_mismatch, path)
        return
    try:
        h5file = h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"Unable to load weights from {path}: not a readable HDF5 file "
            f"({type(exc).__name__}: {exc})") from exc
    with h5file:
        _apply_from_h5(model, h5file, skip_mismatch, path)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save the model (config, weights, optimizer state) to a Keras 3 `.keras` archive.

    Args:
        model: a fastconv model.
        filepath: path ending in `.keras`.
        overwrite: if False and the file exists, ask on stdin before replacing it.
        zipped: None or True (the unzipped directory form is not supported).

    Raises:
        ValueError: other extensions (with Keras' message), `zipped=False`, unknown arguments.

    Example:
    >>> import os, tempfile
    >>> from fastconv import Sequential, layers
    >>> model = Sequential([layers.Input((8, 1)), layers.Conv1D(2, 3)], name="tiny")
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.keras")
    >>> save_model(model, path)
    >>> load_model(path).name
    'tiny'
    """
    path = _path_string(filepath)
    kwargs.pop("include_optimizer", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    if zipped is False:
        raise ValueError(
            "Invalid value for argument `zipped`. fastconv writes zipped `.keras` files only. "
            f"Received: zipped={zipped}")
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(
            "fastconv does not write the legacy HDF5 model format. Use a `.keras` extension "
            f"(native Keras 3 format). Received: filepath={path}.")
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension for "
            "the native Keras format (recommended) or a `.h5` extension. Use "
            "`model.export(filepath)` if you want to export a SavedModel for use with "
            f"TFLite/TFServing/etc. Received: filepath={path}.")
    if os.path.exists(path) and not overwrite and not _ask_to_overwrite(path):
        return
    if not model.built:
        import warnings

        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any "
            "weights yet. Consider building the model first by calling it on some data.",
            stacklevel=2)
    keras_archive.write_archive(model, model_config.model_to_config(model), path)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `save_model` (fastconv) or `model.save("x.keras")` (Keras 3).

    Args:
        filepath: path to a `.keras` file.
        custom_objects: must be None or empty (fastconv loads its own layers only).
        compile: compile the model as it was saved (optimizer state included).
        safe_mode: accepted for compatibility; fastconv never deserializes code.

    Returns:
        A built `fastconv.models.Sequential`.

    Raises:
        ValueError: missing file, other formats, unsafe or damaged archives, unknown layers,
            weights that do not match the config.
    """
    path = _path_string(filepath)
    if custom_objects:
        raise ValueError(
            "Invalid value for argument `custom_objects`. fastconv loads only its own layers. "
            f"Received: custom_objects={custom_objects!r}")
    if not path.endswith(".keras"):
        if path.endswith((".h5", ".hdf5")):
            raise ValueError(
                f"File format not supported: filepath={path}. fastconv reads Keras 3 `.keras` "
                "files; the legacy HDF5 model format is not supported.")
        raise ValueError(
            f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` "
            "files, legacy H5 format files (`.h5` extension).")
    if not os.path.isfile(path):
        raise ValueError(
            f"File not found: filepath={path}. Please ensure the file is an accessible `.keras` "
            "zip file.")
    with keras_archive.Archive(path) as archive:
        try:
            model = model_config.model_from_config(archive.config, compile=compile)
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"Unable to load model from {path}: config.json does not describe a model "
                f"fastconv can build ({type(exc).__name__}: {exc})") from exc
        _apply_from_h5(model, archive.weights, False, path)
    return model
