/* OpenMP shim: real calls when built with -fopenmp, serial stubs otherwise. */
#ifndef FASTCONV_OMP_H
#define FASTCONV_OMP_H
#if defined(_OPENMP)
#include <omp.h>
static inline int fc_omp_enabled(void) { return 1; }
static inline int fc_omp_get_max_threads(void) { return omp_get_max_threads(); }
static inline void fc_omp_set_num_threads(int n) { omp_set_num_threads(n); }
static inline int fc_omp_get_thread_num(void) { return omp_get_thread_num(); }
static inline int fc_omp_get_num_threads(void) { return omp_get_num_threads(); }
#else
static inline int fc_omp_enabled(void) { return 0; }
static inline int fc_omp_get_max_threads(void) { return 1; }
static inline void fc_omp_set_num_threads(int n) { (void)n; }
static inline int fc_omp_get_thread_num(void) { return 0; }
static inline int fc_omp_get_num_threads(void) { return 1; }
#endif

/* Next index of a work list shared by the threads of a parallel region: each call returns a
 * distinct value (0, 1, 2, ... across all threads), so a thread that runs faster claims more
 * items. Only which thread computes an item changes, never how it is computed. */
static inline long fc_omp_claim(long *next)
{
    long v;
#if defined(_OPENMP)
#pragma omp atomic capture
#endif
    v = (*next)++;
    return v;
}
#endif
