"""Crash-safe file replacement: write a temporary file next to the target, then rename it.

`os.replace` within one directory is atomic on POSIX and Windows, so readers see either the old
file or the complete new one, never a half-written file; a failure while writing removes the
temporary file and leaves any existing target untouched.
"""
import contextlib
import os
import tempfile


def _new_file_mode(target):
    # mkstemp creates files 0600; give the result the permissions a plain open() would have
    # (or keep those of the file being replaced).
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(filepath):
    """Yield a temporary path in the directory of `filepath`; on success rename it onto `filepath`.

    Example:
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(d, "x.txt")) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("done")
    >>> sorted(os.listdir(d))
    ['x.txt']
    """
    filepath = os.fspath(filepath)
    if os.path.islink(filepath):  # replace the file the link points to, keep the link
        filepath = os.path.realpath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(filepath)}.", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode(filepath))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
