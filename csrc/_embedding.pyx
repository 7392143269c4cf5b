# Embedding lookup (gather) and its backward (scatter-add into a dense table gradient).
#
# Design note
# - Layout: ids flattened to (N,), int32 or int64; table and dtable (V, E), dy and out (N, E),
#   all C-contiguous (fastconv.ops.embedding guarantees it and has checked 0 <= id < V, so the
#   kernels index without checks).
# - Forward: prange over the N output rows; a task copies one table row. Race-free: each task
#   writes only its own output row.
# - Backward: repeated ids must add up, so tasks cannot own input rows. Instead each task owns a
#   contiguous block of TABLE rows [r0, r1): it zeroes them, then walks all N ids in ascending
#   order and adds dy[n] into the rows it owns. No two tasks write the same row, nothing is shared
#   and every dtable element sums its contributions in ascending n order, so the result is
#   bit-identical for any thread count (no atomics). Each task rescans the N ids, which is cheap
#   next to zeroing a V x E table.
# - Numerics: sums in the array dtype, in input order (k copies of g give g + g + ... + g).
cimport cython
from cython cimport floating
from cython.parallel cimport prange
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
    cdef isize k, nblk = max(1, min(<isize>num_threads, N))
    if N == 0 or E == 0:
        return
    # One contiguous block of output rows per thread (each output row has one writer).
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
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
def number_rows(const index_t[::1] ids, int[::1] pos, int[::1] rows):
    cdef isize N = ids.shape[0], n
    cdef int count = 0
    cdef index_t r
    with nogil:
        for n in range(N):
            r = ids[n]
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
