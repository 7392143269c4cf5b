"""One small call of every public kernel on shared, read-only inputs (thread and leak tests)."""
import numpy as np

from fastconv import ops


def _inputs(seed, dtype):
    """Shared inputs for one call of each kernel (each thread gets its own seed)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 23, 4)).astype(dtype)
    w = rng.standard_normal((3, 4, 6)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    dy = rng.standard_normal((3, 21, 6)).astype(dtype)
    dyp = rng.standard_normal((3, 11, 4)).astype(dtype)
    dyg = rng.standard_normal((3, 4)).astype(dtype)
    ids = rng.integers(0, 9, size=(3, 7))
    table = rng.standard_normal((9, 5)).astype(dtype)
    dye = rng.standard_normal((3, 7, 5)).astype(dtype)
    y = rng.standard_normal((5, 6)).astype(dtype)
    for a in (x, w, b, dy, dyp, dyg, ids, table, dye, y):
        a.flags.writeable = False  # shared data: any write by a kernel would raise
    return dict(x=x, w=w, b=b, dy=dy, dyp=dyp, dyg=dyg, ids=ids, table=table, dye=dye, y=y)


def _optimizer_step(kind):
    """One in-place optimizer step on private copies; returns the updated parameters."""
    def step(d):
        p, g = d["b"].copy(), d["y"][1]
        if kind == "sgd":
            ops.sgd_update(p, g, np.zeros_like(p), 0.1, momentum=0.9, nesterov=True)
        elif kind == "rmsprop":
            ops.rmsprop_update(p, g, np.zeros_like(p), 0.01)
        else:
            ops.adam_update(p, g, np.zeros_like(p), np.zeros_like(p), 0.01, 0.9, 0.999, 1e-7, 3)
        return p
    return step


KERNEL_CALLS = {
    "conv1d": lambda d: ops.conv1d(d["x"], d["w"], d["b"], activation="relu"),
    "conv1d_backward": lambda d: ops.conv1d_backward(d["dy"], d["x"], d["w"]),
    "max_pool1d": lambda d: ops.max_pool1d(d["x"], 2),
    "max_pool1d_backward": lambda d: ops.max_pool1d_backward(d["dyp"], d["x"], 2),
    "average_pool1d": lambda d: ops.average_pool1d(d["x"], 3, 2, "same"),
    "average_pool1d_backward": lambda d: ops.average_pool1d_backward(d["dyp"], d["x"], 2),
    "global_max_pool1d": lambda d: ops.global_max_pool1d(d["x"]),
    "global_max_pool1d_backward": lambda d: ops.global_max_pool1d_backward(d["dyg"], d["x"]),
    "global_average_pool1d": lambda d: ops.global_average_pool1d(d["x"]),
    "global_average_pool1d_backward":
        lambda d: ops.global_average_pool1d_backward(d["dyg"], d["x"]),
    "embedding": lambda d: ops.embedding(d["ids"], d["table"]),
    "embedding_backward": lambda d: ops.embedding_backward(d["dye"], d["ids"], 9),
    "bias_activation": lambda d: ops.bias_activation(d["y"], d["b"], "tanh"),
    "activation_backward": lambda d: ops.activation_backward(d["y"], np.tanh(d["y"]), "tanh"),
    "sgd_update": _optimizer_step("sgd"),
    "rmsprop_update": _optimizer_step("rmsprop"),
    "adam_update": _optimizer_step("adam"),
}
