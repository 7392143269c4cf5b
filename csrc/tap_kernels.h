/* Tap sums of the Embedding -> Conv1D step (csrc/_embedding.pyx explains the algebra),
 * compiled twice (AVX2 and baseline x86-64) and picked at load time.
 *
 * Step s, tap j reads input step t = s*st + j*dil - left of an item's ids; taps outside [0, T)
 * are zero padding. p and q have K*F columns: tap j's block is columns [j*F, (j+1)*F).
 *
 * fc_tap_sum_*:     out[s, :] = bias + sum over taps j (ascending) of p[pos[ids[t]], j block],
 *                   then relu if asked (one batch item: ids (T,), out (S, F); bias may be NULL).
 * fc_tap_rows_*:    q's (row, tap) blocks [u_lo, u_hi), each the sum over the row's ids
 *                   (ascending b, t) of dy[b, s] for the step s reading that input step
 *                   through the tap; each block is written by one caller only, so the sum
 *                   order is fixed whatever the threads.
 * fc_tap_colsum_*:  column sums of dy's (rows, F) over columns [c0, c1), in double.
 */
#ifndef FASTCONV_TAP_KERNELS_H
#define FASTCONV_TAP_KERNELS_H
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__GLIBC__) && \
    (!defined(__clang__) || __clang_major__ >= 14) && !defined(FASTCONV_NO_CLONES)
#define FC_TAP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FC_TAP_CLONES
#endif

#define FC_TAP_AHEAD 4     /* steps ahead whose (random) rows of p are requested early */
#define FC_TAP_PREFETCH(ptr, bytes)                                                           \
    do {                                                                                      \
        const char *pf_ = (const char *)(ptr);                                                \
        for (size_t o_ = 0; o_ < (size_t)(bytes); o_ += 64) __builtin_prefetch(pf_ + o_, 1, 3); \
    } while (0)

/* 32-byte GCC/clang vectors (one AVX register; two SSE registers in the baseline build),
 * loaded and stored unaligned through memcpy. */
typedef float fc_tap_vf __attribute__((vector_size(32)));
typedef double fc_tap_vd __attribute__((vector_size(32)));
#define FC_TAP_MAX_K 64   /* taps gathered per output step in one pass; longer kernels loop */

/* The vector helpers are statement macros expanded inside each cloned kernel: a separate
 * function would be compiled (and its 32-byte vectors lowered) for the baseline target only. */
/* d[c] += s[c] for c < n */
#define FC_TAP_ADD(T, VT, d, s, n)                                                            \
    do {                                                                                      \
        const ptrdiff_t vl_ = (ptrdiff_t)(sizeof(VT) / sizeof(T)), n_ = (n);                  \
        T *d_ = (d);                                                                          \
        const T *s_ = (s);                                                                    \
        ptrdiff_t c_ = 0;                                                                     \
        for (; c_ + vl_ <= n_; c_ += vl_) {                                                   \
            VT a_, b_;                                                                        \
            memcpy(&a_, d_ + c_, sizeof a_);                                                  \
            memcpy(&b_, s_ + c_, sizeof b_);                                                  \
            a_ = a_ + b_;                                                                     \
            memcpy(d_ + c_, &a_, sizeof a_);                                                  \
        }                                                                                     \
        for (; c_ < n_; c_++) d_[c_] = d_[c_] + s_[c_];                                       \
    } while (0)

/* a0..a3 = the four vectors at p, p + vl, p + 2 vl, p + 3 vl (FC_TAP_LOAD4); added to them
 * (FC_TAP_ADD4); stored there (FC_TAP_STORE4). */
#define FC_TAP_LOAD4(a0, a1, a2, a3, p, vl)                                                   \
    do {                                                                                      \
        __typeof__(p) p_ = (p);                                                               \
        memcpy(&(a0), p_, sizeof(a0));                                                        \
        memcpy(&(a1), p_ + (vl), sizeof(a1));                                                 \
        memcpy(&(a2), p_ + 2 * (vl), sizeof(a2));                                             \
        memcpy(&(a3), p_ + 3 * (vl), sizeof(a3));                                             \
    } while (0)
#define FC_TAP_ADD4(a0, a1, a2, a3, p, vl)                                                    \
    do {                                                                                      \
        __typeof__(a0) b0_, b1_, b2_, b3_;                                                    \
        FC_TAP_LOAD4(b0_, b1_, b2_, b3_, p, vl);                                              \
        a0 = a0 + b0_; a1 = a1 + b1_; a2 = a2 + b2_; a3 = a3 + b3_;                           \
    } while (0)
#define FC_TAP_STORE4(a0, a1, a2, a3, p, vl)                                                  \
    do {                                                                                      \
        __typeof__(p) p_ = (p);                                                               \
        memcpy(p_, &(a0), sizeof(a0));                                                        \
        memcpy(p_ + (vl), &(a1), sizeof(a1));                                                 \
        memcpy(p_ + 2 * (vl), &(a2), sizeof(a2));                                             \
        memcpy(p_ + 3 * (vl), &(a3), sizeof(a3));                                             \
    } while (0)

/* o[c] = z[c] + r[0][c] + r[1][c] + ... + r[m-1][c] for c < n, z = `init` or zeros; then
 * o[c] = o[c] < 0 ? 0 : o[c] if `relu` (NaN stays NaN, as the conv kernels' relu). Four
 * vectors at a time so that independent sums hide the add latency. */
#define FC_TAP_SUMROWS(T, VT, o, r, m, n, init, relu)                                         \
    do {                                                                                      \
        const ptrdiff_t vl_ = (ptrdiff_t)(sizeof(VT) / sizeof(T)), n_ = (n);                  \
        const int m_ = (m);                                                                   \
        T *o_ = (o);                                                                          \
        ptrdiff_t c_ = 0;                                                                     \
        for (; c_ + 4 * vl_ <= n_; c_ += 4 * vl_) {                                           \
            VT a0_ = {0}, a1_ = {0}, a2_ = {0}, a3_ = {0};                                    \
            if (init) FC_TAP_LOAD4(a0_, a1_, a2_, a3_, (init) + c_, vl_);                     \
            for (int i_ = 0; i_ < m_; i_++)                                                   \
                FC_TAP_ADD4(a0_, a1_, a2_, a3_, (r)[i_] + c_, vl_);                           \
            FC_TAP_STORE4(a0_, a1_, a2_, a3_, o_ + c_, vl_);                                  \
        }                                                                                     \
        for (; c_ + vl_ <= n_; c_ += vl_) {                                                   \
            VT a_ = {0}, b_;                                                                  \
            if (init) memcpy(&a_, (init) + c_, sizeof a_);                                    \
            for (int i_ = 0; i_ < m_; i_++) {                                                 \
                memcpy(&b_, (r)[i_] + c_, sizeof b_);                                         \
                a_ = a_ + b_;                                                                 \
            }                                                                                 \
            memcpy(o_ + c_, &a_, sizeof a_);                                                  \
        }                                                                                     \
        for (; c_ < n_; c_++) {                                                               \
            T a_ = (init) ? (init)[c_] : (T)0;                                                \
            for (int i_ = 0; i_ < m_; i_++) a_ = a_ + (r)[i_][c_];                            \
            o_[c_] = a_;                                                                      \
        }                                                                                     \
        if (relu)                                                                             \
            for (c_ = 0; c_ < n_; c_++) o_[c_] = o_[c_] < 0 ? (T)0 : o_[c_];                  \
    } while (0)

#define FC_TAP_KERNELS(T, VT, IDX, SUF)                                                       \
FC_TAP_CLONES static void fc_tap_sum_##SUF(const IDX *ids, const int *pos, const T *p,       \
                                           const T *bias, int relu, T *out, ptrdiff_t tlen,   \
                                           ptrdiff_t slen, ptrdiff_t f, int k, int st,        \
                                           int dil, int left) {                               \
    const ptrdiff_t kf = (ptrdiff_t)k * f;                                                    \
    for (ptrdiff_t s = 0; s < slen; s++) {                                                    \
        T *restrict o = out + s * f;                                                          \
        if (s + FC_TAP_AHEAD < slen)                                                          \
            for (int j = 0; j < k; j++) {                                                     \
                const ptrdiff_t t = (s + FC_TAP_AHEAD) * st + (ptrdiff_t)j * dil - left;      \
                if (t >= 0 && t < tlen)                                                       \
                    FC_TAP_PREFETCH(p + (ptrdiff_t)pos[ids[t]] * kf + (ptrdiff_t)j * f,        \
                                    f * sizeof(T));                                           \
            }                                                                                 \
        const T *rows[FC_TAP_MAX_K];                                                          \
        int m = 0;                                                                            \
        for (int j = 0; j < k; j++) {                                                         \
            const ptrdiff_t t = s * st + (ptrdiff_t)j * dil - left;                           \
            if (t < 0 || t >= tlen) continue;                                                 \
            rows[m++] = p + (ptrdiff_t)pos[ids[t]] * kf + (ptrdiff_t)j * f;                   \
            if (m == FC_TAP_MAX_K) {    /* long kernels: fold the sum so far in as a row */   \
                FC_TAP_SUMROWS(T, VT, o, rows, m, f, (rows[0] == o ? NULL : bias), 0);       \
                rows[0] = o;                                                                  \
                m = 1;                                                                        \
            }                                                                                 \
        }                                                                                     \
        FC_TAP_SUMROWS(T, VT, o, rows, m, f, (m && rows[0] == o ? NULL : bias), relu);       \
    }                                                                                         \
}

/* Output step through which tap j reads input step t, or -1 if none. */
#define FC_TAP_STEP(t, j, st, dil, left, slen, s_out)                                        \
    do {                                                                                      \
        ptrdiff_t s_ = (t) + (left) - (ptrdiff_t)(j) * (dil);                                 \
        if (s_ >= 0 && (st) > 1) s_ = s_ % (st) ? -1 : s_ / (st);                             \
        (s_out) = s_ < (slen) ? s_ : -1;                                                      \
    } while (0)

#define FC_TAP_ROW_KERNELS(T, VT, SUF)                                                       \
/* blocks [u_lo, u_hi) of q, block u = (row u / k, tap u % k): block j of row r = the sum   \
 * over the row's ids (ascending (b, t): item occ_b[n], step occ_t[n], n in [start[r],       \
 * start[r + 1])) of dy[b, s] for the output step s reading that input step through tap j;   \
 * four vectors of columns at a time are summed in registers and stored once */              \
FC_TAP_CLONES static void fc_tap_rows_##SUF(const ptrdiff_t *occ_b, const ptrdiff_t *occ_t,  \
                                            const ptrdiff_t *start, const T *dy, T *q,       \
                                            ptrdiff_t u_lo, ptrdiff_t u_hi,                  \
                                            ptrdiff_t slen, ptrdiff_t f, int k, int st,      \
                                            int dil, int left) {                             \
    const ptrdiff_t kf = (ptrdiff_t)k * f, vl = (ptrdiff_t)(sizeof(VT) / sizeof(T));         \
    for (ptrdiff_t r = u_lo / k; r * k < u_hi; r++) {                                         \
        const ptrdiff_t n0 = start[r], n1 = start[r + 1];                                     \
        const int j0 = r * k < u_lo ? (int)(u_lo - r * k) : 0;                                \
        const int j1 = (r + 1) * k > u_hi ? (int)(u_hi - r * k) : k;                          \
        for (int j = j0; j < j1; j++) {                                                       \
            T *o = q + r * kf + (ptrdiff_t)j * f;                                             \
            ptrdiff_t c = 0;                                                                  \
            for (; c + 4 * vl <= f; c += 4 * vl) {                                            \
                VT a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                    \
                for (ptrdiff_t n = n0; n < n1; n++) {                                         \
                    ptrdiff_t s;                                                              \
                    FC_TAP_STEP(occ_t[n], j, st, dil, left, slen, s);                         \
                    if (s < 0) continue;                                                      \
                    FC_TAP_ADD4(a0, a1, a2, a3, dy + (occ_b[n] * slen + s) * f + c, vl);      \
                }                                                                             \
                FC_TAP_STORE4(a0, a1, a2, a3, o + c, vl);                                     \
            }                                                                                 \
            if (c < f) {                   /* last columns: summed in place */                \
                for (ptrdiff_t cc = c; cc < f; cc++) o[cc] = 0;                               \
                for (ptrdiff_t n = n0; n < n1; n++) {                                         \
                    ptrdiff_t s;                                                              \
                    FC_TAP_STEP(occ_t[n], j, st, dil, left, slen, s);                         \
                    if (s < 0) continue;                                                      \
                    FC_TAP_ADD(T, VT, o + c, dy + (occ_b[n] * slen + s) * f + c, f - c);      \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
}

FC_TAP_KERNELS(float, fc_tap_vf, int, f_i)
FC_TAP_KERNELS(float, fc_tap_vf, long long, f_l)
FC_TAP_KERNELS(double, fc_tap_vd, int, d_i)
FC_TAP_KERNELS(double, fc_tap_vd, long long, d_l)

/* out[c] = sum over rows n (ascending, in double) of dy[n, c], for c in [c0, c1) */
#define FC_TAP_COLSUM(T, SUF)                                                                 \
FC_TAP_CLONES static void fc_tap_colsum_##SUF(const T *dy, ptrdiff_t rows, ptrdiff_t f,      \
                                              ptrdiff_t c0, ptrdiff_t c1, T *out) {          \
    double acc[64];                                                                           \
    for (ptrdiff_t a = c0; a < c1; a += 64) {                                                 \
        const ptrdiff_t w = c1 - a < 64 ? c1 - a : 64;                                        \
        for (ptrdiff_t c = 0; c < w; c++) acc[c] = 0.0;                                       \
        for (ptrdiff_t n = 0; n < rows; n++)                                                  \
            for (ptrdiff_t c = 0; c < w; c++) acc[c] += (double)dy[n * f + a + c];            \
        for (ptrdiff_t c = 0; c < w; c++) out[a + c] = (T)acc[c];                             \
    }                                                                                         \
}

FC_TAP_COLSUM(float, f)
FC_TAP_COLSUM(double, d)
FC_TAP_ROW_KERNELS(float, fc_tap_vf, f)
FC_TAP_ROW_KERNELS(double, fc_tap_vd, d)

#endif
