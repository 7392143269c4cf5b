"""Embedding: integer ids -> rows of a trainable table."""
import numpy as np

from .. import _backend, initializers
from ..ops.embedding import _embedding_backward_rows
from .base import Layer, shape_tuple

__all__ = ["Embedding"]


class RowGradient:
    """The embedding-table gradient of one step, stored for the rows the ids touched only.

    `values[j]` is the dense gradient's row `rows[j]` (bit for bit); every other row is zero.
    Optimizers that can update row-compact (plain RMSprop) take it as is; `dense()` gives the
    (V, E) array everything else uses. Valid until the layer's next `backward`.
    """

    __slots__ = ("count", "rows", "values", "pos", "shape", "_layer", "_var")

    def __init__(self, layer, var, count, rows, values, pos):
        self._layer, self._var = layer, var
        self.count, self.rows, self.values, self.pos = count, rows, values, pos
        self.shape = var.shape

    def dense(self):
        g = self._layer._grad(self._var)
        g.fill(0)
        g[self.rows[:self.count]] = self.values[:self.count]
        return g


def _positive_python_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value} "
            f"(of type {type(value).__name__}).")
    return value


class Embedding(Layer):
    """Turns ids in `[0, input_dim)` into dense vectors of size `output_dim`.

    Args:
        input_dim: vocabulary size V (a Python int > 0).
        output_dim: embedding width E (a Python int > 0).
        embeddings_initializer: default `"uniform"` = U(-0.05, 0.05).
        mask_zero: if True, id 0 is padding and masks downstream averaging.
        weights: optional `[table]` to build with.

    Input shape: `(batch, ...)` integers. Output shape: `(batch, ..., output_dim)`.

    Raises:
        ValueError: bad dimensions, or an id outside `[0, input_dim)` at call time.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Embedding(10, 4)(np.array([[1, 2, 3]])).shape
    (1, 3, 4)
    """

    _STEP_STATE = Layer._STEP_STATE + ("_ids_cache",)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None:
            import warnings

            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          UserWarning, stacklevel=2)
        for arg, val in (("embeddings_regularizer", embeddings_regularizer),
                         ("embeddings_constraint", embeddings_constraint),
                         ("lora_rank", lora_rank), ("quantization_config", quantization_config)):
            if val is not None:
                raise ValueError(f"Invalid value for argument `{arg}`. fastconv supports only "
                                 f"None. Received: {arg}={val!r}")
        super().__init__(**kwargs)
        self.input_dim = _positive_python_int("input_dim", input_dim)
        self.output_dim = _positive_python_int("output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self._row_pos = None
        self._row_grad = None
        self._own_row_grad = None    # the last gradient numbered in _row_pos
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings")
        self.built = True
        if input_shape is not None:
            self._build_shape = shape_tuple(input_shape)

    def compute_output_shape(self, input_shape):
        return shape_tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, x):
        return (x != 0) if self.mask_zero else None

    def _cast_input_for_call(self, x):
        return self._ids(x)

    @staticmethod
    def _ids(x):
        x = np.asarray(x)
        if x.dtype not in (np.int32, np.int64):
            x = x.astype(np.int32)
        return x

    def forward(self, x, training=False):
        ids = self._ids(x)
        if training:
            self._ids_cache = ids
        out = self._buffer("y", ids.shape + (self.output_dim,), self.embeddings.value.dtype)
        return _backend.ops.embedding(ids, self.embeddings.value, out=out)

    def backward(self, dy, need_dx=True):
        if not self.trainable_weights:
            return None
        ids = self._ids_cache
        if _backend.name != "compiled":
            g = self._grad(self.embeddings)
            _backend.ops.embedding_backward(dy, ids, self.input_dim, out=g)
            self._row_grad = None
            return None
        # Row-compact gradient: a step touches at most ids.size of the input_dim rows, so the
        # (input_dim, output_dim) array is never zeroed or written here (bench/e2e.py).
        pos = self._row_pos
        prev = self._own_row_grad
        if pos is None or pos.shape[0] != self.input_dim:
            pos = self._row_pos = np.full(self.input_dim, -1, dtype=np.int32)
        elif prev is not None:
            pos[prev.rows[:prev.count]] = -1
        self._row_grad = self._own_row_grad = None
        dtype = self.embeddings.value.dtype
        rows = self._buffer("grad_rows_idx", (ids.size,), np.int32)
        values = self._buffer("grad_rows", (ids.size, self.output_dim), dtype)
        count = _embedding_backward_rows(dy, ids, pos, rows, values)
        self._row_grad = self._own_row_grad = RowGradient(self, self.embeddings, count, rows,
                                                          values, pos)
        return None

    def __getstate__(self):
        # the last step's table gradient and its row numbering go together: a copy starts
        # with neither (a clean numbering array is made at its first backward)
        state = super().__getstate__()
        state["_row_pos"] = state["_row_grad"] = state["_own_row_grad"] = None
        return state

    def _set_row_gradient(self, grad):
        """Hand over a step's table gradient computed elsewhere (the Embedding -> Conv1D step
        of a Sequential model); it owns its own row numbering."""
        self._row_grad = grad

    @property
    def gradients(self):
        if not self.trainable_weights:
            return []
        rg = self.__dict__.get("_row_grad")
        return [rg.dense() if rg is not None else self._grad(self.embeddings)]

    def _optimizer_gradients(self):
        if not self.trainable_weights:
            return []
        rg = self.__dict__.get("_row_grad")
        return [rg if rg is not None else self._grad(self.embeddings)]

    def get_config(self):
        from .. import initializers as I

        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                       "embeddings_initializer": I.serialize(self.embeddings_initializer),
                       "embeddings_regularizer": None, "activity_regularizer": None,
                       "embeddings_constraint": None, "mask_zero": self.mask_zero,
                       "quantization_config": None})
        return config
