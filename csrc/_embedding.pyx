# Embedding lookup (gather) and its backward (scatter-add into a dense table gradient); the
# row-compact backward; and the tap sums of the Embedding -> Conv1D step (at the end).
#
# Design note
# - Layout: ids flattened to (N,), int32 or int64; table and dtable (V, E), dy and out (N, E),
#   all C-contiguous (fastconv.ops.embedding guarantees it and has checked 0 <= id < V, so the
#   kernels index without checks).
# - Forward: prange over blocks of the N output rows, four blocks per thread taken in turn
#   (dynamic schedule: a thread on a faster core takes more); a task copies its block's table
#   rows. Race-free: each output row is written by one task.
# - Backward: repeated ids must add up, so tasks cannot own input rows. Instead each task owns a
#   contiguous block of TABLE rows [r0, r1): it zeroes them, then walks all N ids in ascending
#   order and adds dy[n] into the rows it owns. No two tasks write the same row, nothing is shared
#   and every dtable element sums its contributions in ascending n order, so the result is
#   bit-identical for any thread count (no atomics). Each task rescans the N ids, which is cheap
#   next to zeroing a V x E table.
# - Numerics: sums in the array dtype, in input order (k copies of g give g + g + ... + g).
cimport cython
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

ctypedef Py_ssize_t isize

ctypedef fused index_t:
    int
    long long


cdef extern from *:
    """
    #define FC_PREFETCH(p) __builtin_prefetch((p), 0, 0)
    """
    void FC_PREFETCH(const void *p) noexcept nogil

from _omp cimport fc_omp_claim, fc_omp_get_num_threads


# Rows of a large table are scattered in memory, so a copy waits for DRAM once per row; asking
# for the rows PREFETCH_AHEAD ids ahead keeps several of those waits in flight at once.
cdef enum:
    PREFETCH_AHEAD = 8


cdef inline void _gather_rows(const index_t* ids, const floating* table, floating* out, isize n0,
                              isize n1, isize N, isize E) noexcept nogil:
    cdef isize n, e, a
    cdef const floating* src
    cdef const char* q
    for n in range(n0, n1):
        if n + PREFETCH_AHEAD < N:
            q = <const char*>(table + ids[n + PREFETCH_AHEAD] * E)
            for e in range(0, E * <isize>sizeof(floating), 64):
                FC_PREFETCH(q + e)
        memcpy(out + n * E, table + ids[n] * E, E * sizeof(floating))


def gather(const index_t[::1] ids, const floating[:, ::1] table, floating[:, ::1] out,
           int num_threads):
    cdef isize N = ids.shape[0], E = table.shape[1]
    cdef isize k, nblk = max(1, min(<isize>num_threads * 4, N))
    if N == 0 or E == 0:
        return
    # Contiguous blocks of output rows (each output row has one writer), four per thread, taken
    # in turn by whichever thread is free: a thread on a slower core takes fewer.
    for k in prange(nblk, nogil=True, schedule="dynamic", num_threads=num_threads):
        _gather_rows(&ids[0], &table[0, 0], &out[0, 0], N * k // nblk, N * (k + 1) // nblk, N, E)


cdef inline void _scatter_rows(const index_t* ids, const floating* dy, floating* dtable, isize N,
                               isize E, isize r0, isize r1) noexcept nogil:
    cdef isize n, e, r
    cdef floating* row
    cdef const floating* src
    memset(dtable + r0 * E, 0, (r1 - r0) * E * sizeof(floating))
    for n in range(N):
        r = ids[n]
        if r >= r0 and r < r1:
            row = dtable + r * E
            src = dy + n * E
            for e in range(E):
                row[e] = row[e] + src[e]


def scatter_add(const index_t[::1] ids, const floating[:, ::1] dy, floating[:, ::1] dtable,
                int num_threads):
    cdef isize N = ids.shape[0], V = dtable.shape[0], E = dtable.shape[1]
    # One row block per thread; blocks never overlap, so the partition does not change any sum.
    cdef isize nblk = max(1, min(<isize>num_threads, V))
    cdef isize k
    cdef const index_t* ip = &ids[0] if N > 0 else NULL
    cdef const floating* dp = &dy[0, 0] if N > 0 else NULL
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        _scatter_rows(ip, dp, &dtable[0, 0], N, E, V * k // nblk, V * (k + 1) // nblk)


# Row-compact backward (the training fast path): the same sums as scatter_add, stored only for
# the R distinct rows the ids touch, in first-appearance order.
# - pos (V,) int32 must be -1 everywhere on entry; on return pos[r] = j for the j-th distinct row
#   r (rows[j] = r) and -1 for untouched rows. The caller puts the -1s back (pos[rows] = -1)
#   when it is done with this gradient, so a step costs O(N), never O(V).
# - Numbering is serial (N ids, a few microseconds). The sums run prange over blocks of compact
#   rows; each block rescans the N ids in ascending order and adds into the rows it owns only,
#   starting from zero, so every element is computed exactly as scatter_add computes its dense
#   row (0 + dy[n0] + dy[n1] + ...): bit-identical to the dense gradient for any thread count.
def number_rows(const index_t[::1] ids, int[::1] pos, int[::1] rows, int clear):
    """Number the distinct ids, after putting back the -1s of a previous numbering of `clear`
    rows (pos[rows[:clear]] = -1); -1 (pos put back to all -1) when an id is outside pos."""
    cdef isize N = ids.shape[0], V = pos.shape[0], n
    cdef int count = 0, j
    cdef index_t r
    with nogil:
        for j in range(clear):
            pos[rows[j]] = -1
        for n in range(N):
            # pos is read at random places, often out of cache after the step's big kernels:
            # ask for an entry a few ids ahead (an id outside pos only skips its prefetch)
            if n + PREFETCH_AHEAD < N and 0 <= ids[n + PREFETCH_AHEAD] < V:
                FC_PREFETCH(&pos[ids[n + PREFETCH_AHEAD]])
            r = ids[n]
            if r < 0 or r >= V:
                for j in range(count):
                    pos[rows[j]] = -1
                count = -1
                break
            if pos[r] < 0:
                pos[r] = count
                rows[count] = <int>r
                count += 1
    return count


cdef inline void _scatter_compact(const index_t* ids, const floating* dy, const int* pos,
                                  floating* grad, isize N, isize E, isize j0,
                                  isize j1) noexcept nogil:
    cdef isize n, e, j
    cdef floating* row
    cdef const floating* src
    memset(grad + j0 * E, 0, (j1 - j0) * E * sizeof(floating))
    for n in range(N):
        j = pos[ids[n]]
        if j >= j0 and j < j1:
            row = grad + j * E
            src = dy + n * E
            for e in range(E):
                row[e] = row[e] + src[e]


def scatter_rows(const index_t[::1] ids, const floating[:, ::1] dy, const int[::1] pos,
                 floating[:, ::1] grad, int count, int num_threads):
    """grad[:count] = the dense scatter_add rows, grad[j] for table row rows[j]."""
    cdef isize N = ids.shape[0], E = grad.shape[1]
    cdef isize nblk = max(1, min(<isize>num_threads, <isize>count))
    cdef isize k
    if count == 0 or E == 0:
        return
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        _scatter_compact(&ids[0], &dy[0, 0], &pos[0], &grad[0, 0], N, E, count * k // nblk,
                         count * (k + 1) // nblk)


# Embedding followed by Conv1D, computed on the R distinct rows a batch uses (the layers' fused
# training and inference path, fastconv.layers._embedding_conv). With P = rows @ kernel taps
# (R, K*F), the conv output is a sum of K rows of P; in the backward, Q (R, K*F) collects dy per
# (distinct row, tap), from which both the kernel gradient (rows^T Q) and the table gradient of
# the distinct rows (Q times the transposed taps) are small GEMMs. Text repeats words, so R is
# well below B*T and the three GEMMs shrink by that factor.
# - ids (B, T) int32/int64, already range-checked; pos (V,) int32 maps a table row to its
#   distinct-row number j (rows numbered by number_rows above).
# - Step s, tap j reads input step t = s*strides + j*dilation - left; taps outside [0, T) are
#   the conv's zero padding and add nothing.
cdef extern from "tap_kernels.h" nogil:
    void fc_tap_sum_f_i(const int *ids, const int *pos, const float *p, const float *bias,
                        int relu, float *out, isize tlen, isize slen, isize f, int k, int st,
                        int dil, int left)
    void fc_tap_sum_f_l(const long long *ids, const int *pos, const float *p, const float *bias,
                        int relu, float *out, isize tlen, isize slen, isize f, int k, int st,
                        int dil, int left)
    void fc_tap_sum_d_i(const int *ids, const int *pos, const double *p, const double *bias,
                        int relu, double *out, isize tlen, isize slen, isize f, int k, int st,
                        int dil, int left)
    void fc_tap_sum_d_l(const long long *ids, const int *pos, const double *p, const double *bias,
                        int relu, double *out, isize tlen, isize slen, isize f, int k, int st,
                        int dil, int left)
    void fc_tap_rows_f(const isize *occ_b, const isize *occ_t, const isize *start,
                       const float *dy, float *q, isize u_lo, isize u_hi, isize slen,
                       isize f, int k, int st, int dil, int left)
    void fc_tap_rows_d(const isize *occ_b, const isize *occ_t, const isize *start,
                       const double *dy, double *q, isize u_lo, isize u_hi, isize slen,
                       isize f, int k, int st, int dil, int left)
    void fc_tap_colsum_f(const float *dy, isize rows, isize f, isize c0, isize c1, float *out)
    void fc_tap_colsum_d(const double *dy, isize rows, isize f, isize c0, isize c1, double *out)

def tap_sum(const index_t[:, ::1] ids, const int[::1] pos, const floating[:, ::1] p, bias,
            bint relu, floating[:, :, ::1] out, int k, int strides, int dilation, int left,
            int num_threads):
    """out[b, s, :] = bias + sum over taps j (ascending) of p[pos[ids[b, t]], j*F:(j+1)*F],
    then relu (z < 0 -> 0, NaN kept) if asked; `bias` is None or an (F,) array of p's dtype."""
    cdef isize B = ids.shape[0], T = ids.shape[1], S = out.shape[1], F = out.shape[2]
    cdef isize b
    cdef const floating[::1] bias_v
    cdef const floating *bp = NULL
    if B == 0 or S == 0 or F == 0:
        return
    if bias is not None:
        bias_v = bias
        bp = &bias_v[0]
    # batch items handed out in turn (a thread on a faster core takes more); each writes its own
    for b in prange(B, nogil=True, schedule="dynamic", num_threads=num_threads):
        if floating is float:
            if index_t is int:
                fc_tap_sum_f_i(&ids[b, 0], &pos[0], &p[0, 0], bp, relu, &out[b, 0, 0], T, S, F,
                               k, strides, dilation, left)
            else:
                fc_tap_sum_f_l(&ids[b, 0], &pos[0], &p[0, 0], bp, relu, &out[b, 0, 0], T, S, F,
                               k, strides, dilation, left)
        else:
            if index_t is int:
                fc_tap_sum_d_i(&ids[b, 0], &pos[0], &p[0, 0], bp, relu, &out[b, 0, 0], T, S, F,
                               k, strides, dilation, left)
            else:
                fc_tap_sum_d_l(&ids[b, 0], &pos[0], &p[0, 0], bp, relu, &out[b, 0, 0], T, S, F,
                               k, strides, dilation, left)


def tap_weights(const floating[:, :, ::1] kernel, floating[:, ::1] wcat, floating[:, ::1] wt):
    """The conv kernel (K, E, F) laid out for the distinct-row GEMMs, into either or both of
    wcat (E, K*F) with wcat[e, j*F + f] = kernel[j, e, f], and wt (K*F, E), its transpose
    (None skips one)."""
    cdef isize K = kernel.shape[0], E = kernel.shape[1], F = kernel.shape[2], j, e, f
    cdef bint cat = wcat is not None, transpose = wt is not None
    if K == 0 or E == 0 or F == 0:
        return
    with nogil:
        if cat:
            for e in range(E):
                for j in range(K):
                    memcpy(&wcat[e, j * F], &kernel[j, e, 0], F * sizeof(floating))
        if transpose:
            for j in range(K):
                for f in range(F):
                    for e in range(E):
                        wt[j * F + f, e] = kernel[j, e, f]


def tap_kernel_grad(const floating[:, ::1] dwcat, floating[:, :, ::1] dkernel):
    """dkernel (K, E, F) from the distinct-row GEMM's dwcat (E, K*F): the inverse of wcat."""
    cdef isize K = dkernel.shape[0], E = dkernel.shape[1], F = dkernel.shape[2], j, e
    if K == 0 or E == 0 or F == 0:
        return
    with nogil:
        for j in range(K):
            for e in range(E):
                memcpy(&dkernel[j, e, 0], &dwcat[e, j * F], F * sizeof(floating))


cdef enum:
    # shares of the (row, tap) blocks per thread in tap_scatter: enough for a thread on a
    # faster core to take more of them, few enough that the claims cost nothing
    SHARES_PER_THREAD = 4


cdef inline isize _block_bound(const isize* cum, isize rows, isize k, int i,
                               int n) noexcept nogil:
    # First (row, tap) block of share i of n, blocks u = row*k + tap in order: shares hold
    # about 1/n of the work, so a row holding many ids (a padding id, say) can be split between
    # threads tap by tap. A block costs its row's id count plus one: its own set-up and store
    # cost about as much as an id (measured: 5.5 vs 6.3 ns), and rows come in first-appearance
    # order, frequent ones first, so counting ids alone gave the last thread most of the blocks
    # (seed model: 6,993 of 8,064) and 2 threads ran little faster than 1.
    cdef isize lo = 0, hi = rows * k, mid, r, want
    if i <= 0:
        return 0
    if i >= n:
        return rows * k
    want = (cum[rows] + rows) * k * i // n
    while lo < hi:             # smallest u with cost(blocks before u) >= want
        mid = (lo + hi) // 2
        r = mid // k
        if cum[r] * k + (mid - r * k) * (cum[r + 1] - cum[r]) + mid < want:
            lo = mid + 1
        else:
            hi = mid
    return lo


def tap_scatter(const floating[:, :, ::1] dy, const index_t[:, ::1] ids, const int[::1] pos,
                floating[:, ::1] q, isize zero_rows, floating[::1] dbias, int k, int strides,
                int dilation, int left, int num_threads):
    """q[:zero_rows] = 0, then q[pos[ids[b, t]], j*F:(j+1)*F] += dy[b, s] for every step s and
    tap j reading input step t (ascending b, s); dbias[f] = sum of dy[..., f] (in double).

    First, serially, the ids are listed by row (a counting sort: ascending (b, t) within each
    row). Then q's (row, tap) blocks are cut into contiguous ranges of about the same work, a
    few per thread, which the threads take in turn; a thread builds each block of its ranges
    from the row's ids: q is written once, block by block, and no cache line is written by two
    threads but at the range ends.
    Each thread also owns a contiguous share of the bias columns. Every element is summed in
    the same order whatever the thread count, so results are bitwise equal for any number of
    threads.
    """
    cdef isize B = dy.shape[0], S = dy.shape[1], F = dy.shape[2], T = ids.shape[1]
    cdef isize n, r, b, t, lo = 0, hi = 0
    cdef int nthreads = 1, tid = 0
    cdef long share = 0, next_share = 0
    cdef isize* cum
    cdef isize* occ
    cdef const index_t* idp
    if F == 0:
        return
    if B == 0 or S == 0:
        q[:zero_rows, :] = 0
        dbias[:] = 0
        return
    # cum: row starts (zero_rows + 1), then a fill cursor per row; occ: items, then steps
    cum = <isize*>malloc(sizeof(isize) * (2 * zero_rows + 1))
    occ = <isize*>malloc(sizeof(isize) * (2 * B * T + 1))
    if cum == NULL or occ == NULL:
        free(cum)
        free(occ)
        raise MemoryError("tap_scatter: no memory for the ids listed by row")
    with nogil:
        idp = &ids[0, 0]
        memset(cum, 0, sizeof(isize) * (zero_rows + 1))
        for n in range(B * T):      # cum[r + 1] = ids in row r, then prefix sums
            cum[pos[idp[n]] + 1] += 1
        for r in range(zero_rows):
            cum[r + 1] += cum[r]
        memcpy(cum + zero_rows + 1, cum, sizeof(isize) * zero_rows)
        for b in range(B):
            for t in range(T):
                r = pos[idp[b * T + t]]
                n = cum[zero_rows + 1 + r]
                cum[zero_rows + 1 + r] = n + 1
                occ[n] = b
                occ[B * T + n] = t
        with parallel(num_threads=num_threads):
            nthreads = fc_omp_get_num_threads()
            tid = threadid()
            if floating is float:
                fc_tap_colsum_f(&dy[0, 0, 0], B * S, F, F * tid // nthreads,
                                F * (tid + 1) // nthreads, &dbias[0])
            else:
                fc_tap_colsum_d(&dy[0, 0, 0], B * S, F, F * tid // nthreads,
                                F * (tid + 1) // nthreads, &dbias[0])
            # the blocks in SHARES_PER_THREAD shares per thread of about equal work, taken in
            # turn by whichever thread is free (a thread on a slower core takes fewer)
            while True:
                share = fc_omp_claim(&next_share)
                if share >= nthreads * SHARES_PER_THREAD:
                    break
                lo = _block_bound(cum, zero_rows, k, share, nthreads * SHARES_PER_THREAD)
                hi = _block_bound(cum, zero_rows, k, share + 1, nthreads * SHARES_PER_THREAD)
                if floating is float:
                    fc_tap_rows_f(occ, occ + B * T, cum, &dy[0, 0, 0], &q[0, 0], lo, hi, S, F,
                                  k, strides, dilation, left)
                else:
                    fc_tap_rows_d(occ, occ + B * T, cum, &dy[0, 0, 0], &q[0, 0], lo, hi, S, F,
                                  k, strides, dilation, left)
    free(cum)
    free(occ)
