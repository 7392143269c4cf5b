/* Max-pool inner loops, compiled twice (AVX2 and baseline x86-64) and picked at load time.
 *
 * Only compares, selects and additions: every variant rounds identically, so the choice of
 * variant never changes a result bit. Called from csrc/_pool.pyx, which owns the loops over
 * samples and windows (and the thread partition).
 */
#ifndef FASTCONV_POOL_KERNELS_H
#define FASTCONV_POOL_KERNELS_H
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__GLIBC__) && \
    (!defined(__clang__) || __clang_major__ >= 14) && !defined(FASTCONV_NO_CLONES)
#define FC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FC_CLONES
#endif

/* y[c] = max over steps t0..t1-1 of x[t*C + c] for c < n; NaN when any of those cells is NaN.
 * Branch-free selects, so the loop vectorizes and random data never mispredicts. */
#define FC_MAX_ROW(T, SUF)                                                                  \
FC_CLONES static void fc_max_row_##SUF(const T *x, T *y, ptrdiff_t t0, ptrdiff_t t1,        \
                                       ptrdiff_t C, ptrdiff_t n) {                          \
    const T *xr = x + t0 * C;                                                               \
    for (ptrdiff_t c = 0; c < n; c++) y[c] = xr[c];                                         \
    for (ptrdiff_t t = t0 + 1; t < t1; t++) {                                               \
        xr = x + t * C;                                                                     \
        for (ptrdiff_t c = 0; c < n; c++) {                                                 \
            T v = xr[c], cur = y[c];                                                        \
            y[c] = ((v > cur) | (v != v)) ? v : cur;                                        \
        }                                                                                   \
    }                                                                                       \
}

/* For t = t0..t1-1, c < n: the first cell equal to m[c] (the first NaN when m[c] is NaN and
 * nan_rule is set) receives rem[c], which then becomes 0; later matches add +0, a no-op. */
#define FC_GIVE_FIRST_MATCH(T, SUF)                                                         \
FC_CLONES static void fc_give_first_match_##SUF(const T *x, const T *m, T *rem, T *dx,      \
                                                ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t C,    \
                                                ptrdiff_t n, int nan_rule) {                \
    for (ptrdiff_t t = t0; t < t1; t++) {                                                   \
        const T *xr = x + t * C;                                                            \
        T *dr = dx + t * C;                                                                 \
        if (nan_rule) {                                                                     \
            for (ptrdiff_t c = 0; c < n; c++) {                                             \
                T v = xr[c], mc = m[c], r = rem[c];                                         \
                int hit = (v == mc) | ((v != v) & (mc != mc));                              \
                dr[c] = dr[c] + (hit ? r : (T)0);                                           \
                rem[c] = hit ? (T)0 : r;                                                    \
            }                                                                               \
        } else {                                                                            \
            for (ptrdiff_t c = 0; c < n; c++) {                                             \
                T v = xr[c], r = rem[c];                                                    \
                int hit = v == m[c];                                                        \
                dr[c] = dr[c] + (hit ? r : (T)0);                                           \
                rem[c] = hit ? (T)0 : r;                                                    \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
}

FC_MAX_ROW(float, f32)
FC_MAX_ROW(double, f64)
FC_GIVE_FIRST_MATCH(float, f32)
FC_GIVE_FIRST_MATCH(double, f64)

#endif
