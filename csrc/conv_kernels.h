/* Conv1D kernels: portable C and AVX2+FMA variants of every kernel, chosen at run time.
 *
 * conv_impl.h is instantiated once per (element type, ISA). The AVX2 variants are compiled with
 * GCC/clang function target attributes, so the build itself stays generic x86-64 (never
 * -march=native) and a CPU without AVX2 runs the portable variants. fc_conv_select() picks the
 * variant once at module import; the public entry points below only read that choice.
 */
#ifndef FASTCONV_CONV_KERNELS_H
#define FASTCONV_CONV_KERNELS_H
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "fastconv_cpu.h"
#if FC_X86
#include <immintrin.h>
#endif

#define FC_CAT3_(a, b, c) a##b##c
#define FC_CAT3(a, b, c) FC_CAT3_(a, b, c)

/* portable float */
#define FC_T float
#define FC_IS_DOUBLE 0
#define FC_NR 16
#define FC_EXP expf
#define FC_TANH tanhf
#define FC_AVX2 0
#define FC_ATTR
#define FC_FN(n) FC_CAT3(fc_conv_gen_, n, _f)
#include "conv_impl.h"
#undef FC_FN
#undef FC_ATTR
#undef FC_AVX2
#if FC_X86
#define FC_AVX2 1
#define FC_ATTR __attribute__((target("avx2,fma")))
#define FC_FN(n) FC_CAT3(fc_conv_avx2_, n, _f)
#include "conv_impl.h"
#undef FC_FN
#undef FC_ATTR
#undef FC_AVX2
#endif
#undef FC_T
#undef FC_IS_DOUBLE
#undef FC_NR
#undef FC_EXP
#undef FC_TANH

/* portable double */
#define FC_T double
#define FC_IS_DOUBLE 1
#define FC_NR 8
#define FC_EXP exp
#define FC_TANH tanh
#define FC_AVX2 0
#define FC_ATTR
#define FC_FN(n) FC_CAT3(fc_conv_gen_, n, _d)
#include "conv_impl.h"
#undef FC_FN
#undef FC_ATTR
#undef FC_AVX2
#if FC_X86
#define FC_AVX2 1
#define FC_ATTR __attribute__((target("avx2,fma")))
#define FC_FN(n) FC_CAT3(fc_conv_avx2_, n, _d)
#include "conv_impl.h"
#undef FC_FN
#undef FC_ATTR
#undef FC_AVX2
#endif
#undef FC_T
#undef FC_IS_DOUBLE
#undef FC_EXP
#undef FC_TANH

#define FC_NR_F 16
#define FC_NR_D 8
#define FC_MR_DW_ALL 6
#define FC_NARROW_ALL 4  /* = FC_NARROW in conv_impl.h */

/* 0: portable C, 1: AVX2+FMA. Written only by fc_conv_select (module import, under the GIL). */
static int fc_conv_isa = 0;

static int fc_conv_select(int want)
{
    /* want: -1 best available, 0 portable, 1 AVX2+FMA (if the CPU has it) */
    int best = fc_cpu_has_avx2_fma() ? 1 : 0;
    fc_conv_isa = (want < 0 || want > best) ? best : want;
    return fc_conv_isa;
}

static inline int fc_conv_nr_f(void) { return FC_NR_F; }
static inline int fc_conv_nr_d(void) { return FC_NR_D; }
static inline int fc_conv_mr_dw(void) { return FC_MR_DW_ALL; }

/* Number of kernel-gradient tasks (see dw_tasks / dw_narrow_tasks in conv_impl.h). */
static long fc_conv_dw_ntasks(int k, int cg, int f, int groups, int nr)
{
    const long nfb = (f / groups + nr - 1) / nr;
    if (cg < FC_NARROW_ALL)
        return (long)groups * nfb * cg * ((k + FC_MR_DW_ALL - 1) / FC_MR_DW_ALL);
    return (long)k * groups * ((cg + FC_MR_DW_ALL - 1) / FC_MR_DW_ALL) * nfb;
}

/* Pack kernel (K, Cg, F) for the forward pass: per (group, filter block) a panel [j][c][NR],
 * filters past the group's end zero. Bias (F,) packed per (group, filter block) as [NR]. */
#define FC_DEFINE_PACK(T, SFX, NR)                                                              \
static void fc_conv_pack_fwd_##SFX(const T *w, int k, int cg, int f, int groups, T *wp)         \
{                                                                                               \
    const int fg = f / groups, nfb = (fg + NR - 1) / NR;                                        \
    for (int g = 0; g < groups; g++)                                                            \
        for (int fb = 0; fb < nfb; fb++)                                                        \
            for (int j = 0; j < k; j++)                                                         \
                for (int c = 0; c < cg; c++) {                                                  \
                    const T *src = w + ((ptrdiff_t)j * cg + c) * f + g * fg + fb * NR;          \
                    if (fb * NR + NR <= fg) {       /* a whole block: one fixed-size copy */    \
                        memcpy(wp, src, NR * sizeof(T));                                        \
                        wp += NR;                                                               \
                        continue;                                                               \
                    }                                                                           \
                    for (int v = 0; v < NR; v++)                                                \
                        *wp++ = fb * NR + v < fg ? src[v] : (T)0;                               \
                }                                                                               \
}                                                                                               \
static void fc_conv_pack_bias_##SFX(const T *bias, int f, int groups, T *bp)                    \
{                                                                                               \
    const int fg = f / groups, nfb = (fg + NR - 1) / NR;                                        \
    for (int g = 0; g < groups; g++)                                                            \
        for (int fb = 0; fb < nfb; fb++)                                                        \
            for (int v = 0; v < NR; v++) {                                                      \
                const int ff = fb * NR + v;                                                     \
                *bp++ = ff < fg ? bias[g * fg + ff] : (T)0;                                     \
            }                                                                                   \
}                                                                                               \
/* Transposed panels for the input gradient: per (group, channel block) [j][f][NR]; for narrow \
 * groups per (group, block of NR (tap, channel) pairs q = j*cg + c) [f][NR] (no larger). */    \
static void fc_conv_pack_bwd_##SFX(const T *w, int k, int cg, int f, int groups, T *wtp)        \
{                                                                                               \
    const int fg = f / groups, ncb = (cg + NR - 1) / NR;                                        \
    if (cg < FC_NARROW_ALL) {                                                                   \
        const int kc = k * cg, ncol = (kc + NR - 1) / NR;                                       \
        for (int g = 0; g < groups; g++)                                                        \
            for (int cb = 0; cb < ncol; cb++)                                                   \
                for (int ff = 0; ff < fg; ff++)                                                 \
                    for (int v = 0; v < NR; v++) {                                              \
                        const int q = cb * NR + v;                                              \
                        *wtp++ = q < kc ? w[(ptrdiff_t)q * f + g * fg + ff] : (T)0;             \
                    }                                                                           \
        return;                                                                                 \
    }                                                                                           \
    for (int g = 0; g < groups; g++)                                                            \
        for (int cb = 0; cb < ncb; cb++)                                                        \
            for (int j = 0; j < k; j++)                                                         \
                for (int ff = 0; ff < fg; ff++)                                                 \
                    for (int v = 0; v < NR; v++) {                                              \
                        const int c = cb * NR + v;                                              \
                        *wtp++ = c < cg ? w[((ptrdiff_t)j * cg + c) * f + g * fg + ff] : (T)0;  \
                    }                                                                           \
}                                                                                               \
static ptrdiff_t fc_conv_pack_fwd_size_##SFX(int k, int cg, int f, int groups)                  \
{ const int fg = f / groups; return (ptrdiff_t)groups * ((fg + NR - 1) / NR) * k * cg * NR; }   \
static ptrdiff_t fc_conv_pack_bias_size_##SFX(int f, int groups)                                \
{ const int fg = f / groups; return (ptrdiff_t)groups * ((fg + NR - 1) / NR) * NR; }            \
static ptrdiff_t fc_conv_pack_bwd_size_##SFX(int k, int cg, int f, int groups)                  \
{ const int fg = f / groups; return (ptrdiff_t)groups * ((cg + NR - 1) / NR) * k * fg * NR; }

FC_DEFINE_PACK(float, f, FC_NR_F)
FC_DEFINE_PACK(double, d, FC_NR_D)

#if FC_X86
#define FC_DISPATCH(name, SFX, args) \
    do { if (fc_conv_isa == 1) fc_conv_avx2_##name##_##SFX args; \
         else fc_conv_gen_##name##_##SFX args; } while (0)
#else
#define FC_DISPATCH(name, SFX, args) fc_conv_gen_##name##_##SFX args
#endif

#define FC_DEFINE_ENTRY(T, SFX)                                                                 \
static void fc_conv_fwd_item_##SFX(const T *x, int tlen, int cin, const T *wp, const T *bp,     \
                                   T *y, int slen, int fout, int k, int st, int dil, int left,  \
                                   int groups, int chunk, int act)                              \
{                                                                                               \
    FC_DISPATCH(fwd_item, SFX, (x, tlen, cin, wp, bp, y, slen, fout, k, st, dil, left, groups,  \
                                chunk));                                                        \
    if (act) FC_DISPATCH(activate, SFX, (y, (ptrdiff_t)slen * fout, act));                      \
}                                                                                               \
/* wtp: the kernel packed by fc_conv_pack_bwd (narrow or wide layout, chosen the same way). */  \
static void fc_conv_bwdx_item_##SFX(const T *dy, int slen, int fout, const T *wtp,              \
                                    T *dx, int tlen, int cin, int k, int st, int dil, int left, \
                                    int groups, int chunk)                                      \
{                                                                                               \
    if (cin / groups < FC_NARROW_ALL)                                                           \
        FC_DISPATCH(bwdx_narrow_item, SFX, (dy, slen, fout, wtp, dx, tlen, cin, k, st, dil,     \
                                            left, groups));                                     \
    else                                                                                        \
        FC_DISPATCH(bwdx_item, SFX, (dy, slen, fout, wtp, dx, tlen, cin, k, st, dil, left,      \
                                     groups, chunk));                                           \
}                                                                                               \
static void fc_conv_dw_tasks_##SFX(const T *x, const T *dy, int batch, int tlen, int cin,       \
                                   int slen, int fout, int k, int st, int dil, int left,        \
                                   int groups, T *dw, long lo, long hi, int chunk)              \
{                                                                                               \
    FC_DISPATCH(dw_tasks, SFX, (x, dy, batch, tlen, cin, slen, fout, k, st, dil, left, groups,  \
                                dw, lo, hi, chunk));                                            \
}                                                                                               \
/* dbias[f] for f in [f0, f1), f1 - f0 <= 64 (conv_impl.h colsum). */                          \
static void fc_conv_colsum_##SFX(const T *dy, ptrdiff_t rows, int fout, int f0, int f1, T *out) \
{                                                                                               \
    FC_DISPATCH(colsum, SFX, (dy, rows, fout, f0, f1, out));                                    \
}

FC_DEFINE_ENTRY(float, f)
FC_DEFINE_ENTRY(double, d)

#endif
