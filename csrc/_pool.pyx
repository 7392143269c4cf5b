# Pooling kernels over channels_last arrays: x (B, T, C) -> y (B, S, C).
#
# Design note
# - Layout: every array is C-contiguous (fastconv.ops.pooling guarantees it), so one time step
#   of one sample is a contiguous row of C values and the innermost loops run over channels.
# - Parallel axis: each prange task owns a disjoint block of OUTPUT elements
#     max-pool forward         task = a contiguous share of the B*S output rows per thread
#     average-pool forward     task = one output row y[b, s, :]        (B*S tasks)
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
# - The max-pool loops live in pool_kernels.h, built for AVX2 and for baseline x86-64 and
#   picked when the module loads (GCC target_clones); compares, selects and adds only, so both
#   variants give the same bits. The backward finds each window's winner (first NaN, else first
#   maximum) and, when windows do not overlap, writes every dx cell once instead of zeroing the
#   sample and adding into it. Bench: python -m pytest bench/bench_pool.py --benchmark-only
cimport cython
from cython cimport floating
from cython.parallel cimport prange

ctypedef Py_ssize_t isize

# Channels handled together by the global max-pool backward (argmax scratch on the stack).
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
    void fc_maxpool_fwd_rows_f32(const float* x, float* y, isize r0, isize r1, isize T,
                                 isize S, isize C, isize pool, isize stride, isize left)
    void fc_maxpool_fwd_rows_f64(const double* x, double* y, isize r0, isize r1, isize T,
                                 isize S, isize C, isize pool, isize stride, isize left)
    void fc_maxpool_bwd_sample_f32(const float* x, const float* dy, float* dx, isize T, isize S,
                                   isize C, isize pool, isize stride, isize left)
    void fc_maxpool_bwd_sample_f64(const double* x, const double* dy, double* dx, isize T,
                                   isize S, isize C, isize pool, isize stride, isize left)


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
    # Thread i takes the i-th contiguous share of the B*S output rows.
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2], S = y.shape[1]
    cdef isize rows = B * S, i, r0, r1
    cdef int nt = max(1, min(num_threads, <int>min(rows, <isize>(1 << 30))))
    if rows == 0 or C == 0:
        return
    for i in prange(nt, nogil=True, schedule="static", num_threads=nt):
        r0 = rows * i // nt
        r1 = rows * (i + 1) // nt
        if floating is float:
            fc_maxpool_fwd_rows_f32(&x[0, 0, 0], &y[0, 0, 0], r0, r1, T, S, C, pool, stride,
                                    pad_left)
        else:
            fc_maxpool_fwd_rows_f64(&x[0, 0, 0], &y[0, 0, 0], r0, r1, T, S, C, pool, stride,
                                    pad_left)


def max_pool_backward(const floating[:, :, ::1] dy, const floating[:, :, ::1] x,
                      floating[:, :, ::1] dx, int pool, int stride, int pad_left,
                      int num_threads):
    # One task per sample: it owns every window of its rows (overlapping windows add into the
    # same dx cells). csrc/pool_kernels.h fc_maxpool_bwd_sample writes the sample's dx in full.
    cdef isize B = x.shape[0], T = x.shape[1], C = x.shape[2], S = dy.shape[1]
    cdef isize b
    if B == 0 or T == 0 or C == 0:
        return
    for b in prange(B, nogil=True, schedule="static", num_threads=num_threads):
        if floating is float:
            fc_maxpool_bwd_sample_f32(&x[b, 0, 0], &dy[b, 0, 0], &dx[b, 0, 0], T, S, C, pool,
                                      stride, pad_left)
        else:
            fc_maxpool_bwd_sample_f64(&x[b, 0, 0], &dy[b, 0, 0], &dx[b, 0, 0], T, S, C, pool,
                                      stride, pad_left)


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
