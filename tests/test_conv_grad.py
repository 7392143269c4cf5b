"""Conv1D gradients, float64: central finite differences (TESTING.md B1) and the adjoint identity
<f(u), g> = <u, f^T(g)> for the two linear maps x -> y and kernel -> y (B2)."""
import numpy as np
import pytest

from fastconv import ops


def _random_config(rng, max_batch=2, max_c=3, max_len=12):
    while True:
        groups = int(rng.integers(1, 4))
        c = groups * int(rng.integers(1, max_c // groups + 1)) if groups <= max_c else None
        if c is None:
            continue
        f = groups * int(rng.integers(1, 3))
        k = int(rng.integers(1, 6))
        s = int(rng.integers(1, 4))
        d = 1 if s > 1 else int(rng.integers(1, 4))
        pad = ("valid", "same", "causal")[int(rng.integers(3))]
        length = int(rng.integers(1, max_len + 1))
        if pad == "valid" and length < d * (k - 1) + 1:
            continue
        batch = int(rng.integers(1, max_batch + 1))
        return dict(batch=batch, length=length, c=c, f=f, k=k, strides=s, dilation=d,
                    padding=pad, groups=groups)


def _args(cfg):
    return (cfg["strides"], cfg["padding"], cfg["dilation"], cfg["groups"])


def test_finite_differences(rng):
    """|num - ana| <= 1e-7 + 1e-6 |ana| for dx, dkernel and dbias on 200 configs (<= 2x3x12)."""
    eps = 1e-6
    for _ in range(200):
        cfg = _random_config(rng)
        x = rng.standard_normal((cfg["batch"], cfg["length"], cfg["c"]))
        w = rng.standard_normal((cfg["k"], cfg["c"] // cfg["groups"], cfg["f"]))
        b = rng.standard_normal(cfg["f"])
        y = ops.conv1d(x, w, b, *_args(cfg))
        g = rng.standard_normal(y.shape)
        dx, dw, db = ops.conv1d_backward(g, x, w, *_args(cfg))

        def loss(xx, ww, bb):
            return float(np.sum(ops.conv1d(xx, ww, bb, *_args(cfg)) * g))

        for arr, ana in ((x, dx), (w, dw), (b, db)):
            num = np.empty_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                up = loss(x, w, b)
                arr[idx] = old - eps
                down = loss(x, w, b)
                arr[idx] = old
                num[idx] = (up - down) / (2 * eps)
            assert np.all(np.abs(num - ana) <= 1e-7 + 1e-6 * np.abs(ana)), cfg


def test_adjoint_identity(rng):
    """|<f(u), g> - <u, f^T(g)>| <= 1e-12 |u| |f^T(g)| for x -> y and kernel -> y, 1000 configs."""
    for _ in range(1000):
        cfg = _random_config(rng, max_batch=3, max_c=6, max_len=30)
        x = rng.standard_normal((cfg["batch"], cfg["length"], cfg["c"]))
        w = rng.standard_normal((cfg["k"], cfg["c"] // cfg["groups"], cfg["f"]))
        y = ops.conv1d(x, w, None, *_args(cfg))
        g = rng.standard_normal(y.shape)
        dx, dw, _ = ops.conv1d_backward(g, x, w, *_args(cfg))
        lhs = float(np.vdot(y, g))
        # x -> conv(x, w): adjoint is dx
        bound = 1e-12 * np.linalg.norm(x) * np.linalg.norm(dx)
        assert abs(lhs - float(np.vdot(x, dx))) <= bound, cfg
        # w -> conv(x, w): adjoint is dkernel
        bound = 1e-12 * np.linalg.norm(w) * np.linalg.norm(dw)
        assert abs(lhs - float(np.vdot(w, dw))) <= bound, cfg


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_is_reentrant(dtype, rng):
    """Two identical backward calls are bitwise equal (B5); 20 repeated forwards too (E2)."""
    x = rng.standard_normal((5, 101, 7)).astype(dtype)
    w = rng.standard_normal((5, 7, 19)).astype(dtype)
    dy = rng.standard_normal((5, 101, 19)).astype(dtype)
    first = ops.conv1d_backward(dy, x, w, padding="same")
    y0 = ops.conv1d(x, w, padding="same", activation="sigmoid")
    for _ in range(20):
        again = ops.conv1d_backward(dy, x, w, padding="same")
        for a, b in zip(first, again):
            assert np.array_equal(a, b)
        assert np.array_equal(y0, ops.conv1d(x, w, padding="same", activation="sigmoid"))
