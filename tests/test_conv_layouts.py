"""Conv1D input layouts and output buffers (TESTING.md C1-C3): every layout gives a result bitwise
equal to the C-contiguous copy's; inputs are never modified; `out=` buffers are checked."""
import numpy as np
import pytest

from fastconv import ops


def _variants(a, tmp_path, tag):
    """(name, array) pairs holding the same values as `a` in other memory layouts."""
    out = [("c", np.ascontiguousarray(a)), ("fortran", np.asfortranarray(a))]
    rev = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    out.append(("negative-strides", rev))
    gaps = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, a.dtype)
    gaps[..., ::2] = a
    out.append(("nan-gaps", gaps[..., ::2]))
    ro = a.copy()
    ro.flags.writeable = False
    out.append(("read-only", ro))
    for offset in (0, 3):
        path = tmp_path / f"{tag}-{offset}.bin"
        with open(path, "wb") as fh:
            fh.write(b"\0" * offset + np.ascontiguousarray(a).tobytes())
        mm = np.memmap(path, dtype=a.dtype, mode="r", offset=offset, shape=a.shape)
        out.append((f"memmap-offset{offset}", mm))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_layouts_bitwise_equal_and_inputs_unmodified(dtype, rng, tmp_path):
    x = rng.standard_normal((3, 23, 6)).astype(dtype)
    w = rng.standard_normal((3, 3, 10)).astype(dtype)
    b = rng.standard_normal(10).astype(dtype)
    args = (2, "same", 1, 2)
    y0 = ops.conv1d(x, w, b, *args, activation="relu")
    dy = rng.standard_normal(y0.shape).astype(dtype)
    g0 = ops.conv1d_backward(dy, x, w, *args)
    base = dict(x=x, w=w, b=b, dy=dy)
    for arg in base:
        for name, v in _variants(base[arg], tmp_path, arg):
            kw = dict(base)
            kw[arg] = v
            before = np.array(v, copy=True)
            y = ops.conv1d(kw["x"], kw["w"], kw["b"], *args, activation="relu")
            g = ops.conv1d_backward(kw["dy"], kw["x"], kw["w"], *args)
            assert np.array_equal(y, y0), (arg, name)
            for a, r in zip(g, g0):
                assert np.array_equal(a, r), (arg, name)
            assert np.array_equal(np.asarray(v), before, equal_nan=True), (arg, name)
            if name == "nan-gaps":
                assert np.isnan(v.base).sum() == v.size


def test_size_zero_batch_layouts(rng):
    x = np.asfortranarray(np.zeros((0, 9, 4)))
    w = rng.standard_normal((3, 4, 5))
    assert ops.conv1d(x, w).shape == (0, 7, 5)
    dx, dw, db = ops.conv1d_backward(np.zeros((0, 7, 5)), x, w)
    assert dx.shape == (0, 9, 4) and np.array_equal(dw, np.zeros_like(w))
    assert np.array_equal(db, np.zeros(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_out_buffers_fully_written(dtype, rng):
    x = rng.standard_normal((2, 17, 5)).astype(dtype)
    w = rng.standard_normal((4, 5, 19)).astype(dtype)
    b = rng.standard_normal(19).astype(dtype)
    want = ops.conv1d(x, w, b, padding="causal")
    y = np.full(want.shape, np.nan, dtype)
    assert ops.conv1d(x, w, b, padding="causal", out=y) is y
    assert np.array_equal(y, want)
    dy = rng.standard_normal(want.shape).astype(dtype)
    bufs = (np.full(x.shape, np.nan, dtype), np.full(w.shape, np.nan, dtype),
            np.full(b.shape, np.nan, dtype))
    got = ops.conv1d_backward(dy, x, w, padding="causal", out=bufs)
    assert all(a is r for a, r in zip(got, bufs))
    for a, r in zip(got, ops.conv1d_backward(dy, x, w, padding="causal")):
        assert not np.isnan(a).any() and np.array_equal(a, r)
    # stride > kernel: some dx rows receive no tap and must still be written (zeros)
    dx = np.full((1, 10, 2), np.nan, dtype)
    ops.conv1d_backward(np.ones((1, 3, 1), dtype), np.ones((1, 10, 2), dtype),
                        np.ones((1, 2, 1), dtype), strides=4, out=(dx, None, None))
    assert np.array_equal(dx[0, :, 0], np.array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0], dtype))
    # partial out tuple and need_dx=False
    dxo, dwo, dbo = ops.conv1d_backward(dy, x, w, padding="causal", need_dx=False,
                                        out=(None, np.empty_like(w), None))
    assert dxo is None and np.array_equal(dwo, got[1]) and np.array_equal(dbo, got[2])


def test_out_buffer_errors(rng):
    x = rng.standard_normal((2, 10, 3))
    w = rng.standard_normal((3, 3, 4))
    dy = rng.standard_normal((2, 8, 4))
    cases = [
        (dict(out=np.empty((2, 8, 5))), ValueError,
         r"`out`.*shape \(2, 8, 4\).*Received: out\.shape=\(2, 8, 5\)"),
        (dict(out=np.empty((2, 8, 4), np.float32)), ValueError,
         r"`out`.*dtype float64.*out\.dtype=float32"),
        (dict(out=np.empty((2, 4, 8)).transpose(0, 2, 1)), ValueError, r"`out`.*C-contiguous"),
        (dict(out=[[0.0]]), TypeError, r"`out`.*Expected a NumPy array.*list"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            ops.conv1d(x, w, **kw)
    ro = np.empty((2, 8, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"`out`.*writeable"):
        ops.conv1d(x, w, out=ro)
    # aliasing an input raises instead of reading overwritten values
    flat = rng.standard_normal(64)
    with pytest.raises(ValueError, match=r"`out`.*overlap.*`x`"):
        ops.conv1d(flat[:60].reshape(2, 10, 3), w, out=flat.reshape(2, 8, 4))
    flat = rng.standard_normal(64)
    with pytest.raises(ValueError, match=r"`out\[0\]`.*overlap.*`dy`"):
        ops.conv1d_backward(flat.reshape(dy.shape), x, w, out=(flat[:60].reshape(x.shape), None,
                                                                None))
    with pytest.raises(ValueError, match=r"`out\[2\]`.*overlap.*`out\[1\]`"):
        dw = np.empty((3, 3, 4))
        ops.conv1d_backward(dy, x, w, out=(None, dw, dw[0, 0]))
    with pytest.raises(ValueError, match=r"`out\[1\]`.*shape \(3, 3, 4\)"):
        ops.conv1d_backward(dy, x, w, out=(None, np.empty((3, 4, 3)), None))
    with pytest.raises(TypeError, match=r"`out`.*tuple of 3"):
        ops.conv1d_backward(dy, x, w, out=np.empty(3))
