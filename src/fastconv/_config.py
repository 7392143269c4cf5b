"""Thread count and build facts. Everything that touches OpenMP settings lives here."""
import os
import sys

_BUILD_HINT = (
    "fastconv's compiled kernels (fastconv._ext) could not be imported: {err}. "
    "Install a built wheel with `pip install fastconv`, or build from a source checkout with "
    "`pip install .` (needs a C compiler, Cython 3 and NumPy 2)."
)

# libgomp reads its wait policy when it is loaded, which happens on the first _ext import below.
# A short spin keeps back-to-back small kernels fast without letting idle threads burn a core
# that another process needs (long spins collapse when the machine is shared).
os.environ.setdefault("GOMP_SPINCOUNT", "20000")

try:
    from ._ext import _config as _cfg
except ImportError as err:  # pragma: no cover - exercised only on a broken install
    raise ImportError(_BUILD_HINT.format(err=err)) from err


def _positive_int_env(name):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.split(",")[0])
    except ValueError:
        raise ValueError(
            f"Invalid value for environment variable `{name}`. Expected a positive int. "
            f"Received: {name}={raw!r}") from None
    if value < 1:
        raise ValueError(
            f"Invalid value for environment variable `{name}`. Expected a positive int. "
            f"Received: {name}={raw!r}")
    return value


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _default_threads():
    for name in ("FASTCONV_NUM_THREADS", "OMP_NUM_THREADS"):
        value = _positive_int_env(name)
        if value is not None:
            return value
    return _cpu_count()


def set_num_threads(n):
    """Set the number of OpenMP threads the kernels use.

    Args:
        n: a positive int.

    Raises:
        TypeError: `n` is not an int.
        ValueError: `n` < 1.

    Example:
    >>> import fastconv
    >>> old = fastconv.get_num_threads()
    >>> fastconv.set_num_threads(1); fastconv.get_num_threads()
    1
    >>> fastconv.set_num_threads(old)
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(
            "Invalid type for argument `n`. Expected a positive int. "
            f"Received: n={n!r} of type {type(n).__name__}")
    if n < 1:
        raise ValueError(f"Invalid value for argument `n`. Expected a positive int. Received: n={n}")
    _cfg.omp_set_num_threads(n)


def get_num_threads():
    """The number of OpenMP threads the next kernel call will use.

    This is OpenMP's own setting, so `threadpoolctl.threadpool_limits` changes it too.
    """
    return int(_cfg.omp_max_threads())


def instruction_set():
    """Name of the widest SIMD kernel variant this CPU runs."""
    feats = _cfg.cpu_features()
    if feats["avx512f"]:
        return "avx512f"
    if feats["avx2_fma"]:
        return "avx2+fma"
    return "baseline"


def show_config(file=None):
    """Print fastconv's version, build and threading facts.

    Example:
    >>> import fastconv, io
    >>> buf = io.StringIO(); fastconv.show_config(file=buf)
    >>> "OpenMP" in buf.getvalue()
    True
    """
    from . import __version__
    import numpy

    lines = [
        f"fastconv version : {__version__}",
        f"python           : {sys.version.split()[0]}",
        f"numpy            : {numpy.__version__}",
        f"compiler         : {_cfg.compiler()}",
        f"OpenMP           : {'enabled' if _cfg.openmp_enabled() else 'DISABLED (serial build)'}",
        f"threads          : {get_num_threads()}",
        f"instruction set  : {instruction_set()}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)


if _cfg.openmp_enabled():
    _cfg.omp_set_num_threads(_default_threads())
