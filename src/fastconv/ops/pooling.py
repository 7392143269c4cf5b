"""Max, average and global pooling: argument checks, then the compiled kernels.

Layout channels_last: x (B, T, C) -> y (B, S, C). `strides=None` means `pool_size`.
Output length S: `valid` floor((T - P) / s) + 1 (must be >= 1), `same` ceil(T / s) with the
odd padding cell on the right (Keras rule).

NaN / inf policy (exact, tested):
    * max pools: `same` padding behaves as -inf and never wins. A window that holds a NaN gives
      NaN; its gradient goes to the FIRST NaN of the window. Otherwise the gradient goes to the
      FIRST maximum (ties: the earliest step). An all -inf window gives -inf and sends its
      gradient to its first real cell.
    * average pools: NaN/inf propagate through the sums as in IEEE arithmetic; padded cells are
      not counted in the divisor.
dtypes: float32/float64; mixed inputs are promoted as in NumPy; the output has that dtype.
"""

import numpy as np

from .._ext import _pool
from ._checks import (any_overlap, check_shape, float_array, kernel_array, kernel_threads,
                      no_overlap, output, pool_geometry, ready, ready_dtype, ready_out, same_dtype)

__all__ = [
    "max_pool1d", "max_pool1d_backward", "average_pool1d", "average_pool1d_backward",
    "global_max_pool1d", "global_max_pool1d_backward", "global_average_pool1d",
    "global_average_pool1d_backward",
]


def _why(x, pool_size, strides, padding):
    return f" for x.shape={x.shape}, pool_size={pool_size}, strides={strides}, padding={padding!r}"


def _ready_pool_x(x, pool_size, strides, padding):
    """(dtype, geometry) when x is kernel-ready, else None. Geometry errors raise here exactly
    as in the full checks, which would accept such an x unchanged and then raise them."""
    dt = ready_dtype(x)
    if dt is None or not ready(x, dt, 3):
        return None
    return dt, pool_geometry(x.shape, pool_size, strides, padding)


def _ready_result(out, shape, dt, *inputs):
    """The result buffer when `out` needs no check (None, or a kernel-ready buffer overlapping
    none of `inputs`), else None (the full checks then raise or accept)."""
    if out is None:
        return np.empty(shape, dt)
    if ready_out(out, shape, dt) and not any_overlap((out,), inputs):
        return out
    return None


def _forward(kernel, x, pool_size, strides, padding, out):
    fast = _ready_pool_x(x, pool_size, strides, padding)
    if fast is not None:
        dt, (p, s, _, out_len, left) = fast
        y = _ready_result(out, (x.shape[0], out_len, x.shape[2]), dt, x)
        if y is not None:
            if y.size:
                kernel(x, y, p, s, left, kernel_threads(x.size + y.size))
            return y
    x = float_array("x", x, ndim=3)
    p, s, padding, out_len, left = pool_geometry(x.shape, pool_size, strides, padding)
    y = output("out", out, (x.shape[0], out_len, x.shape[2]), x.dtype)
    no_overlap("out", y, x)
    if y.size:
        kernel(kernel_array(x, x.dtype), y, p, s, left, kernel_threads(x.size + y.size))
    return y


def _dy_pool(dy, x, pool_size, strides, padding):
    dy = float_array("dy", dy, ndim=3)
    x = float_array("x", x, ndim=3)
    p, s, padding, out_len, left = pool_geometry(x.shape, pool_size, strides, padding)
    check_shape("dy", dy, (x.shape[0], out_len, x.shape[2]), _why(x, p, s, padding))
    return dy, x, p, s, left


def max_pool1d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """1-D max pooling over the steps axis.

    Args:
        x: float32/float64 array (B, T, C).
        pool_size: window length P, a positive int (or a 1-tuple).
        strides: step between windows, a positive int; None means `pool_size`.
        padding: "valid" or "same" (padded cells act as -inf).
        out: optional C-contiguous (B, S, C) buffer of the result dtype.

    Input shape: (B, T, C).
    Output shape: (B, S, C); S = floor((T - P) / s) + 1 (valid) or ceil(T / s) (same).

    Returns:
        y, the window maxima (NaN when a window holds a NaN).

    Raises:
        TypeError: non-float arrays, non-int geometry.
        ValueError: wrong rank, pool_size/strides < 1, unknown padding, empty valid output,
            bad `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import max_pool1d
    >>> max_pool1d(np.array([[[1.], [3.], [2.], [5.], [4.]]]), 2).ravel()
    array([3., 5.])
    """
    return _forward(_pool.max_pool_forward, x, pool_size, strides, padding, out)


def max_pool1d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of `max_pool1d` with respect to x.

    Each window's gradient dy[b, s, c] goes to the first maximum of that window (to its first
    NaN when it holds one); overlapping windows (strides < pool_size) add up.

    Args:
        dy: gradient of the pooled output, (B, S, C).
        x: the forward input, (B, T, C).
        pool_size, strides, padding: as in `max_pool1d`.
        out: optional C-contiguous (B, T, C) buffer.

    Input shape: dy (B, S, C), x (B, T, C).
    Output shape: (B, T, C).

    Returns:
        dx.

    Raises:
        TypeError / ValueError: as `max_pool1d`, and dy of the wrong shape.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import max_pool1d_backward
    >>> x = np.array([[[1.], [3.], [2.], [5.]]])
    >>> max_pool1d_backward(np.ones((1, 2, 1)), x, 2).ravel()
    array([0., 1., 0., 1.])
    """
    # dy first: the full checks look at dy before the geometry, so a bad dy must go there
    fast = _ready_pool_x(x, pool_size, strides, padding) if ready(dy, ready_dtype(x), 3) else None
    if fast is not None:
        dt, (p, s, _, out_len, left) = fast
        if dy.shape == (x.shape[0], out_len, x.shape[2]):
            dx = _ready_result(out, x.shape, dt, dy, x)
            if dx is not None:
                if dx.size:
                    _pool.max_pool_backward(dy, x, dx, p, s, left,
                                            kernel_threads(2 * dx.size + dy.size))
                return dx
    dy, x, p, s, left = _dy_pool(dy, x, pool_size, strides, padding)
    dtype = same_dtype(dy, x)
    dx = output("out", out, x.shape, dtype)
    no_overlap("out", dx, dy, x)
    if dx.size:
        _pool.max_pool_backward(kernel_array(dy, dtype), kernel_array(x, dtype), dx, p, s, left,
                                kernel_threads(2 * dx.size + dy.size))
    return dx


def average_pool1d(x, pool_size=2, strides=None, padding="valid", *, out=None):
    """1-D average pooling over the steps axis; `same` padding cells are not counted.

    Args:
        x: float32/float64 array (B, T, C).
        pool_size: window length P, a positive int (or a 1-tuple).
        strides: step between windows, a positive int; None means `pool_size`.
        padding: "valid" or "same".
        out: optional C-contiguous (B, S, C) buffer of the result dtype.

    Input shape: (B, T, C).
    Output shape: (B, S, C); S = floor((T - P) / s) + 1 (valid) or ceil(T / s) (same).

    Returns:
        y, each window's sum divided by the number of real (unpadded) cells in it.

    Raises:
        TypeError / ValueError: as `max_pool1d`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import average_pool1d
    >>> average_pool1d(np.array([[[1.], [3.], [2.]]]), 2, padding="same").ravel()
    array([2., 2.])
    """
    return _forward(_pool.average_pool_forward, x, pool_size, strides, padding, out)


def average_pool1d_backward(dy, x, pool_size=2, strides=None, padding="valid", *, out=None):
    """Gradient of `average_pool1d` with respect to x (x supplies only the shape).

    Args:
        dy: gradient of the pooled output, (B, S, C).
        x: the forward input, (B, T, C).
        pool_size, strides, padding: as in `average_pool1d`.
        out: optional C-contiguous (B, T, C) buffer.

    Input shape: dy (B, S, C), x (B, T, C).
    Output shape: (B, T, C).

    Returns:
        dx: dx[b, t] = sum over windows s holding t of dy[b, s] / count(s).

    Raises:
        TypeError / ValueError: as `average_pool1d`, and dy of the wrong shape.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import average_pool1d_backward
    >>> average_pool1d_backward(np.ones((1, 2, 1)), np.zeros((1, 4, 1)), 2).ravel()
    array([0.5, 0.5, 0.5, 0.5])
    """
    dy, x, p, s, left = _dy_pool(dy, x, pool_size, strides, padding)
    dtype = same_dtype(dy, x)
    dx = output("out", out, x.shape, dtype)
    no_overlap("out", dx, dy, x)
    if dx.size:
        _pool.average_pool_backward(kernel_array(dy, dtype), dx, p, s, left,
                                    kernel_threads(dx.size + dy.size))
    return dx


def _global_x(x):
    x = float_array("x", x, ndim=3)
    if x.shape[1] == 0:
        raise ValueError("Invalid shape for argument `x`. Expected at least 1 step (axis 1). "
                         f"Received: x.shape={x.shape}")
    return x


def _ready_global(x):
    """x's dtype when x is a kernel-ready (B, T >= 1, C) array (the full checks would hand it to
    the kernel unchanged), else None."""
    dt = ready_dtype(x)
    if dt is None or not ready(x, dt, 3) or x.shape[1] == 0:
        return None
    return dt


def _global_forward(kernel, x, out):
    dt = _ready_global(x)
    if dt is not None:
        y = _ready_result(out, (x.shape[0], x.shape[2]), dt, x)
        if y is not None:
            if y.size:
                kernel(x, y, kernel_threads(x.size))
            return y
    x = _global_x(x)
    y = output("out", out, (x.shape[0], x.shape[2]), x.dtype)
    no_overlap("out", y, x)
    if y.size:
        kernel(kernel_array(x, x.dtype), y, kernel_threads(x.size))
    return y


def _global_dy(dy, x):
    dy = float_array("dy", dy, ndim=2)
    x = _global_x(x)
    check_shape("dy", dy, (x.shape[0], x.shape[2]), f" for x.shape={x.shape}")
    return dy, x


def global_max_pool1d(x, *, out=None):
    """Maximum over the steps axis: (B, T, C) -> (B, C). NaN rule as `max_pool1d`.

    Args:
        x: float32/float64 array (B, T, C) with T >= 1.
        out: optional C-contiguous (B, C) buffer.

    Input shape: (B, T, C).
    Output shape: (B, C).

    Returns:
        y.

    Raises:
        TypeError: non-float x. ValueError: wrong rank, T == 0, bad `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import global_max_pool1d
    >>> global_max_pool1d(np.array([[[1., 4.], [3., 2.]]]))
    array([[3., 4.]])
    """
    return _global_forward(_pool.global_max_pool_forward, x, out)


def global_max_pool1d_backward(dy, x, *, out=None):
    """Gradient of `global_max_pool1d`: dy[b, c] goes to the first maximum (first NaN) step.

    Args:
        dy: (B, C) gradient of the pooled output.
        x: the forward input (B, T, C).
        out: optional C-contiguous (B, T, C) buffer.

    Input shape: dy (B, C), x (B, T, C).
    Output shape: (B, T, C).

    Returns:
        dx.

    Raises:
        TypeError / ValueError: as `global_max_pool1d`, and dy of the wrong shape.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import global_max_pool1d_backward
    >>> global_max_pool1d_backward(np.ones((1, 1)), np.array([[[1.], [3.], [3.]]])).ravel()
    array([0., 1., 0.])
    """
    dt = _ready_global(x)
    if dt is not None and ready(dy, dt, 2) and dy.shape == (x.shape[0], x.shape[2]):
        dx = _ready_result(out, x.shape, dt, dy, x)
        if dx is not None:
            if dx.size:
                _pool.global_max_pool_backward(dy, x, dx, kernel_threads(2 * dx.size))
            return dx
    dy, x = _global_dy(dy, x)
    dtype = same_dtype(dy, x)
    dx = output("out", out, x.shape, dtype)
    no_overlap("out", dx, dy, x)
    if dx.size:
        _pool.global_max_pool_backward(kernel_array(dy, dtype), kernel_array(x, dtype), dx,
                                       kernel_threads(2 * dx.size))
    return dx


def global_average_pool1d(x, *, out=None):
    """Mean over the steps axis: (B, T, C) -> (B, C).

    Args:
        x: float32/float64 array (B, T, C) with T >= 1.
        out: optional C-contiguous (B, C) buffer.

    Input shape: (B, T, C).
    Output shape: (B, C).

    Returns:
        y, the sum over steps (ascending order) divided by T.

    Raises:
        TypeError: non-float x. ValueError: wrong rank, T == 0, bad `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import global_average_pool1d
    >>> global_average_pool1d(np.array([[[1., 4.], [3., 2.]]]))
    array([[2., 3.]])
    """
    return _global_forward(_pool.global_average_pool_forward, x, out)


def global_average_pool1d_backward(dy, x, *, out=None):
    """Gradient of `global_average_pool1d`: dx[b, t, c] = dy[b, c] / T.

    Args:
        dy: (B, C) gradient of the pooled output.
        x: the forward input (B, T, C); only its shape is used.
        out: optional C-contiguous (B, T, C) buffer.

    Input shape: dy (B, C), x (B, T, C).
    Output shape: (B, T, C).

    Returns:
        dx.

    Raises:
        TypeError / ValueError: as `global_average_pool1d`, and dy of the wrong shape.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import global_average_pool1d_backward
    >>> global_average_pool1d_backward(np.ones((1, 1)), np.zeros((1, 4, 1))).ravel()
    array([0.25, 0.25, 0.25, 0.25])
    """
    dy, x = _global_dy(dy, x)
    dtype = same_dtype(dy, x)
    dx = output("out", out, x.shape, dtype)
    no_overlap("out", dx, dy, x)
    if dx.size:
        _pool.global_average_pool_backward(kernel_array(dy, dtype), dx, kernel_threads(dx.size))
    return dx
