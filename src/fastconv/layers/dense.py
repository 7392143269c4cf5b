"""Dense: `activation(x @ kernel + bias)` on the last axis."""
import numpy as np

from .. import _backend, activations, initializers
from ._common import ActivationStep
from .base import InputSpec, Layer, shape_tuple
from .convolutional import _check_unsupported

__all__ = ["Dense"]


class Dense(Layer):
    """Densely-connected layer acting on the last axis of any >= 2-D input.

    Args:
        units: output width (int > 0).
        activation: activation name or callable (None = linear).
        use_bias: whether to add a bias.
        kernel_initializer: default "glorot_uniform"; bias_initializer: default "zeros".

    Input shape: `(batch, ..., in)`. Output shape: `(batch, ..., units)`.
    Weights: kernel `(in, units)`, bias `(units,)`.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Dense(3)(np.zeros((2, 5), "float32")).shape
    (2, 3)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _check_unsupported(kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           bias_constraint=bias_constraint, lora_rank=lora_rank,
                           quantization_config=quantization_config)
        if isinstance(units, (bool, np.bool_)) or not isinstance(units, (int, np.integer)) \
                or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True
        self._act = ActivationStep(self.activation)

    def build(self, input_shape):
        input_shape = shape_tuple(input_shape)
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"The last dimension of the inputs to layer '{self.name}' should be "
                             f"defined. Received input with shape {input_shape}")
        self.kernel = self.add_weight(shape=(in_dim, self.units),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                    name="bias") if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def compute_output_shape(self, input_shape):
        return shape_tuple(input_shape)[:-1] + (self.units,)

    def compute_mask(self, x, mask=None):
        return mask

    # Dense runs on the conv1d kernels as a width-1 convolution over a length-1 sequence:
    # every output row is computed by one thread in a fixed order, so results do not depend on
    # the batch size or the thread count (a BLAS matmul gives neither guarantee).
    def forward(self, x, training=False):
        x = self._cast_input(x)
        lead = x.shape[:-1]
        in_dim = x.shape[-1]
        x3 = np.ascontiguousarray(x).reshape(-1, 1, in_dim)
        kernel3 = self.kernel.value.reshape(1, in_dim, self.units)
        out = self._buffer("z", (x3.shape[0], 1, self.units), self.kernel.value.dtype)
        bias = self.bias.value if self.bias is not None else None
        y = _backend.ops.conv1d(x3, kernel3, bias, activation=self._act.kernel_name, out=out)
        y, z = self._act.finish(self, y)
        if training:
            self._cache = (x3, y, z, x.shape)
        return y.reshape(lead + (self.units,))

    def backward(self, dy, need_dx=True):
        x3, y, z, x_shape = self._cache
        dy3 = np.ascontiguousarray(dy).reshape(-1, 1, self.units)
        dz = self._act.backward(self, dy3, y, z)
        kernel3 = self.kernel.value.reshape(1, x3.shape[2], self.units)
        if self.trainable_weights:
            gk = self._grad(self.kernel).reshape(kernel3.shape)
            gb = self._grad(self.bias) if self.bias is not None else \
                self._buffer("db_unused", (self.units,), gk.dtype)
        else:
            gk = self._buffer("dk_unused", kernel3.shape, kernel3.dtype)
            gb = self._buffer("db_unused", (self.units,), kernel3.dtype)
        dx_out = self._buffer("dx", x3.shape, x3.dtype) if need_dx else None
        dx, _, _ = _backend.ops.conv1d_backward(dz, x3, kernel3, need_dx=need_dx,
                                                out=(dx_out, gk, gb))
        return None if dx is None else dx.reshape(x_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None, "quantization_config": None})
        return config
