"""Argument checks shared by every fastconv.ops entry point and its NumPy twin.

Python owns everything a user can get wrong: after these checks a kernel receives C-contiguous
float32/float64 arrays of consistent shapes and geometry that yields at least one output step
(or an empty batch), so compiled code never validates.
"""
import functools
import operator
import types

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def positive_int(name, value, minimum=1):
    """`value` as an int >= minimum; bools, floats, strings and None are TypeErrors."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected an int >= {minimum}. "
            f"Received: {name}={value!r} of type {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int >= {minimum}. "
            f"Received: {name}={value}")
    return value


def single_int(name, value, minimum=1):
    """Keras accepts an int or a 1-element tuple/list for 1-D geometry arguments."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected an int or a tuple of 1 int. "
                f"Received: {name}={value!r}")
        value = value[0]
    value = positive_int(name, value, minimum)
    if value > 2**31 - 1:  # kernels take geometry as C int
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int <= {2**31 - 1}. "
            f"Received: {name}={value}")
    return value


def padding_mode(value, allowed=("valid", "same", "causal"), name="padding"):
    if not isinstance(value, str):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected one of {list(allowed)}. "
            f"Received: {name}={value!r} of type {type(value).__name__}")
    mode = value.lower()
    if mode not in allowed:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one of {list(allowed)}. "
            f"Received: {name}={value!r}")
    return mode


def float_array(name, a, ndim=None):
    """Check dtype (float32/float64 only) and rank; return the array as-is (no copy)."""
    if not isinstance(a, np.ndarray):
        if not isinstance(a, (list, tuple)):
            raise TypeError(
                f"Invalid type for argument `{name}`. Expected a NumPy array of float32 or "
                f"float64. Received: {name} of type {type(a).__name__}")
        a = np.asarray(a)  # nested lists of Python floats become float64, as in NumPy
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"Invalid dtype for argument `{name}`. Expected float32 or float64. "
            f"Received: {name}.dtype={a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(
            f"Invalid shape for argument `{name}`. Expected a {ndim}-D array. "
            f"Received: {name}.shape={a.shape}")
    return a


def result_dtype(*arrays):
    """NumPy promotion over the float arrays given (None entries are skipped)."""
    return np.result_type(*[a.dtype for a in arrays if a is not None])


def contiguous(a, dtype):
    """C-contiguous array of `dtype`; a no-op (no copy) when `a` already is one."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_out(name, out, shape, dtype):
    """Validate a caller-supplied output buffer (or allocate one when `out` is None)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array. "
                        f"Received: {name} of type {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an array of shape {tuple(shape)} "
            f"and dtype {np.dtype(dtype)}. Received: {name}.shape={out.shape}, "
            f"{name}.dtype={out.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a writeable "
                         f"C-contiguous array. Received: a non-contiguous or read-only array")
    return out


def conv_geometry(length, k, strides, dilation, padding):
    """Output length and (left, right) zero padding, Keras/XLA rules.

    valid: floor((L - Keff) / s) + 1; same/causal: ceil(L / s). Same puts the odd extra pad on
    the right; causal pads dilation * (K - 1) on the left. Returns out_len possibly <= 0; the
    caller raises.
    """
    keff = dilation * (k - 1) + 1
    if padding == "valid":
        return (length - keff) // strides + 1, 0, 0
    out_len = (length - 1) // strides + 1 if length > 0 else 0
    if padding == "causal":
        return out_len, dilation * (k - 1), 0
    total = max((out_len - 1) * strides + keff - length, 0)
    return out_len, total // 2, total - total // 2


# ---- Conv1D (shared by fastconv.ops.conv and fastconv._reference.conv) ----------------------

CONV_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def conv_activation(activation):
    """The fused activation's name; None means "linear"."""
    if activation is None:
        return "linear"
    if not isinstance(activation, str):
        raise TypeError(
            f"Invalid type for argument `activation`. Expected None or one of "
            f"{list(CONV_ACTIVATIONS)}. Received: activation={activation!r} of type "
            f"{type(activation).__name__}")
    if activation not in CONV_ACTIVATIONS:
        raise ValueError(
            f"Invalid value for argument `activation`. Expected None or one of "
            f"{list(CONV_ACTIVATIONS)}. Received: activation={activation!r}")
    return activation


def _no_alias(name, out, inputs):
    if not isinstance(out, np.ndarray):
        return  # check_out reports the type
    for other_name, other in inputs:
        if isinstance(other, np.ndarray) and np.may_share_memory(out, other):
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected a buffer that does not overlap "
                f"the inputs. Received: {name} sharing memory with `{other_name}`")


def _conv1d_geometry(x, kernel, bias, strides, padding, dilation_rate, groups, extra=()):
    """Validate a conv1d call; return a namespace with C-contiguous arrays and the geometry."""
    x = float_array("x", x, 3)
    kernel = float_array("kernel", kernel, 3)
    if bias is not None:
        bias = float_array("bias", bias, 1)
    strides = single_int("strides", strides)
    dilation = single_int("dilation_rate", dilation_rate)
    groups = positive_int("groups", groups)
    padding = padding_mode(padding)
    if strides > 1 and dilation > 1:
        raise ValueError(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides=({strides},) and dilation_rate=({dilation},)")
    batch, length, channels = x.shape
    k, cg, filters = kernel.shape
    if k < 1 or cg < 1 or filters < 1:
        raise ValueError(
            "Invalid shape for argument `kernel`. Expected (kernel_size, channels // groups, "
            f"filters) with every dimension > 0. Received: kernel.shape={kernel.shape}")
    if channels % groups:
        raise ValueError(
            "The number of input channels must be evenly divisible by the number of groups. "
            f"Received: groups={groups}, but `x` has {channels} channels (x.shape={x.shape})")
    if filters % groups:
        raise ValueError(
            "The number of filters must be evenly divisible by the number of groups. "
            f"Received: groups={groups}, filters={filters} (kernel.shape={kernel.shape})")
    if cg * groups != channels:
        raise ValueError(
            "Invalid shape for argument `kernel`. Expected kernel.shape[1] == x.shape[2] // "
            f"groups == {channels // groups}. Received: kernel.shape={kernel.shape}, "
            f"x.shape={x.shape}, groups={groups}")
    if bias is not None and bias.shape != (filters,):
        raise ValueError(
            f"Invalid shape for argument `bias`. Expected ({filters},) (one value per filter). "
            f"Received: bias.shape={bias.shape}")
    out_len, left, right = conv_geometry(length, k, strides, dilation, padding)
    if out_len <= 0:
        raise ValueError(
            "Computed output size would be zero or negative. Received `inputs shape="
            f"{x.shape}`, `kernel shape={kernel.shape}`, `dilation_rate=[{dilation}]`, "
            f"`strides=({strides},)`, `padding={padding}`. The dilated kernel spans "
            f"{dilation * (k - 1) + 1} steps but the padded input has {length + left + right}")
    if left > 2**31 - 1:
        raise ValueError(
            f"Invalid value for argument `dilation_rate`. With padding=\"{padding}\" the "
            f"kernels take at most 2147483647 padding steps on the left; dilation_rate * "
            f"(kernel_size - 1) asks for {left}. Received: dilation_rate={dilation}, "
            f"kernel_size={k}")
    dtype = result_dtype(x, kernel, bias, *extra)
    return dict(
        x=x, kernel=kernel, bias=bias, strides=strides, dilation=dilation, groups=groups,
        padding=padding, batch=batch, length=length, channels=channels, k=k, filters=filters,
        out_len=out_len, left=left, right=right, dtype=dtype)


def conv1d_args(x, kernel, bias, strides, padding, dilation_rate, groups, out=None):
    """Checks for conv1d: arrays made C-contiguous in the promoted dtype, geometry, output."""
    g = _conv1d_geometry(x, kernel, bias, strides, padding, dilation_rate, groups)
    if out is not None:
        _no_alias("out", out, (("x", x), ("kernel", kernel), ("bias", bias)))
    g["out"] = output("out", out, (g["batch"], g["out_len"], g["filters"]), g["dtype"])
    for name in ("x", "kernel", "bias"):
        if g[name] is not None:
            g[name] = kernel_array(g[name], g["dtype"])  # aligned too: C loads need it
    return types.SimpleNamespace(**g)


def conv1d_backward_args(dy, x, kernel, strides, padding, dilation_rate, groups, need_dx, out):
    """Checks for conv1d_backward; `out` becomes the (dx or None, dkernel, dbias) buffers."""
    dy = float_array("dy", dy, 3)
    g = _conv1d_geometry(x, kernel, None, strides, padding, dilation_rate, groups, extra=(dy,))
    expected = (g["batch"], g["out_len"], g["filters"])
    if dy.shape != expected:
        raise ValueError(
            f"Invalid shape for argument `dy`. Expected (batch, output steps, filters) = "
            f"{expected} for x.shape={g['x'].shape}, kernel.shape={g['kernel'].shape}. "
            f"Received: dy.shape={dy.shape}")
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"Invalid type for argument `need_dx`. Expected a bool. "
                        f"Received: need_dx={need_dx!r} of type {type(need_dx).__name__}")
    if out is None:
        out = (None, None, None)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise TypeError(
            "Invalid type for argument `out`. Expected None or a tuple of 3 buffers "
            f"(dx, dkernel, dbias), each an array or None. Received: out={out!r}"[:300])
    shapes = (g["x"].shape, g["kernel"].shape, (g["filters"],))
    inputs = (("dy", dy), ("x", x), ("kernel", kernel))
    bufs = []
    for i, (buf, shape) in enumerate(zip(out, shapes)):
        if i == 0 and not need_dx:
            bufs.append(None)
            continue
        if buf is not None:
            _no_alias(f"out[{i}]", buf, inputs + tuple((f"out[{n}]", b) for n, b in
                                                        enumerate(bufs) if b is not None))
        bufs.append(output(f"out[{i}]", buf, shape, g["dtype"]))
    g["out"] = tuple(bufs)
    g["dy"] = kernel_array(dy, g["dtype"])
    for name in ("x", "kernel"):
        g[name] = kernel_array(g[name], g["dtype"])
    return types.SimpleNamespace(**g)


# ---- helpers added for pooling, embedding, activation and optimizer entry points ----

INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def no_overlap(name, out, *inputs):
    """`out` must not share memory with any input (a kernel reads inputs while writing out)."""
    for a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected a buffer that does not overlap "
                f"the inputs. Received: {name} sharing memory with an input array")


def _shape_list(shape):
    return "[" + " ".join(str(d) for d in shape) + "]"


def pool_geometry(x_shape, pool_size, strides, padding):
    """pool_geometry_checked, memoised for plain int / str arguments (the training-loop case).

    Only exact `int`s and `str`s take the cache: lru_cache would equate True with 1 and (2,)
    with (True,) and so skip their TypeErrors.
    """
    if (type(pool_size) is int and (strides is None or type(strides) is int)
            and type(padding) is str):
        return _pool_geometry_cached(tuple(x_shape), pool_size, strides, padding)
    return pool_geometry_checked(x_shape, pool_size, strides, padding)


def pool_geometry_checked(x_shape, pool_size, strides, padding):
    """Validated (pool_size, strides, padding, S, pad_left) for a (B, T, C) pooling input.

    `strides=None` means `pool_size`. Output length: valid floor((T - P) / s) + 1 (<= 0 raises
    Keras' "Computed output size would be zero or negative"), same ceil(T / s) with the extra
    padding cell on the right.
    """
    pool_size = single_int("pool_size", pool_size)
    strides = pool_size if strides is None else single_int("strides", strides)
    padding = padding_mode(padding, allowed=("valid", "same"))
    out_len, left, _ = conv_geometry(x_shape[1], pool_size, strides, 1, padding)
    if out_len <= 0 and padding == "valid":
        raise ValueError(
            "Computed output size would be zero or negative. Received: "
            f"`inputs.shape={_shape_list(x_shape)}`, `pool_size=[{pool_size}]`, "
            f"`strides=({strides},)`, `padding={padding}`.")
    return pool_size, strides, padding, max(out_len, 0), left


@functools.lru_cache(maxsize=512)
def _pool_geometry_cached(x_shape, pool_size, strides, padding):
    return pool_geometry_checked(x_shape, pool_size, strides, padding)


def check_shape(name, a, shape, why=""):
    if a.shape != tuple(shape):
        raise ValueError(
            f"Invalid shape for argument `{name}`. Expected {tuple(shape)}{why}. "
            f"Received: {name}.shape={a.shape}")


def index_array(name, ids):
    """Integer index array (int32 or int64 kept as is); any other dtype is a TypeError."""
    if not isinstance(ids, np.ndarray):
        if not isinstance(ids, (list, tuple)):
            raise TypeError(
                f"Invalid type for argument `{name}`. Expected a NumPy array of int32 or int64. "
                f"Received: {name} of type {type(ids).__name__}")
        ids = np.asarray(ids)
        if ids.size == 0:
            ids = ids.astype(np.int64)
    if ids.dtype not in INDEX_DTYPES:
        raise TypeError(
            f"Invalid dtype for argument `{name}`. Expected int32 or int64. "
            f"Received: {name}.dtype={ids.dtype}")
    return ids


def index_range(name, ids, n, what):
    """Raise ValueError naming the first index outside [0, n); ids is already an int array."""
    if ids.size == 0:
        return
    if ids.min() >= 0 and ids.max() < n:
        return
    flat = np.flatnonzero((ids < 0) | (ids >= n))[0]
    pos = tuple(int(i) for i in np.unravel_index(flat, ids.shape))
    where = ", ".join(str(i) for i in pos)
    raise ValueError(
        f"Invalid value for argument `{name}`. Expected indices in [0, {n}) ({what}). "
        f"Received: {name}[{where}]={int(ids[pos])}")


def activation_name(value):
    if value is None:
        return "linear"
    if not isinstance(value, str):
        raise TypeError(
            f"Invalid type for argument `activation`. Expected one of {list(ACTIVATIONS)}. "
            f"Received: activation={value!r} of type {type(value).__name__}")
    if value not in ACTIVATIONS:
        raise ValueError(
            f"Invalid value for argument `activation`. Expected one of {list(ACTIVATIONS)}. "
            f"Received: activation={value!r}")
    return value


def real_number(name, value, valid=None, expect="a float"):
    """A Python/NumPy real scalar (not bool, not NaN) as a float; `valid(v)` False -> ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected {expect}. "
            f"Received: {name}={value!r} of type {type(value).__name__}")
    v = float(value)
    if v != v or (valid is not None and not valid(v)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expect}. Received: {name}={value!r}")
    return v


def state_buffer(name, buf, param):
    """An optimizer slot updated in place: same shape and dtype as `param`, writeable, C-order."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"Invalid type for argument `{name}`. Expected a NumPy array. "
                        f"Received: {name} of type {type(buf).__name__}")
    if buf.shape != param.shape or buf.dtype != param.dtype:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an array of shape {param.shape} and "
            f"dtype {param.dtype} (those of `param`). Received: {name}.shape={buf.shape}, "
            f"{name}.dtype={buf.dtype}")
    if not (buf.flags.c_contiguous and buf.flags.writeable and buf.flags.aligned):
        raise ValueError(f"Invalid value for argument `{name}`. Expected a writeable, aligned, "
                         f"C-contiguous array (it is updated in place). Received: a "
                         f"non-contiguous, read-only or misaligned array")
    return buf


def kernel_array(a, dtype):
    """C-contiguous AND aligned array of `dtype` (no copy when `a` already is one).

    np.ascontiguousarray keeps misaligned arrays (a memmap at an odd byte offset, say) as they
    are; compiled loops may assume element alignment, so those are copied here.
    """
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.aligned else a.copy()


def output(name, out, shape, dtype):
    """check_out, plus: a caller's buffer must be aligned (kernels write it directly)."""
    buf = check_out(name, out, shape, dtype)
    if out is not None and not buf.flags.aligned:
        raise ValueError(f"Invalid value for argument `{name}`. Expected an aligned array. "
                         f"Received: a misaligned array")
    return buf


# Below this many array elements touched per thread, waking another OpenMP thread costs more
# than it saves (tiny pooling / activation calls): on the 2-core development machine a second
# thread pays from about 16-64 K elements per call (bench/thread_thresholds.py). On a machine
# where another process holds a core, the fit loop's thread governor (models/_threads.py) drops
# to one thread. Results do not depend on the thread count, so this only moves time; tests
# lower it to force the threaded path on small inputs.
MIN_WORK_PER_THREAD = 1 << 15

# max_threads(): get_num_threads(), or 1 while a background job (fastconv.ops.optim.
# _rmsprop_rows_deferred_start) holds a core, so that no kernel waits for that core; one
# compiled call, as the kernels' thread counts ask it a few dozen times per training step
from .._ext._optim import kernel_max_threads as max_threads  # noqa: E402


def same_dtype(*arrays):
    """result_dtype without np.result_type's cost in the common case of one dtype throughout."""
    d = arrays[0].dtype
    for a in arrays[1:]:
        if a is not None and a.dtype != d:
            return result_dtype(*arrays)
    return d


def kernel_threads(work):
    """Threads for a kernel touching `work` elements: get_num_threads(), fewer for tiny work."""
    n = max_threads()
    if n > 1 and work < n * MIN_WORK_PER_THREAD:
        n = max(1, min(n, work // MIN_WORK_PER_THREAD))
    return n


# ---- fast paths: the training loop's calls, already in kernel-ready form --------------------
# Each entry point first asks one of these whether every argument is already what the full
# checks above would hand the kernel unchanged: exact ndarrays of one float dtype, C-contiguous
# and aligned, plain ints in range, a canonical padding string, `out` buffers of the right
# shape and dtype (writeable, C-contiguous, aligned, overlapping nothing). Then the kernel gets
# them as they are; any other call returns None and takes the full checks, which produce every
# error message. Same arrays either way, so same results (tests/test_conv.py checks both paths).

from .._ext._conv import any_overlap  # noqa: E402

_F32, _F64 = FLOAT_DTYPES
_NDARRAY = np.ndarray
_INT_MAX = 2**31 - 1
_CONV_PADDINGS = ("valid", "same", "causal")


# ready_dtype, ready and ready_out answer these for one array. The compiled versions
# (fastconv._ext._conv) are the ones used; these Python ones define the answers, and
# tests/test_fast_paths.py holds the compiled ones to them.
def py_ready_dtype(a):
    """a.dtype when `a` is an exact ndarray of float32/float64, else None."""
    if type(a) is not _NDARRAY:
        return None
    dt = a.dtype
    return dt if dt is _F32 or dt is _F64 else None


def py_ready(a, dtype, ndim):
    """`a` is an exact ndarray of `dtype` and rank `ndim`, C-contiguous and aligned."""
    if type(a) is not _NDARRAY or a.dtype is not dtype or a.ndim != ndim:
        return False
    f = a.flags
    return f.c_contiguous and f.aligned


def py_ready_out(out, shape, dtype):
    """`out` needs no check_out / output() error: right shape and dtype, writeable, C, aligned."""
    if type(out) is not _NDARRAY or out.dtype is not dtype or out.shape != shape:
        return False
    f = out.flags
    return f.c_contiguous and f.writeable and f.aligned


from .._ext._conv import ready, ready_dtype, ready_out  # noqa: E402


def _ready_geometry(strides, padding, dilation_rate, groups):
    return (type(strides) is int and type(dilation_rate) is int and type(groups) is int
            and type(padding) is str and padding in _CONV_PADDINGS
            and 1 <= strides <= _INT_MAX and 1 <= dilation_rate <= _INT_MAX
            and 1 <= groups <= _INT_MAX and (strides == 1 or dilation_rate == 1))


def _ready_conv(x, kernel, dt, strides, padding, dilation_rate, groups):
    """(batch, out_len, filters, left) for valid kernel-ready conv arguments, else None."""
    if not (ready(x, dt, 3) and ready(kernel, dt, 3)
            and _ready_geometry(strides, padding, dilation_rate, groups)):
        return None
    batch, length, channels = x.shape
    k, cg, filters = kernel.shape
    if k < 1 or cg < 1 or filters < 1 or filters % groups or cg * groups != channels:
        return None
    out_len, left, _ = conv_geometry(length, k, strides, dilation_rate, padding)
    if out_len <= 0 or left > _INT_MAX:
        return None
    return batch, out_len, filters, left


def conv1d_fast_args(x, kernel, bias, strides, padding, dilation_rate, groups, out):
    """(y buffer, left padding) for a kernel-ready conv1d call, else None (full checks)."""
    dt = ready_dtype(x)
    if dt is None or (bias is not None and not ready(bias, dt, 1)):
        return None
    g = _ready_conv(x, kernel, dt, strides, padding, dilation_rate, groups)
    if g is None:
        return None
    batch, out_len, filters, left = g
    if bias is not None and bias.shape[0] != filters:
        return None
    if out is None:
        return np.empty((batch, out_len, filters), dt), left
    if not ready_out(out, (batch, out_len, filters), dt) or any_overlap((out,),
                                                                        (x, kernel, bias)):
        return None
    return out, left


def conv1d_backward_fast_args(dy, x, kernel, strides, padding, dilation_rate, groups, need_dx,
                              out):
    """((dx or None, dkernel, dbias), left padding) for a kernel-ready conv1d_backward call,
    else None (full checks)."""
    dt = ready_dtype(x)
    if dt is None or (need_dx is not True and need_dx is not False):
        return None
    g = _ready_conv(x, kernel, dt, strides, padding, dilation_rate, groups)
    if g is None:
        return None
    batch, out_len, filters, left = g
    if not ready(dy, dt, 3) or dy.shape != (batch, out_len, filters):
        return None
    shapes = (x.shape, kernel.shape, (filters,))
    if out is None:
        bufs = (np.empty(x.shape, dt) if need_dx else None, np.empty(kernel.shape, dt),
                np.empty(filters, dt))
        return bufs, left
    if (type(out) is not tuple and type(out) is not list) or len(out) != 3:
        return None
    bufs = []
    for i in range(3):
        buf = out[i]
        if i == 0 and not need_dx:
            buf = None
        elif buf is None:
            buf = np.empty(shapes[i], dt)
        elif not ready_out(buf, shapes[i], dt):
            return None
        bufs.append(buf)
    bufs = tuple(bufs)
    if any_overlap(bufs, (dy, x, kernel)):
        return None
    return bufs, left
