# Build and run-time facts for show_config() and the thread-count API.
# No arithmetic here; the kernels read the thread count from fastconv._config.
from _omp cimport fc_omp_enabled, fc_omp_get_max_threads, fc_omp_set_num_threads

cdef extern from "fastconv_cpu.h" nogil:
    int fc_cpu_has_avx2_fma()
    int fc_cpu_has_avx512f()


def openmp_enabled():
    """True when the extension was compiled with OpenMP."""
    return bool(fc_omp_enabled())


def omp_max_threads():
    """OpenMP's current max thread count (what threadpoolctl sees and sets)."""
    return fc_omp_get_max_threads()


def omp_set_num_threads(int n):
    fc_omp_set_num_threads(n)


def cpu_features():
    """Instruction-set extensions usable by the kernels on this CPU."""
    return {"avx2_fma": bool(fc_cpu_has_avx2_fma()), "avx512f": bool(fc_cpu_has_avx512f())}


def compiler():
    import sysconfig
    return sysconfig.get_config_var("CC") or "unknown"
