"""Embedding lookup and its scatter-add backward.

ids must be int32 or int64 (any other dtype is a TypeError; layers cast before calling) and lie
in [0, V); an index outside is a ValueError naming its position and value, raised before any
kernel runs (never an out-of-bounds read, never a NaN row).
"""

from .._ext import _embedding
from ._checks import (float_array, index_array, index_range, kernel_array, kernel_threads,
                      no_overlap, output, positive_int)

__all__ = ["embedding", "embedding_backward"]


def embedding(ids, table, *, out=None):
    """Gather rows of `table`: out[..., :] = table[ids[...], :].

    Args:
        ids: int32/int64 array of any shape, values in [0, V).
        table: float32/float64 array (V, E).
        out: optional C-contiguous buffer of shape (*ids.shape, E) and table's dtype.

    Input shape: ids (...), table (V, E).
    Output shape: (*ids.shape, E).

    Returns:
        The gathered rows.

    Raises:
        TypeError: ids not int32/int64, table not float32/float64.
        ValueError: table not 2-D, an index outside [0, V), bad `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import embedding
    >>> embedding(np.array([[2, 0]]), np.arange(6.).reshape(3, 2))
    array([[[4., 5.],
            [0., 1.]]])
    """
    ids = index_array("ids", ids)
    table = float_array("table", table, ndim=2)
    index_range("ids", ids, table.shape[0], "rows of `table`")
    y = output("out", out, (*ids.shape, table.shape[1]), table.dtype)
    no_overlap("out", y, ids, table)
    if y.size:
        _embedding.gather(kernel_array(ids, ids.dtype).reshape(-1),
                          kernel_array(table, table.dtype),
                          y.reshape(-1, table.shape[1]),
                          # random table rows: latency-bound, so a second thread pays early
                          # (32x100x128 lookup: 0.52 -> 0.27 ms on 2 threads)
                          kernel_threads(y.size))
    return y


def embedding_backward(dy, ids, input_dim, *, out=None):
    """Gradient of `embedding` with respect to the table: a deterministic scatter-add.

    dtable[v] = sum of dy[n] over the positions n (in C order) where ids[n] == v; rows no id
    points to are zero. Repeated ids add up; the sum order is fixed, so the result is
    bit-identical for any thread count.

    Args:
        dy: float32/float64 gradient of the lookup, shape (*ids.shape, E).
        ids: the int32/int64 indices of the forward call, values in [0, input_dim).
        input_dim: V, the number of table rows, a positive int.
        out: optional C-contiguous (V, E) buffer of dy's dtype.

    Input shape: dy (*ids.shape, E), ids (...).
    Output shape: (input_dim, E).

    Returns:
        dtable.

    Raises:
        TypeError: wrong dtypes, non-int input_dim.
        ValueError: input_dim < 1, dy shape not (*ids.shape, E), an index outside
            [0, input_dim), bad `out`.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import embedding_backward
    >>> embedding_backward(np.ones((3, 2)), np.array([1, 1, 0]), 3)
    array([[1., 1.],
           [2., 2.],
           [0., 0.]])
    """
    ids = index_array("ids", ids)
    v = positive_int("input_dim", input_dim)
    dy = float_array("dy", dy)
    if dy.ndim != ids.ndim + 1 or dy.shape[:-1] != ids.shape:
        raise ValueError(
            f"Invalid shape for argument `dy`. Expected ids.shape + (E,) with "
            f"ids.shape={ids.shape}. Received: dy.shape={dy.shape}")
    index_range("ids", ids, v, "`input_dim`")
    e = dy.shape[-1]
    dtable = output("out", out, (v, e), dy.dtype)
    no_overlap("out", dtable, dy, ids)
    if dtable.size:
        _embedding.scatter_add(kernel_array(ids, ids.dtype).reshape(-1),
                               kernel_array(dy, dy.dtype).reshape(-1, e), dtable,
                               kernel_threads(dtable.size + dy.size))
    return dtable


def _embedding_backward_rows(dy, ids, pos, rows, grad):
    """Internal training fast path: `embedding_backward` stored row-compact.

    Writes, for the R distinct ids in first-appearance order, rows[j] = the table row and
    grad[j] = exactly the dense `embedding_backward(dy, ids, V)[rows[j]]` (same additions in the
    same order, any thread count); returns R. `pos` (V,) int32 must be -1 everywhere on entry
    and is left with pos[rows[j]] = j: the caller resets it (`pos[rows[:R]] = -1`) when done.

    For the layers' use only: `ids` must come from a checked `embedding` call (in range), `pos`,
    `rows` (>= ids.size,) int32 and `grad` (>= ids.size, E) C-contiguous buffers it owns.
    """
    ids = ids.reshape(-1)
    e = grad.shape[1]
    dy = kernel_array(dy, grad.dtype).reshape(-1, e)
    if dy.shape[0] != ids.shape[0]:
        raise ValueError(f"Invalid shape for argument `dy`. Expected ({ids.shape[0]}, {e}) "
                         f"rows. Received: dy.shape={dy.shape}")
    count = _embedding.number_rows(ids, pos, rows, 0)
    _embedding.scatter_rows(ids, dy, pos, grad, count, kernel_threads(count * e + dy.size))
    return count
