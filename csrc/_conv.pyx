# cython: language_level=3
"""Conv1D kernels: forward (with fused bias and activation), input gradient, kernel gradient,
bias gradient. Called only by fastconv.ops.conv.

Design note.
- Layout: channels_last, C-contiguous. x (B, T, C), kernel (K, C/G, F), bias (F,), y/dy (B, S, F).
  ops.py has already checked dtypes (all arrays share one float dtype), shapes, geometry
  (S >= 1, stride and dilation not both > 1, groups dividing C and F), made inputs C-contiguous
  and allocated or validated the outputs. Nothing here raises for user errors.
- Arithmetic lives in conv_kernels.h (plain C): forward is, per group and block of NR filters, a
  sum over taps of GEMMs whose A operand is x itself read with row stride strides*C (no im2col);
  a 6 x NR register block of outputs is accumulated over taps then channels. The input gradient
  is the same micro-kernel over dy with the kernel transposed. AVX2+FMA variants are picked at
  import when the CPU has them (fc_conv_select), otherwise portable C.
- Parallelism: forward and input gradient run prange over the batch; each thread writes only its
  own batch items. The kernel gradient splits the (tap, group, channel block, filter block)
  output tiles into contiguous static ranges, one per thread; each tile is summed over batch and
  steps in ascending order by its owner alone. The bias gradient gives each thread whole blocks
  of filters. No shared accumulator, no reduction clause, no atomics: every output element is
  computed by the same instruction sequence whatever the thread count, so results are bitwise
  identical for 1..N threads (tests/test_conv_threads.py).
- Numerics: float32 accumulates in float32 (FMA on AVX2), float64 in float64; the bias gradient
  accumulates in double for both. Packed kernel panels are small per-call buffers (size of the
  kernel); no per-call allocation scales with the batch.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.stddef cimport ptrdiff_t

import numpy as np

cdef extern from "conv_kernels.h" nogil:
    int fc_conv_select(int want)
    int fc_conv_nr_f()
    int fc_conv_nr_d()
    int fc_conv_mr_dw()
    ptrdiff_t fc_conv_pack_fwd_size_f(int k, int cg, int f, int groups)
    ptrdiff_t fc_conv_pack_fwd_size_d(int k, int cg, int f, int groups)
    ptrdiff_t fc_conv_pack_bias_size_f(int f, int groups)
    ptrdiff_t fc_conv_pack_bias_size_d(int f, int groups)
    ptrdiff_t fc_conv_pack_bwd_size_f(int k, int cg, int f, int groups)
    ptrdiff_t fc_conv_pack_bwd_size_d(int k, int cg, int f, int groups)
    void fc_conv_pack_fwd_f(const float *w, int k, int cg, int f, int groups, float *wp)
    void fc_conv_pack_fwd_d(const double *w, int k, int cg, int f, int groups, double *wp)
    void fc_conv_pack_bias_f(const float *b, int f, int groups, float *bp)
    void fc_conv_pack_bias_d(const double *b, int f, int groups, double *bp)
    void fc_conv_pack_bwd_f(const float *w, int k, int cg, int f, int groups, float *wtp)
    void fc_conv_pack_bwd_d(const double *w, int k, int cg, int f, int groups, double *wtp)
    void fc_conv_fwd_item_f(const float *x, int tlen, int cin, const float *wp, const float *bp,
                            float *y, int slen, int fout, int k, int st, int dil, int left,
                            int groups, int chunk, int act)
    void fc_conv_fwd_item_d(const double *x, int tlen, int cin, const double *wp,
                            const double *bp, double *y, int slen, int fout, int k, int st,
                            int dil, int left, int groups, int chunk, int act)
    void fc_conv_bwdx_item_f(const float *dy, int slen, int fout, const float *w,
                             const float *wtp, float *dx,
                             int tlen, int cin, int k, int st, int dil, int left, int groups,
                             int chunk)
    void fc_conv_bwdx_item_d(const double *dy, int slen, int fout, const double *w,
                             const double *wtp,
                             double *dx, int tlen, int cin, int k, int st, int dil, int left,
                             int groups, int chunk)
    void fc_conv_dw_tasks_f(const float *x, const float *dy, int batch, int tlen, int cin,
                            int slen, int fout, int k, int st, int dil, int left, int groups,
                            float *dw, long lo, long hi, int chunk)
    void fc_conv_dw_tasks_d(const double *x, const double *dy, int batch, int tlen, int cin,
                            int slen, int fout, int k, int st, int dil, int left, int groups,
                            double *dw, long lo, long hi, int chunk)
    void fc_conv_colsum_f(const float *dy, ptrdiff_t rows, int fout, int f0, int f1, float *out)
    void fc_conv_colsum_d(const double *dy, ptrdiff_t rows, int fout, int f0, int f1,
                          double *out)

cdef extern from *:
    """
    #if defined(_OPENMP)
    #include <omp.h>
    static inline int fc_omp_get_num_threads(void) { return omp_get_num_threads(); }
    #else
    static inline int fc_omp_get_num_threads(void) { return 1; }
    #endif
    """
    int fc_omp_get_num_threads() nogil

_ISA_NAMES = {0: "baseline", 1: "avx2+fma"}
_isa = fc_conv_select(-1)

# Steps per cache chunk: enough rows that a chunk of x (and dy) fills about this many bytes.
cdef enum:
    _CHUNK_BYTES = 131072
    _DW_CHUNK_ROWS = 512
    _COLSUM_BLOCK = 64


def isa():
    """Name of the kernel variant in use ("avx2+fma" or "baseline")."""
    return _ISA_NAMES[_isa]


def set_isa(name):
    """Select the kernel variant ("best", "avx2+fma" or "baseline"); returns the one in use.

    For tests and benchmarks; a variant the CPU lacks falls back to the best available one.
    """
    global _isa
    want = {"best": -1, "baseline": 0, "avx2+fma": 1}[name]
    _isa = fc_conv_select(want)
    return _ISA_NAMES[_isa]


cdef inline int _chunk(ptrdiff_t row_elems, ptrdiff_t itemsize) noexcept nogil:
    cdef ptrdiff_t rows = _CHUNK_BYTES // max(row_elems * itemsize, 1)
    # whole register blocks, at least a few of them
    rows = max(rows - rows % 6, 24)
    return <int>min(rows, 1 << 30)


@cython.boundscheck(False)
@cython.wraparound(False)
def conv1d_forward(const floating[:, :, ::1] x, const floating[:, :, ::1] kernel, bias,
                   floating[:, :, ::1] y, int strides, int dilation, int left, int groups,
                   int act, int num_threads):
    """y = act(conv1d(x, kernel) + bias); `bias` is None or a (F,) array of the same dtype."""
    cdef int batch = x.shape[0], tlen = x.shape[1], cin = x.shape[2]
    cdef int k = kernel.shape[0], cg = kernel.shape[1], fout = kernel.shape[2]
    cdef int slen = y.shape[1]
    cdef int b, chunk
    cdef const floating[::1] bias_v
    cdef floating[::1] wp, bp
    cdef const floating *bptr = NULL
    if floating is float:
        wp = np.empty(fc_conv_pack_fwd_size_f(k, cg, fout, groups), dtype=np.float32)
        bp = np.empty(fc_conv_pack_bias_size_f(fout, groups), dtype=np.float32)
    else:
        wp = np.empty(fc_conv_pack_fwd_size_d(k, cg, fout, groups), dtype=np.float64)
        bp = np.empty(fc_conv_pack_bias_size_d(fout, groups), dtype=np.float64)
    if batch == 0:
        return
    chunk = _chunk(<ptrdiff_t>strides * cin, sizeof(floating))
    if bias is not None:
        bias_v = bias
    with nogil:
        if floating is float:
            fc_conv_pack_fwd_f(&kernel[0, 0, 0], k, cg, fout, groups, &wp[0])
            if bias is not None:
                fc_conv_pack_bias_f(&bias_v[0], fout, groups, &bp[0])
                bptr = &bp[0]
        else:
            fc_conv_pack_fwd_d(&kernel[0, 0, 0], k, cg, fout, groups, &wp[0])
            if bias is not None:
                fc_conv_pack_bias_d(&bias_v[0], fout, groups, &bp[0])
                bptr = &bp[0]
        for b in prange(batch, schedule="static", num_threads=num_threads):
            if floating is float:
                fc_conv_fwd_item_f(&x[b, 0, 0], tlen, cin, &wp[0], bptr, &y[b, 0, 0], slen,
                                   fout, k, strides, dilation, left, groups, chunk, act)
            else:
                fc_conv_fwd_item_d(&x[b, 0, 0], tlen, cin, &wp[0], bptr, &y[b, 0, 0], slen,
                                   fout, k, strides, dilation, left, groups, chunk, act)


@cython.boundscheck(False)
@cython.wraparound(False)
def conv1d_backward_input(const floating[:, :, ::1] dy, const floating[:, :, ::1] kernel,
                          floating[:, :, ::1] dx, int strides, int dilation, int left,
                          int groups, int num_threads):
    """dx = the input gradient of conv1d for output gradient dy."""
    cdef int batch = dx.shape[0], tlen = dx.shape[1], cin = dx.shape[2]
    cdef int k = kernel.shape[0], cg = kernel.shape[1], fout = kernel.shape[2]
    cdef int slen = dy.shape[1]
    cdef int b
    cdef int chunk = _chunk(<ptrdiff_t>fout + strides * cin, sizeof(floating))
    cdef floating[::1] wtp
    if floating is float:
        wtp = np.empty(fc_conv_pack_bwd_size_f(k, cg, fout, groups), dtype=np.float32)
    else:
        wtp = np.empty(fc_conv_pack_bwd_size_d(k, cg, fout, groups), dtype=np.float64)
    if batch == 0:
        return
    with nogil:
        if floating is float:
            fc_conv_pack_bwd_f(&kernel[0, 0, 0], k, cg, fout, groups, &wtp[0])
        else:
            fc_conv_pack_bwd_d(&kernel[0, 0, 0], k, cg, fout, groups, &wtp[0])
        for b in prange(batch, schedule="static", num_threads=num_threads):
            if floating is float:
                fc_conv_bwdx_item_f(&dy[b, 0, 0], slen, fout, &kernel[0, 0, 0], &wtp[0],
                                    &dx[b, 0, 0], tlen, cin,
                                    k, strides, dilation, left, groups, chunk)
            else:
                fc_conv_bwdx_item_d(&dy[b, 0, 0], slen, fout, &kernel[0, 0, 0], &wtp[0],
                                    &dx[b, 0, 0], tlen, cin,
                                    k, strides, dilation, left, groups, chunk)


@cython.boundscheck(False)
@cython.wraparound(False)
def conv1d_backward_weight(const floating[:, :, ::1] dy, const floating[:, :, ::1] x,
                           floating[:, :, ::1] dkernel, floating[::1] dbias, int strides,
                           int dilation, int left, int groups, int num_threads):
    """dkernel and dbias of conv1d for output gradient dy (both fully overwritten)."""
    cdef int batch = x.shape[0], tlen = x.shape[1], cin = x.shape[2]
    cdef int k = dkernel.shape[0], cg = dkernel.shape[1], fout = dkernel.shape[2]
    cdef int slen = dy.shape[1]
    cdef int fg = fout // groups
    cdef int mr = fc_conv_mr_dw()
    cdef int nr = fc_conv_nr_f() if floating is float else fc_conv_nr_d()
    cdef long ntasks = <long>k * groups * ((cg + mr - 1) // mr) * ((fg + nr - 1) // nr)
    cdef int nblocks = (fout + _COLSUM_BLOCK - 1) // _COLSUM_BLOCK
    cdef int nthreads, tid, i, chunk
    cdef long lo, hi
    chunk = _DW_CHUNK_ROWS
    nthreads = 1
    tid = 0
    lo = 0
    hi = 0
    if batch == 0:
        dkernel[...] = 0
        dbias[...] = 0
        return
    with nogil, parallel(num_threads=num_threads):
        # static split of the output tiles: thread tid owns tiles [lo, hi)
        nthreads = fc_omp_get_num_threads()
        tid = threadid()
        lo = ntasks * tid // nthreads
        hi = ntasks * (tid + 1) // nthreads
        if floating is float:
            fc_conv_dw_tasks_f(&x[0, 0, 0], &dy[0, 0, 0], batch, tlen, cin, slen, fout, k,
                               strides, dilation, left, groups, &dkernel[0, 0, 0], lo, hi, chunk)
        else:
            fc_conv_dw_tasks_d(&x[0, 0, 0], &dy[0, 0, 0], batch, tlen, cin, slen, fout, k,
                               strides, dilation, left, groups, &dkernel[0, 0, 0], lo, hi, chunk)
    with nogil:
        for i in prange(nblocks, schedule="static", num_threads=num_threads):
            if floating is float:
                fc_conv_colsum_f(&dy[0, 0, 0], <ptrdiff_t>batch * slen, fout, i * _COLSUM_BLOCK,
                                 min((i + 1) * _COLSUM_BLOCK, fout), &dbias[0])
            else:
                fc_conv_colsum_d(&dy[0, 0, 0], <ptrdiff_t>batch * slen, fout, i * _COLSUM_BLOCK,
                                 min((i + 1) * _COLSUM_BLOCK, fout), &dbias[0])

