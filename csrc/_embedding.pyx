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


def gather(const index_t[::1] ids, const floating[:, ::1] table, floating[:, ::1] out,
           int num_threads):
    cdef isize N = ids.shape[0], E = table.shape[1]
    cdef isize n
    for n in prange(N, nogil=True, schedule="static", num_threads=num_threads):
        memcpy(&out[n, 0], &table[ids[n], 0], E * sizeof(floating))


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
