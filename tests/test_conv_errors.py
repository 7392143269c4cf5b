"""Conv1D argument validation (TESTING.md D1): each bad call raises the right exception type with
a message naming the argument and the received value, in ops and in the NumPy twin alike."""
import numpy as np
import pytest

from fastconv import _reference, ops

X = np.zeros((2, 10, 4), np.float32)
W = np.zeros((3, 4, 6), np.float32)
B = np.zeros(6, np.float32)
DY = np.zeros((2, 8, 6), np.float32)

# (id, kwargs overriding conv1d(x=X, kernel=W, bias=B), exception, message regex)
FORWARD_CASES = [
    ("x-int", dict(x=X.astype(np.int32)), TypeError, r"`x`.*float32 or float64.*x\.dtype=int32"),
    ("x-float16", dict(x=X.astype(np.float16)), TypeError, r"`x`.*x\.dtype=float16"),
    ("x-complex", dict(x=X.astype(np.complex64)), TypeError, r"`x`.*x\.dtype=complex64"),
    ("x-bool", dict(x=X.astype(bool)), TypeError, r"`x`.*x\.dtype=bool"),
    ("x-object", dict(x=X.astype(object)), TypeError, r"`x`.*x\.dtype=object"),
    ("x-scalar", dict(x=3.0), TypeError, r"`x`.*Received: x of type float"),
    ("x-2d", dict(x=X[0]), ValueError, r"`x`.*3-D.*x\.shape=\(10, 4\)"),
    ("x-4d", dict(x=X[None]), ValueError, r"`x`.*3-D.*x\.shape=\(1, 2, 10, 4\)"),
    ("kernel-int", dict(kernel=W.astype(np.int64)), TypeError, r"`kernel`.*kernel\.dtype=int64"),
    ("kernel-2d", dict(kernel=W[0]), ValueError, r"`kernel`.*3-D.*kernel\.shape=\(4, 6\)"),
    ("kernel-k0", dict(kernel=W[:0]), ValueError, r"`kernel`.*> 0.*kernel\.shape=\(0, 4, 6\)"),
    ("kernel-f0", dict(kernel=W[:, :, :0], bias=None), ValueError,
     r"`kernel`.*kernel\.shape=\(3, 4, 0\)"),
    ("channel-mismatch", dict(kernel=W[:, :3]), ValueError,
     r"`kernel`.*kernel\.shape\[1\] == x\.shape\[2\] // groups == 4.*kernel\.shape=\(3, 3, 6\)"),
    ("bias-length", dict(bias=B[:5]), ValueError, r"`bias`.*\(6,\).*bias\.shape=\(5,\)"),
    ("bias-2d", dict(bias=B[None]), ValueError, r"`bias`.*1-D.*bias\.shape=\(1, 6\)"),
    ("bias-int", dict(bias=B.astype(np.int8)), TypeError, r"`bias`.*bias\.dtype=int8"),
    ("strides-0", dict(strides=0), ValueError, r"`strides`.*Received: strides=0"),
    ("strides-neg", dict(strides=-2), ValueError, r"`strides`.*Received: strides=-2"),
    ("strides-float", dict(strides=3.7), TypeError, r"`strides`.*strides=3\.7"),
    ("strides-str", dict(strides="3"), TypeError, r"`strides`.*strides='3'"),
    ("strides-none", dict(strides=None), TypeError, r"`strides`.*strides=None"),
    ("strides-bool", dict(strides=True), TypeError, r"`strides`.*strides=True"),
    ("strides-tuple2", dict(strides=(1, 1)), ValueError, r"`strides`.*strides=\(1, 1\)"),
    ("dilation-0", dict(dilation_rate=0), ValueError, r"`dilation_rate`.*dilation_rate=0"),
    ("dilation-float", dict(dilation_rate=1.0), TypeError, r"`dilation_rate`.*dilation_rate=1\.0"),
    ("groups-0", dict(groups=0), ValueError, r"`groups`.*groups=0"),
    ("groups-bool", dict(groups=True), TypeError, r"`groups`.*groups=True"),
    ("groups-channels", dict(groups=3, kernel=W[:, :1, :]), ValueError,
     r"input channels must be evenly divisible by the number of groups.*groups=3.*4 channels"),
    ("groups-filters", dict(groups=4, kernel=W[:, :1, :]), ValueError,
     r"filters must be evenly divisible by the number of groups.*groups=4, filters=6"),
    ("padding-unknown", dict(padding="full"), ValueError, r"`padding`.*padding='full'"),
    ("padding-none", dict(padding=None), TypeError, r"`padding`.*padding=None"),
    ("stride-and-dilation", dict(strides=2, dilation_rate=2), ValueError,
     r"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
     r"Received: strides=\(2,\) and dilation_rate=\(2,\)"),
    ("too-short", dict(x=X[:, :2]), ValueError,
     r"Computed output size would be zero or negative. Received `inputs shape=\(2, 2, 4\)`, "
     r"`kernel shape=\(3, 4, 6\)`, `dilation_rate=\[1\]`, `strides=\(1,\)`, `padding=valid`"),
    ("too-short-dilated", dict(dilation_rate=5), ValueError,
     r"Computed output size would be zero or negative.*`dilation_rate=\[5\]`"),
    ("empty-steps-same", dict(x=X[:, :0], padding="same"), ValueError,
     r"Computed output size would be zero or negative.*inputs shape=\(2, 0, 4\)"),
    ("causal-pad-beyond-int", dict(dilation_rate=2**31 - 1, padding="causal"), ValueError,
     r"`dilation_rate`.*padding=\"causal\".*at most 2147483647 padding steps.*asks for "
     r"4294967294\. Received: dilation_rate=2147483647, kernel_size=3"),
    ("activation-unknown", dict(activation="softmax"), ValueError,
     r"`activation`.*activation='softmax'"),
    ("activation-type", dict(activation=len), TypeError, r"`activation`.*builtin_function"),
]


def _call(fn, kw):
    kw = dict(kw)
    x, kernel, bias = kw.pop("x", X), kw.pop("kernel", W), kw.pop("bias", B)
    return fn(x, kernel, bias, **kw)


@pytest.mark.parametrize("fn", [ops.conv1d, _reference.conv1d], ids=["ops", "reference"])
@pytest.mark.parametrize("kw,exc,msg", [c[1:] for c in FORWARD_CASES],
                         ids=[c[0] for c in FORWARD_CASES])
def test_conv1d_bad_arguments(fn, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        _call(fn, kw)


BACKWARD_CASES = [
    ("dy-int", dict(dy=DY.astype(np.int16)), TypeError, r"`dy`.*dy\.dtype=int16"),
    ("dy-2d", dict(dy=DY[0]), ValueError, r"`dy`.*3-D.*dy\.shape=\(8, 6\)"),
    ("dy-steps", dict(dy=DY[:, :7]), ValueError,
     r"`dy`.*\(2, 8, 6\).*Received: dy\.shape=\(2, 7, 6\)"),
    ("dy-filters", dict(dy=DY[:, :, :5]), ValueError, r"`dy`.*dy\.shape=\(2, 8, 5\)"),
    ("dy-batch", dict(dy=DY[:1]), ValueError, r"`dy`.*dy\.shape=\(1, 8, 6\)"),
    ("x-float16", dict(x=X.astype(np.float16)), TypeError, r"`x`.*x\.dtype=float16"),
    ("kernel-mismatch", dict(kernel=W[:, :2]), ValueError, r"`kernel`.*kernel\.shape=\(3, 2, 6\)"),
    ("strides-0", dict(strides=0), ValueError, r"`strides`.*strides=0"),
    ("padding-bad", dict(padding="circular"), ValueError, r"`padding`.*padding='circular'"),
    ("too-short", dict(x=X[:, :1], dy=DY[:, :0]), ValueError,
     r"Computed output size would be zero or negative"),
    ("need_dx-int", dict(need_dx=1), TypeError, r"`need_dx`.*need_dx=1"),
    ("out-list-len", dict(out=(None, None)), TypeError, r"`out`.*tuple of 3"),
    ("out-dtype", dict(out=(np.empty(X.shape), None, None)), ValueError,
     r"`out\[0\]`.*dtype float32.*out\[0\]\.dtype=float64"),
]


@pytest.mark.parametrize("fn", [ops.conv1d_backward, _reference.conv1d_backward],
                         ids=["ops", "reference"])
@pytest.mark.parametrize("kw,exc,msg", [c[1:] for c in BACKWARD_CASES],
                         ids=[c[0] for c in BACKWARD_CASES])
def test_conv1d_backward_bad_arguments(fn, kw, exc, msg):
    kw = dict(kw)
    dy, x, kernel = kw.pop("dy", DY), kw.pop("x", X), kw.pop("kernel", W)
    with pytest.raises(exc, match=msg):
        fn(dy, x, kernel, **kw)


def test_error_cases_count():
    assert len(FORWARD_CASES) >= 30 and len(BACKWARD_CASES) >= 12
