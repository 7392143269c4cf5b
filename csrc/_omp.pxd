# Shared OpenMP declarations. When the build has no OpenMP (FASTCONV_OPENMP=0) the
# functions fall back to single-thread stubs from fastconv_omp.h, so kernels compile either way.
cdef extern from "fastconv_omp.h" nogil:
    int fc_omp_enabled()
    int fc_omp_get_max_threads()
    void fc_omp_set_num_threads(int n)
    int fc_omp_get_thread_num()
    int fc_omp_get_num_threads()
    long fc_omp_claim(long *next)
