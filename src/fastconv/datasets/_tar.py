"""A streaming reader for the regular files of a (gzip-compressed) tar archive.

The IMDb archive holds 50,000-100,000 small members; `tarfile` spends most of a cold
build on per-member bookkeeping, so this module parses the 512-byte headers itself.
It understands what real archives use: ustar names with a prefix, GNU long names
(`L`), pax records (`x`: `path`, `size`), base-256 sizes, and it verifies every header
checksum. Links, directories and devices are skipped, never followed.

Every malformed or truncated archive raises `ArchiveError` (a ValueError); gzip's own
CRC and length checks catch damage inside the compressed stream.
"""
import gzip
import zlib

__all__ = ["ArchiveError", "iter_regular_files", "is_tar_archive"]

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """The archive is truncated, corrupt, or not a tar archive."""


def is_tar_archive(path):
    """True if `path` starts like a gzip stream or an uncompressed ustar/GNU tar."""
    with open(path, "rb") as f:
        head = f.read(_BLOCK)
    if head[:2] == b"\x1f\x8b":
        return True
    return len(head) == _BLOCK and head[257:262] == b"ustar"


def _number(field):
    """Parse a numeric header field: NUL/space-terminated octal, or GNU base-256."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ArchiveError(f"bad numeric tar header field {bytes(field)!r}") from None


def _checksum_ok(header):
    stored = _number(header[148:156])
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    if stored == unsigned:
        return True
    # Some old writers summed signed chars.
    signed = sum(b - 256 if b > 127 else b for b in header[:148] + header[156:]) + 8 * 32
    return stored == signed


def _pax_records(payload):
    records = {}
    pos = 0
    while pos < len(payload):
        space = payload.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(payload[pos:space])
        except ValueError:
            raise ArchiveError("bad pax extended header") from None
        if length <= 0:
            raise ArchiveError("bad pax extended header")
        record = payload[space + 1:pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value
        pos += length
    return records


class _Stream:
    """A byte buffer over a file object with exact-size reads."""

    def __init__(self, fileobj):
        self._f = fileobj
        self._buf = bytearray()
        self._pos = 0

    def _fill(self, n):
        while len(self._buf) - self._pos < n:
            chunk = self._f.read(max(_CHUNK, n))
            if not chunk:
                return False
            if self._pos:
                del self._buf[:self._pos]
                self._pos = 0
            self._buf += chunk
        return True

    def read(self, n, what):
        if not self._fill(n):
            raise ArchiveError(f"archive ends inside {what} (the file is truncated)")
        data = bytes(self._buf[self._pos:self._pos + n])
        self._pos += n
        return data

    def skip(self, n, what):
        while n > 0:
            step = min(n, _CHUNK)
            if not self._fill(step):
                raise ArchiveError(f"archive ends inside {what} (the file is truncated)")
            self._pos += step
            n -= step


def _iter(fileobj, want, max_member_size):
    stream = _Stream(fileobj)
    long_name = None
    pax = {}
    while True:
        header = stream.read(_BLOCK, "a tar header")
        if header == _ZERO_BLOCK:
            # Read to the end so gzip verifies its CRC over everything yielded.
            while fileobj.read(_CHUNK):
                pass
            return
        if not _checksum_ok(header):
            raise ArchiveError("tar header checksum mismatch "
                               "(the file is corrupt or not a tar archive)")
        size = _number(header[124:136])
        if size < 0:
            raise ArchiveError("negative member size in tar header")
        kind = header[156:157]
        name = header[:100].split(b"\0", 1)[0]
        if header[257:262] == b"ustar":
            prefix = header[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        padded = -(-size // _BLOCK) * _BLOCK
        if kind in (b"L", b"x", b"g", b"K"):
            if size > (1 << 20):
                raise ArchiveError("oversized tar extension header")
            payload = stream.read(padded, "a tar extension header")[:size]
            if kind == b"L":
                long_name = payload.split(b"\0", 1)[0]
            elif kind == b"x":
                pax = _pax_records(payload)
            continue
        if long_name is not None:
            name = long_name
        if "path" in pax:
            name = pax["path"]
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise ArchiveError("bad pax size record") from None
            padded = -(-size // _BLOCK) * _BLOCK
        long_name = None
        pax = {}
        text = name.decode("utf-8", "surrogateescape")
        if kind in (b"0", b"\0", b"7") and want(text):
            if size > max_member_size:
                raise ArchiveError(f"member {text!r} is {size} bytes, more than the "
                                   f"{max_member_size} bytes allowed")
            data = stream.read(padded, f"member {text!r}")[:size]
            yield text, data
        else:
            stream.skip(padded, f"member {text!r}")


def iter_regular_files(path, want, max_member_size):
    """Yield `(name, bytes)` for each regular-file member whose name passes `want(name)`.

    Args:
        path: a `.tar` or gzip-compressed tar file.
        want: predicate on the member name (a str, `/`-separated).
        max_member_size: a wanted member larger than this raises `ArchiveError`.

    Raises:
        ArchiveError: truncated or corrupt archive (also for damaged gzip data).
    """
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        fileobj = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            yield from _iter(fileobj, want, max_member_size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise ArchiveError(f"damaged gzip stream ({err})") from None
        finally:
            if gz:
                fileobj.close()
