/* Conv1D kernels for one element type and one instruction set; included by conv_kernels.h once
 * per (type, ISA) with these macros set:
 *   FC_T     float or double          FC_NR   filters per register panel (2 SIMD vectors)
 *   FC_FN(n) name mangling            FC_ATTR function attribute (target ISA, or empty)
 *   FC_AVX2  1 for the AVX2+FMA intrinsics micro-kernels, 0 for portable C loops
 *
 * Layouts (channels_last, all C-contiguous): x (T, C) and y/dy (S, F) for one batch item,
 * kernel (K, Cg, F). Every output element is summed in one fixed order (taps ascending, then
 * channels ascending; for the kernel gradient batch then steps ascending) that depends only on
 * the geometry, never on which thread computes it: results are bitwise identical for any thread
 * count.
 */

#define FC_MR 6     /* output rows per register block (forward, input gradient) */
#define FC_MR_DW 6  /* channels per register block (kernel gradient) */

/* ---- register-blocked micro-kernels -----------------------------------------------------------
 * acc[r][v] = init[v]
 *             + sum_{i < ntaps} sum_{k < depth} a[r*a_row + i*a_tap + k] * b[i*b_tap + k*NR + v]
 * then c[r*ldc + v] = acc[r][v] for v < nr. `a` is x (forward) or dy (input gradient) read in
 * place: no im2col copy. `b` is a packed kernel panel (NR filters per channel row).
 */
#if FC_AVX2
#if FC_IS_DOUBLE
#define VT __m256d
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VBCAST _mm256_broadcast_sd
#define VFMA _mm256_fmadd_pd
#define VZERO _mm256_setzero_pd
#define VW 4
#else
#define VT __m256
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VBCAST _mm256_broadcast_ss
#define VFMA _mm256_fmadd_ps
#define VZERO _mm256_setzero_ps
#define VW 8
#endif

FC_ATTR static void FC_FN(mk_rows)(const FC_T *a, ptrdiff_t a_row, ptrdiff_t a_tap, int ntaps,
                                   int depth, const FC_T *b, ptrdiff_t b_tap, const FC_T *init,
                                   FC_T *c, ptrdiff_t ldc, int nr)
{
    VT c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (init) {
        c00 = VLOAD(init); c01 = VLOAD(init + VW);
    } else {
        c00 = VZERO(); c01 = VZERO();
    }
    c10 = c00; c11 = c01; c20 = c00; c21 = c01; c30 = c00; c31 = c01;
    c40 = c00; c41 = c01; c50 = c00; c51 = c01;
    for (int i = 0; i < ntaps; i++) {
        const FC_T *a0 = a + i * a_tap;
        const FC_T *a1 = a0 + a_row, *a2 = a1 + a_row, *a3 = a2 + a_row;
        const FC_T *a4 = a3 + a_row, *a5 = a4 + a_row;
        const FC_T *bp = b + i * b_tap;
        for (int k = 0; k < depth; k++, bp += FC_NR) {
            VT b0 = VLOAD(bp), b1 = VLOAD(bp + VW), av;
            av = VBCAST(a0 + k); c00 = VFMA(av, b0, c00); c01 = VFMA(av, b1, c01);
            av = VBCAST(a1 + k); c10 = VFMA(av, b0, c10); c11 = VFMA(av, b1, c11);
            av = VBCAST(a2 + k); c20 = VFMA(av, b0, c20); c21 = VFMA(av, b1, c21);
            av = VBCAST(a3 + k); c30 = VFMA(av, b0, c30); c31 = VFMA(av, b1, c31);
            av = VBCAST(a4 + k); c40 = VFMA(av, b0, c40); c41 = VFMA(av, b1, c41);
            av = VBCAST(a5 + k); c50 = VFMA(av, b0, c50); c51 = VFMA(av, b1, c51);
        }
    }
    if (nr == FC_NR) {
        VSTORE(c, c00); VSTORE(c + VW, c01); c += ldc;
        VSTORE(c, c10); VSTORE(c + VW, c11); c += ldc;
        VSTORE(c, c20); VSTORE(c + VW, c21); c += ldc;
        VSTORE(c, c30); VSTORE(c + VW, c31); c += ldc;
        VSTORE(c, c40); VSTORE(c + VW, c41); c += ldc;
        VSTORE(c, c50); VSTORE(c + VW, c51);
    } else {
        FC_T tmp[FC_MR][FC_NR];
        VSTORE(tmp[0], c00); VSTORE(tmp[0] + VW, c01);
        VSTORE(tmp[1], c10); VSTORE(tmp[1] + VW, c11);
        VSTORE(tmp[2], c20); VSTORE(tmp[2] + VW, c21);
        VSTORE(tmp[3], c30); VSTORE(tmp[3] + VW, c31);
        VSTORE(tmp[4], c40); VSTORE(tmp[4] + VW, c41);
        VSTORE(tmp[5], c50); VSTORE(tmp[5] + VW, c51);
        for (int r = 0; r < FC_MR; r++)
            for (int v = 0; v < nr; v++) c[r * ldc + v] = tmp[r][v];
    }
}

FC_ATTR static void FC_FN(mk_row1)(const FC_T *a, ptrdiff_t a_tap, int ntaps, int depth,
                                   const FC_T *b, ptrdiff_t b_tap, const FC_T *init,
                                   FC_T *c, int nr)
{
    VT c0, c1;
    if (init) { c0 = VLOAD(init); c1 = VLOAD(init + VW); } else { c0 = VZERO(); c1 = VZERO(); }
    for (int i = 0; i < ntaps; i++) {
        const FC_T *a0 = a + i * a_tap;
        const FC_T *bp = b + i * b_tap;
        for (int k = 0; k < depth; k++, bp += FC_NR) {
            VT av = VBCAST(a0 + k);
            c0 = VFMA(av, VLOAD(bp), c0);
            c1 = VFMA(av, VLOAD(bp + VW), c1);
        }
    }
    if (nr == FC_NR) {
        VSTORE(c, c0); VSTORE(c + VW, c1);
    } else {
        FC_T tmp[FC_NR];
        VSTORE(tmp, c0); VSTORE(tmp + VW, c1);
        for (int v = 0; v < nr; v++) c[v] = tmp[v];
    }
}

/* 12 rows x NR/2 values (one vector), one tap: c[r*ldc + v] = sum_{k < depth} a[r*a_row + k] *
 * b[k*NR + v], v < NR/2, summed k ascending as mk_rows does. For the narrow input gradient,
 * where at most half a panel of (tap, channel) pairs is live. */
FC_ATTR static void FC_FN(mk_half12)(const FC_T *a, ptrdiff_t a_row, int depth, const FC_T *b,
                                     FC_T *c, ptrdiff_t ldc)
{
    VT c0 = VZERO(), c1 = VZERO(), c2 = VZERO(), c3 = VZERO(), c4 = VZERO(), c5 = VZERO();
    VT c6 = VZERO(), c7 = VZERO(), c8 = VZERO(), c9 = VZERO(), c10 = VZERO(), c11 = VZERO();
    const FC_T *a6 = a + 6 * a_row;
    for (int k = 0; k < depth; k++, b += FC_NR) {
        const VT bv = VLOAD(b);
        c0 = VFMA(VBCAST(a + k), bv, c0);
        c1 = VFMA(VBCAST(a + a_row + k), bv, c1);
        c2 = VFMA(VBCAST(a + 2 * a_row + k), bv, c2);
        c3 = VFMA(VBCAST(a + 3 * a_row + k), bv, c3);
        c4 = VFMA(VBCAST(a + 4 * a_row + k), bv, c4);
        c5 = VFMA(VBCAST(a + 5 * a_row + k), bv, c5);
        c6 = VFMA(VBCAST(a6 + k), bv, c6);
        c7 = VFMA(VBCAST(a6 + a_row + k), bv, c7);
        c8 = VFMA(VBCAST(a6 + 2 * a_row + k), bv, c8);
        c9 = VFMA(VBCAST(a6 + 3 * a_row + k), bv, c9);
        c10 = VFMA(VBCAST(a6 + 4 * a_row + k), bv, c10);
        c11 = VFMA(VBCAST(a6 + 5 * a_row + k), bv, c11);
    }
    VSTORE(c, c0); VSTORE(c + ldc, c1); VSTORE(c + 2 * ldc, c2); VSTORE(c + 3 * ldc, c3);
    VSTORE(c + 4 * ldc, c4); VSTORE(c + 5 * ldc, c5); c += 6 * ldc;
    VSTORE(c, c6); VSTORE(c + ldc, c7); VSTORE(c + 2 * ldc, c8); VSTORE(c + 3 * ldc, c9);
    VSTORE(c + 4 * ldc, c10); VSTORE(c + 5 * ldc, c11);
}

/* Kernel-gradient block: dw[r*ldw + v] += sum_{n < rows} xa[n*x_row + r*x_col] * dyb[n*dy_row + v],
 * r < FC_MR_DW (6), v < FC_NR; mk_dw4 and mk_dw1 do 4 and 1 channels the same way. Column r
 * of x sits at xa + r*x_col: adjacent channels (x_col = 1) or, on the narrow-channel path,
 * consecutive taps (x_col = dil*C). */
FC_ATTR static void FC_FN(mk_dw)(const FC_T *xa, ptrdiff_t x_row, ptrdiff_t x_col,
                                  const FC_T *dyb, ptrdiff_t dy_row, int rows, FC_T *dw,
                                  ptrdiff_t ldw)
{
    VT c00 = VLOAD(dw), c01 = VLOAD(dw + VW);
    VT c10 = VLOAD(dw + ldw), c11 = VLOAD(dw + ldw + VW);
    VT c20 = VLOAD(dw + 2 * ldw), c21 = VLOAD(dw + 2 * ldw + VW);
    VT c30 = VLOAD(dw + 3 * ldw), c31 = VLOAD(dw + 3 * ldw + VW);
    VT c40 = VLOAD(dw + 4 * ldw), c41 = VLOAD(dw + 4 * ldw + VW);
    VT c50 = VLOAD(dw + 5 * ldw), c51 = VLOAD(dw + 5 * ldw + VW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        VT b0 = VLOAD(dyb), b1 = VLOAD(dyb + VW), av;
        av = VBCAST(xa + 0 * x_col); c00 = VFMA(av, b0, c00); c01 = VFMA(av, b1, c01);
        av = VBCAST(xa + 1 * x_col); c10 = VFMA(av, b0, c10); c11 = VFMA(av, b1, c11);
        av = VBCAST(xa + 2 * x_col); c20 = VFMA(av, b0, c20); c21 = VFMA(av, b1, c21);
        av = VBCAST(xa + 3 * x_col); c30 = VFMA(av, b0, c30); c31 = VFMA(av, b1, c31);
        av = VBCAST(xa + 4 * x_col); c40 = VFMA(av, b0, c40); c41 = VFMA(av, b1, c41);
        av = VBCAST(xa + 5 * x_col); c50 = VFMA(av, b0, c50); c51 = VFMA(av, b1, c51);
    }
    VSTORE(dw, c00); VSTORE(dw + VW, c01);
    VSTORE(dw + ldw, c10); VSTORE(dw + ldw + VW, c11);
    VSTORE(dw + 2 * ldw, c20); VSTORE(dw + 2 * ldw + VW, c21);
    VSTORE(dw + 3 * ldw, c30); VSTORE(dw + 3 * ldw + VW, c31);
    VSTORE(dw + 4 * ldw, c40); VSTORE(dw + 4 * ldw + VW, c41);
    VSTORE(dw + 5 * ldw, c50); VSTORE(dw + 5 * ldw + VW, c51);
}

FC_ATTR static void FC_FN(mk_dw4)(const FC_T *xa, ptrdiff_t x_row, ptrdiff_t x_col,
                                  const FC_T *dyb, ptrdiff_t dy_row, int rows, FC_T *dw,
                                  ptrdiff_t ldw)
{
    VT c00 = VLOAD(dw), c01 = VLOAD(dw + VW);
    VT c10 = VLOAD(dw + ldw), c11 = VLOAD(dw + ldw + VW);
    VT c20 = VLOAD(dw + 2 * ldw), c21 = VLOAD(dw + 2 * ldw + VW);
    VT c30 = VLOAD(dw + 3 * ldw), c31 = VLOAD(dw + 3 * ldw + VW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        VT b0 = VLOAD(dyb), b1 = VLOAD(dyb + VW), av;
        av = VBCAST(xa + 0 * x_col); c00 = VFMA(av, b0, c00); c01 = VFMA(av, b1, c01);
        av = VBCAST(xa + 1 * x_col); c10 = VFMA(av, b0, c10); c11 = VFMA(av, b1, c11);
        av = VBCAST(xa + 2 * x_col); c20 = VFMA(av, b0, c20); c21 = VFMA(av, b1, c21);
        av = VBCAST(xa + 3 * x_col); c30 = VFMA(av, b0, c30); c31 = VFMA(av, b1, c31);
    }
    VSTORE(dw, c00); VSTORE(dw + VW, c01);
    VSTORE(dw + ldw, c10); VSTORE(dw + ldw + VW, c11);
    VSTORE(dw + 2 * ldw, c20); VSTORE(dw + 2 * ldw + VW, c21);
    VSTORE(dw + 3 * ldw, c30); VSTORE(dw + 3 * ldw + VW, c31);
}

/* One channel of a kernel-gradient block (channel remainders), full NR filters. */
FC_ATTR static void FC_FN(mk_dw1)(const FC_T *xa, ptrdiff_t x_row, const FC_T *dyb,
                                  ptrdiff_t dy_row, int rows, FC_T *dw)
{
    VT c0 = VLOAD(dw), c1 = VLOAD(dw + VW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        VT av = VBCAST(xa);
        c0 = VFMA(av, VLOAD(dyb), c0);
        c1 = VFMA(av, VLOAD(dyb + VW), c1);
    }
    VSTORE(dw, c0); VSTORE(dw + VW, c1);
}

#undef VT
#undef VLOAD
#undef VSTORE
#undef VBCAST
#undef VFMA
#undef VZERO
#undef VW

#else /* portable C with GCC/clang vector types (16-byte vectors: SSE2 on x86-64, NEON on arm64) */

typedef FC_T FC_FN(vec) __attribute__((vector_size(16)));
#define GV FC_FN(vec)
#define GW ((int)(16 / sizeof(FC_T)))   /* lanes per vector */
#define GN (FC_NR / GW)                 /* vectors per panel row */

static inline GV FC_FN(gload)(const FC_T *p) { GV v; memcpy(&v, p, sizeof v); return v; }

FC_ATTR static void FC_FN(mk_rows)(const FC_T *a, ptrdiff_t a_row, ptrdiff_t a_tap, int ntaps,
                                   int depth, const FC_T *b, ptrdiff_t b_tap, const FC_T *init,
                                   FC_T *c, ptrdiff_t ldc, int nr)
{
    GV acc[FC_MR][GN];
    for (int q = 0; q < GN; q++) {
        GV v0 = init ? FC_FN(gload)(init + q * GW) : (GV){0};
        for (int r = 0; r < FC_MR; r++) acc[r][q] = v0;
    }
    for (int i = 0; i < ntaps; i++) {
        const FC_T *ai = a + i * a_tap;
        const FC_T *bp = b + i * b_tap;
        for (int k = 0; k < depth; k++, bp += FC_NR) {
            GV bv[GN];
            for (int q = 0; q < GN; q++) bv[q] = FC_FN(gload)(bp + q * GW);
            for (int r = 0; r < FC_MR; r++) {
                const FC_T av = ai[r * a_row + k];
                for (int q = 0; q < GN; q++) acc[r][q] += bv[q] * av;
            }
        }
    }
    for (int r = 0; r < FC_MR; r++) {
        FC_T tmp[FC_NR];
        memcpy(tmp, acc[r], sizeof tmp);
        for (int v = 0; v < nr; v++) c[r * ldc + v] = tmp[v];
    }
}

FC_ATTR static void FC_FN(mk_row1)(const FC_T *a, ptrdiff_t a_tap, int ntaps, int depth,
                                   const FC_T *b, ptrdiff_t b_tap, const FC_T *init,
                                   FC_T *c, int nr)
{
    GV acc[GN];
    for (int q = 0; q < GN; q++) acc[q] = init ? FC_FN(gload)(init + q * GW) : (GV){0};
    for (int i = 0; i < ntaps; i++) {
        const FC_T *ai = a + i * a_tap;
        const FC_T *bp = b + i * b_tap;
        for (int k = 0; k < depth; k++, bp += FC_NR) {
            const FC_T av = ai[k];
            for (int q = 0; q < GN; q++) acc[q] += FC_FN(gload)(bp + q * GW) * av;
        }
    }
    FC_T tmp[FC_NR];
    memcpy(tmp, acc, sizeof tmp);
    for (int v = 0; v < nr; v++) c[v] = tmp[v];
}

/* As the AVX2 mk_half12: 12 rows x NR/2 values, one tap, k ascending. */
FC_ATTR static void FC_FN(mk_half12)(const FC_T *a, ptrdiff_t a_row, int depth, const FC_T *b,
                                     FC_T *c, ptrdiff_t ldc)
{
    GV acc[12][GN / 2];
    for (int r = 0; r < 12; r++)
        for (int q = 0; q < GN / 2; q++) acc[r][q] = (GV){0};
    for (int k = 0; k < depth; k++, b += FC_NR) {
        GV bv[GN / 2];
        for (int q = 0; q < GN / 2; q++) bv[q] = FC_FN(gload)(b + q * GW);
        for (int r = 0; r < 12; r++) {
            const FC_T av = a[r * a_row + k];
            for (int q = 0; q < GN / 2; q++) acc[r][q] += bv[q] * av;
        }
    }
    for (int r = 0; r < 12; r++) memcpy(c + r * ldc, acc[r], sizeof acc[r]);
}

FC_ATTR static void FC_FN(mk_dw)(const FC_T *xa, ptrdiff_t x_row, ptrdiff_t x_col,
                                  const FC_T *dyb, ptrdiff_t dy_row, int rows, FC_T *dw,
                                  ptrdiff_t ldw)
{
    GV acc[6][GN];
    for (int r = 0; r < 6; r++)
        for (int q = 0; q < GN; q++) acc[r][q] = FC_FN(gload)(dw + r * ldw + q * GW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        GV bv[GN];
        for (int q = 0; q < GN; q++) bv[q] = FC_FN(gload)(dyb + q * GW);
        for (int r = 0; r < 6; r++) {
            const FC_T av = xa[r * x_col];
            for (int q = 0; q < GN; q++) acc[r][q] += bv[q] * av;
        }
    }
    for (int r = 0; r < 6; r++) memcpy(dw + r * ldw, acc[r], sizeof acc[r]);
}

FC_ATTR static void FC_FN(mk_dw4)(const FC_T *xa, ptrdiff_t x_row, ptrdiff_t x_col,
                                  const FC_T *dyb, ptrdiff_t dy_row, int rows, FC_T *dw,
                                  ptrdiff_t ldw)
{
    GV acc[4][GN];
    for (int r = 0; r < 4; r++)
        for (int q = 0; q < GN; q++) acc[r][q] = FC_FN(gload)(dw + r * ldw + q * GW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        GV bv[GN];
        for (int q = 0; q < GN; q++) bv[q] = FC_FN(gload)(dyb + q * GW);
        for (int r = 0; r < 4; r++) {
            const FC_T av = xa[r * x_col];
            for (int q = 0; q < GN; q++) acc[r][q] += bv[q] * av;
        }
    }
    for (int r = 0; r < 4; r++) memcpy(dw + r * ldw, acc[r], sizeof acc[r]);
}

FC_ATTR static void FC_FN(mk_dw1)(const FC_T *xa, ptrdiff_t x_row, const FC_T *dyb,
                                  ptrdiff_t dy_row, int rows, FC_T *dw)
{
    GV acc[GN];
    for (int q = 0; q < GN; q++) acc[q] = FC_FN(gload)(dw + q * GW);
    for (int n = 0; n < rows; n++, xa += x_row, dyb += dy_row) {
        const FC_T av = xa[0];
        for (int q = 0; q < GN; q++) acc[q] += FC_FN(gload)(dyb + q * GW) * av;
    }
    memcpy(dw, acc, sizeof acc);
}

#undef GV
#undef GW
#undef GN
#endif

/* Partial kernel-gradient block (nr < FC_NR), same summation order. */
FC_ATTR static void FC_FN(mk_dw_any)(const FC_T *xa, ptrdiff_t x_row, ptrdiff_t x_col,
                                     const FC_T *dyb, ptrdiff_t dy_row, int rows, int mr,
                                     int nr, FC_T *dw, ptrdiff_t ldw)
{
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nr; v++) {
            FC_T acc = dw[r * ldw + v];
            for (int n = 0; n < rows; n++) acc += xa[n * x_row + r * x_col] * dyb[n * dy_row + v];
            dw[r * ldw + v] = acc;
        }
}

static inline ptrdiff_t FC_FN(cdiv_floor)(ptrdiff_t a, ptrdiff_t b)
{
    ptrdiff_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- forward: one batch item ------------------------------------------------------------------
 * y[s, g*Fg + f] = bias + sum_j sum_c x[s*st + j*d - left, g*Cg + c] * w[j, c, g*Fg + f],
 * out-of-range input steps are the zero padding (skipped). `wp` holds the kernel packed per
 * (group, filter block) as [j][c][NR]; `bp` the bias packed per (group, filter block) or NULL.
 */
FC_ATTR static void FC_FN(fwd_item)(const FC_T *x, int tlen, int cin, const FC_T *wp,
                                    const FC_T *bp, FC_T *y, int slen, int fout, int ksize,
                                    int st, int dil, int left, int groups, int chunk)
{
    const int cg = cin / groups, fg = fout / groups;
    const int nfb = (fg + FC_NR - 1) / FC_NR;
    const ptrdiff_t panel = (ptrdiff_t)ksize * cg * FC_NR;
    const ptrdiff_t a_row = (ptrdiff_t)st * cin, a_tap = (ptrdiff_t)dil * cin;
    /* rows whose every tap reads a real input step */
    ptrdiff_t s_lo = (left + st - 1) / st;
    ptrdiff_t s_hi = FC_FN(cdiv_floor)((ptrdiff_t)tlen - 1 - (ptrdiff_t)(ksize - 1) * dil + left,
                                       st) + 1;
    if (s_lo > slen) s_lo = slen;
    if (s_hi > slen) s_hi = slen;
    if (s_hi < s_lo) s_hi = s_lo;
    for (int s0 = 0; s0 < slen; s0 += chunk) {
        const int s1 = s0 + chunk < slen ? s0 + chunk : slen;
        for (int g = 0; g < groups; g++) {
            for (int fb = 0; fb < nfb; fb++) {
                const FC_T *b = wp + (ptrdiff_t)(g * nfb + fb) * panel;
                const FC_T *init = bp ? bp + (ptrdiff_t)(g * nfb + fb) * FC_NR : NULL;
                const int nr = fg - fb * FC_NR < FC_NR ? fg - fb * FC_NR : FC_NR;
                FC_T *yc = y + g * fg + fb * FC_NR;
                const FC_T *xg = x + g * cg;
                int s = s0;
                while (s < s1) {
                    if (s >= s_lo && s + FC_MR <= s_hi && s + FC_MR <= s1) {
                        FC_FN(mk_rows)(xg + ((ptrdiff_t)s * st - left) * cin, a_row, a_tap,
                                       ksize, cg, b, (ptrdiff_t)cg * FC_NR, init,
                                       yc + (ptrdiff_t)s * fout, fout, nr);
                        s += FC_MR;
                        continue;
                    }
                    /* fewer than FC_MR interior rows left: one block ending at the last of
                     * them, recomputing a few rows already written (each row is summed alone,
                     * so the rewrite stores the same bits) */
                    const int e = (int)(s_hi < s1 ? s_hi : s1);
                    if (s >= s_lo && s < e && e - FC_MR >= s_lo) {
                        const int sb = e - FC_MR;
                        FC_FN(mk_rows)(xg + ((ptrdiff_t)sb * st - left) * cin, a_row, a_tap,
                                       ksize, cg, b, (ptrdiff_t)cg * FC_NR, init,
                                       yc + (ptrdiff_t)sb * fout, fout, nr);
                        s = e;
                        continue;
                    }
                    /* taps j with 0 <= s*st + j*dil - left <= tlen - 1 */
                    ptrdiff_t base = (ptrdiff_t)s * st - left;
                    ptrdiff_t j_lo = base >= 0 ? 0 : (-base + dil - 1) / dil;
                    ptrdiff_t j_hi = FC_FN(cdiv_floor)((ptrdiff_t)tlen - 1 - base, dil);
                    if (j_hi > ksize - 1) j_hi = ksize - 1;
                    int nt = j_hi >= j_lo ? (int)(j_hi - j_lo + 1) : 0;
                    const FC_T *ap = nt ? xg + (base + j_lo * dil) * cin : xg;
                    FC_FN(mk_row1)(ap, a_tap, nt, cg, b + (nt ? j_lo : 0) * (ptrdiff_t)cg * FC_NR,
                                   (ptrdiff_t)cg * FC_NR, init, yc + (ptrdiff_t)s * fout, nr);
                    s += 1;
                }
            }
        }
    }
}

/* ---- input gradient: one batch item -----------------------------------------------------------
 * dx[t, g*Cg + c] = sum over (s, j) with s*st + j*dil == t + left of dy[s, g*Fg + f] * w[j, c, f].
 * The same micro-kernel as forward with A = dy read backwards over taps (a_tap < 0) and B the
 * kernel packed transposed per (group, channel block) as [j][f][NR]. With st > 1 (then dil == 1)
 * the rows t of one phase (t + left) % st share their tap set j = phase + i*st.
 */
#ifndef FC_WIN_MAX
#define FC_WIN_REACH 64                  /* rows a tap may reach back, for the dy window */
#define FC_WIN_MAX ((ptrdiff_t)1 << 18)  /* values in an edge-block dy window (1-2 MiB) */
#endif

FC_ATTR static void FC_FN(bwdx_item)(const FC_T *dy, int slen, int fout, const FC_T *wtp,
                                     FC_T *dx, int tlen, int cin, int ksize, int st, int dil,
                                     int left, int groups, int chunk)
{
    const int cg = cin / groups, fg = fout / groups;
    const int ncb = (cg + FC_NR - 1) / FC_NR;
    const ptrdiff_t panel = (ptrdiff_t)ksize * fg * FC_NR;
    const int dd = st == 1 ? dil : 1;      /* dy steps between consecutive taps */
    const int jstep = st == 1 ? 1 : st;    /* kernel taps between consecutive taps */
    const ptrdiff_t a_tap = -(ptrdiff_t)dd * fout;
    const ptrdiff_t b_tap = (ptrdiff_t)jstep * fg * FC_NR;
    /* zero-padded dy window for edge blocks: taps reach (ksize-1)*dd rows back. Each edge
     * block copies its window, so only short reaches use it (FC_WIN_REACH rows, FC_WIN_MAX
     * values); long ones (large dilation) take the one-row path as before. */
    const ptrdiff_t win_rows = (ptrdiff_t)(ksize - 1) * dd + FC_MR;
    FC_T *win = NULL;
    int win_failed = win_rows > FC_WIN_REACH + FC_MR || win_rows * fg > FC_WIN_MAX;
    for (int p = 0; p < st; p++) {
        /* rows t = t0 + r*st with (t + left) % st == p; m = (t + left) / st */
        const int t0 = (int)(((p - (ptrdiff_t)left) % st + st) % st);
        if (t0 >= tlen) continue;
        const int nrows = (tlen - t0 + st - 1) / st;
        const ptrdiff_t m0 = ((ptrdiff_t)t0 + left) / st;
        const int ni = p < ksize ? (ksize - 1 - p) / jstep + 1 : 0;
        /* interior: (ni-1)*dd <= m <= slen-1 */
        ptrdiff_t r_lo = (ptrdiff_t)(ni > 0 ? ni - 1 : 0) * dd - m0;
        ptrdiff_t r_hi = (ptrdiff_t)slen - 1 - m0 + 1;
        if (r_lo < 0) r_lo = 0;
        if (r_hi > nrows) r_hi = nrows;
        if (r_hi < r_lo) r_hi = r_lo;
        for (int r0 = 0; r0 < nrows; r0 += chunk) {
        const int r1 = r0 + chunk < nrows ? r0 + chunk : nrows;
        for (int g = 0; g < groups; g++) {
            for (int cb = 0; cb < ncb; cb++) {
                const FC_T *b = wtp + (ptrdiff_t)(g * ncb + cb) * panel
                                + (ni > 0 ? (ptrdiff_t)p * fg * FC_NR : 0);
                const int nr = cg - cb * FC_NR < FC_NR ? cg - cb * FC_NR : FC_NR;
                FC_T *dxc = dx + g * cg + cb * FC_NR;
                const FC_T *dyg = dy + g * fg;
                int r = r0;
                while (r < r1) {
                    const ptrdiff_t m = m0 + r;
                    const ptrdiff_t t = t0 + (ptrdiff_t)r * st;
                    const int nb = r1 - r < FC_MR ? r1 - r : FC_MR;
                    if (ni > 0 && r >= r_lo && r + FC_MR <= r_hi && nb == FC_MR) {
                        FC_FN(mk_rows)(dyg + m * fout, fout, a_tap, ni, fg, b, b_tap, NULL,
                                       dxc + t * cin, (ptrdiff_t)st * cin, nr);
                        r += FC_MR;
                        continue;
                    }
                    if (ni > 0 && win == NULL && !win_failed) {
                        win = (FC_T *)malloc(sizeof(FC_T) * (size_t)win_rows * (size_t)fg);
                        win_failed = win == NULL;
                    }
                    if (ni > 0 && win != NULL) {
                        /* A block of rows near an edge (or the last rows of a chunk): the same
                         * micro-kernel over a copy of the dy rows it reads, with zero rows
                         * where dy has none. The zero rows add +-0 terms only, so values are
                         * those of the valid taps alone (up to the sign of a zero result). */
                        const ptrdiff_t wlo = m - (ptrdiff_t)(ni - 1) * dd;
                        for (ptrdiff_t q = 0; q < win_rows; q++) {
                            FC_T *dst = win + (ptrdiff_t)q * fg;
                            if (wlo + q >= 0 && wlo + q < slen)
                                memcpy(dst, dyg + (wlo + q) * fout, sizeof(FC_T) * (size_t)fg);
                            else
                                memset(dst, 0, sizeof(FC_T) * (size_t)fg);
                        }
                        FC_T tmp[FC_MR * FC_NR];
                        FC_FN(mk_rows)(win + (ptrdiff_t)(ni - 1) * dd * fg, fg,
                                       -(ptrdiff_t)dd * fg, ni, fg, b, b_tap, NULL,
                                       nb == FC_MR ? dxc + t * cin : tmp,
                                       nb == FC_MR ? (ptrdiff_t)st * cin : FC_NR, nr);
                        for (int q = 0; nb < FC_MR && q < nb; q++)
                            memcpy(dxc + (t + (ptrdiff_t)q * st) * cin, tmp + q * FC_NR,
                                   sizeof(FC_T) * (size_t)nr);
                        r += nb;
                        continue;
                    }
                    /* taps i with 0 <= m - i*dd <= slen - 1 and i < ni */
                    ptrdiff_t i_lo = m - (slen - 1) > 0 ? (m - (slen - 1) + dd - 1) / dd : 0;
                    ptrdiff_t i_hi = m >= 0 ? m / dd : -1;
                    if (i_hi > ni - 1) i_hi = ni - 1;
                    int nt = i_hi >= i_lo ? (int)(i_hi - i_lo + 1) : 0;
                    const FC_T *ap = nt ? dyg + (m - i_lo * dd) * fout : dyg;
                    FC_FN(mk_row1)(ap, a_tap, nt, fg, b + (nt ? i_lo : 0) * b_tap, b_tap, NULL,
                                   dxc + t * cin, nr);
                    r += 1;
                }
            }
        }
        }
    }
    free(win);
}

/* Input gradient for narrow groups (fewer than FC_NARROW channels per group), one batch item.
 * The register panels above would leave most lanes idle, so the product is taken the other
 * way round: for each output step s, z[s, q] = sum_f dy[s, g*Fg + f] * w[j, c, g*Fg + f] for
 * all K*Cg pairs q = j*Cg + c at once (the forward micro-kernel with depth Fg over `wtp`, the
 * kernel packed per (group, block of NR pairs) as [f][NR]), then each z[s, q] is added into
 * dx[s*st + j*dil - left, c]. dx starts from zero; for each dx value the additions come in a
 * fixed order (step chunk, pair block, pair) that depends only on the geometry.
 */
#define FC_NARROW 4
#define FC_ZROWS 96  /* steps per z chunk: a multiple of FC_MR; z lives on the stack */

FC_ATTR static void FC_FN(bwdx_narrow_item)(const FC_T *dy, int slen, int fout, const FC_T *wtp,
                                            FC_T *dx, int tlen, int cin, int ksize, int st,
                                            int dil, int left, int groups)
{
    const int cg = cin / groups, fg = fout / groups, kc = ksize * cg;
    const int ncol = (kc + FC_NR - 1) / FC_NR;
    FC_T z[FC_ZROWS * FC_NR];
    ptrdiff_t toff[FC_NR];
    int coff[FC_NR];
    memset(dx, 0, sizeof(FC_T) * (size_t)tlen * (size_t)cin);
    for (int s0 = 0; s0 < slen; s0 += FC_ZROWS) {
        const int ns = slen - s0 < FC_ZROWS ? slen - s0 : FC_ZROWS;
        for (int g = 0; g < groups; g++) {
            const FC_T *dyg = dy + (ptrdiff_t)s0 * fout + g * fg;
            for (int cb = 0; cb < ncol; cb++) {
                const FC_T *b = wtp + ((ptrdiff_t)g * ncol + cb) * fg * FC_NR;
                const int nv = kc - cb * FC_NR < FC_NR ? kc - cb * FC_NR : FC_NR;
                int r = 0;
                if (nv <= FC_NR / 2) {         /* half a panel live: 12-row blocks */
                    for (; r + 12 <= ns; r += 12)
                        FC_FN(mk_half12)(dyg + (ptrdiff_t)r * fout, fout, fg, b,
                                         z + (ptrdiff_t)r * FC_NR, FC_NR);
                    if (r < ns && ns >= 12) {
                        FC_FN(mk_half12)(dyg + (ptrdiff_t)(ns - 12) * fout, fout, fg, b,
                                         z + (ptrdiff_t)(ns - 12) * FC_NR, FC_NR);
                        r = ns;
                    }
                }
                for (; r + FC_MR <= ns; r += FC_MR)
                    FC_FN(mk_rows)(dyg + (ptrdiff_t)r * fout, fout, 0, 1, fg, b, 0, NULL,
                                   z + (ptrdiff_t)r * FC_NR, FC_NR, FC_NR);
                if (r < ns && ns >= FC_MR) {   /* last rows: recompute an overlapping block */
                    r = ns - FC_MR;
                    FC_FN(mk_rows)(dyg + (ptrdiff_t)r * fout, fout, 0, 1, fg, b, 0, NULL,
                                   z + (ptrdiff_t)r * FC_NR, FC_NR, FC_NR);
                } else {
                    for (; r < ns; r++)
                        FC_FN(mk_row1)(dyg + (ptrdiff_t)r * fout, 0, 1, fg, b, 0, NULL,
                                       z + (ptrdiff_t)r * FC_NR, FC_NR);
                }
                for (int v = 0; v < nv; v++) {
                    const int q = cb * FC_NR + v, j = q / cg;
                    toff[v] = (ptrdiff_t)j * dil - left;
                    coff[v] = g * cg + (q - j * cg);
                }
                /* pair-major: consecutive additions go to different dx values (no chain of
                 * store-to-load waits on one address) */
                for (int v = 0; v < nv; v++) {
                    /* steps r2 with 0 <= (s0 + r2)*st + toff[v] <= tlen - 1 */
                    const ptrdiff_t o = (ptrdiff_t)s0 * st + toff[v];
                    ptrdiff_t r_lo = o >= 0 ? 0 : (-o + st - 1) / st;
                    ptrdiff_t r_hi = FC_FN(cdiv_floor)((ptrdiff_t)tlen - 1 - o, st) + 1;
                    if (r_hi > ns) r_hi = ns;
                    FC_T *dp = dx + (o + r_lo * st) * cin + coff[v];
                    const FC_T *zp = z + r_lo * FC_NR + v;
                    for (ptrdiff_t r2 = r_lo; r2 < r_hi; r2++, dp += (ptrdiff_t)st * cin,
                         zp += FC_NR)
                        *dp += *zp;
                }
            }
        }
    }
}

/* Kernel gradient for narrow groups, tasks [task_lo, task_hi): task = (group, filter block,
 * channel c, block of up to FC_MR_DW taps), tap block fastest. The taps of a block play the
 * role the channels play on the wide path (x column stride dil*C instead of 1), so one pass
 * over the rows feeds up to 6 x NR accumulators. Per batch item, each tap's rows are summed in
 * ascending order: rows only some taps of the block can use go one tap at a time, before and
 * after the rows all of them share.
 */
FC_ATTR static void FC_FN(dw_narrow_tasks)(const FC_T *x, const FC_T *dy, int batch, int tlen,
                                           int cin, int slen, int fout, int ksize, int st,
                                           int dil, int left, int groups, FC_T *dw,
                                           long task_lo, long task_hi)
{
    const int cg = cin / groups, fg = fout / groups;
    const int nfb = (fg + FC_NR - 1) / FC_NR, njb = (ksize + FC_MR_DW - 1) / FC_MR_DW;
    const ptrdiff_t ldw = (ptrdiff_t)cg * fout;          /* dw stride between taps */
    const ptrdiff_t x_col = (ptrdiff_t)dil * cin, x_row = (ptrdiff_t)st * cin;
    for (long task = task_lo; task < task_hi; task++) {
        long q = task;
        const int jb = (int)(q % njb); q /= njb;
        const int c = (int)(q % cg); q /= cg;
        const int fb = (int)(q % nfb); q /= nfb;
        const int g = (int)q;
        const int j0 = jb * FC_MR_DW;
        const int m = ksize - j0 < FC_MR_DW ? ksize - j0 : FC_MR_DW;
        const int nr = fg - fb * FC_NR < FC_NR ? fg - fb * FC_NR : FC_NR;
        FC_T *d = dw + ((ptrdiff_t)j0 * cg + c) * fout + g * fg + fb * FC_NR;
        ptrdiff_t lo[FC_MR_DW], hi[FC_MR_DW], lo_all = 0, hi_all = slen;
        for (int i = 0; i < m; i++) {
            for (int v = 0; v < nr; v++) d[i * ldw + v] = 0;
            /* steps s with 0 <= s*st + j*dil - left <= tlen - 1 */
            const ptrdiff_t off = (ptrdiff_t)(j0 + i) * dil - left;
            lo[i] = off >= 0 ? 0 : (-off + st - 1) / st;
            hi[i] = FC_FN(cdiv_floor)((ptrdiff_t)tlen - 1 - off, st) + 1;
            if (hi[i] > slen) hi[i] = slen;
            if (hi[i] < lo[i]) hi[i] = lo[i];
            if (lo[i] > lo_all) lo_all = lo[i];
            if (hi[i] < hi_all) hi_all = hi[i];
        }
        if (hi_all < lo_all) hi_all = lo_all;
        const ptrdiff_t xoff0 = (ptrdiff_t)j0 * dil - left;
        for (int bi = 0; bi < batch; bi++) {
            const FC_T *xb = x + (ptrdiff_t)bi * tlen * cin + g * cg + c;
            const FC_T *dyb = dy + (ptrdiff_t)bi * slen * fout + g * fg + fb * FC_NR;
            for (int pass = 0; pass < 3; pass++) {
                if (pass == 1) {       /* rows every tap of the block reads */
                    const int rows = (int)(hi_all - lo_all);
                    if (rows <= 0) continue;
                    const FC_T *xa = xb + (lo_all * st + xoff0) * cin;
                    const FC_T *da = dyb + lo_all * fout;
                    int i = 0;
                    if (nr < FC_NR) {
                        FC_FN(mk_dw_any)(xa, x_row, x_col, da, fout, rows, m, nr, d, ldw);
                        continue;
                    }
                    if (m == FC_MR_DW) {
                        FC_FN(mk_dw)(xa, x_row, x_col, da, fout, rows, d, ldw);
                        continue;
                    }
                    if (m >= 4) {
                        FC_FN(mk_dw4)(xa, x_row, x_col, da, fout, rows, d, ldw);
                        i = 4;
                    }
                    for (; i < m; i++)
                        FC_FN(mk_dw1)(xa + i * x_col, x_row, da, fout, rows, d + i * ldw);
                    continue;
                }
                for (int i = 0; i < m; i++) {   /* pass 0: rows before, pass 2: rows after */
                    ptrdiff_t a = pass == 0 ? lo[i] : (hi_all > lo[i] ? hi_all : lo[i]);
                    ptrdiff_t e = pass == 0 ? (lo_all < hi[i] ? lo_all : hi[i]) : hi[i];
                    if (e <= a) continue;
                    const FC_T *xa = xb + (a * st + xoff0 + (ptrdiff_t)i * dil) * cin;
                    if (nr < FC_NR)
                        FC_FN(mk_dw_any)(xa, x_row, 0, dyb + a * fout, fout, (int)(e - a), 1,
                                         nr, d + i * ldw, ldw);
                    else
                        FC_FN(mk_dw1)(xa, x_row, dyb + a * fout, fout, (int)(e - a),
                                      d + i * ldw);
                }
            }
        }
    }
}

/* ---- kernel gradient: tasks [task_lo, task_hi) of one thread ----------------------------------
 * Task = (tap j, group g, filter block of FC_NR, channel block of FC_MR_DW), channel block
 * fastest; the thread owns those dw blocks outright and sums over batch then output steps in
 * ascending order. Steps are walked in chunks; for each chunk the thread first copies dy into
 * [filter block][rows][NR] panels and x into [24-channel panel][rows][24] panels (those its
 * tasks read): rows of x and dy are often a power-of-two apart and, read in place, would crowd
 * into a few L1 sets.
 * Packing moves data only, so the sums are the same with or without it (the unpacked path runs
 * if the buffers cannot be allocated).
 */
#define FC_XP 24  /* channels per packed x panel (a multiple of FC_MR_DW) */

/* n rows of w values, ld apart, into a panel of n rows of width (w <= width), zero past w.
 * Called with a constant width: full rows then copy in fixed-size moves (vector moves). */
FC_ATTR static inline void FC_FN(pack_panel)(FC_T *dst, const FC_T *src, ptrdiff_t n,
                                             ptrdiff_t ld, int w, const int width)
{
    if (w == width) {
        for (ptrdiff_t i = 0; i < n; i++, src += ld, dst += width)
            memcpy(dst, src, sizeof(FC_T) * (size_t)width);
        return;
    }
    for (ptrdiff_t i = 0; i < n; i++, src += ld, dst += width) {
        memcpy(dst, src, sizeof(FC_T) * (size_t)w);
        for (int v = w; v < width; v++) dst[v] = 0;
    }
}

FC_ATTR static void FC_FN(dw_tasks)(const FC_T *x, const FC_T *dy, int batch, int tlen, int cin,
                                    int slen, int fout, int ksize, int st, int dil, int left,
                                    int groups, FC_T *dw, long task_lo, long task_hi, int chunk)
{
    const int cg = cin / groups, fg = fout / groups;
    const int ncb = (cg + FC_MR_DW - 1) / FC_MR_DW, nfb = (fg + FC_NR - 1) / FC_NR;
    const int nxp = (cg + FC_XP - 1) / FC_XP;
    const ptrdiff_t dy_cols = (ptrdiff_t)groups * nfb * FC_NR;   /* packed dy values per row */
    const ptrdiff_t x_cols = (ptrdiff_t)groups * nxp * FC_XP;    /* packed x values per row */
    if (task_hi <= task_lo) return;
    if (cg < FC_NARROW) {
        FC_FN(dw_narrow_tasks)(x, dy, batch, tlen, cin, slen, fout, ksize, st, dil, left, groups,
                               dw, task_lo, task_hi);
        return;
    }
    {   /* chunk: about 256 KiB of packed rows, at least 8 rows */
        ptrdiff_t rows = (ptrdiff_t)262144 / (ptrdiff_t)sizeof(FC_T) / (dy_cols + st * x_cols);
        if (rows < 8) rows = 8;
        if (rows < chunk) chunk = (int)rows;
    }
    const ptrdiff_t xrows_max = (ptrdiff_t)(chunk - 1) * st + (ptrdiff_t)(ksize - 1) * dil + 1;
    /* narrow rows are already dense in cache: pack only wide ones, and allocate only then */
    const int want_pack = (ptrdiff_t)st * cin + fout >= 64;
    FC_T *dyp = want_pack ? (FC_T *)malloc(sizeof(FC_T) * (size_t)(chunk * dy_cols)) : NULL;
    FC_T *xp = want_pack ? (FC_T *)malloc(sizeof(FC_T) * (size_t)(xrows_max * x_cols)) : NULL;
    const int packed = dyp != NULL && xp != NULL;
    /* The panels this thread's tasks read: all of them, unless the tasks share one tap and one
     * group (then only their filter blocks, and only their channels' panels when they share a
     * filter block too) -- a thread of a split one-tap GEMM packs only its own share. */
    struct { int g0, g1, fb0, fb1, p0, p1; } pk = {0, groups - 1, 0, nfb - 1, 0, nxp - 1};
    {
        const long first = task_lo, last = task_hi - 1;
        const long per_g = (long)ncb * nfb, per_j = per_g * groups;
        if (first / per_j == last / per_j && first % per_j / per_g == last % per_j / per_g) {
            pk.g0 = pk.g1 = (int)(first % per_j / per_g);
            pk.fb0 = (int)(first % per_g / ncb);
            pk.fb1 = (int)(last % per_g / ncb);
            if (pk.fb0 == pk.fb1) {
                pk.p0 = (int)(first % ncb) * FC_MR_DW / FC_XP;
                pk.p1 = (int)(last % ncb) * FC_MR_DW / FC_XP;
            }
        }
    }
    for (long task = task_lo; task < task_hi; task++) {
        long q = task;
        const int cb = (int)(q % ncb); q /= ncb;
        const int fb = (int)(q % nfb); q /= nfb;
        const int g = (int)(q % groups); q /= groups;
        const int j = (int)q;
        const int mr = cg - cb * FC_MR_DW < FC_MR_DW ? cg - cb * FC_MR_DW : FC_MR_DW;
        const int nr = fg - fb * FC_NR < FC_NR ? fg - fb * FC_NR : FC_NR;
        FC_T *d = dw + ((ptrdiff_t)j * cg + cb * FC_MR_DW) * fout + g * fg + fb * FC_NR;
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < nr; v++) d[(ptrdiff_t)r * fout + v] = 0;
    }
    for (int bi = 0; bi < batch; bi++) {
        const FC_T *xb = x + (ptrdiff_t)bi * tlen * cin;
        const FC_T *dyb = dy + (ptrdiff_t)bi * slen * fout;
        for (int s0 = 0; s0 < slen; s0 += chunk) {
            const int s1 = s0 + chunk < slen ? s0 + chunk : slen;
            const int ns = s1 - s0;
            /* input rows the chunk can touch: [t_lo, t_hi) */
            ptrdiff_t t_lo = (ptrdiff_t)s0 * st - left, t_hi = (ptrdiff_t)(s1 - 1) * st
                             + (ptrdiff_t)(ksize - 1) * dil - left + 1;
            if (t_lo < 0) t_lo = 0;
            if (t_hi > tlen) t_hi = tlen;
            const ptrdiff_t nt = t_hi > t_lo ? t_hi - t_lo : 0;
            if (packed) {
                for (int g = pk.g0; g <= pk.g1; g++)
                    for (int fb = pk.fb0; fb <= pk.fb1; fb++) {
                        const int nr = fg - fb * FC_NR < FC_NR ? fg - fb * FC_NR : FC_NR;
                        FC_FN(pack_panel)(dyp + ((ptrdiff_t)g * nfb + fb) * ns * FC_NR,
                                          dyb + (ptrdiff_t)s0 * fout + g * fg + fb * FC_NR,
                                          ns, fout, nr, FC_NR);
                    }
                for (int g = pk.g0; g <= pk.g1; g++)
                    for (int pnl = pk.p0; pnl <= pk.p1; pnl++) {
                        const int w = cg - pnl * FC_XP < FC_XP ? cg - pnl * FC_XP : FC_XP;
                        FC_FN(pack_panel)(xp + ((ptrdiff_t)g * nxp + pnl) * nt * FC_XP,
                                          xb + t_lo * cin + g * cg + pnl * FC_XP,
                                          nt, cin, w, FC_XP);
                    }
            }
            long q0 = task_lo;
            int cb = (int)(q0 % ncb); q0 /= ncb;
            int fb = (int)(q0 % nfb); q0 /= nfb;
            int g = (int)(q0 % groups); q0 /= groups;
            int j = (int)q0;
            for (long task = task_lo; task < task_hi; task++) {
                if (task > task_lo && ++cb == ncb) {  /* next task: (j, g, fb, cb) odometer */
                    cb = 0;
                    if (++fb == nfb) {
                        fb = 0;
                        if (++g == groups) { g = 0; j++; }
                    }
                }
                const int mr = cg - cb * FC_MR_DW < FC_MR_DW ? cg - cb * FC_MR_DW : FC_MR_DW;
                const int nr = fg - fb * FC_NR < FC_NR ? fg - fb * FC_NR : FC_NR;
                /* steps s with 0 <= s*st + j*dil - left <= tlen - 1 */
                const ptrdiff_t off = (ptrdiff_t)j * dil - left;
                ptrdiff_t lo = off >= 0 ? 0 : (-off + st - 1) / st;
                ptrdiff_t hi = FC_FN(cdiv_floor)((ptrdiff_t)tlen - 1 - off, st) + 1;
                if (lo < s0) lo = s0;
                if (hi > s1) hi = s1;
                if (hi <= lo) continue;
                FC_T *d = dw + ((ptrdiff_t)j * cg + cb * FC_MR_DW) * fout + g * fg + fb * FC_NR;
                const FC_T *xa, *da;
                ptrdiff_t x_row, dy_row;
                if (packed) {
                    const int pnl = cb * FC_MR_DW / FC_XP;
                    xa = xp + ((ptrdiff_t)g * nxp + pnl) * nt * FC_XP
                         + (lo * st + off - t_lo) * FC_XP + (cb * FC_MR_DW - pnl * FC_XP);
                    x_row = (ptrdiff_t)st * FC_XP;
                    da = dyp + ((ptrdiff_t)g * nfb + fb) * ns * FC_NR + (lo - s0) * FC_NR;
                    dy_row = FC_NR;
                } else {
                    xa = xb + (lo * st + off) * cin + g * cg + cb * FC_MR_DW;
                    x_row = (ptrdiff_t)st * cin;
                    da = dyb + lo * fout + g * fg + fb * FC_NR;
                    dy_row = fout;
                }
                if (mr == FC_MR_DW && nr == FC_NR) {
                    FC_FN(mk_dw)(xa, x_row, 1, da, dy_row, (int)(hi - lo), d, fout);
                } else if (nr == FC_NR) {
                    int r = 0;
                    if (mr >= 4) {
                        FC_FN(mk_dw4)(xa, x_row, 1, da, dy_row, (int)(hi - lo), d, fout);
                        r = 4;
                    }
                    for (; r < mr; r++)
                        FC_FN(mk_dw1)(xa + r, x_row, da, dy_row, (int)(hi - lo),
                                      d + (ptrdiff_t)r * fout);
                } else {
                    FC_FN(mk_dw_any)(xa, x_row, 1, da, dy_row, (int)(hi - lo), mr, nr, d, fout);
                }
            }
        }
    }
    free(dyp);
    free(xp);
}

/* dbias[f] for f in [f0, f1), f1 - f0 <= 64: sum over rows in ascending order, accumulated in
 * double (plain adds, no FMA: every variant gives the same bits). */
FC_ATTR static void FC_FN(colsum)(const FC_T *dy, ptrdiff_t rows, int fout, int f0, int f1,
                                  FC_T *out)
{
    double acc[64];
    const int n = f1 - f0;
    for (int f = 0; f < n; f++) acc[f] = 0.0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const FC_T *row = dy + r * fout + f0;
        for (int f = 0; f < n; f++) acc[f] += (double)row[f];
    }
    for (int f = 0; f < n; f++) out[f0 + f] = (FC_T)acc[f];
}

/* Fused activation over n values in place: 1 relu, 2 sigmoid, 3 tanh. */
FC_ATTR static void FC_FN(activate)(FC_T *y, ptrdiff_t n, int act)
{
    if (act == 1) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = y[i] < 0 ? (FC_T)0 : y[i];
    } else if (act == 2) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = (FC_T)1 / ((FC_T)1 + FC_EXP(-y[i]));
    } else if (act == 3) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = FC_TANH(y[i]);
    }
}
