"""An Embedding and the Conv1D right after it, run as one step by a Sequential model.

The conv then works on the distinct table rows of the batch instead of on B*T embedded rows
(fastconv.ops.embedding_conv explains the algebra). Same layers, same weights, same results up
to float rounding; the embedded (B, T, E) array is never formed. Used only where it is the same
computation as the two layers one after the other: compiled backend, no mask, a plain
`Conv1D` with groups=1 and channels_last, one float dtype, 2-D ids; and only when the batch
repeats enough ids for it to pay (`worth_it`). Otherwise the model runs the layers separately.
"""
import threading

import numpy as np

from .. import _backend
from ..ops import embedding_conv as ec
from ..ops._checks import conv_geometry, index_range
from ..ops.activation import bias_activation
from .convolutional import Conv1D
from .embedding import Embedding, RowGradient


_INT_MAX = 2**31 - 1   # the kernels take strides, dilation and padding as C ints


def worth_it(count, positions, steps, width, taps, filters, itemsize):
    """Distinct-row conv beats the direct one, by a cost model relative to the direct conv:

        R / (B*S)  +  (2 / E) * (1 + P / 1e6)  <=  0.8 * F_block / F

    - R / (B*S): the three matrix products shrink from B*S rows to R;
    - (2 / E) * (1 + P / 1e6): the tap sums, which read and write B*S*K rows of F at random
      places of the (R, K*F) product P (bytes); the larger P, the more of them miss the cache;
    - F_block / F: the direct conv computes whole blocks of 16 float32 (8 float64) filters,
      so narrow F wastes part of its work (the products here have K*F columns).

    Fitted to `bench/pair_crossover.py` over nine geometries (E 12-300, F 8-256, K 1-9, batch
    32 and 512), it puts the crossover within the measured range or on the cautious side.
    """
    if count > positions or width <= 0 or filters <= 0 or steps <= 0:
        return False
    block = 16 if itemsize == 4 else 8
    padded = -(-filters // block) * block
    product_mb = count * taps * filters * itemsize / 1e6
    return count / steps + 2.0 / width * (1.0 + product_mb) <= 0.8 * padded / filters


class EmbeddingConv:
    """Forward and backward of `emb` then `conv` for a Sequential model (see module doc)."""

    def __init__(self, emb, conv):
        self.emb, self.conv = emb, conv
        self._local = threading.local()   # row numbering per Python thread
        self._trained = None               # state of the last training forward

    @staticmethod
    def pairs(emb, conv):
        return (type(emb) is Embedding and type(conv) is Conv1D
                and _backend.name == "compiled" and not emb.mask_zero and emb.built
                and conv.built and conv.groups == 1 and conv.data_format == "channels_last"
                and conv.kernel._value.dtype == emb.embeddings._value.dtype
                and conv.kernel.shape[1] == emb.output_dim)

    def _slot(self, training):
        """Row-numbering arrays [pos, rows, count] for this step.

        Inference has its own slot per Python thread. Training alternates between two, and never
        renumbers the one behind the embedding's current gradient: that gradient (and its
        `pos`, which the optimizer reads) stays valid until the next fused backward replaces it,
        as the separate layers' gradient does, whatever runs in between (a predict() in a
        callback, a forward that raised)."""
        slots = self._local.__dict__.setdefault("slots", {})
        keys = ("train0", "train1") if training else ("infer",)
        live = self.emb.__dict__.get("_row_grad")
        for key in keys:
            slot = slots.get(key)
            # one entry per table row: number_rows range-checks the ids against it
            rows = self.emb.embeddings.shape[0]
            if slot is None or slot[0].shape[0] != rows:
                slot = slots[key] = [np.full(rows, -1, dtype=np.int32),
                                     np.empty(0, dtype=np.int32), 0]
            if live is None or live.pos is not slot[0]:
                return slot
        raise AssertionError("both training slots in use")  # pragma: no cover

    def _numbering(self, ids, training):
        slot = self._slot(training)
        pos, rows, count = slot
        if rows.shape[0] < ids.size:
            pos[rows[:count]] = -1     # the slot's previous numbering
            slot[2] = count = 0
            rows = slot[1] = np.empty(ids.size, dtype=np.int32)
        # puts the previous numbering (count rows) back to -1 first
        count = ec.number_rows(ids, pos, rows, clear=count)
        slot[2] = max(count, 0)
        if count < 0:      # an id outside the table (pos is left all -1)
            index_range("ids", ids, pos.shape[0], "rows of `table`")
        return pos, rows, count

    def forward(self, x, training):
        """The conv layer's output for ids `x`, or None when the layers should run separately."""
        emb, conv = self.emb, self.conv
        ids = np.ascontiguousarray(emb._ids(x))
        if ids.ndim != 2 or ids.size == 0:
            return None
        kernel = conv.kernel.value
        k, e, f = kernel.shape
        batch, length = ids.shape
        if conv.input_spec is not None:
            conv.input_spec.check(conv.name, (batch, length, e))
        strides, dilation = conv.strides[0], conv.dilation_rate[0]
        steps, left, _ = conv_geometry(length, k, strides, dilation, conv.padding)
        if steps <= 0 or max(strides, dilation, left) > _INT_MAX:
            return None     # the separate layers give the error (or the result) for these
        pos, rows, count = self._numbering(ids, bool(training))
        if not worth_it(count, ids.size, batch * steps, e, k, f, kernel.itemsize):
            return None
        # read only now: until here the optimizer's last table update may still be running on
        # the background thread (the value property waits for it)
        table = emb.embeddings.value
        # scratch sized for the most distinct rows this batch shape can have (so one set per
        # batch shape, as every layer buffer), used up to the padded count
        rp, most = ec.padded_rows(count), ec.padded_rows(ids.size)
        dt = table.dtype
        u = conv._buffer("pair_u", (most, e), dt)[:rp]
        wcat = conv._buffer("pair_wcat", (1, e, k * f), dt)
        p = conv._buffer("pair_p", (most, k * f), dt)[:rp]
        y = conv._buffer("y", (batch, steps, f), dt)
        bias = conv.bias.value if conv.bias is not None else None
        act = conv._act.kernel_name
        ec.forward(ids, table, kernel, pos, rows, count, u, wcat, p, y, strides, dilation, left,
                   bias=bias, relu=act == "relu")
        if act not in ("linear", "relu"):
            bias_activation(y, None, act, out=y)
        y, z = conv._act.finish(conv, y)
        if training:
            conv._cache = (None, y, z)
            self._trained = (ids, pos, rows, count, u, left)
        return y

    def backward(self, dy):
        """Kernel and bias gradients into the conv layer, the table's row-compact gradient into
        the embedding (each only if trainable)."""
        emb, conv = self.emb, self.conv
        ids, pos, rows, count, u, left = self._trained
        _, y, z = conv._cache
        kernel = conv.kernel.value
        k, e, f = kernel.shape
        dt = kernel.dtype
        dz = conv._act.backward(conv, np.ascontiguousarray(dy, dtype=dt), y, z)
        rp, most = u.shape[0], ec.padded_rows(ids.size)
        # q takes p's buffer: p is dead once the forward has summed it, and one buffer fewer
        # keeps the step's data smaller in cache
        q = conv._buffer("pair_p", (most, k * f), dt)[:rp]
        train_conv = bool(conv.trainable_weights)
        train_table = bool(emb.trainable_weights)
        gb = conv._grad(conv.bias) if (train_conv and conv.bias is not None) else \
            conv._buffer("db_unused", (f,), dt)
        kw = {}
        if train_conv:
            kw.update(dkernel=conv._grad(conv.kernel),
                      dwcat=conv._buffer("pair_dwcat", (1, e, k * f), dt))
        if train_table:
            kw.update(g=emb._buffer("pair_g", (most, e), dt)[:rp],
                      wt=conv._buffer("pair_wt", (1, k * f, e), dt))
        ec.backward(dz, ids, kernel, pos, count, u, q, gb, conv.strides[0],
                    conv.dilation_rate[0], left, **kw)
        if train_table:
            emb._set_row_gradient(RowGradient(emb, emb.embeddings, count, rows, kw["g"], pos))
