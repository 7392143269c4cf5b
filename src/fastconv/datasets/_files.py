"""Where dataset files live, and how a missing one is downloaded.

Search order for the IMDb data (first hit wins):
  1. the `path=` argument (a file, or a folder searched as below);
  2. `FASTCONV_DATA` (a file or a folder);
  3. the cache folder `$FASTCONV_HOME/datasets`, default `~/.fastconv/datasets`;
  4. a download from `FASTCONV_IMDB_URL` (default: Stanford's address), checked against
     `FASTCONV_IMDB_SHA256`, into the cache folder. `FASTCONV_OFFLINE=1` skips this step.
Inside a folder the names tried are `ARCHIVE_NAMES`, then an extracted `aclImdb/` tree
(or the folder itself when it holds `train/` and `test/`), then Keras' `imdb.npz`.
"""
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

__all__ = ["cache_dir", "find_imdb", "download", "sha256_file", "DataSource"]

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ARCHIVE_NAMES = ("aclImdb_v1.tar.gz", "aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar")
KERAS_NPZ = "imdb.npz"
DOWNLOAD_NAME = "aclImdb_v1.tar.gz"
_TIMEOUT = 60.0


class DataSource:
    """A located dataset: `kind` is "archive", "folder" or "keras_npz"."""

    def __init__(self, kind, path):
        self.kind = kind
        self.path = os.path.abspath(path)

    def __repr__(self):
        return f"DataSource({self.kind!r}, {self.path!r})"


def cache_dir():
    """The dataset cache folder: `$FASTCONV_HOME/datasets`, else `~/.fastconv/datasets`."""
    home = os.environ.get("FASTCONV_HOME")
    if not home:
        home = os.path.join(os.path.expanduser("~"), ".fastconv")
    return os.path.join(home, "datasets")


def publish(tmp, target):
    """Give a finished temp file normal permissions (mkstemp makes it 0600) and rename it."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, target)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_review_tree(folder):
    return (os.path.isdir(os.path.join(folder, "train"))
            and os.path.isdir(os.path.join(folder, "test")))


def _classify_file(path):
    from ._tar import is_tar_archive

    if path.endswith(".npz"):
        return DataSource("keras_npz", path)
    if is_tar_archive(path):
        return DataSource("archive", path)
    raise ValueError(f"Invalid IMDb data file {path}: expected the Large Movie Review Dataset "
                     "archive (a .tar.gz / .tar holding aclImdb/{train,test}/{pos,neg}/*.txt) "
                     "or Keras' imdb.npz.")


def _search_folder(folder):
    for name in ARCHIVE_NAMES:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return DataSource("archive", candidate)
    if _is_review_tree(os.path.join(folder, "aclImdb")):
        return DataSource("folder", os.path.join(folder, "aclImdb"))
    if _is_review_tree(folder):
        return DataSource("folder", folder)
    candidate = os.path.join(folder, KERAS_NPZ)
    if os.path.isfile(candidate):
        return DataSource("keras_npz", candidate)
    return None


def _from_location(location, origin):
    if os.path.isdir(location):
        found = _search_folder(location)
        if found is None:
            raise FileNotFoundError(
                f"No IMDb data in the folder {location} (from {origin}). Expected one of "
                f"{', '.join(ARCHIVE_NAMES)}, an extracted aclImdb/ folder, or {KERAS_NPZ}.")
        return found
    if os.path.isfile(location):
        return _classify_file(location)
    raise FileNotFoundError(f"IMDb data not found: {location} (from {origin}) does not exist.")


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def find_imdb(path=None, allow_download=True):
    """Locate the IMDb data; download it when nothing local exists. Returns a DataSource."""
    if path is not None:
        return _from_location(os.fspath(os.path.expanduser(path)), "the `path` argument")
    env = os.environ.get("FASTCONV_DATA")
    if env:
        return _from_location(os.path.expanduser(env), "FASTCONV_DATA")
    cache = cache_dir()
    if os.path.isdir(cache):
        found = _search_folder(cache)
        if found is not None:
            return found
    url = os.environ.get("FASTCONV_IMDB_URL") or IMDB_URL
    where = (f"Put {DOWNLOAD_NAME} (or aclImdb_v1_labeled.tar.gz, or the extracted aclImdb/ "
             f"folder) in {cache}, or pass path=..., or set FASTCONV_DATA to the file or its "
             "folder.")
    if not allow_download or _env_flag("FASTCONV_OFFLINE"):
        raise FileNotFoundError(f"IMDb data not found and downloads are off "
                                f"(FASTCONV_OFFLINE). {where}")
    expected = (os.environ.get("FASTCONV_IMDB_SHA256") or IMDB_SHA256).strip().lower()
    target = os.path.join(cache, DOWNLOAD_NAME)
    try:
        download(url, target, expected)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise OSError(f"IMDb data not found locally and the download from {url} failed "
                      f"({reason}). {where}") from None
    return DataSource("archive", target)


class _Progress:
    """A one-line download bar on stderr: redrawn in place on a terminal, summarised otherwise."""

    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = self.last = time.monotonic()
        self.done = 0

    def _line(self):
        mb = self.done / 1e6
        if self.total:
            frac = min(self.done / self.total, 1.0)
            cells = int(30 * frac)
            bar = "=" * cells + (">" if cells < 30 else "") + "." * max(29 - cells, 0)
            return f"{mb:7.1f}/{self.total / 1e6:.1f} MB [{bar}] {100 * frac:3.0f}%"
        return f"{mb:7.1f} MB"

    def update(self, n):
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self):
        elapsed = time.monotonic() - self.start
        end = f"{self._line()} in {elapsed:.1f}s\n"
        self.stream.write(("\r" + end) if self.tty else end)
        self.stream.flush()


def download(url, target, sha256, timeout=_TIMEOUT, stream=None):
    """Fetch `url` into `target` atomically: a temp file in the same folder, SHA-256 checked,
    then renamed. A failed or mismatching download leaves nothing behind.

    Raises:
        OSError / urllib.error.URLError: network or file-system failure (incl. a short body).
        ValueError: the SHA-256 differs from `sha256`.
    """
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    out = stream if stream is not None else sys.stderr
    print(f"Downloading data from {url}", file=out)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".",
                               suffix=".part")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(total, out)
            while True:
                try:
                    chunk = resp.read(1 << 16)
                except http.client.HTTPException as err:
                    raise OSError(f"connection broken after {bar.done} bytes ({err!r})") from None
                if not chunk:
                    break
                f.write(chunk)
                h.update(chunk)
                bar.update(len(chunk))
            bar.close()
            if total is not None and bar.done != total:
                raise OSError(f"connection closed after {bar.done} of {total} bytes")
            f.flush()
            os.fsync(f.fileno())
        digest = h.hexdigest()
        if digest != sha256:
            raise ValueError(
                f"The file downloaded from {url} has SHA-256 {digest}, expected {sha256}; it was "
                "discarded. If you serve your own copy, set FASTCONV_IMDB_SHA256 to its SHA-256.")
        publish(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
