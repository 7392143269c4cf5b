# Pooling kernels over channels_last arrays: x (B, T, C) -> y (B, S, C).
#
# Design note
# - Layout: every array is C-contiguous (fastconv.ops.pooling guarantees it), so one time step
#   of one sample is a contiguous row of C values and the innermost loops run over channels.
# - Parallel axis: each prange task owns a disjoint block of OUTPUT elements
#     forward pools            task = one output row y[b, s, :]        (B*S tasks)
#     average-pool backward    task = one input-gradient row dx[b, t, :] (gathers over windows)
#     max-pool backward        task = one sample dx[b] (overlapping windows scatter into the
#                              same dx cells, so a task must own all windows of its rows)
#     global pools             task = one sample b
#   A task writes only what it owns and sums in a fixed order (window cells / windows ascending),
#   so results are bit-identical for any thread count. No shared accumulators, no atomics.
# - What ops.pooling already did: dtype promotion (float32/float64), shape checks, geometry
#   (S >= 1 unless T == 0, every window holds at least one real cell), output allocation.
# - Numerics: `same` padding cells are never read: max uses only real cells (as if padded with
#   -inf), average divides by the number of real cells. NaN: a max window holding a NaN yields
#   NaN and its gradient goes to the FIRST NaN of the window; otherwise to the FIRST maximum.
#   Average and global sums add cells in ascending time order in the array dtype.
# - The max-pool inner loops live in pool_kernels.h, built for AVX2 and for baseline x86-64 and
#   picked when the module loads (GCC target_clones); compares, selects and adds only, so both
#   variants give the same bits. Bench: python -m pytest bench/bench_pool.py --benchmark-only
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

ctypedef Py_ssize_t isize

# Channels handled together by the max-pool backward: the per-window scratch (maximum and
# undelivered gradient) lives on the stack in blocks of this many channels.
cdef enum:
    CBLOCK = 32


cdef inline void _argmax_block(const floating* x, isize C, isize t0, isize t1, isize n,
                               floating* best, int* idx) noexcept nogil:
    """For n channels starting at x[0]: the step in [t0, t1) of the first NaN, else of the
    first maximum. Branch-free selects, so the loop vectorizes and never mispredicts."""
    cdef isize t, c
    cdef const floating* xr = x + t0 * C
    cdef floating v, b
    cdef int k
    cdef bint take
    for c in range(n):
        best[c] = xr[c]
        idx[c] = <int>t0
    for t in range(t0 + 1, t1):
        xr = x + t * C
        for c in range(n):
            v = xr[c]
            b = best[c]
            k = idx[c]
            take = (v > b) | ((v != v) & (b == b))
            best[c] = v if take else b
            idx[c] = <int>t if take else k


cdef extern from "pool_kernels.h" nogil:
    void fc_max_row_f32(const float* x, float* y, isize t0, isize t1, isize C, isize n)
    void fc_max_row_f64(const double* x, double* y, isize t0, isize t1, isize C, isize n)
    void fc_give_first_match_f32(const float* x, const float* m, float* rem, float* dx,
                                 isize t0, isize t1, isize C, isize n, int nan_rule)
    void fc_give_first_match_f64(const double* x, const double* m, double* rem, double* dx,
                                 isize t0, isize t1, isize C, isize n, int nan_rule)


cdef inline void _max_row(const floating* x, floating* y, isize t0, isize t1, isize C,
                          isize n) noexcept nogil:
    """y[c] = max over steps t0..t1-1 of x[t*C + c], c < n; NaN if any cell is NaN.
    (csrc/pool_kernels.h: AVX2 or baseline variant chosen at load time.)"""
    if floating is float:
        fc_max_row_f32(x, y, t0, t1, C, n)
    else:
        fc_max_row_f64(x, y, t0, t1, C, n)


cdef inline void _sum_rows(const floating* x, floating* y, isize t0, isize t1,
                           isize C) noexcept nogil:
    cdef isize t, c
    cdef const floating* xr = x + t0 * C
    for c in range(C):
        y[c] = xr[c]
    for t in range(t0 + 1, t1):
        xr = x + t * C
        for c in range(C):
            y[c] = y[c] + xr[c]


cdef inline void _scale_row(floating* y, floating d, isize C) noexcept nogil:
    cdef isize c
    for c in range(C):
        y[c] = y[c] / d


def max_pool_forward(const floating[:, :, ::1] x, floating[:, :, ::1] y, int pool, int stride,
                     int pad_left, int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2], S = y.shape[1]
    cdef isize task, b, s, start
    for task in prange(B * S, nogil=True, schedule="static", num_threads=num_threads):
        b = task // S
        s = task - b * S
        start = s * stride - pad_left
        _max_row(&x[b, 0, 0], &y[b, s, 0], max(start, 0), min(start + pool, T), C, C)


cdef inline void _give_first_match(const floating* x, const floating* m, floating* rem,
                                   floating* dx, isize t0, isize t1, isize C, isize n,
                                   bint nan_rule) noexcept nogil:
    """The first cell of each channel equal to m[c] (first NaN if m[c] is NaN) gets rem[c]."""
    if floating is float:
        fc_give_first_match_f32(x, m, rem, dx, t0, t1, C, n, nan_rule)
    else:
        fc_give_first_match_f64(x, m, rem, dx, t0, t1, C, n, nan_rule)


cdef inline void _max_back_block(const floating* x, const floating* dy, floating* dx, isize T,
                                 isize S, isize C, isize c0, isize c1, int pool, int stride,
                                 int pad_left) noexcept nogil:
    # Per window: m = the window maximum (NaN if any), then one pass over the window's cells
    # hands dy to the first cell equal to m (to the first NaN when m is NaN). Overlapping
    # windows add up in ascending s order.
    cdef isize s, c, start, t0, t1, n = c1 - c0
    cdef floating m[CBLOCK]
    cdef floating rem[CBLOCK]
    cdef const floating* g
    cdef bint any_nan
    for s in range(S):
        start = s * stride - pad_left
        t0 = max(start, 0)
        t1 = min(start + pool, T)
        _max_row(x + c0, m, t0, t1, C, n)
        g = dy + s * C + c0
        any_nan = False
        for c in range(n):
            rem[c] = g[c]
            any_nan = any_nan | (m[c] != m[c])
        _give_first_match(x + c0, m, rem, dx + c0, t0, t1, C, n, any_nan)


def max_pool_backward(const floating[:, :, ::1] dy, const floating[:, :, ::1] x,
                      floating[:, :, ::1] dx, int pool, int stride, int pad_left,
                      int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2], S = dy.shape[1]
    cdef isize b, j
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        # zero the sample's whole gradient at once, then scatter block by block
        memset(&dx[b, 0, 0], 0, T * C * sizeof(floating))
        for j in range((C + CBLOCK - 1) // CBLOCK):
            _max_back_block(&x[b, 0, 0], &dy[b, 0, 0], &dx[b, 0, 0], T, S, C, j * CBLOCK,
                            min((j + 1) * CBLOCK, C), pool, stride, pad_left)


def average_pool_forward(const floating[:, :, ::1] x, floating[:, :, ::1] y, int pool,
                         int stride, int pad_left, int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2], S = y.shape[1]
    cdef isize task, b, s, start, t0, t1
    for task in prange(B * S, nogil=True, schedule="static", num_threads=num_threads):
        b = task // S
        s = task - b * S
        start = s * stride - pad_left
        t0 = max(start, 0)
        t1 = min(start + pool, T)
        _sum_rows(&x[b, 0, 0], &y[b, s, 0], t0, t1, C)
        _scale_row(&y[b, s, 0], <floating>(t1 - t0), C)


cdef inline void _avg_back_row(const floating* dy, floating* dxr, isize t, isize T, isize S,
                               isize C, int pool, int stride, int pad_left) noexcept nogil:
    # Windows s holding step t: s*stride - pad_left <= t < s*stride - pad_left + pool.
    cdef isize s, c, s_lo, s_hi, start, num
    cdef floating cnt
    cdef const floating* dyr
    num = t + pad_left - pool + 1
    s_lo = 0 if num <= 0 else (num + stride - 1) // stride
    s_hi = min((t + pad_left) // stride, S - 1)
    for c in range(C):
        dxr[c] = 0
    for s in range(s_lo, s_hi + 1):
        start = s * stride - pad_left
        cnt = <floating>(min(start + pool, T) - max(start, 0))
        dyr = dy + s * C
        for c in range(C):
            dxr[c] = dxr[c] + dyr[c] / cnt


def average_pool_backward(const floating[:, :, ::1] dy, floating[:, :, ::1] dx, int pool,
                          int stride, int pad_left, int num_threads):
    cdef isize B = dx.shape[0], T = dx.shape[1], C = dx.shape[2], S = dy.shape[1]
    cdef isize task, b, t
    for task in prange(B * T, nogil=True, schedule="static", num_threads=num_threads):
        b = task // T
        t = task - b * T
        _avg_back_row(&dy[b, 0, 0], &dx[b, t, 0], t, T, S, C, pool, stride, pad_left)


def global_max_pool_forward(const floating[:, :, ::1] x, floating[:, ::1] y, int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2]
    cdef isize b
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        _max_row(&x[b, 0, 0], &y[b, 0], 0, T, C, C)


cdef inline void _global_max_back(const floating* x, const floating* dy, floating* dx, isize T,
                                  isize C) noexcept nogil:
    cdef isize i, c, c0, n, j
    cdef floating best[CBLOCK]
    cdef int idx[CBLOCK]
    for i in range(T * C):
        dx[i] = 0
    for j in range((C + CBLOCK - 1) // CBLOCK):
        c0 = j * CBLOCK
        n = min(<isize>CBLOCK, C - c0)
        _argmax_block(x + c0, C, 0, T, n, best, idx)
        for c in range(n):
            dx[idx[c] * C + c0 + c] = dy[c0 + c]


def global_max_pool_backward(const floating[:, ::1] dy, const floating[:, :, ::1] x,
                             floating[:, :, ::1] dx, int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2]
    cdef isize b
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        _global_max_back(&x[b, 0, 0], &dy[b, 0], &dx[b, 0, 0], T, C)


def global_average_pool_forward(const floating[:, :, ::1] x, floating[:, ::1] y,
                                int num_threads):
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2]
    cdef isize b
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        _sum_rows(&x[b, 0, 0], &y[b, 0], 0, T, C)
        _scale_row(&y[b, 0], <floating>T, C)


cdef inline void _global_avg_back(const floating* dy, floating* dx, isize T,
                                  isize C) noexcept nogil:
    cdef isize t, c
    cdef floating n = <floating>T
    for c in range(C):
        dx[c] = dy[c] / n
    for t in range(1, T):
        for c in range(C):
            dx[t * C + c] = dx[c]


def global_average_pool_backward(const floating[:, ::1] dy, floating[:, :, ::1] dx,
                                 int num_threads):
    cdef isize B = dx.shape[0], T = dx.shape[1], C = dx.shape[2]
    cdef isize b
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        _global_avg_back(&dy[b, 0], &dx[b, 0, 0], T, C)
