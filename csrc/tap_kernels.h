/* Tap sums of the Embedding -> Conv1D step (csrc/_embedding.pyx explains the algebra),
 * compiled twice (AVX2 and baseline x86-64) and picked at load time.
 *
 * Step s, tap j reads input step t = s*st + j*dil - left of an item's ids; taps outside [0, T)
 * are zero padding. p and q have K*F columns: tap j's block is columns [j*F, (j+1)*F).
 *
 * fc_tap_sum_*:     out[s, :] = bias + sum over taps j (ascending) of p[pos[ids[t]], j block],
 *                   then relu if asked (one batch item: ids (T,), out (S, F); bias may be NULL).
 * fc_tap_scatter_*: zero the caller's segments (j, f0, f1) of q's first zero_rows rows, then
 *                   for (b, s) ascending, q[pos[ids[b, t]], j block][f0..f1) += dy[b, s, f0..f1)
 *                   for those segments; each q element is owned by one segment, so the sum
 *                   order is fixed whatever the threads. With bias_acc != NULL also
 *                   bias_acc[f] += dy[b, s, f] (double) for f in [bf0, bf1).
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

#define FC_TAP_MAX_SEG 64
#define FC_TAP_AHEAD 4     /* steps ahead whose rows are requested early (random rows of p, q) */
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
            VT a0_ = {0}, a1_ = {0}, a2_ = {0}, a3_ = {0}, b0_, b1_, b2_, b3_;                \
            if (init) {                                                                       \
                memcpy(&a0_, (init) + c_, sizeof a0_);                                        \
                memcpy(&a1_, (init) + c_ + vl_, sizeof a1_);                                  \
                memcpy(&a2_, (init) + c_ + 2 * vl_, sizeof a2_);                              \
                memcpy(&a3_, (init) + c_ + 3 * vl_, sizeof a3_);                              \
            }                                                                                 \
            for (int i_ = 0; i_ < m_; i_++) {                                                 \
                memcpy(&b0_, (r)[i_] + c_, sizeof b0_);                                       \
                memcpy(&b1_, (r)[i_] + c_ + vl_, sizeof b1_);                                 \
                memcpy(&b2_, (r)[i_] + c_ + 2 * vl_, sizeof b2_);                             \
                memcpy(&b3_, (r)[i_] + c_ + 3 * vl_, sizeof b3_);                             \
                a0_ = a0_ + b0_; a1_ = a1_ + b1_; a2_ = a2_ + b2_; a3_ = a3_ + b3_;           \
            }                                                                                 \
            memcpy(o_ + c_, &a0_, sizeof a0_);                                                \
            memcpy(o_ + c_ + vl_, &a1_, sizeof a1_);                                          \
            memcpy(o_ + c_ + 2 * vl_, &a2_, sizeof a2_);                                      \
            memcpy(o_ + c_ + 3 * vl_, &a3_, sizeof a3_);                                      \
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
}                                                                                             \
                                                                                              \
/* segments: nseg triples (j, f0, f1); q columns of every segment zeroed for rows < zero_rows */ \
FC_TAP_CLONES static void fc_tap_scatter_##SUF(const IDX *ids, const int *pos, const T *dy,  \
                                               T *q, ptrdiff_t zero_rows, ptrdiff_t batch,    \
                                               ptrdiff_t tlen, ptrdiff_t slen, ptrdiff_t f,   \
                                               int k, int st, int dil, int left,              \
                                               const int *seg, int nseg, double *bias_acc,    \
                                               ptrdiff_t bf0, ptrdiff_t bf1) {                \
    const ptrdiff_t kf = (ptrdiff_t)k * f;                                                    \
    if (nseg <= 0) return;                                                                    \
    const ptrdiff_t col0 = (ptrdiff_t)seg[0] * f + seg[1];                                    \
    const ptrdiff_t col1 = (ptrdiff_t)seg[3 * nseg - 3] * f + seg[3 * nseg - 1];              \
    for (ptrdiff_t r = 0; r < zero_rows; r++)                                                 \
        for (int i = 0; i < nseg; i++) {                                                      \
            const int *g = seg + 3 * i;                                                       \
            T *restrict z = q + r * kf + (ptrdiff_t)g[0] * f;                                 \
            for (ptrdiff_t c = g[1]; c < g[2]; c++) z[c] = 0;                                 \
        }                                                                                     \
    /* walked by input step: each step's q row is found once and every segment adds the dy    \
     * row of the output step that reads it through that tap; for a fixed tap, input and      \
     * output steps rise together, so each element still sums in ascending (b, s) order */    \
    for (ptrdiff_t b = 0; b < batch; b++) {                                                   \
        const IDX *ib = ids + b * tlen;                                                       \
        const T *dyb = dy + b * slen * f;                                                     \
        for (ptrdiff_t t = 0; t < tlen; t++) {                                                \
            if (t + FC_TAP_AHEAD < tlen)  /* this caller's columns of a row coming up */      \
                FC_TAP_PREFETCH(q + (ptrdiff_t)pos[ib[t + FC_TAP_AHEAD]] * kf + col0,          \
                                (col1 - col0) * sizeof(T));                                   \
            T *qr = q + (ptrdiff_t)pos[ib[t]] * kf;                                           \
            for (int i = 0; i < nseg; i++) {                                                  \
                const int *g = seg + 3 * i;                                                   \
                const ptrdiff_t num = t + left - (ptrdiff_t)g[0] * dil;                       \
                if (num < 0 || num % st) continue;                                            \
                const ptrdiff_t s = num / st;                                                 \
                if (s >= slen) continue;                                                      \
                FC_TAP_ADD(T, VT, qr + (ptrdiff_t)g[0] * f + g[1], dyb + s * f + g[1],        \
                           g[2] - g[1]);                                                      \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    if (bias_acc != NULL)                                                                     \
        for (ptrdiff_t n = 0; n < batch * slen; n++)                                          \
            for (ptrdiff_t c = bf0; c < bf1; c++) bias_acc[c] += (double)dy[n * f + c];       \
}

FC_TAP_KERNELS(float, fc_tap_vf, int, f_i)
FC_TAP_KERNELS(float, fc_tap_vf, long long, f_l)
FC_TAP_KERNELS(double, fc_tap_vd, int, d_i)
FC_TAP_KERNELS(double, fc_tap_vd, long long, d_l)

#endif
