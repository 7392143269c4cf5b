"""`pad_sequences`: variable-length sequences to one 2-D array, with Keras semantics."""
import operator

import numpy as np

__all__ = ["pad_sequences"]


def _maxlen_arg(maxlen):
    if maxlen is None:
        return None
    if isinstance(maxlen, bool):
        raise TypeError("Invalid type for argument `maxlen`. Expected None or a non-negative int. "
                        f"Received: maxlen={maxlen!r} of type bool")
    try:
        value = operator.index(maxlen)
    except TypeError:
        raise TypeError("Invalid type for argument `maxlen`. Expected None or a non-negative int. "
                        f"Received: maxlen={maxlen!r} of type {type(maxlen).__name__}") from None
    if value < 0:
        raise ValueError("Invalid value for argument `maxlen`. "
                         "Expected None or a non-negative int. "
                         f"Received: maxlen={maxlen!r}")
    return value


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pads sequences to the same length.

    Every sequence is cut to `maxlen` items (dropping from the start with
    `truncating="pre"`, from the end with `"post"`) and then filled with `value`
    up to `maxlen` (on the left with `padding="pre"`, on the right with `"post"`).
    Items may themselves be arrays; all non-empty sequences must then share the
    item shape of the first non-empty one.

    Args:
        sequences: a list (or other sized iterable) of sequences, each a list or
            array of items.
        maxlen: None or a non-negative int. Length of the output rows; None means
            the length of the longest sequence.
        dtype: NumPy dtype of the output. Use `object` for variable-length strings.
        padding: `"pre"` or `"post"`: where the fill values go.
        truncating: `"pre"` or `"post"`: which end of a too-long sequence is dropped.
        value: fill value (a float, int or, with a string / object dtype, a string).

    Input shape:
        `n` sequences of lengths `L_i`, items of shape `item_shape` (`()` for scalars).

    Output shape:
        `(n, maxlen) + item_shape`, where `maxlen = max(L_i)` when not given.

    Returns:
        A NumPy array of `dtype`.

    Raises:
        ValueError: `sequences` has no length or holds a non-iterable; unknown
            `padding` / `truncating`; item shapes differ; a string `value` with a
            non-string dtype; negative `maxlen`; `maxlen=None` with no sequences.
        TypeError: `maxlen` is not None or an int.

    Example:
    >>> from fastconv.utils import pad_sequences
    >>> pad_sequences([[1, 2, 3], [4, 5], [6]], maxlen=2)
    array([[2, 3],
           [4, 5],
           [0, 6]], dtype=int32)
    >>> pad_sequences([[1, 2, 3], [4]], padding="post", truncating="post", maxlen=2, value=-1)
    array([[ 1,  2],
           [ 4, -1]], dtype=int32)
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    maxlen = _maxlen_arg(maxlen)
    # Checked up front (Keras checks them lazily, per non-empty sequence) with Keras' texts.
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')

    num_samples = len(sequences)
    lengths = []
    sample_shape = ()
    found_first = False
    for x in sequences:
        try:
            n = len(x)
        except TypeError as err:
            raise ValueError("`sequences` must be a list of iterables. "
                             f"Found non-iterable: {x}") from err
        lengths.append(n)
        if not found_first and n:
            sample_shape = np.asarray(x).shape[1:]
            found_first = True

    if maxlen is None:
        if not lengths:
            raise ValueError("Invalid value for argument `sequences`. Expected at least one "
                             "sequence when `maxlen` is None. Received: sequences=[]")
        maxlen = int(max(lengths))

    is_str_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str_dtype:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")

    out = np.full((num_samples, maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for idx, seq in enumerate(sequences):
        if not lengths[idx]:
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {idx} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            out[idx, :len(kept)] = kept
        else:
            out[idx, maxlen - len(kept):] = kept
    return out
