/* Max-pool loops, compiled twice (AVX2 and baseline x86-64) and picked at load time.
 *
 * Only compares, selects and additions: every variant rounds identically, so the choice of
 * variant never changes a result bit. Called from csrc/_pool.pyx, which owns the thread
 * partition (output rows for the forward, samples for the backward); fc_max_row also serves
 * the global max pool there.
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

/* 32-byte vectors (GCC/clang vector extensions): one AVX2 register in the avx2 clone, two SSE2
 * registers in the baseline one. Compares give all-ones / zero lanes of the same width. */
typedef float fc_pool_vf __attribute__((vector_size(32)));
typedef int fc_pool_vfi __attribute__((vector_size(32)));
typedef double fc_pool_vd __attribute__((vector_size(32)));
typedef long long fc_pool_vdi __attribute__((vector_size(32)));

/* Max-pool forward over the output rows [r0, r1) of y viewed as (B*S, C) rows; row r is window
 * s = r % S of sample b = r / S. The same selects as fc_max_row (a NaN in the window wins),
 * a vector of channels at a time held in a register across the window. */
#define FC_MAXPOOL_FWD_ROWS(T, SUF, VT, VI)                                                 \
FC_CLONES static void fc_maxpool_fwd_rows_##SUF(const T *restrict x, T *restrict y,         \
                                                ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t tlen, \
                                                ptrdiff_t slen, ptrdiff_t C, ptrdiff_t pool,\
                                                ptrdiff_t stride, ptrdiff_t left) {         \
    enum { L = (int)(sizeof(VT) / sizeof(T)) };                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                   \
        const ptrdiff_t b = r / slen, s = r - b * slen, start = s * stride - left;          \
        const ptrdiff_t t0 = start > 0 ? start : 0;                                         \
        const ptrdiff_t t1 = start + pool < tlen ? start + pool : tlen;                     \
        const T *restrict xw = x + (b * tlen + t0) * C;                                     \
        T *restrict yr = y + r * C;                                                         \
        ptrdiff_t c = 0;                                                                    \
        for (; c + L <= C; c += L) {                                                        \
            VT acc, v;                                                                      \
            memcpy(&acc, xw + c, sizeof acc);                                               \
            for (ptrdiff_t t = 1; t < t1 - t0; t++) {                                       \
                memcpy(&v, xw + t * C + c, sizeof v);                                       \
                VI take = (v > acc) | (v != v);                                             \
                acc = (VT)((take & (VI)v) | (~take & (VI)acc));                             \
            }                                                                               \
            memcpy(yr + c, &acc, sizeof acc);                                               \
        }                                                                                   \
        for (; c < C; c++) {                                                                \
            T cur = xw[c];                                                                  \
            for (ptrdiff_t t = 1; t < t1 - t0; t++) {                                       \
                T v = xw[t * C + c];                                                        \
                cur = ((v > cur) | (v != v)) ? v : cur;                                     \
            }                                                                               \
            yr[c] = cur;                                                                    \
        }                                                                                   \
    }                                                                                       \
}

/* Max-pool backward of one sample: dx (T, C) is fully written. Each window's dy goes to its
 * first NaN, else to its first maximum (ties: the earliest step), found a vector of channels at
 * a time with the (step, value) of the winner held in registers.
 * Windows that do not overlap (stride >= pool) write their cells directly, (T)0 + dy on the
 * winner and +0 elsewhere, and the cells outside every window are zeroed: one pass over dx.
 * Overlapping windows zero dx first and add dy into the winners, windows in ascending order.
 * Both give the bits of "start from +0, add each window's dy to its winner in window order"
 * (a sum starting at +0 is never -0, so adding +0 elsewhere is exact). */
#define FC_MAXPOOL_BWD_SAMPLE(T, SUF, VT, VI, IT)                                           \
FC_CLONES static void fc_maxpool_bwd_sample_##SUF(const T *restrict x, const T *restrict dy,\
                                                  T *restrict dx, ptrdiff_t tlen,           \
                                                  ptrdiff_t slen, ptrdiff_t C,              \
                                                  ptrdiff_t pool, ptrdiff_t stride,         \
                                                  ptrdiff_t left) {                         \
    enum { L = (int)(sizeof(VT) / sizeof(T)) };                                             \
    const int disjoint = stride >= pool;                                                    \
    ptrdiff_t done = 0;   /* disjoint: dx rows [0, done) are written */                     \
    if (!disjoint) memset(dx, 0, sizeof(T) * (size_t)(tlen * C));                           \
    for (ptrdiff_t s = 0; s < slen; s++) {                                                  \
        const ptrdiff_t start = s * stride - left;                                          \
        const ptrdiff_t t0 = start > 0 ? start : 0;                                         \
        const ptrdiff_t t1 = start + pool < tlen ? start + pool : tlen;                     \
        const ptrdiff_t n = t1 - t0;                                                        \
        const T *restrict xw = x + t0 * C;                                                  \
        const T *restrict g = dy + s * C;                                                   \
        T *restrict dw = dx + t0 * C;                                                       \
        if (disjoint && t0 > done)                                                          \
            memset(dx + done * C, 0, sizeof(T) * (size_t)((t0 - done) * C));                \
        ptrdiff_t c = 0;                                                                    \
        for (; c + L <= C; c += L) {                                                        \
            VT best, v, gv;                                                                 \
            VI idx = (VI){0};                                                               \
            memcpy(&best, xw + c, sizeof best);                                             \
            for (ptrdiff_t t = 1; t < n; t++) {                                             \
                memcpy(&v, xw + t * C + c, sizeof v);                                       \
                VI take = (v > best) | ((v != v) & (best == best));                         \
                best = (VT)((take & (VI)v) | (~take & (VI)best));                           \
                idx = (take & (IT)t) | (~take & idx);                                       \
            }                                                                               \
            memcpy(&gv, g + c, sizeof gv);                                                  \
            if (disjoint) {                                                                 \
                VI gz = (VI)(gv + (VT){0});                                                 \
                for (ptrdiff_t t = 0; t < n; t++) {                                         \
                    VT o = (VT)((idx == (IT)t) & gz);                                       \
                    memcpy(dw + t * C + c, &o, sizeof o);                                   \
                }                                                                           \
            } else {                                                                        \
                for (int l = 0; l < L; l++) dw[idx[l] * C + c + l] += gv[l];                \
            }                                                                               \
        }                                                                                   \
        for (; c < C; c++) {                                                                \
            T b = xw[c];                                                                    \
            ptrdiff_t k = 0;                                                                \
            for (ptrdiff_t t = 1; t < n; t++) {                                             \
                T v = xw[t * C + c];                                                        \
                if ((v > b) | ((v != v) & (b == b))) { b = v; k = t; }                      \
            }                                                                               \
            if (disjoint) {                                                                 \
                for (ptrdiff_t t = 0; t < n; t++)                                           \
                    dw[t * C + c] = t == k ? (T)0 + g[c] : (T)0;                            \
            } else {                                                                        \
                dw[k * C + c] += g[c];                                                      \
            }                                                                               \
        }                                                                                   \
        if (disjoint && t1 > done) done = t1;                                               \
    }                                                                                       \
    if (disjoint && done < tlen)                                                            \
        memset(dx + done * C, 0, sizeof(T) * (size_t)((tlen - done) * C));                  \
}

FC_MAX_ROW(float, f32)
FC_MAX_ROW(double, f64)
FC_MAXPOOL_FWD_ROWS(float, f32, fc_pool_vf, fc_pool_vfi)
FC_MAXPOOL_FWD_ROWS(double, f64, fc_pool_vd, fc_pool_vdi)
FC_MAXPOOL_BWD_SAMPLE(float, f32, fc_pool_vf, fc_pool_vfi, int)
FC_MAXPOOL_BWD_SAMPLE(double, f64, fc_pool_vd, fc_pool_vdi, long long)

#endif
