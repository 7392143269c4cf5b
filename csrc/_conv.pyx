# cython: language_level=3
"""Conv1D kernels: forward (with fused bias and activation), input gradient, kernel gradient,
bias gradient. Called only by fastconv.ops.conv.

Design note.
- Layout: channels_last, C-contiguous. x (B, T, C), kernel (K, C/G, F), bias (F,), y/dy (B, S, F).
  ops.py has already checked dtypes (all arrays share one float dtype), shapes, geometry
  (S >= 1, stride and dilation not both > 1, groups dividing C and F), made inputs C-contiguous
  and allocated or validated the outputs. Nothing here raises for user errors.
- Arithmetic lives in conv_kernels.h / conv_impl.h (plain C). Forward: per group and block of NR
  filters (16 float32 / 8 float64), a sum over taps of GEMMs whose A operand is x itself read
  with row stride strides*C (no im2col); a 6 x NR register block of outputs accumulates taps then
  channels, over a kernel panel packed per call (the size of the kernel). Rows that touch the
  zero padding take a one-row kernel over their valid taps only. Input gradient: the same
  micro-kernel over dy with the kernel transposed (taps walked backwards; with strides > 1 the
  rows are grouped by phase). Groups narrower than 4 channels would leave most lanes of those
  panels idle, so there the same micro-kernel computes, per output step, dy times the kernel
  for all (tap, channel) pairs at once and adds each product into its dx row. Kernel gradient:
  x^T dy per tap, 6 channels x NR filters per register block, over dy and x rows copied per
  chunk into small contiguous panels (power-of-two row strides would otherwise thrash L1);
  narrow groups block 6 taps instead of 6 channels. AVX2+FMA variants are chosen at import
  when the CPU has them (fc_conv_select, never -march=native), else portable C with 16-byte
  vector types.
- Parallelism: forward runs prange over the batch, items handed out one at a time (dynamic
  schedule); each item is written by the thread that took it. The backward is one parallel
  region in which each thread takes a contiguous static share of (1) the (tap, group, filter
  block, channel block) kernel-gradient tiles (narrow groups: (group, filter block, channel,
  block of 6 taps)), each summed over batch and steps in ascending order by its owner alone
  (a static share: each share packs its own panels, so finer shares would pack more), and
  (2) blocks of 64 filters for the bias gradient; then (3) the batch items for dx, claimed one
  at a time (fc_omp_claim). The cores of these shared hosts run at unequal and changing speeds
  (bench/core_speeds.py: one core at 0.7x to 2x the other's rate over 100 ms windows), and a
  static split waits for the slower one; items taken in turn let the faster core do more.
  Which thread computes an item never changes how it is computed: no shared accumulator, no
  reduction clause, every output element is computed by the same instruction sequence
  whatever the thread count, so results are bitwise identical for 1..N threads
  (tests/test_conv_threads.py). ops.py lowers the thread count for small calls, which
  therefore cannot change results either.
- Numerics: float32 accumulates in float32 (FMA on AVX2), float64 in float64; the bias gradient
  accumulates in double for both. No per-call allocation grows with the batch: packed kernel
  panels are the size of the kernel; kernel-gradient panels (about 256 KiB per thread) are
  allocated only for rows wide enough to need them.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport free, malloc

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "conv_kernels.h" nogil:
    int fc_conv_select(int want)
    int fc_conv_nr_f()
    int fc_conv_nr_d()
    int fc_conv_mr_dw()
    long fc_conv_dw_ntasks(int k, int cg, int f, int groups, int nr)
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
    void fc_conv_bwdx_item_f(const float *dy, int slen, int fout, const float *wtp, float *dx,
                             int tlen, int cin, int k, int st, int dil, int left, int groups,
                             int chunk)
    void fc_conv_bwdx_item_d(const double *dy, int slen, int fout, const double *wtp,
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

from _omp cimport fc_omp_claim, fc_omp_get_num_threads

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


def any_overlap(tuple outs, tuple ins):
    """True when an array of `outs` may share memory with another of `outs` or one of `ins`.

    np.may_share_memory's bounds test over all those pairs in one call, for the argument fast
    paths in fastconv.ops (which then report nothing: they fall back to the full checks, and
    those name the overlapping pair). None entries are skipped; anything other than a
    C-contiguous ndarray counts as overlapping, which only sends the caller to the full checks.
    """
    cdef Py_ssize_t i, j, n = len(outs)
    cdef char *lo
    cdef char *hi
    cdef char *lo2
    cdef char *hi2
    cdef tuple others
    for i in range(n):
        a = outs[i]
        if a is None:
            continue
        if not isinstance(a, cnp.ndarray) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
            return True
        lo = <char *>cnp.PyArray_DATA(a)
        hi = lo + cnp.PyArray_NBYTES(a)
        if hi == lo:
            continue
        others = outs[i + 1:] + ins
        for j in range(len(others)):
            b = others[j]
            if b is None:
                continue
            if not isinstance(b, cnp.ndarray) or not cnp.PyArray_IS_C_CONTIGUOUS(b):
                return True
            lo2 = <char *>cnp.PyArray_DATA(b)
            hi2 = lo2 + cnp.PyArray_NBYTES(b)
            if hi2 != lo2 and lo < hi2 and lo2 < hi:
                return True
    return False


cdef object _F32 = np.dtype(np.float32)
cdef object _F64 = np.dtype(np.float64)
cdef int _READY = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
cdef int _READY_OUT = _READY | cnp.NPY_ARRAY_WRITEABLE


# The fast paths' questions about one array (fastconv.ops._checks keeps the same functions in
# Python as their reference, and tests hold the two to the same answers): a few dozen per
# training step, each a handful of C tests here instead of Python attribute lookups and a
# flags object.
def ready_dtype(a):
    """a.dtype when `a` is an exact ndarray of float32/float64, else None."""
    if type(a) is not cnp.ndarray:
        return None
    dt = <object>cnp.PyArray_DESCR(<cnp.ndarray>a)
    return dt if dt is _F32 or dt is _F64 else None


def ready(a, dtype, ndim):
    """`a` is an exact ndarray of `dtype` and rank `ndim`, C-contiguous and aligned."""
    if type(a) is not cnp.ndarray or <object>cnp.PyArray_DESCR(<cnp.ndarray>a) is not dtype:
        return False
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim:
        return False
    return cnp.PyArray_FLAGS(<cnp.ndarray>a) & _READY == _READY


def ready_out(out, shape, dtype):
    """`out` needs no check_out / output() error: right shape and dtype, writeable, C, aligned."""
    if type(out) is not cnp.ndarray or <object>cnp.PyArray_DESCR(<cnp.ndarray>out) is not dtype:
        return False
    if out.shape != shape:
        return False
    return cnp.PyArray_FLAGS(<cnp.ndarray>out) & _READY_OUT == _READY_OUT


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
    cdef floating *wp = NULL
    cdef floating *bp = NULL
    cdef const floating *bptr = NULL
    if batch == 0:
        return
    chunk = _chunk(<ptrdiff_t>strides * cin, sizeof(floating))
    if bias is not None:
        bias_v = bias
    # packed panels: kernel-sized scratch, malloc'd (cheaper than an ndarray per call)
    if floating is float:
        wp = <floating *>malloc(sizeof(floating) * fc_conv_pack_fwd_size_f(k, cg, fout, groups))
        bp = <floating *>malloc(sizeof(floating) * fc_conv_pack_bias_size_f(fout, groups))
    else:
        wp = <floating *>malloc(sizeof(floating) * fc_conv_pack_fwd_size_d(k, cg, fout, groups))
        bp = <floating *>malloc(sizeof(floating) * fc_conv_pack_bias_size_d(fout, groups))
    if wp == NULL or bp == NULL:
        free(wp)
        free(bp)
        raise MemoryError("conv1d: no memory for the packed kernel")
    with nogil:
        if floating is float:
            fc_conv_pack_fwd_f(&kernel[0, 0, 0], k, cg, fout, groups, wp)
            if bias is not None:
                fc_conv_pack_bias_f(&bias_v[0], fout, groups, bp)
                bptr = bp
        else:
            fc_conv_pack_fwd_d(&kernel[0, 0, 0], k, cg, fout, groups, wp)
            if bias is not None:
                fc_conv_pack_bias_d(&bias_v[0], fout, groups, bp)
                bptr = bp
        for b in prange(batch, schedule="dynamic", num_threads=num_threads):
            if floating is float:
                fc_conv_fwd_item_f(&x[b, 0, 0], tlen, cin, wp, bptr, &y[b, 0, 0], slen,
                                   fout, k, strides, dilation, left, groups, chunk, act)
            else:
                fc_conv_fwd_item_d(&x[b, 0, 0], tlen, cin, wp, bptr, &y[b, 0, 0], slen,
                                   fout, k, strides, dilation, left, groups, chunk, act)
    free(wp)
    free(bp)


@cython.boundscheck(False)
@cython.wraparound(False)
def conv1d_backward(const floating[:, :, ::1] dy, const floating[:, :, ::1] x,
                    const floating[:, :, ::1] kernel, dx_out, floating[:, :, ::1] dkernel,
                    floating[::1] dbias, int strides, int dilation, int left, int groups,
                    int num_threads):
    """dx (unless `dx_out` is None), dkernel and dbias of conv1d for output gradient dy, all
    fully overwritten, in one parallel region (one fork/join instead of three).

    `dx_out` is None (input gradient skipped) or a (B, T, C) array. Each thread takes a static
    share of the kernel-gradient tiles and of the bias blocks, then claims dx batch items one
    at a time until none is left (a thread that finished its share first takes more); all are
    disjoint outputs, so no barrier is needed between them.
    """
    cdef int batch = x.shape[0], tlen = x.shape[1], cin = x.shape[2]
    cdef int k = kernel.shape[0], cg = kernel.shape[1], fout = kernel.shape[2]
    cdef int slen = dy.shape[1]
    cdef int nr = fc_conv_nr_f() if floating is float else fc_conv_nr_d()
    cdef long ntasks = fc_conv_dw_ntasks(k, cg, fout, groups, nr)
    cdef int nblocks = (fout + _COLSUM_BLOCK - 1) // _COLSUM_BLOCK
    cdef int chunk_x = _chunk(<ptrdiff_t>fout + strides * cin, sizeof(floating))
    cdef int nthreads = 1, tid = 0, i = 0
    cdef long lo = 0, hi = 0, b = 0, next_item = 0
    cdef bint need_dx = dx_out is not None
    cdef floating[:, :, ::1] dx
    cdef floating *dxp = NULL
    cdef floating *wtp = NULL
    if batch == 0:
        dkernel[...] = 0
        dbias[...] = 0
        return
    if need_dx:
        dx = dx_out
        dxp = &dx[0, 0, 0]
        if floating is float:
            wtp = <floating *>malloc(sizeof(floating) * fc_conv_pack_bwd_size_f(k, cg, fout,
                                                                                groups))
        else:
            wtp = <floating *>malloc(sizeof(floating) * fc_conv_pack_bwd_size_d(k, cg, fout,
                                                                                groups))
        if wtp == NULL:
            raise MemoryError("conv1d_backward: no memory for the packed kernel")
    with nogil:
        if need_dx:
            if floating is float:
                fc_conv_pack_bwd_f(&kernel[0, 0, 0], k, cg, fout, groups, wtp)
            else:
                fc_conv_pack_bwd_d(&kernel[0, 0, 0], k, cg, fout, groups, wtp)
        with parallel(num_threads=num_threads):
            nthreads = fc_omp_get_num_threads()
            tid = threadid()
            lo = ntasks * tid // nthreads
            hi = ntasks * (tid + 1) // nthreads
            if floating is float:
                fc_conv_dw_tasks_f(&x[0, 0, 0], &dy[0, 0, 0], batch, tlen, cin, slen, fout, k,
                                   strides, dilation, left, groups, &dkernel[0, 0, 0], lo, hi,
                                   _DW_CHUNK_ROWS)
            else:
                fc_conv_dw_tasks_d(&x[0, 0, 0], &dy[0, 0, 0], batch, tlen, cin, slen, fout, k,
                                   strides, dilation, left, groups, &dkernel[0, 0, 0], lo, hi,
                                   _DW_CHUNK_ROWS)
            for i in range(nblocks * tid // nthreads, nblocks * (tid + 1) // nthreads):
                if floating is float:
                    fc_conv_colsum_f(&dy[0, 0, 0], <ptrdiff_t>batch * slen, fout,
                                     i * _COLSUM_BLOCK, min((i + 1) * _COLSUM_BLOCK, fout),
                                     &dbias[0])
                else:
                    fc_conv_colsum_d(&dy[0, 0, 0], <ptrdiff_t>batch * slen, fout,
                                     i * _COLSUM_BLOCK, min((i + 1) * _COLSUM_BLOCK, fout),
                                     &dbias[0])
            # dx last, its items claimed one at a time: a thread that finished its share of
            # the tiles early (or runs on the faster core) takes more of them
            while need_dx:
                b = fc_omp_claim(&next_item)
                if b >= batch:
                    break
                if floating is float:
                    fc_conv_bwdx_item_f(&dy[b, 0, 0], slen, fout, wtp,
                                        dxp + <ptrdiff_t>b * tlen * cin, tlen, cin, k,
                                        strides, dilation, left, groups, chunk_x)
                else:
                    fc_conv_bwdx_item_d(&dy[b, 0, 0], slen, fout, wtp,
                                        dxp + <ptrdiff_t>b * tlen * cin, tlen, cin, k,
                                        strides, dilation, left, groups, chunk_x)
    free(wtp)
