# Binary cross-entropy on probabilities: the per-sample mean over the last axis, its float64
# total and its gradient, in one pass (the training step's loss).
#
# Design note
# - Layout: y (targets, already cast to p's dtype) and p (predictions) are (N, D) C-contiguous,
#   grad (N, D) is written; fastconv.ops.losses checked shapes, dtypes and contiguity.
# - Serial: a batch's loss is N*D values, tiny next to the model that produced them; one pass
#   in sample order keeps the float64 total independent of any thread count.
# - Numerics, in the array dtype (logf for float32), term by term as the NumPy formula
#   (fastconv.losses.BinaryCrossentropy) so the gradient has the same bits:
#     pc = min(max(p, eps), 1 - eps)              NaN stays NaN
#     value_n = -mean_d(y log pc + (1 - y) log(1 - pc))   (the mean in the dtype, in d order)
#     grad = (-(y / pc) + (1 - y) / (1 - pc)) [/ D when D > 1], 0 where p is outside
#            [eps, 1 - eps] (or NaN), then times scale (1/N in the dtype)
#   and the total is the float64 sum of the dtype-rounded value_n, in n order.
cimport cython
from cython cimport floating
from libc.math cimport log, logf

ctypedef Py_ssize_t isize


cdef inline floating _log(floating v) noexcept nogil:
    if floating is float:
        return logf(v)
    else:
        return log(v)


@cython.boundscheck(False)
@cython.wraparound(False)
def binary_crossentropy(const floating[:, ::1] y, const floating[:, ::1] p,
                        floating[:, ::1] grad, double epsilon, double scale):
    """Writes grad (see the note above) and returns the float64 sum of the per-sample values."""
    cdef isize n = p.shape[0], d = p.shape[1], i, j
    cdef floating eps = <floating>epsilon, top = 1 - <floating>epsilon
    cdef floating sc = <floating>scale, fd = <floating>d
    cdef floating yi, pi, pc, ny, npc, slope, terms
    cdef double total = 0
    with nogil:
        for i in range(n):
            terms = 0
            for j in range(d):
                yi = y[i, j]
                pi = p[i, j]
                pc = eps if pi < eps else pi
                pc = top if pc > top else pc
                ny = 1 - yi
                npc = 1 - pc
                terms = terms + (yi * _log(pc) + ny * _log(npc))
                slope = -(yi / pc) + ny / npc
                if d != 1:
                    slope = slope / fd
                if not (pi >= eps and pi <= top):
                    slope = 0
                grad[i, j] = slope * sc
            if d != 1:
                terms = terms / fd
            total += <double>(-terms)
    return total
