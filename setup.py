"""Build the compiled kernels: every csrc/*.pyx becomes fastconv._ext.<name>.

Environment switches (documented in CONTRIBUTING.md):
  FASTCONV_FAIL_NO_OPENMP=1   a compiler without OpenMP is an error, not a warning
  FASTCONV_DEBUG_CYTHON=1     bounds / wraparound / initialized checks on
  FASTCONV_SANITIZE=address,undefined | thread   sanitizer build (deep test tier)
  FASTCONV_ONLY=conv,pool     build only these modules (development)
"""
import os
import sys
import glob
import shutil
import tempfile
import textwrap
import subprocess
import sysconfig

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _openmp_flags():
    """Compile and link a tiny OpenMP program; return the flags, or None."""
    if sys.platform == "win32":
        return ["/openmp"], []
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(textwrap.dedent("""
                #include <omp.h>
                int main(void) { int n = 0;
                #pragma omp parallel reduction(+:n)
                n += 1;
                return omp_get_max_threads() > 0 && n > 0 ? 0 : 1; }"""))
        cmd = cc.split() + ["-fopenmp", src, "-o", os.path.join(tmp, "probe")]
        ok = subprocess.run(cmd, capture_output=True).returncode == 0
        return (["-fopenmp"], ["-fopenmp"]) if ok else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extensions():
    omp = _openmp_flags()
    if omp is None:
        msg = ("fastconv: the C compiler has no OpenMP support; the kernels will run on ONE thread. "
               "Install an OpenMP-capable compiler (gcc, or clang with libomp) for parallel kernels.")
        if os.environ.get("FASTCONV_FAIL_NO_OPENMP") == "1":
            raise RuntimeError(msg + " (FASTCONV_FAIL_NO_OPENMP=1 makes this fatal)")
        print("\n" + "!" * 78 + "\n" + msg + "\n" + "!" * 78 + "\n", file=sys.stderr)
        omp = ([], [])
    cflags = ["-O3", "-std=c11", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function"]
    ldflags = []
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION"),
              ("FASTCONV_OPENMP", "1" if omp[0] else "0")]
    sanitize = os.environ.get("FASTCONV_SANITIZE")
    if sanitize:
        cflags = ["-O1", "-g", "-fno-omit-frame-pointer", f"-fsanitize={sanitize}"]
        ldflags += [f"-fsanitize={sanitize}"]
    only = [s for s in os.environ.get("FASTCONV_ONLY", "").split(",") if s]
    exts = []
    for pyx in sorted(glob.glob(os.path.join("csrc", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        if only and name.lstrip("_") not in only and name not in only:
            continue
        exts.append(Extension(
            f"fastconv._ext.{name}", [pyx],
            include_dirs=[numpy.get_include(), "csrc"],
            depends=sorted(glob.glob(os.path.join("csrc", "*.h"))
                           + glob.glob(os.path.join("csrc", "*.pxd"))),
            define_macros=macros,
            extra_compile_args=cflags + omp[0],
            extra_link_args=ldflags + omp[1],
        ))
    debug = os.environ.get("FASTCONV_DEBUG_CYTHON") == "1"
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        # C division semantics in every build: the kernels rely on IEEE x/0 giving inf/NaN
        # (the NaN policy); integer divisors are validated in Python and UBSan checks them.
        "cdivision": True,
        "nonecheck": debug,
        "embedsignature": True,
    }
    return cythonize(exts, compiler_directives=directives, include_path=["csrc"],
                     compile_time_env={"FASTCONV_OPENMP": bool(omp[0])})


# An sdist only ships csrc/ (MANIFEST.in); translating the Cython sources is the wheel's job.
_SOURCE_ONLY = any(cmd in sys.argv for cmd in ("sdist", "egg_info", "dist_info"))
setup(ext_modules=[] if _SOURCE_ONLY else _extensions(), package_data={"fastconv": ["py.typed"]})
