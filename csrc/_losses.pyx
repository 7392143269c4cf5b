# Binary cross-entropy on probabilities: the per-sample mean over the last axis, its float64
# total and its gradient, in one pass (the training step's loss).
#
# Design note
# - Layout: y (targets, already cast to p's dtype) and p (predictions) are (N, D) C-contiguous,
#   grad (N, D) is written; fastconv.ops.losses checked shapes, dtypes and contiguity.
# - Serial: a batch's loss is N*D values, tiny next to the model that produced them; one pass
#   in sample order keeps the float64 total independent of any thread count.
# - Numerics, in the array dtype (logf for float32), term by term as the NumPy formula
#   (fastconv.losses.BinaryCrossentropy) so the gradient has the same bits (a NaN label gives
#   a NaN gradient either way, but its sign bit may differ: the compiler may swap the operands
#   of the sum below, and which NaN an addition returns depends on the order):
#     pc = min(max(p, eps), 1 - eps)              NaN stays NaN
#     term = y log pc + (1 - y) log(1 - pc)       in the dtype
#     value_n = -(sum over d of term, in float64, / D), rounded to the dtype once
#     grad = (-(y / pc) + (1 - y) / (1 - pc)) [/ D when D > 1], 0 where p is outside
#            [eps, 1 - eps] (or NaN), then times scale (1/N in the dtype)
#   and the total is the float64 sum of the dtype-rounded value_n, in n order. NumPy's mean
#   sums the terms pairwise in the dtype instead, so values agree to rounding (closer to the
#   float64 result here). No floating-point warnings are raised, as in every kernel.
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
    cdef floating yi, pi, pc, ny, npc, slope
    cdef double total = 0, terms
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
                terms += <floating>(yi * _log(pc) + ny * _log(npc))
                slope = -(yi / pc) + ny / npc
                if d != 1:
                    slope = slope / fd
                if not (pi >= eps and pi <= top):
                    slope = 0
                grad[i, j] = slope * sc
            total += <double><floating>(-(terms / d))
    return total
