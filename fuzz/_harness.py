"""Shared atheris harness: random shapes, dtypes, layouts and hyper-parameters for every
public entry point (TESTING.md H1).

Allowed outcomes of one call are a result or ValueError / TypeError / IndexError; anything else
(another exception, a sanitizer report, a crash or hang) is a finding. Results are also checked:
right dtype, inputs unchanged, and for float64 kernels the float64 NumPy twin agrees.

Run one target: `python fuzz/fuzz_conv1d.py -atheris_runs=100000` (libFuzzer flags accepted);
`make fuzz` runs all of them on a sanitizer build.
"""
import os
import sys
import tempfile

import atheris

import numpy as np

with atheris.instrument_imports(include=["fastconv"]):
    import fastconv
    from fastconv import _reference as ref
    from fastconv import layers as L
    from fastconv import ops

ALLOWED = (ValueError, TypeError, IndexError)
DTYPES = [np.float32, np.float64, np.float64, np.float32, np.float16, np.int32, np.int64, bool,
          np.complex64, object]
INTS = [1, 1, 2, 3, 0, -1, 4, 5, 7, 2**31 - 1, 2**31, 2**62, 2**63, -2**63, True, None, 3.7, "3",
        (2,), (1, 1), np.int64(2), np.uint8(3)]
PADDINGS = ["valid", "same", "causal", "VALID", "full", None, 3]
ACTS = [None, "linear", "relu", "sigmoid", "tanh", "softmax", 1]


class Draw:
    """Typed draws from the fuzzer's bytes."""

    def __init__(self, data):
        self.fdp = atheris.FuzzedDataProvider(data)

    def int(self, lo, hi):
        return self.fdp.ConsumeIntInRange(lo, hi)

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def param(self, common=(1, 2, 3)):
        """Mostly small valid ints, sometimes hostile values."""
        if self.int(0, 3):
            return self.pick(list(common))
        return self.pick(INTS)

    def size(self, common=(1, 2, 4)):
        """A layer size (units, filters, vocabulary): small, or a wrong type - never huge, as a
        huge size is a legitimate (if failing) allocation rather than bad input."""
        if self.int(0, 3):
            return self.pick(list(common))
        return self.pick([0, -1, True, None, 3.7, "3", (2,), np.int64(2)])

    def shape(self, ndim, hi=6):
        return tuple(self.int(0, hi) for _ in range(ndim))

    def array(self, shape, dtype=None, ints=None):
        """An array of `shape` in a random dtype and layout (C, Fortran, strided, reversed,
        read-only), or occasionally not an array at all."""
        kind = self.int(0, 40)
        if kind == 0:
            return None
        if kind == 1:
            return self.pick([3.0, "x", [1.0, 2.0], {"a": 1}])
        if kind == 2:  # wrong rank
            shape = shape[:-1] if shape and self.int(0, 1) else shape + (1,)
        dtype = dtype if dtype is not None else self.pick(DTYPES)
        n = int(np.prod(shape)) if shape else 1
        if ints is not None:
            raw = [self.int(ints[0], ints[1]) for _ in range(min(n, 64))]
            values = np.resize(np.array(raw or [0], dtype=np.int64), n)
        else:
            raw = self.fdp.ConsumeFloatListInRange(min(n, 64), -4.0, 4.0)
            values = np.resize(np.array(raw or [0.0]), n)
            if n and self.int(0, 10) == 0:
                values[self.int(0, n - 1)] = self.pick([np.nan, np.inf, -np.inf, 1e300])
        with np.errstate(all="ignore"):
            a = values.reshape(shape).astype(dtype)
        layout = self.int(0, 6)
        if layout == 1 and a.ndim:
            a = np.asfortranarray(a)
        elif layout == 2 and a.ndim:
            big = np.repeat(a, 2, axis=-1).copy()
            big[..., 1::2] = np.nan if big.dtype.kind == "f" else 0
            a = big[..., ::2]
        elif layout == 3 and a.ndim:
            a = a[..., ::-1].copy()[..., ::-1]
        if self.int(0, 5) == 0 and isinstance(a, np.ndarray):
            a.flags.writeable = False
        return a


def _snapshot(arrays):
    return [a.copy() if isinstance(a, np.ndarray) else None for a in arrays]


def _unchanged(arrays, before):
    for a, b in zip(arrays, before):
        if b is not None and not np.array_equal(a, b, equal_nan=True):
            raise AssertionError("an input array was modified")


def _check_float64_twin(name, args, kwargs, got):
    """float64 inputs and no error: the NumPy twin must agree (loose tolerance, small sizes)."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if not arrays or any(a.dtype != np.float64 for a in arrays if a.dtype.kind != "i"):
        return
    if sum(a.size for a in arrays) > 5000:
        return
    if not all(np.isfinite(a).all() for a in arrays if a.dtype.kind == "f"):
        # Known difference, reported: a NaN/inf weight against a padded (absent) input step
        # gives NaN in the twin (0 * inf) but is skipped by the kernels.
        return
    want = getattr(ref, name)(*args, **kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        if g is None or w is None:
            continue
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-9, atol=1e-9, equal_nan=True):
            raise AssertionError(f"{name}: kernel and float64 reference disagree")


def call_op(name, args, kwargs, twin=True):
    arrays = [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.ndarray)]
    before = _snapshot(arrays)
    try:
        got = getattr(ops, name)(*args, **kwargs)
    except ALLOWED:
        return
    if not name.endswith("_update"):
        _unchanged(arrays, before)
    if twin:
        _check_float64_twin(name, args, kwargs, got)


# ---- one function per target ----------------------------------------------------------------

def _conv_args(d):
    b, t, c, k, f = d.int(0, 3), d.int(0, 12), d.int(1, 4), d.int(1, 4), d.int(1, 4)
    groups = d.param((1, 1, c))
    cg = c // groups if isinstance(groups, int) and not isinstance(groups, bool) and groups > 0 \
        and c % groups == 0 else c
    x = d.array((b, t, c))
    kernel = d.array((k, cg, f))
    geo = dict(strides=d.param((1, 1, 2)), padding=d.pick(PADDINGS),
               dilation_rate=d.param((1, 1, 2)), groups=groups)
    return b, x, kernel, f, geo


def conv1d(d):
    b, x, kernel, f, geo = _conv_args(d)
    bias = d.array((f,)) if d.int(0, 1) else None
    call_op("conv1d", (x, kernel, bias), dict(geo, activation=d.pick(ACTS)))


def conv1d_backward(d):
    b, x, kernel, f, geo = _conv_args(d)
    s = d.int(0, 12)
    dy = d.array((b, s, f))
    # often the right dy shape, so the kernels run
    if d.int(0, 2) and isinstance(x, np.ndarray) and isinstance(kernel, np.ndarray):
        try:
            y = ops.conv1d(x, kernel, None, **geo)
            dy = d.array(y.shape)
        except ALLOWED:
            pass
    call_op("conv1d_backward", (dy, x, kernel), dict(geo, need_dx=d.pick([True, False, 1])))


def _pool(d, name, backward):
    x = d.array((d.int(0, 3), d.int(0, 12), d.int(0, 4)))
    kw = dict(pool_size=d.param((1, 2, 3)), strides=d.pick([None, 1, 2, 3, 0, 2**31, True]),
              padding=d.pick(PADDINGS))
    if not backward:
        return call_op(name, (x,), kw)
    dy = d.array((1, 1, 1))
    if d.int(0, 2) and isinstance(x, np.ndarray):
        try:
            dy = d.array(getattr(ops, name)(x, **kw).shape)
        except ALLOWED:
            pass
    call_op(name + "_backward", (dy, x), kw)


def max_pool1d(d):
    _pool(d, "max_pool1d", False)


def max_pool1d_backward(d):
    _pool(d, "max_pool1d", True)


def average_pool1d(d):
    _pool(d, "average_pool1d", False)


def average_pool1d_backward(d):
    _pool(d, "average_pool1d", True)


def _global(d, name, backward):
    b, t, c = d.int(0, 3), d.int(0, 8), d.int(0, 4)
    x = d.array((b, t, c))
    if not backward:
        return call_op(name, (x,), {})
    dy = d.array((b, c) if d.int(0, 3) else (b, c + 1))
    call_op(name + "_backward", (dy, x), {})


def global_max_pool1d(d):
    _global(d, "global_max_pool1d", False)


def global_max_pool1d_backward(d):
    _global(d, "global_max_pool1d", True)


def global_average_pool1d(d):
    _global(d, "global_average_pool1d", False)


def global_average_pool1d_backward(d):
    _global(d, "global_average_pool1d", True)


def embedding(d):
    v, e = d.int(0, 6), d.int(0, 4)
    ids = d.array(d.shape(d.int(0, 3)), dtype=d.pick([np.int64, np.int32, np.int16, np.uint32,
                                                      np.float64]), ints=(-3, 9))
    call_op("embedding", (ids, d.array((v, e))), {})


def embedding_backward(d):
    shape = d.shape(d.int(0, 3))
    ids = d.array(shape, dtype=d.pick([np.int64, np.int32, np.int8]), ints=(-2, 8))
    dy = d.array(shape + (d.int(0, 4),))
    input_dim = d.pick([1, 3, 6, 9, 0, -1, True, None, 2.0, 2**62])  # 2**31 rows: a real, huge table
    call_op("embedding_backward", (dy, ids, input_dim), {})


def bias_activation(d):
    shape = d.shape(d.int(0, 3))
    y = d.array(shape)
    bias = d.array(shape[-1:]) if d.int(0, 1) else None
    call_op("bias_activation", (y, bias, d.pick(ACTS)), {})


def activation_backward(d):
    shape = d.shape(d.int(0, 3))
    call_op("activation_backward", (d.array(shape), d.array(shape), d.pick(ACTS)), {})


def _state(d, n):
    a = d.array((n,))
    return a.copy() if isinstance(a, np.ndarray) and d.int(0, 3) else a


def sgd_update(d):
    n = d.int(0, 8)
    args = (_state(d, n), d.array((n,)), _state(d, n) if d.int(0, 1) else None,
            d.pick([0.1, 0.0, -1.0, float("nan"), True, "0.1", None]))
    call_op("sgd_update", args, dict(momentum=d.pick([0.0, 0.9, 1.5, -0.1]),
                                     nesterov=d.pick([False, True, "yes"])), twin=False)


def rmsprop_update(d):
    n = d.int(0, 8)
    args = (_state(d, n), d.array((n,)), _state(d, n), d.pick([0.01, 0.0, float("inf"), None]))
    call_op("rmsprop_update", args,
            dict(rho=d.pick([0.9, 0.0, 1.0, 1.5]), epsilon=d.pick([1e-7, 0.0, -1.0]),
                 momentum_buf=_state(d, n) if d.int(0, 1) else None,
                 momentum=d.pick([0.0, 0.5, 2.0]),
                 average_grad=_state(d, n) if d.int(0, 1) else None), twin=False)


def adam_update(d):
    n = d.int(0, 8)
    args = (_state(d, n), d.array((n,)), _state(d, n), _state(d, n), d.pick([0.001, 1.0, None]),
            d.pick([0.9, 0.0, 1.0]), d.pick([0.999, 0.5, 1.5]), d.pick([1e-7, 0.0, -1.0]),
            d.param((1, 2, 1000)))
    call_op("adam_update", args, dict(vhat=_state(d, n) if d.int(0, 1) else None), twin=False)


# ---- layer constructors (and a call on a small input) ---------------------------------------

def layers(d):
    kind = d.int(0, 7)
    try:
        if kind == 0:
            layer = L.Conv1D(d.size(), d.size((1, 2, 3)), strides=d.param(),
                             padding=d.pick(PADDINGS), dilation_rate=d.param((1, 1, 2)),
                             groups=d.param((1, 1, 2)), activation=d.pick(ACTS),
                             use_bias=d.pick([True, False]))
        elif kind == 1:
            layer = L.MaxPooling1D(d.param((1, 2, 3)), strides=d.pick([None, 1, 2, 0, 2**40]),
                                   padding=d.pick(PADDINGS))
        elif kind == 2:
            layer = L.AveragePooling1D(d.param((1, 2, 3)), padding=d.pick(PADDINGS))
        elif kind == 3:
            layer = L.Dense(d.size(), activation=d.pick(ACTS))
        elif kind == 4:
            layer = L.Embedding(d.size((3, 5, 9)), d.size())
        elif kind == 5:
            layer = L.Dropout(d.pick([0.0, 0.5, 1.0, -0.1, 1.5, None, "0.5"]))
        elif kind == 6:
            layer = L.GlobalMaxPooling1D(data_format=d.pick(["channels_last", "channels_first",
                                                             "x"]))
        else:
            layer = L.Flatten()
    except ALLOWED:
        return
    if kind == 4:
        x = d.array(d.shape(2, 5), dtype=np.int64, ints=(-1, 9))
    else:
        x = d.array(d.shape(3, 7), dtype=d.pick([np.float32, np.float64]))
    try:
        layer(x)
    except ALLOWED:
        return


# ---- the Embedding -> Conv1D step of a Sequential model --------------------------------------

def embedding_conv(d):
    """A model whose first two layers run as one step: predict and one training step on random
    ids (some out of range), hyper-parameters and dtypes; the output must equal the two layers
    called one after the other (float rounding aside)."""
    from fastconv.models import Sequential
    dtype = d.pick(["float32", "float64"])
    try:
        emb = L.Embedding(d.size((5, 8, 40)), d.size((16, 8, 3)), dtype=dtype)
        conv = L.Conv1D(d.size((1, 3, 17)), d.size((1, 2, 3, 7)), strides=d.param((1, 1, 2)),
                        padding=d.pick(PADDINGS), dilation_rate=d.param((1, 1, 2)),
                        activation=d.pick(ACTS), use_bias=d.pick([True, False]), dtype=dtype)
        model = Sequential([emb, conv, L.GlobalMaxPooling1D(dtype=dtype),
                            L.Dense(1, dtype=dtype)])
    except ALLOWED:
        return
    # mostly few distinct ids (the step runs only when they repeat), some out of range
    x = d.array((d.int(0, 6), d.int(0, 16)), dtype=np.int64,
                ints=d.pick([(0, 4), (0, 4), (0, 4), (-1, 45)]))
    try:
        y = model.predict(x, batch_size=d.pick([1, 2, 8]), verbose=0)
    except ALLOWED:
        return
    h = conv(emb(x))
    want = np.max(h, axis=1) @ model.layers[3].kernel.numpy() + model.layers[3].bias.numpy()
    tol = 1e-4 if dtype == "float32" else 1e-10
    if not np.allclose(y, want, rtol=tol, atol=tol, equal_nan=True):
        raise AssertionError("the fused Embedding -> Conv1D step differs from the two layers")
    model.compile(optimizer=d.pick(["rmsprop", "adam", "sgd"]), loss="mse")
    try:
        model.train_on_batch(x, np.zeros((x.shape[0], 1)))
    except ALLOWED:
        return


# ---- weight loader --------------------------------------------------------------------------

_WEIGHTS = {}


def _model():
    from fastconv.models import Sequential
    return Sequential([fastconv.Input((12, 2)), L.Conv1D(3, 3), L.MaxPooling1D(2), L.Flatten(),
                       L.Dense(1)])


def weights_file(d):
    if not _WEIGHTS:
        # One small file rewritten per input, in FASTCONV_FUZZ_TMP (make fuzz points it at a
        # tmpfs folder it removes afterwards), else the system's temporary folder.
        folder = tempfile.mkdtemp(prefix="fastconv-fuzz-", dir=os.environ.get("FASTCONV_FUZZ_TMP"))
        good = os.path.join(folder, "good.weights.h5")
        m = _model()
        m.save_weights(good)
        with open(good, "rb") as f:
            _WEIGHTS.update(blob=f.read(), folder=folder, model=m,
                            weights=[w.copy() for w in m.get_weights()])
    blob = bytearray(_WEIGHTS["blob"])
    for _ in range(d.int(0, 8)):  # byte flips
        if blob:
            i = d.int(0, len(blob) - 1)
            blob[i] = d.int(0, 255)
    if d.int(0, 3) == 0:  # cut
        blob = blob[:d.int(0, len(blob))]
    path = os.path.join(_WEIGHTS["folder"], "case.weights.h5")
    with open(path, "wb") as f:
        f.write(bytes(blob))
    m = _WEIGHTS["model"]
    try:
        m.load_weights(path)
    except (ValueError, TypeError, IndexError, OSError):
        for a, b in zip(m.get_weights(), _WEIGHTS["weights"]):  # failed load changes nothing
            if not np.array_equal(a, b):
                raise AssertionError("a failed load changed the model's weights")
        return
    m.set_weights(_WEIGHTS["weights"])


TARGETS = {name: globals()[name] for name in ops.__all__}
TARGETS["layers"] = layers
TARGETS["embedding_conv"] = embedding_conv
TARGETS["weights_file"] = weights_file


def main(name):
    target = TARGETS[name]
    fastconv.set_num_threads(1)
    np.seterr(all="ignore")

    def one_input(data):
        target(Draw(data))

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
