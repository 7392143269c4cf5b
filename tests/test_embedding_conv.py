"""The fused Embedding -> Conv1D step of a Sequential model (fastconv.layers._embedding_conv).

It must be the computation of the two layers one after the other: outputs, kernel, bias and
table gradients and trained weights are held against a float64 NumPy reference written from the
definitions (embed, pad, convolve tap by tap), for float32 and float64, every padding, strides,
dilation, fused and unfused activations, frozen layers; the compiled op against its NumPy twin;
bitwise equal for 1, 2 and 3 threads; and the model falls back to the separate layers where the
step does not apply (mask_zero, few repeated ids), with the same errors.
"""
import numpy as np
import pytest

import fastconv
from fastconv import activations
from fastconv._reference import embedding_conv as twin
from fastconv.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D
from fastconv.layers._embedding_conv import EmbeddingConv, worth_it
from fastconv.models import Sequential
from fastconv.ops import embedding_conv as ec
from fastconv.ops._checks import conv_geometry

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.fixture
def floatx():
    old = fastconv.backend.floatx()
    yield fastconv.backend.set_floatx
    fastconv.backend.set_floatx(old)


def _reference(ids, table, kernel, bias, act, strides, padding, dilation, dy):
    """Float64 forward output and (dtable, dkernel, dbias) for output gradient dy."""
    x = table.astype(np.float64)[ids]
    w = kernel.astype(np.float64)
    k = w.shape[0]
    steps, left, _ = conv_geometry(ids.shape[1], k, strides, dilation, padding)
    z = np.zeros((ids.shape[0], steps, w.shape[2])) + bias.astype(np.float64)
    taps = []
    for j in range(k):
        t = np.arange(steps) * strides + j * dilation - left
        ok = (t >= 0) & (t < ids.shape[1])
        taps.append((j, ok, t[ok]))
        z[:, ok] += x[:, t[ok]] @ w[j]
    fn = activations.get(act)
    y = np.asarray(fn(z))
    eps = 1e-6   # activation derivative by central differences of the float64 function
    dz = dy * (np.asarray(fn(z + eps)) - np.asarray(fn(z - eps))) / (2 * eps) \
        if act not in ("linear", "relu") else (dy if act == "linear" else dy * (z > 0))
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for j, ok, t in taps:
        dw[j] = np.einsum("bsc,bsf->cf", x[:, t], dz[:, ok])
        dx[:, t] += dz[:, ok] @ w[j].T
    dtable = np.zeros(table.shape)
    np.add.at(dtable, ids.reshape(-1), dx.reshape(-1, x.shape[2]))
    return y, dtable, dw, dz.sum(axis=(0, 1))


def _model(vocab, width, filters, k, act, strides, padding, dilation, use_bias=True, head=True):
    layers = [Embedding(vocab, width),
              Conv1D(filters, k, activation=act, strides=strides, padding=padding,
                     dilation_rate=dilation, use_bias=use_bias)]
    if head:
        layers += [GlobalMaxPooling1D(), Dense(1, activation="sigmoid")]
    return Sequential(layers)


def _run_pair(model, ids, dy, fused):
    """(conv output, dtable, dkernel, dbias, fused?) of the model's first two layers."""
    emb, conv = model.layers[0], model.layers[1]
    if fused:
        pair = EmbeddingConv(emb, conv)
        y = pair.forward(ids, training=True)
        assert y is not None, "the fused step did not run"
        y = np.array(y)
        pair.backward(dy)
    else:
        h = emb.forward(ids, training=True)
        y = np.array(conv.forward(h, training=True))
        emb.backward(conv.backward(dy, need_dx=True))
    grads = [np.array(g) for g in emb.gradients + conv.gradients]
    return y, grads


CASES = [  # filters, k, strides, padding, dilation, act
    (8, 3, 1, "valid", 1, "relu"),
    (8, 3, 1, "same", 1, "relu"),
    (5, 4, 1, "same", 1, "linear"),
    (8, 3, 1, "causal", 2, "tanh"),
    (6, 5, 2, "valid", 1, "sigmoid"),
    (7, 3, 3, "same", 1, "relu"),
    (8, 2, 1, "valid", 3, "elu"),        # an activation outside the compiled kernels
    (33, 7, 1, "valid", 1, "relu"),      # filters not a multiple of the 16-column blocks
    (16, 9, 1, "same", 1, "relu"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("filters,k,strides,padding,dilation,act", CASES)
def test_matches_float64_reference(dtype, filters, k, strides, padding, dilation, act, rng,
                                   floatx):
    floatx(np.dtype(dtype).name)
    vocab, width = 40, 12
    ids = rng.integers(0, 9, size=(5, 23))      # few distinct ids: the fused step applies
    model = _model(vocab, width, filters, k, act, strides, padding, dilation)
    model.build((None, 23))
    emb, conv = model.layers[0], model.layers[1]
    conv.bias.assign(rng.normal(size=filters).astype(dtype))
    steps = conv.compute_output_shape((5, 23, width))[1]
    dy = rng.normal(size=(5, steps, filters)).astype(dtype)
    y, grads = _run_pair(model, ids, dy, fused=True)
    ry, rtable, rkernel, rbias = _reference(ids, emb.embeddings.numpy(), conv.kernel.numpy(),
                                            conv.bias.numpy(), act, strides, padding, dilation,
                                            dy.astype(np.float64))
    tol = TOL[dtype]
    if act not in ("linear", "relu"):
        tol = dict(rtol=max(tol["rtol"], 1e-6), atol=max(tol["atol"], 1e-7))  # finite differences
    np.testing.assert_allclose(y, ry, **TOL[dtype])
    for got, want in zip(grads, (rtable, rkernel, rbias)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **tol)


def test_same_as_separate_layers_and_used(rng):
    ids = rng.integers(0, 30, size=(8, 40))
    model = _model(500, 16, 8, 5, "relu", 1, "valid", 1)
    model.build((None, 40))
    dy = rng.normal(size=(8, 36, 8)).astype(np.float32)
    y0, g0 = _run_pair(model, ids, dy, fused=False)
    y1, g1 = _run_pair(model, ids, dy, fused=True)
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and a model's training step takes the fused path for such ids
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    model.train_on_batch(ids, np.ones(8, np.float32))
    assert model._fused_at == 0


def _twin_buffers(ids, kernel, count):
    k, e, f = kernel.shape
    rp = ec.padded_rows(count)
    dt = kernel.dtype
    return dict(u=np.full((rp, e), np.nan, dt), wcat=np.empty((1, e, k * f), dt),
                p=np.empty((rp, k * f), dt))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("k,strides,dilation,padding", [(3, 1, 1, "valid"), (5, 2, 1, "same"),
                                                        (4, 1, 3, "causal"), (70, 1, 1, "same")])
@pytest.mark.parametrize("bias_relu", [False, True])
def test_op_matches_its_numpy_twin(dtype, index, k, strides, dilation, padding, bias_relu, rng):
    """ops.embedding_conv against fastconv._reference.embedding_conv, every buffer it fills,
    with and without the bias and relu the forward can apply. k=70 exceeds the 64 taps the
    forward gathers per pass."""
    batch, length, vocab, e, f = 3, 80, 50, 10, 20
    ids = rng.integers(0, vocab, size=(batch, length)).astype(index)
    table = rng.normal(size=(vocab, e)).astype(dtype)
    kernel = rng.normal(size=(k, e, f)).astype(dtype)
    bias = rng.normal(size=f).astype(dtype) if bias_relu else None
    steps, left, _ = conv_geometry(length, k, strides, dilation, padding)
    results = []
    for impl in (ec, twin):
        pos = np.full(vocab, -1, np.int32)
        rows = np.zeros(ids.size, np.int32)
        count = impl.number_rows(ids, pos, rows)
        b = _twin_buffers(ids, kernel, count)
        out = np.full((batch, steps, f), np.nan, dtype)
        impl.forward(ids, table, kernel, pos, rows, count, b["u"], b["wcat"], b["p"], out,
                     strides, dilation, left, bias=bias, relu=bias_relu)
        dz = np.random.default_rng(1).normal(size=out.shape).astype(dtype)
        rp = b["u"].shape[0]
        q = np.full((rp, k * f), np.nan, dtype)
        dbias = np.full(f, np.nan, dtype)
        dkernel = np.full(kernel.shape, np.nan, dtype)
        g = np.full((rp, e), np.nan, dtype)
        impl.backward(dz, ids, kernel, pos, count, b["u"], q, dbias, strides, dilation, left,
                      dkernel=dkernel, dwcat=np.empty((1, e, k * f), dtype), g=g,
                      wt=np.empty((1, k * f, e), dtype))
        results.append((pos.copy(), rows[:count].copy(), out, b["u"], q, dbias, dkernel,
                        g[:count]))
    (pos0, rows0, *got), (pos1, rows1, *want) = results
    np.testing.assert_array_equal(pos0, pos1)
    np.testing.assert_array_equal(rows0, rows1)
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                   atol=1e-4 if dtype == np.float32 else 1e-11)


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def test_bitwise_equal_across_thread_counts(rng, num_threads, monkeypatch):
    from fastconv.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "_MIN_MACS_PER_THREAD", 1)   # every call uses every thread
    ids = rng.integers(0, 300, size=(16, 60))
    dy = rng.normal(size=(16, 60, 33)).astype(np.float32)
    ref = None
    for n in (1, 2, 3):
        num_threads(n)
        model = _model(400, 24, 33, 5, "relu", 1, "same", 1)
        model.build((None, 60))
        fastconv.utils.set_random_seed(0)
        model.set_weights([w.astype(np.float32) for w in
                           [np.random.default_rng(5).normal(size=s) for s in
                            [(400, 24), (5, 24, 33), (33,), (33, 1), (1,)]]])
        y, grads = _run_pair(model, ids, dy, fused=True)
        got = [_bits(y)] + [_bits(g) for g in grads]
        if ref is None:
            ref = got
        else:
            for a, b in zip(got, ref):
                np.testing.assert_array_equal(a, b)


def _never_fused(monkeypatch):
    monkeypatch.setattr(EmbeddingConv, "pairs", staticmethod(lambda emb, conv: False))


@pytest.mark.parametrize("frozen", ["embedding", "conv"])
def test_frozen_layer(frozen, rng, monkeypatch, floatx):
    floatx("float64")     # training steps amplify float32 rounding differences (see below)
    ids = rng.integers(0, 20, size=(6, 30))
    y = (rng.random(6) > 0.5).astype(np.float32)
    models = []
    for fused in (True, False):
        if not fused:
            _never_fused(monkeypatch)
        fastconv.utils.set_random_seed(2)
        model = _model(100, 8, 6, 3, "relu", 1, "valid", 1)
        model.layers[0 if frozen == "embedding" else 1].trainable = False
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
        model.build((None, 30))
        model.train_on_batch(ids, y)
        model.train_on_batch(ids[::-1], y)
        assert (model.__dict__.get("_fused_at") == 0) == fused
        models.append(model)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert models[0].layers[0 if frozen == "embedding" else 1].gradients == []


def test_training_matches_separate_layers(rng, monkeypatch, floatx):
    """A few epochs of fit with rmsprop (row-compact table updates) end at the same weights.

    In float64: RMSprop divides each gradient by its own running magnitude, so a rounding
    difference in a near-zero float32 gradient can move a weight by up to the learning rate, and
    the two summation orders then drift apart by ~1e-3 over 18 steps for some seeds; in float64
    the same differences stay at the 1e-12 level."""
    floatx("float64")
    x = rng.integers(0, 60, size=(96, 30))
    y = (x[:, :5].sum(axis=1) > 150).astype(np.float32)
    weights = []
    for fused in (True, False):
        if not fused:
            _never_fused(monkeypatch)
        fastconv.utils.set_random_seed(4)
        model = Sequential([Embedding(200, 16), Conv1D(8, 5, activation="relu"), MaxPooling1D(2),
                            Conv1D(8, 3, activation="relu"), GlobalMaxPooling1D(),
                            Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        assert (model.__dict__.get("_fused_at") == 0) == fused
        weights.append(model.get_weights())
        pred = model.predict(x, verbose=0)
        weights[-1].append(pred)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_few_repeats_fall_back(rng):
    ids = np.arange(64).reshape(4, 16)         # every id distinct: the direct conv is cheaper
    model = _model(64, 32, 16, 3, "relu", 1, "valid", 1)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    model.train_on_batch(ids, np.ones(4, np.float32))
    assert model._fused_at is None


# Measured with bench/pair_crossover.py (layers/pair = step time of the separate layers over
# that of the pair path, 2 threads): (E, F, K, batch, T, R, pair pays). worth_it must agree.
MEASURED = [
    (128, 32, 7, 32, 100, 2000, True),      # the seed model: crossover at R = 2,200-2,450
    (128, 32, 7, 32, 100, 2600, False),
    (128, 32, 7, 512, 100, 20000, True),    # batch 512: 1.1-4.2x up to R = 24,542
    (128, 32, 7, 512, 100, 45173, False),   # 0.73x
    (64, 128, 3, 32, 100, 1800, True),      # crossover at R = 2,000-2,500
    (64, 128, 3, 32, 100, 2700, False),
    (32, 256, 5, 32, 100, 800, True),       # crossover at R = 1,000-1,200
    (32, 256, 5, 32, 100, 1600, False),     # 0.71-0.75x
    (32, 128, 9, 32, 100, 959, True),       # 1.16x
    (32, 128, 9, 32, 100, 1596, False),     # 0.66x
    (128, 8, 3, 32, 100, 3174, True),       # 1.23x with nearly every id distinct
    (256, 24, 5, 32, 100, 3175, True),      # 1.69x with nearly every id distinct
    (64, 16, 5, 8, 50, 400, False),         # 0.81x: every id distinct in a small batch
]


@pytest.mark.parametrize("e,f,k,batch,length,count,pays", MEASURED)
def test_worth_it_agrees_with_the_measured_crossovers(e, f, k, batch, length, count, pays):
    steps = batch * (length - k + 1)
    assert worth_it(count, batch * length, steps, e, k, f, 4) is pays


def test_worth_it_declines_impossible_counts():
    assert not worth_it(101, 100, 90, 64, 3, 16, 4)     # more rows than ids
    assert not worth_it(10, 100, 90, 0, 3, 16, 4)       # no embedding width
    assert not worth_it(10, 100, 90, 64, 3, 0, 4)       # no filters


def test_mask_zero_is_never_fused(rng):
    model = Sequential([Embedding(30, 8, mask_zero=True), Conv1D(4, 3)])
    model.build((None, 20))
    assert not EmbeddingConv.pairs(model.layers[0], model.layers[1])


def test_bad_id_same_error_as_separate_layers(rng):
    ids = rng.integers(0, 5, size=(3, 20))
    ids[1, 7] = 99
    model = _model(50, 8, 4, 3, "relu", 1, "valid", 1)
    model.build((None, 20))
    with pytest.raises(ValueError) as fused:
        model.predict(ids, verbose=0)
    plain = Embedding(50, 8)
    plain.build()
    with pytest.raises(ValueError) as separate:
        plain(ids)
    assert str(fused.value) == str(separate.value)
    assert "ids[1, 7]=99" in str(fused.value)


def test_ids_are_checked_against_the_table_rows(rng):
    """`input_dim` changed after build no longer matches the table: ids are still checked
    against the table's rows, with the separate layers' error."""
    ids = rng.integers(0, 50, size=(3, 20))
    ids[2, 4] = 5000
    model = _model(50, 8, 4, 3, "relu", 1, "valid", 1)
    model.build((None, 20))
    model.layers[0].input_dim = 6000
    with pytest.raises(ValueError, match=r"\[0, 50\).*Received: ids\[2, 4\]=5000$"):
        model.predict(ids, verbose=0)


def test_bad_id_in_training_leaves_the_model_as_it_was(rng):
    """fit on a batch with an id outside the table raises the Embedding's error and changes no
    weight; training on good ids afterwards gives the bytes of a model that never saw it."""
    good = rng.integers(0, 50, size=(8, 20))
    bad = good.copy()
    bad[5, 3] = 50
    y = rng.integers(0, 2, size=(8, 1)).astype(np.float32)
    models = []
    for seen_bad in (True, False):
        fastconv.utils.set_random_seed(3)
        model = _model(50, 8, 4, 3, "relu", 1, "valid", 1)
        model.compile("rmsprop", "mse")
        model.fit(good, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        if seen_bad:
            before = [w.copy() for w in model.get_weights()]
            with pytest.raises(ValueError, match=r"\[0, 50\).*Received: ids\[5, 3\]=50$"):
                model.fit(bad, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
            for b, w in zip(before, model.get_weights()):
                np.testing.assert_array_equal(b, w)
        model.fit(good[::-1], y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        models.append(model)
    assert EmbeddingConv.pairs(models[0].layers[0], models[0].layers[1])
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_batches_agree(rng):
    """Inference numbering is kept apart from training: predict between steps changes nothing."""
    ids = rng.integers(0, 40, size=(50, 25))
    model = _model(100, 8, 6, 3, "relu", 1, "same", 1)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    model.train_on_batch(ids[:10], np.ones(10, np.float32))
    grads = [np.array(g) for g in model.layers[0].gradients]
    whole = model.predict(ids, batch_size=50, verbose=0)
    pieces = model.predict(ids, batch_size=7, verbose=0)
    np.testing.assert_allclose(whole, pieces, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.layers[0].gradients[0], grads[0])


def test_embedding_subclass_runs_its_own_forward(rng):
    class Doubled(Embedding):
        def forward(self, x, training=False):
            return 2 * super().forward(x, training)

    model = Sequential([Doubled(30, 8), Conv1D(4, 3)])
    model.build((None, 20))
    ids = rng.integers(0, 5, size=(3, 20))
    emb, conv = model.layers
    want = conv(emb(ids))
    np.testing.assert_allclose(model.predict(ids, verbose=0), want, rtol=1e-6, atol=1e-6)
    assert not EmbeddingConv.pairs(emb, conv)


def test_next_layer_gradient_in_any_layout(rng, monkeypatch, floatx):
    """A channels_first conv after the pair hands back a strided gradient."""
    floatx("float64")
    from fastconv.layers import Flatten

    x = rng.integers(0, 12, size=(16, 30))
    y = (x[:, 0] > 5).astype(np.float32)
    weights = []
    for fused in (True, False):
        if not fused:
            _never_fused(monkeypatch)
        fastconv.utils.set_random_seed(3)
        model = Sequential([Embedding(40, 8), Conv1D(6, 3, activation="relu"),
                            Conv1D(5, 3, data_format="channels_first"), Flatten(),
                            Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert (model.__dict__.get("_fused_at") == 0) == fused
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_scratch_buffers_one_set_per_batch_shape(rng):
    model = _model(1000, 8, 6, 3, "relu", 1, "valid", 1)
    model.build((None, 30))
    for top in (5, 20, 50, 120, 400, 900):          # ever more distinct rows per batch
        model.predict(rng.integers(0, top, size=(64, 30)), batch_size=32, verbose=0)
    conv = model.layers[1]
    keys = [k for k in conv._buffers if k[0].startswith("pair_")]
    assert len(keys) == len({k[0] for k in keys})   # one buffer per name, whatever the counts


def test_gradient_survives_a_training_forward(rng):
    """As with the separate layers, the table gradient stays until the next backward, even
    when a training-mode forward (or one that raised) runs in between."""
    model = _model(100, 8, 6, 3, "relu", 1, "same", 1)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    ids = rng.integers(0, 10, size=(8, 25))
    model.train_on_batch(ids, np.ones(8, np.float32))
    emb = model.layers[0]
    before = np.array(emb.gradients[0])
    for _ in range(3):
        model(rng.integers(0, 10, size=(8, 25)), training=True)
        bad = rng.integers(0, 10, size=(8, 25))
        bad[0, 0] = 1000
        with pytest.raises(ValueError):
            model(bad, training=True)
    np.testing.assert_array_equal(emb.gradients[0], before)
    assert np.any(before != 0)


@pytest.mark.parametrize("k,kwargs", [(2, dict(strides=2**31)), (2, dict(dilation_rate=2**31)),
                                      (3, dict(dilation_rate=2**31 - 1, padding="causal")),
                                      (2, dict(dilation_rate=2**30, padding="causal"))])
def test_huge_geometry_as_separate_layers(k, kwargs):
    """Found by fuzzing (fuzz/fuzz_embedding_conv.py): geometry beyond the kernels' C ints
    reached the fused step and raised OverflowError; such calls now give what the separate
    layers give (the same error, or the same result)."""
    model = Sequential([Embedding(5, 8), Conv1D(3, k, **kwargs)])
    ids = np.zeros((2, 9), dtype=np.int64)
    emb, conv = model.layers[0], model.layers[1]
    try:
        want = conv(emb(ids))
    except ValueError as err:
        with pytest.raises(ValueError) as fused:
            model.predict(ids, verbose=0)
        assert str(fused.value) == str(err)
    else:
        np.testing.assert_allclose(model.predict(ids, verbose=0), want, rtol=1e-6, atol=1e-6)
