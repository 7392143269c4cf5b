/* RMSprop's deferred velocity decay (csrc/_optim.pyx explains the scheme), compiled twice (AVX2
 * and baseline x86-64) and picked at load time.
 *
 * fc_decay_row_*(v, n, k, rho, c) runs v[i] = rho*v[i] + c k times, pass after pass, exactly as
 * k separate steps of the dense update would (each operation rounds once: no FMA contraction in
 * ISO C mode, and multiplication and addition round identically in every variant). Speed-ups
 * that change no bit:
 * - a block of FC_DECAY_BLOCK values stays in registers / L1 for all k passes;
 * - after the first pass no value is -0.0 (rho*v + (+0.0) never is), so when c is +0.0 the
 *   later passes multiply only: x + (+0.0) == x for every other x, NaN included;
 * - every 8 passes, a pass that changed no value ends the block early: every later pass would
 *   leave it unchanged too (a NaN always counts as changed, so NaN rows run all k passes).
 */
#ifndef FASTCONV_OPTIM_KERNELS_H
#define FASTCONV_OPTIM_KERNELS_H
#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__GLIBC__) && \
    (!defined(__clang__) || __clang_major__ >= 14) && !defined(FASTCONV_NO_CLONES)
#define FC_OPT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FC_OPT_CLONES
#endif

#define FC_DECAY_BLOCK 64

#define FC_DECAY_ROW(T, SUF)                                                                \
/* passes 2..k over one block of m values (m <= FC_DECAY_BLOCK) */                          \
static inline void fc_decay_block_##SUF(T *restrict b, ptrdiff_t m, long long k, T rho,     \
                                        T c, int mul_only) {                                \
    long long s = 1;                                                                        \
    while (s < k) {                                                                         \
        const long long g = k - s < 8 ? k - s : 8;                                          \
        int moved = 0;                                                                      \
        if (mul_only) {                                                                     \
            for (long long q = 1; q < g; q++)                                               \
                for (ptrdiff_t j = 0; j < m; j++) b[j] = rho * b[j];                        \
            for (ptrdiff_t j = 0; j < m; j++) {                                             \
                const T x = rho * b[j];                                                     \
                moved |= x != b[j];                                                         \
                b[j] = x;                                                                   \
            }                                                                               \
        } else {                                                                            \
            for (long long q = 1; q < g; q++)                                               \
                for (ptrdiff_t j = 0; j < m; j++) b[j] = rho * b[j] + c;                    \
            for (ptrdiff_t j = 0; j < m; j++) {                                             \
                const T x = rho * b[j] + c;                                                 \
                moved |= x != b[j];                                                         \
                b[j] = x;                                                                   \
            }                                                                               \
        }                                                                                   \
        s += g;                                                                             \
        if (!moved) break;                                                                  \
    }                                                                                       \
}                                                                                           \
                                                                                            \
FC_OPT_CLONES static void fc_decay_row_##SUF(T *v, ptrdiff_t n, long long k, T rho, T c) {  \
    if (k <= 0) return;                                                                     \
    for (ptrdiff_t i = 0; i < n; i++) v[i] = rho * v[i] + c;                                \
    if (k == 1) return;                                                                     \
    const int mul_only = c == 0 && !signbit(c);                                             \
    T buf[FC_DECAY_BLOCK];                                                                  \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += FC_DECAY_BLOCK) {                                  \
        const ptrdiff_t m = n - i0 < FC_DECAY_BLOCK ? n - i0 : FC_DECAY_BLOCK;              \
        memcpy(buf, v + i0, (size_t)m * sizeof(T));                                         \
        if (m == FC_DECAY_BLOCK)                                                            \
            fc_decay_block_##SUF(buf, FC_DECAY_BLOCK, k, rho, c, mul_only);                 \
        else                                                                                \
            fc_decay_block_##SUF(buf, m, k, rho, c, mul_only);                              \
        memcpy(v + i0, buf, (size_t)m * sizeof(T));                                         \
    }                                                                                       \
}

FC_DECAY_ROW(float, f)
FC_DECAY_ROW(double, d)

/* Plain RMSprop on one row, the dense kernel's formula and operation order (csrc/_optim.pyx):
 * v = rho*v + omr*(g*g); p = p - (lr*g) / sqrt(v + eps). sqrt and division are correctly
 * rounded in every variant, so the AVX2 clone gives the same bits. Returns how many of the
 * new velocity values are not >= 0 (NaN), counted in the same pass. */
#define FC_RMSPROP_ROW(T, SUF, SQRT)                                                        \
FC_OPT_CLONES static ptrdiff_t fc_rmsprop_row_##SUF(T *restrict p, const T *restrict g,     \
                                                    T *restrict v, ptrdiff_t n, T lr, T rho,\
                                                    T omr, T eps) {                         \
    ptrdiff_t bad = 0;                                                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                                     \
        const T gi = g[i];                                                                  \
        const T vi = rho * v[i] + omr * (gi * gi);                                          \
        v[i] = vi;                                                                          \
        p[i] = p[i] - (lr * gi) / SQRT(vi + eps);                                           \
        bad += !(vi >= 0);                                                                  \
    }                                                                                       \
    return bad;                                                                             \
}

FC_RMSPROP_ROW(float, f, sqrtf)
FC_RMSPROP_ROW(double, d, sqrt)

/* Ask for the first cache lines of a row that will be needed soon (no effect on results). */
static inline void fc_prefetch_row(const void *p, ptrdiff_t bytes) {
    const char *c = (const char *)p;
    for (ptrdiff_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 1, 0);
}

#endif
