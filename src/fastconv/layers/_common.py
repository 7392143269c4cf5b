"""Shared pieces of the layers: output-length formulas and the activation step."""
import numpy as np

from .. import _backend, activations
from ..ops.activation import _activation_backward_into


def conv_output_length(length, kernel_size, padding, stride, dilation=1):
    """Keras' `compute_conv_output_shape` for one spatial axis (None stays None)."""
    if length is None:
        return None
    keff = dilation * (kernel_size - 1) + 1
    if padding == "valid":
        return (length - keff) // stride + 1
    return (length - 1) // stride + 1


class ActivationStep:
    """Applies an activation after a linear map and differentiates it.

    relu/sigmoid/tanh/linear run in the compiled bias+activation kernels (in place); other
    activations are evaluated by `fastconv.activations` and keep their pre-activation input.
    """

    def __init__(self, fn):
        self.fn = fn
        self.name = activations.canonical_name(fn)
        self.fused = self.name in activations.FUSED

    @property
    def kernel_name(self):
        return self.name if self.fused else "linear"

    def backward(self, layer, dy, y, z):
        if self.name == "linear":
            return dy
        out = layer._buffer("dz", dy.shape, dy.dtype)
        if self.fused:
            if _backend.name == "compiled":
                return _activation_backward_into(dy, y, self.name, out)
            return _backend.ops.activation_backward(dy, y, self.name, out=out)
        out[...] = activations.gradient(self.fn, dy, z, y)
        return out

    def finish(self, layer, y):
        """(output, pre-activation or None) for a linear map's result `y`, which holds the
        activation already when the kernel fused it."""
        if self.fused:
            return y, None
        return self.apply_unfused(layer, y), y

    def apply_unfused(self, layer, z):
        y = np.asarray(self.fn(z), dtype=z.dtype)
        return y
