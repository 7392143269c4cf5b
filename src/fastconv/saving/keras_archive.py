"""The `.keras` zip archive: `metadata.json`, `config.json` and `model.weights.h5`.

Members are stored uncompressed, as Keras 3 writes them. Reading refuses members whose names
could escape a directory (`..`, absolute paths, backslashes, NUL bytes) and members declaring
more than 4 GiB and more than 100 times their stored size (zip bombs), before any member is
decompressed. Only the members fastconv needs are read, into memory; nothing is extracted.
"""
import datetime
import io
import json
import zipfile

import h5py

from . import weights_file
from .atomic import atomic_path
from .h5_guard import readable_size

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"

# The Keras release whose archive format fastconv writes (recorded in metadata.json).
KERAS_FORMAT_VERSION = "3.15.1"

_BOMB_FLOOR_BYTES = 1 << 32
_BOMB_MAX_EXPANSION = 100


def weights_bytes(model):
    """The model's `.weights.h5` file, built in memory."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        weights_file.write_weights(model, h5file)
    return buffer.getvalue()


def write_archive(model, config, filepath):
    """Write `config` (the config.json dict) and the model's weights to `filepath` atomically."""
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    config_json = json.dumps(config)
    payload = weights_bytes(model)
    with atomic_path(filepath) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_NAME, json.dumps(metadata))
            zf.writestr(CONFIG_NAME, config_json)
            zf.writestr(WEIGHTS_NAME, payload)


class _Refused(ValueError):
    """A deliberate refusal (unsafe or incomplete archive), raised as is."""


def _check_member(info):
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if ("\\" in name or "\x00" in name or name.startswith("/") or ".." in parts
            or (parts and parts[0].endswith(":"))):
        raise _Refused(f"Not allowed: ZIP member with unsafe path '{name}'")
    if (info.file_size > _BOMB_FLOOR_BYTES
            and info.file_size > _BOMB_MAX_EXPANSION * info.compress_size):
        raise _Refused(
            f"Not allowed: ZIP member '{name}' declares {readable_size(info.file_size)} but only "
            f"{readable_size(info.compress_size)} are stored on disk; refusing to load a "
            "potential decompression bomb.")


class Archive:
    """An opened, checked `.keras` file: `.config` (dict) and `.weights` (an open h5py.File).

    Use as a context manager; every failure to read is a ValueError naming the file.
    """

    def __init__(self, filepath):
        self.filepath = str(filepath)
        self.config = None
        self.weights = None
        try:
            with zipfile.ZipFile(filepath, "r") as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_member(info)
                names = {info.filename for info in infos}
                for required in (CONFIG_NAME, WEIGHTS_NAME):
                    if required not in names:
                        raise _Refused(
                            f"Invalid `.keras` file {self.filepath}: expected a member "
                            f"'{required}'. Members: {sorted(names)}")
                config_raw = zf.read(CONFIG_NAME)
                weights_raw = zf.read(WEIGHTS_NAME)
        except _Refused:
            raise
        except (ValueError, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
                NotImplementedError, RuntimeError) as exc:
            raise ValueError(
                f"Unable to read the `.keras` file {self.filepath}: {type(exc).__name__}: "
                f"{exc}") from exc
        try:
            config = json.loads(config_raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ValueError(
                f"Unable to read the `.keras` file {self.filepath}: {CONFIG_NAME} is not valid "
                f"JSON ({exc})") from exc
        if not isinstance(config, dict):
            raise ValueError(
                f"Unable to read the `.keras` file {self.filepath}: {CONFIG_NAME} must hold a "
                f"JSON object, found {type(config).__name__}")
        self.config = config
        try:
            self.weights = h5py.File(io.BytesIO(weights_raw), "r")
        except (OSError, ValueError, RuntimeError) as exc:
            raise ValueError(
                f"Unable to read the `.keras` file {self.filepath}: {WEIGHTS_NAME} is not a "
                f"valid HDF5 file ({exc})") from exc

    def close(self):
        if self.weights is not None:
            self.weights.close()
            self.weights = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
