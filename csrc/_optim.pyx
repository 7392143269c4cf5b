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
# - One background thread (rmsprop_rows_deferred_start / background_join, at the end): the
#   embedding table's row update can run there, single-threaded, while fit's Python work goes
#   on; same row code, same order, so the same bits as the in-place call.
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock,
                              PyThread_free_lock, PyThread_release_lock,
                              PyThread_start_new_thread, PyThread_type_lock, NOWAIT_LOCK,
                              WAIT_LOCK)
from libc.math cimport signbit, sqrt, sqrtf

from _omp cimport fc_omp_get_max_threads

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


cdef inline isize _deferred_row(floating* p, const floating* g, floating* v, isize E,
                                long long decays, floating lr, floating rho, floating omr,
                                floating eps, floating c) noexcept nogil:
    # row update of rmsprop_rows_deferred: the missing decays, then the step itself
    _decay_row(v, E, decays, rho, c)
    if floating is float:
        return fc_rmsprop_row_f(p, g, v, E, lr, rho, omr, eps)
    else:
        return fc_rmsprop_row_d(p, g, v, E, lr, rho, omr, eps)


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
        nbad += _deferred_row(&p[r, 0], &grad[j, 0], &v[r, 0], E, step - 1 - stamp[r], lr_,
                              rho_, omr_, eps_, c)
        stamp[r] = step
    return nbad


# ---- rmsprop_rows_deferred on a background thread ------------------------------------------
# The same row updates, in the same order, run by one native thread that never touches Python
# objects, while the caller's thread goes on with other work. The caller owns the arrays and
# keeps them alive and untouched until `background_join` (fastconv.optimizers joins before
# anyone reads the table or its velocity). One job at a time; the thread sleeps on a lock
# between jobs, so it costs no CPU when idle.
cdef extern from *:
    """
    static inline int fc_bg_load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void fc_bg_store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline Py_ssize_t fc_bg_claim(Py_ssize_t *p, Py_ssize_t n) {
        return __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
    }
    static inline void fc_bg_add(Py_ssize_t *p, Py_ssize_t n) {
        __atomic_fetch_add(p, n, __ATOMIC_RELEASE);
    }
    static inline Py_ssize_t fc_bg_loadn(const Py_ssize_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void fc_bg_relax(void) {
    #if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
    #endif
    }
    """
    int fc_bg_load(const int *p) nogil
    void fc_bg_store(int *p, int v) nogil
    isize fc_bg_claim(isize *p, isize n) nogil
    void fc_bg_add(isize *p, isize n) nogil
    isize fc_bg_loadn(const isize *p) nogil
    void fc_bg_relax() nogil

cdef enum:
    JOB_IDLE = 0
    JOB_RUNNING = 1
    JOB_DONE = 2
    JOIN_SPINS = 40000      # polls (a pause each) before the joining thread sleeps instead
    JOB_CHUNK = 16          # rows claimed at a time (the joining thread helps with the rest)

cdef struct RowsJob:
    bint is_double
    char* p
    const char* g
    const int* rows
    char* v
    long long* stamp
    isize count, E
    long long step
    double lr, rho, omr, eps, zero
    isize next              # first row not yet claimed by a thread
    isize nbad              # bad values, added up by each thread when its rows are done

cdef RowsJob _job
cdef long long _job_token = 0           # the caller's name for the job in flight
cdef int _state = JOB_IDLE              # written by both threads: read with fc_bg_load
cdef int _helping = 0                   # 1 while a joining thread runs rows of the job
cdef bint _started = False
cdef PyThread_type_lock _go = NULL      # released by the caller: a job is ready
cdef PyThread_type_lock _done = NULL    # released by the thread: the job is done


cdef isize _run_rows(RowsJob* job, floating dummy) noexcept nogil:
    # claims chunks of rows until none is left; returns the bad values of the rows it ran
    cdef isize j, j0, j1, r, E = job.E, nbad = 0
    cdef floating* p = <floating*>job.p
    cdef const floating* g = <const floating*>job.g
    cdef floating* v = <floating*>job.v
    cdef floating lr_ = <floating>job.lr, rho_ = <floating>job.rho, omr_ = <floating>job.omr
    cdef floating eps_ = <floating>job.eps, zero_ = <floating>job.zero
    cdef floating c = omr_ * (zero_ * zero_)
    while True:
        j0 = fc_bg_claim(&job.next, JOB_CHUNK)
        if j0 >= job.count:
            return nbad
        j1 = min(j0 + JOB_CHUNK, job.count)
        for j in range(j0, j1):
            if j + PREFETCH_ROWS < job.count:
                fc_prefetch_row(v + job.rows[j + PREFETCH_ROWS] * E, E * sizeof(floating))
                fc_prefetch_row(p + job.rows[j + PREFETCH_ROWS] * E, E * sizeof(floating))
            r = job.rows[j]
            nbad += _deferred_row(p + r * E, g + j * E, v + r * E, E,
                                  job.step - 1 - job.stamp[r], lr_, rho_, omr_, eps_, c)
            job.stamp[r] = job.step


cdef isize _run_job(RowsJob* job) noexcept nogil:
    if job.is_double:
        return _run_rows(job, <double>0)
    return _run_rows(job, <float>0)


cdef void _background_main(void* arg) noexcept nogil:
    while True:
        PyThread_acquire_lock(_go, WAIT_LOCK)
        fc_bg_add(&_job.nbad, _run_job(&_job))
        fc_bg_store(&_state, JOB_DONE)
        PyThread_release_lock(_done)


cdef bint _make_locks() noexcept:
    # both held: no job ready, no job done
    global _go, _done
    _go = PyThread_allocate_lock()
    _done = PyThread_allocate_lock()
    if _go == NULL or _done == NULL:
        if _go != NULL:
            PyThread_free_lock(_go)
        if _done != NULL:
            PyThread_free_lock(_done)
        _go = _done = NULL
        return False
    PyThread_acquire_lock(_go, WAIT_LOCK)
    PyThread_acquire_lock(_done, WAIT_LOCK)
    return True


def background_before_fork():
    """Before fork: let a running job finish (it is then whole in the child's memory too)."""
    with nogil:
        while fc_bg_load(&_state) == JOB_RUNNING or fc_bg_load(&_helping):
            fc_bg_relax()


def background_after_fork_child():
    """In a forked child, which has no background thread: new locks (the parent's may be held
    by its thread), a new thread at the next start. A job the parent finished but had not yet
    joined stays joinable, with its result."""
    global _started, _go, _done
    _started = False
    _go = _done = NULL          # the parent's locks: left as they are
    if _make_locks() and fc_bg_load(&_state) == JOB_DONE:
        PyThread_release_lock(_done)


def background_busy():
    """True from a successful `rmsprop_rows_deferred_start` until its `background_join`."""
    return fc_bg_load(&_state) != JOB_IDLE


def kernel_max_threads():
    """Threads a kernel may take now: 1 while a background job holds a core, else OpenMP's
    setting (omp_get_max_threads)."""
    return 1 if fc_bg_load(&_state) != JOB_IDLE else fc_omp_get_max_threads()


def rmsprop_rows_deferred_start(floating[:, ::1] p, const floating[:, ::1] grad,
                                const int[::1] rows, isize count, floating[:, ::1] v,
                                long long[::1] stamp, long long step, double lr, double rho,
                                double one_minus_rho, double epsilon, double zero,
                                long long token):
    """`rmsprop_rows_deferred(...)` with one thread, started on the background thread under the
    caller's name `token`; True when started. False, with nothing done, while another job runs
    (one at a time) or when no thread could be made. `background_join(token)` waits for it."""
    global _started, _state, _job_token
    # the thread must not run past an array: the shapes the row loop relies on
    if not (0 <= count <= min(rows.shape[0], grad.shape[0]) and grad.shape[1] == p.shape[1]
            and v.shape[0] == p.shape[0] and v.shape[1] == p.shape[1]
            and stamp.shape[0] == p.shape[0]):
        raise ValueError("rmsprop_rows_deferred_start: inconsistent shapes")
    if fc_bg_load(&_state) != JOB_IDLE:
        return False
    if not _started:
        if _go == NULL and not _make_locks():
            return False
        if <long>PyThread_start_new_thread(_background_main, NULL) == -1:
            return False
        _started = True
    _job.is_double = floating is double
    _job.p = <char*>&p[0, 0] if p.shape[0] * p.shape[1] else NULL
    _job.g = <const char*>&grad[0, 0] if count and p.shape[1] else NULL
    _job.rows = &rows[0] if count else NULL
    _job.v = <char*>&v[0, 0] if v.shape[0] * v.shape[1] else NULL
    _job.stamp = &stamp[0] if stamp.shape[0] else NULL
    _job.count = count if p.shape[1] else 0
    _job.E = p.shape[1]
    _job.step = step
    _job.lr, _job.rho, _job.omr, _job.eps, _job.zero = lr, rho, one_minus_rho, epsilon, zero
    _job.next = 0
    _job.nbad = 0
    _job_token = token
    fc_bg_store(&_state, JOB_RUNNING)
    PyThread_release_lock(_go)
    return True


def background_join(long long token):
    """Finish job `token`: run what the background thread has not claimed yet (all of it if
    the thread has not picked the job up), then wait for its last rows (polling briefly, then
    asleep). Returns the job's count of bad velocity values, or -1 when no job of that name
    is in flight."""
    cdef int i
    if fc_bg_load(&_state) == JOB_IDLE or _job_token != token:
        return -1
    with nogil:
        fc_bg_store(&_helping, 1)
        if PyThread_acquire_lock(_go, NOWAIT_LOCK):
            # taken back before the thread woke: it will not run it, nor signal _done
            fc_bg_add(&_job.nbad, _run_job(&_job))
            fc_bg_store(&_state, JOB_DONE)
            fc_bg_store(&_helping, 0)
        else:
            fc_bg_add(&_job.nbad, _run_job(&_job))
            fc_bg_store(&_helping, 0)
            for i in range(JOIN_SPINS):
                if fc_bg_load(&_state) == JOB_DONE:
                    break
                fc_bg_relax()
            PyThread_acquire_lock(_done, WAIT_LOCK)    # once per job: free by now, or wait
    fc_bg_store(&_state, JOB_IDLE)
    return fc_bg_loadn(&_job.nbad)


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
