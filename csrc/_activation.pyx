# Fused bias + activation, and the activation backward, elementwise.
#
# Design note
# - Layout: bias_act sees y and out as (R, F) C-contiguous rows with bias (F,); act_backward
#   sees flat (N,) arrays. fastconv.ops.activation reshaped, promoted and checked them; `out` may
#   be the very same buffer as `y` (in place): every element is read before it is written and
#   no other element is touched, so aliasing is safe.
# - Parallel axis: tasks own disjoint blocks of output elements (row x column block, or a flat
#   block); schedule static. Elementwise, so results are bit-identical for any thread count.
# - Numerics, in the array dtype (expf/tanhf for float32):
#     relu max(z, 0) (NaN stays NaN), sigmoid 1 / (1 + exp(-z)) for z >= 0 and
#     exp(z) / (1 + exp(z)) otherwise (no overflow), tanh from libm.
#   backward from the output y: relu dy where y > 0 else 0 (a select, so dy NaN/inf on a
#   zero unit gives 0), sigmoid (dy * y) * (1 - y), tanh dy * (1 - y * y), linear dy.
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, tanh, tanhf

ctypedef Py_ssize_t isize

cdef enum:
    LINEAR = 0
    RELU = 1
    SIGMOID = 2
    TANH = 3
    BLOCK = 4096


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef inline floating _tanh(floating v) noexcept nogil:
    if floating is float:
        return tanhf(v)
    else:
        return tanh(v)


cdef inline floating _sigmoid(floating z) noexcept nogil:
    cdef floating e
    if z >= 0:
        return 1 / (1 + _exp(-z))
    e = _exp(z)
    return e / (1 + e)


cdef inline void _act_block(const floating* y, const floating* bias, floating* out, isize n,
                            int act, bint has_bias) noexcept nogil:
    cdef isize i
    cdef floating z
    if act == LINEAR:
        if has_bias:
            for i in range(n):
                out[i] = y[i] + bias[i]
        else:
            for i in range(n):
                out[i] = y[i]
    elif act == RELU:
        for i in range(n):
            z = y[i] + bias[i] if has_bias else y[i]
            out[i] = 0 if z < 0 else z
    elif act == SIGMOID:
        for i in range(n):
            z = y[i] + bias[i] if has_bias else y[i]
            out[i] = _sigmoid(z)
    else:
        for i in range(n):
            z = y[i] + bias[i] if has_bias else y[i]
            out[i] = _tanh(z)


def bias_act(const floating[:, ::1] y, const floating[::1] bias, floating[:, ::1] out,
             int act, bint has_bias, int num_threads):
    cdef isize R = y.shape[0], F = y.shape[1]
    cdef isize nblk = (F + BLOCK - 1) // BLOCK
    cdef isize task, r, c0
    cdef const floating* bp = &bias[0] if has_bias else NULL
    for task in prange(R * nblk, nogil=True, schedule="static", num_threads=num_threads):
        r = task // nblk
        c0 = (task - r * nblk) * BLOCK
        _act_block(&y[r, c0], bp + c0 if has_bias else NULL, &out[r, c0], min(BLOCK, F - c0),
                   act, has_bias)


cdef inline void _grad_block(const floating* dy, const floating* y, floating* dz, isize n,
                             int act) noexcept nogil:
    cdef isize i
    cdef floating v, g
    if act == LINEAR:
        for i in range(n):
            dz[i] = dy[i]
    elif act == RELU:
        # dy is read unconditionally so the select compiles branch-free and vectorizes (random
        # signs would mispredict a branch on every other element).
        for i in range(n):
            g = dy[i]
            v = y[i]
            dz[i] = g if v > 0 else 0
    elif act == SIGMOID:
        for i in range(n):
            v = y[i]
            dz[i] = (dy[i] * v) * (1 - v)
    else:
        for i in range(n):
            v = y[i]
            dz[i] = dy[i] * (1 - v * v)


def act_backward(const floating[::1] dy, const floating[::1] y, floating[::1] dz, int act,
                 int num_threads):
    cdef isize N = dy.shape[0]
    cdef isize nblk = (N + BLOCK - 1) // BLOCK
    cdef isize k
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        _grad_block(&dy[k * BLOCK], &y[k * BLOCK], &dz[k * BLOCK], min(BLOCK, N - k * BLOCK),
                    act)
