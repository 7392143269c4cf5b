"""NumPy twins of fastconv.ops.embedding: fancy indexing and np.add.at in float64."""
import numpy as np

from ..ops._checks import (check_out, float_array, index_array, index_range, no_overlap,
                           positive_int)

__all__ = ["embedding", "embedding_backward"]


def embedding(ids, table, *, out=None):
    ids = index_array("ids", ids)
    table = float_array("table", table, ndim=2)
    index_range("ids", ids, table.shape[0], "rows of `table`")
    y = check_out("out", out, (*ids.shape, table.shape[1]), table.dtype)
    no_overlap("out", y, ids, table)
    y[...] = table[ids]
    return y


def embedding_backward(dy, ids, input_dim, *, out=None):
    ids = index_array("ids", ids)
    v = positive_int("input_dim", input_dim)
    dy = float_array("dy", dy)
    if dy.ndim != ids.ndim + 1 or dy.shape[:-1] != ids.shape:
        raise ValueError(
            f"Invalid shape for argument `dy`. Expected ids.shape + (E,) with "
            f"ids.shape={ids.shape}. Received: dy.shape={dy.shape}")
    index_range("ids", ids, v, "`input_dim`")
    e = dy.shape[-1]
    dtable = np.zeros((v, e))
    np.add.at(dtable, ids.reshape(-1), dy.reshape(ids.size, e).astype(np.float64))
    buf = check_out("out", out, (v, e), dy.dtype)
    no_overlap("out", buf, dy, ids)
    buf[...] = dtable
    return buf
