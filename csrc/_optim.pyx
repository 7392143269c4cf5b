# In-place optimizer updates (SGD, RMSprop, Adam) in one pass over memory.
#
# Design note
# - Layout: param, grad and every slot are flat (N,) C-contiguous arrays of ONE dtype (checked
#   by fastconv.ops.optim, which also turned the hyper-parameters into the values Keras uses,
#   e.g. Adam's bias-corrected step alpha, computed in the parameter dtype).
# - Parallel axis: the flat element index, in blocks of BLOCK elements, schedule static. Every
#   element is updated from its own values only, so results are bit-identical for any thread
#   count. One read and one write of each array per step: the update is memory-bound
#   (bench: `python -m pytest bench/bench_pool.py -k rmsprop`).
# - Numerics: arithmetic in the parameter dtype with Keras 3's operation order
#   (keras/src/optimizers/{sgd,rmsprop,adam}.py), so float32 results follow Keras step for step:
#     SGD      plain p = p - g*lr;  momentum m = m*mu - g*lr, p = p + m;
#              nesterov m = m*mu - g*lr, p = p + (m*mu - g*lr)
#     RMSprop  v = rho*v + (1-rho)*(g*g); [centered a = rho*a + (1-rho)*g, den = (v - a*a) + eps]
#              else den = v + eps; inc = (lr*g) / sqrt(den); [momentum m = mu*m + inc, p = p - m]
#              else p = p - inc                                      (eps INSIDE the root)
#     Adam     m = m + (g - m)*(1-b1); v = v + (g*g - v)*(1-b2); [amsgrad vh = max(vh, v), use vh]
#              p = p - (m*alpha) / (sqrt(v) + eps)                   (eps OUTSIDE the root)
#   The build uses ISO C mode, where GCC does not contract a*b + c into an FMA, so each
#   operation rounds exactly as in the NumPy emulation the tests compare against.
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport signbit, sqrt, sqrtf

ctypedef Py_ssize_t isize

cdef enum:
    BLOCK = 8192
    PREFETCH_ROWS = 8


cdef inline floating _sqrt(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)
    else:
        return sqrt(v)


cdef inline void _sgd_block(floating* p, const floating* g, floating* m, isize n, floating lr,
                            floating mu, int mode) noexcept nogil:
    cdef isize i
    cdef floating mi
    if mode == 0:
        for i in range(n):
            p[i] = p[i] - g[i] * lr
    elif mode == 1:
        for i in range(n):
            mi = m[i] * mu - g[i] * lr
            m[i] = mi
            p[i] = p[i] + mi
    else:
        for i in range(n):
            mi = m[i] * mu - g[i] * lr
            m[i] = mi
            p[i] = p[i] + (mi * mu - g[i] * lr)


def sgd(floating[::1] p, const floating[::1] g, floating[::1] m, double lr, double momentum,
        int mode, int num_threads):
    """mode 0: no momentum (m unused), 1: momentum, 2: Nesterov momentum."""
    cdef isize N = p.shape[0]
    cdef isize nblk = (N + BLOCK - 1) // BLOCK
    cdef isize k, i0
    cdef floating lr_ = <floating>lr, mu_ = <floating>momentum
    cdef floating* mp = &m[0] if mode != 0 else NULL
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        i0 = k * BLOCK
        _sgd_block(&p[i0], &g[i0], mp + i0 if mode != 0 else NULL, min(BLOCK, N - i0), lr_, mu_,
                   mode)


cdef inline void _rmsprop_block(floating* p, const floating* g, floating* v, floating* m,
                                floating* a, isize n, floating lr, floating rho, floating omr,
                                floating eps, floating mu, bint use_mom,
                                bint centered) noexcept nogil:
    cdef isize i
    cdef floating gi, vi, ai, den, inc, mi
    for i in range(n):
        gi = g[i]
        vi = rho * v[i] + omr * (gi * gi)
        v[i] = vi
        if centered:
            ai = rho * a[i] + omr * gi
            a[i] = ai
            den = (vi - ai * ai) + eps
        else:
            den = vi + eps
        inc = (lr * gi) / _sqrt(den)
        if use_mom:
            mi = mu * m[i] + inc
            m[i] = mi
            p[i] = p[i] - mi
        else:
            p[i] = p[i] - inc


def rmsprop(floating[::1] p, const floating[::1] g, floating[::1] v, floating[::1] m,
            floating[::1] a, double lr, double rho, double one_minus_rho, double epsilon,
            double momentum, bint use_momentum, bint centered, int num_threads):
    """m is used only when use_momentum, a only when centered (pass any array otherwise)."""
    cdef isize N = p.shape[0]
    cdef isize nblk = (N + BLOCK - 1) // BLOCK
    cdef isize k, i0
    cdef floating lr_ = <floating>lr, rho_ = <floating>rho, omr_ = <floating>one_minus_rho
    cdef floating eps_ = <floating>epsilon, mu_ = <floating>momentum
    cdef floating* mp = &m[0] if use_momentum else NULL
    cdef floating* ap = &a[0] if centered else NULL
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        i0 = k * BLOCK
        _rmsprop_block(&p[i0], &g[i0], &v[i0], mp + i0 if use_momentum else NULL,
                       ap + i0 if centered else NULL, min(BLOCK, N - i0), lr_, rho_, omr_,
                       eps_, mu_, use_momentum, centered)


cdef inline void _adam_block(floating* p, const floating* g, floating* m, floating* v,
                             floating* vh, isize n, floating alpha, floating omb1, floating omb2,
                             floating eps, bint amsgrad) noexcept nogil:
    cdef isize i
    cdef floating gi, mi, vi, hi
    for i in range(n):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * omb1
        m[i] = mi
        vi = v[i] + (gi * gi - v[i]) * omb2
        v[i] = vi
        if amsgrad:
            hi = vh[i]
            # maximum that propagates NaN from either side, as jnp.maximum does
            if not (hi > vi or hi != hi):
                hi = vi
            vh[i] = hi
            vi = hi
        p[i] = p[i] - (mi * alpha) / (_sqrt(vi) + eps)


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
         floating[::1] vh, double alpha, double one_minus_beta_1, double one_minus_beta_2,
         double epsilon, bint amsgrad, int num_threads):
    """alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t), already rounded to the dtype."""
    cdef isize N = p.shape[0]
    cdef isize nblk = (N + BLOCK - 1) // BLOCK
    cdef isize k, i0
    cdef floating alpha_ = <floating>alpha, omb1 = <floating>one_minus_beta_1
    cdef floating omb2 = <floating>one_minus_beta_2, eps_ = <floating>epsilon
    cdef floating* hp = &vh[0] if amsgrad else NULL
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        i0 = k * BLOCK
        _adam_block(&p[i0], &g[i0], &m[i0], &v[i0], hp + i0 if amsgrad else NULL,
                    min(BLOCK, N - i0), alpha_, omb1, omb2, eps_, amsgrad)


# Plain RMSprop (no momentum, not centered) on a (V, E) table whose gradient is zero outside a
# few rows (an embedding table): the gradient comes row-compact, grad[j] for row r where
# pos[r] = j >= 0, and pos[r] < 0 marks an all-zero row. Touched rows run _rmsprop_block as the
# dense kernel does. Untouched rows run the same formula with g = +0 (a variable, not a
# constant, so nothing is folded): v = rho*v + omr*(g*g) is stored as in the dense pass, and
# p = p - inc is skipped exactly when it is a no-op, i.e. when inc is +0.0 (x - (+0) == x for
# every x). inc = (lr*(+0)) / sqrt(den) is +0 when lr*0 is +0 (lr0_is_pos_zero, checked once)
# and den > 0; otherwise p is updated with the full formula. Result: bit-identical to the dense
# update with the dense gradient, while the untouched rows cost a read and write of v only.
# prange over blocks of rows, static; each row depends on its own values only.
cdef inline void _rmsprop_zero_rows(floating* p, floating* v, isize n, floating lr,
                                    floating rho, floating omr, floating eps, floating zero,
                                    bint lr0_is_pos_zero) noexcept nogil:
    cdef isize i
    cdef floating vi, den
    cdef floating c = omr * (zero * zero)
    cdef int bad = 0
    # Branch-free, so it vectorizes: decay v and note whether any den is not > 0.
    for i in range(n):
        vi = rho * v[i] + c
        v[i] = vi
        bad = bad | <int>(not (vi + eps > 0))
    if bad or not lr0_is_pos_zero:  # rare (eps = 0 with v = 0, NaN/inf, lr <= -0): full formula
        for i in range(n):
            den = v[i] + eps
            if not (lr0_is_pos_zero and den > 0):
                p[i] = p[i] - (lr * zero) / _sqrt(den)


def rmsprop_rows(floating[:, ::1] p, const floating[:, ::1] grad, floating[:, ::1] v,
                 const int[::1] pos, double lr, double rho, double one_minus_rho,
                 double epsilon, double zero, int num_threads):
    cdef isize V = p.shape[0], E = p.shape[1]
    cdef isize rows_per_blk = max(1, BLOCK // max(<isize>1, E))
    cdef isize nblk = (V + rows_per_blk - 1) // rows_per_blk
    cdef isize k, r, r0, r1, run, j
    cdef floating lr_ = <floating>lr, rho_ = <floating>rho, omr_ = <floating>one_minus_rho
    cdef floating eps_ = <floating>epsilon, zero_ = <floating>zero
    cdef floating lr0 = lr_ * zero_
    cdef bint lr0_pz = (lr0 == 0) and not signbit(lr0)  # +0.0, not -0.0 or NaN
    if V == 0 or E == 0:
        return
    for k in prange(nblk, nogil=True, schedule="static", num_threads=num_threads):
        r0 = k * rows_per_blk
        r1 = min(V, r0 + rows_per_blk)
        r = r0
        while r < r1:
            j = pos[r]
            if j >= 0:
                _rmsprop_block(&p[r, 0], &grad[j, 0], &v[r, 0], NULL, NULL, E, lr_, rho_, omr_,
                               eps_, <floating>0, False, False)
                r = r + 1
            else:
                run = r + 1  # a run of untouched rows: one contiguous stretch of p and v
                while run < r1 and pos[run] < 0:
                    run = run + 1
                _rmsprop_zero_rows(&p[r, 0], &v[r, 0], (run - r) * E, lr_, rho_, omr_, eps_,
                                   zero_, lr0_pz)
                r = run


# Deferred velocity decay for plain RMSprop on a (V, E) table with a row-compact gradient.
# Under the conditions the optimizer checks before every step (lr*0 is +0.0, epsilon > 0,
# 0 < rho <= 1, every velocity value >= 0), a step in which a row's gradient is zero leaves
# the row's weights unchanged (see _rmsprop_zero_rows: inc is +0.0) and only decays its
# velocity, v = rho*v + omr*(0*0). Those decays need not run while nobody reads the velocity:
# stamp[r] records the last step whose decay row r has received. When the row is touched again
# (rmsprop_rows_deferred) or the velocity is read (rmsprop_catch_up), the missing decays run
# one by one, in step order, with the same operations as the dense pass: bit-identical to it,
# but a step reads and writes only the touched rows (csrc/optim_kernels.h runs the decays in
# registers and stops a row early at a fixed point).
# prange over rows, static; the rows of one call are distinct, so each row has one owner.
cdef extern from "optim_kernels.h" nogil:
    void fc_decay_row_f(float *v, isize n, long long k, float rho, float c)
    void fc_decay_row_d(double *v, isize n, long long k, double rho, double c)
    isize fc_rmsprop_row_f(float *p, const float *g, float *v, isize n, float lr, float rho,
                           float omr, float eps)
    isize fc_rmsprop_row_d(double *p, const double *g, double *v, isize n, double lr,
                           double rho, double omr, double eps)
    void fc_prefetch_row(const void *p, isize nbytes)


cdef inline void _decay_row(floating* v, isize n, long long k, floating rho,
                            floating c) noexcept nogil:
    if floating is float:
        fc_decay_row_f(v, n, k, rho, c)
    else:
        fc_decay_row_d(v, n, k, rho, c)


def rmsprop_rows_deferred(floating[:, ::1] p, const floating[:, ::1] grad, const int[::1] rows,
                          isize count, floating[:, ::1] v, long long[::1] stamp, long long step,
                          double lr, double rho, double one_minus_rho, double epsilon,
                          double zero, int num_threads):
    """Step `step` for rows rows[:count] (gradient grad[j] for row rows[j], distinct rows):
    first the decays of steps stamp[r]+1 .. step-1, then the full update; stamp[r] = step.
    Returns how many velocity values of those rows are now not >= 0 (NaN)."""
    cdef isize E = p.shape[1]
    cdef isize j, r
    cdef isize nbad = 0
    cdef floating lr_ = <floating>lr, rho_ = <floating>rho, omr_ = <floating>one_minus_rho
    cdef floating eps_ = <floating>epsilon, zero_ = <floating>zero
    cdef floating c = omr_ * (zero_ * zero_)
    if E == 0:
        return 0
    # Rows come in first-appearance order and their costs differ widely (a rare row may carry
    # hundreds of deferred decays), so rows are dealt out one at a time (static, chunk 1). The
    # count of bad values is a sum of integers: the same for any thread count.
    for j in prange(count, nogil=True, schedule="static", chunksize=1,
                    num_threads=num_threads):
        if j + PREFETCH_ROWS < count:  # the rows are scattered over the table: fetch ahead
            fc_prefetch_row(&v[rows[j + PREFETCH_ROWS], 0], E * sizeof(floating))
            fc_prefetch_row(&p[rows[j + PREFETCH_ROWS], 0], E * sizeof(floating))
        r = rows[j]
        _decay_row(&v[r, 0], E, step - 1 - stamp[r], rho_, c)
        if floating is float:
            nbad += fc_rmsprop_row_f(&p[r, 0], &grad[j, 0], &v[r, 0], E, lr_, rho_, omr_, eps_)
        else:
            nbad += fc_rmsprop_row_d(&p[r, 0], &grad[j, 0], &v[r, 0], E, lr_, rho_, omr_, eps_)
        stamp[r] = step
    return nbad


def rmsprop_catch_up(floating[:, ::1] v, long long[::1] stamp, long long step, double rho,
                     double one_minus_rho, double zero, int num_threads):
    """Bring every row's velocity up to step `step` (the decays of stamp[r]+1 .. step)."""
    cdef isize V = v.shape[0], E = v.shape[1]
    cdef isize r
    cdef floating rho_ = <floating>rho, omr_ = <floating>one_minus_rho, zero_ = <floating>zero
    cdef floating c = omr_ * (zero_ * zero_)
    if E == 0:
        return
    for r in prange(V, nogil=True, schedule="static", num_threads=num_threads):
        _decay_row(&v[r, 0], E, step - stamp[r], rho_, c)
        stamp[r] = step
