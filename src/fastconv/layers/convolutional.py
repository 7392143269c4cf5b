"""Conv1D (alias Convolution1D): 1-D cross-correlation over steps, channels last."""
import numpy as np

from .. import _backend, activations, initializers
from ._common import ActivationStep, conv_output_length
from .base import (InputSpec, Layer, shape_tuple, standardize_data_format, standardize_tuple)

__all__ = ["Conv1D", "Convolution1D"]


def _standardize_padding(value, allow_causal):
    if isinstance(value, (list, tuple)) or not isinstance(value, str):
        raise ValueError(
            "Invalid value for argument `padding`. Expected one of 'valid', 'same', 'causal'. "
            f"Received: padding={value!r}")
    padding = value.lower()
    allowed = {"valid", "same", "causal"} if allow_causal else {"valid", "same"}
    if padding not in allowed:
        raise ValueError(
            f"The `padding` argument must be a list/tuple or one of {allowed}. "
            f"Received: {padding}")
    return padding


def _check_unsupported(**named):
    for arg, val in named.items():
        if val is not None:
            raise ValueError(f"Invalid value for argument `{arg}`. fastconv supports only None. "
                             f"Received: {arg}={val!r}")


class Conv1D(Layer):
    """1-D convolution layer (cross-correlation, kernel not flipped).

    Args:
        filters: number of output channels F (int > 0).
        kernel_size: K, an int or a 1-tuple.
        strides: int or 1-tuple, default 1.
        padding: "valid", "same" or "causal" (case-insensitive).
        data_format: "channels_last" (default) or "channels_first".
        dilation_rate: int or 1-tuple; cannot exceed 1 together with `strides`.
        groups: number of channel groups dividing both C and F.
        activation: activation name or callable (None = linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default "glorot_uniform"; bias_initializer: default "zeros".

    Input shape: `(batch, steps, channels)`. Output shape: `(batch, new_steps, filters)` with
    `new_steps = floor((steps - dilation*(K-1) - 1) / strides) + 1` for "valid" and
    `floor((steps - 1) / strides) + 1` for "same"/"causal".

    Raises:
        ValueError: invalid arguments (Keras' messages), or input too short at build.

    Example:
    >>> import numpy as np, fastconv
    >>> fastconv.layers.Conv1D(4, 3)(np.zeros((2, 10, 1), "float32")).shape
    (2, 8, 4)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _check_unsupported(kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                           lora_rank=lora_rank)
        for arg, val in (("filters", filters), ("groups", groups)):
            if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, np.integer)):
                raise TypeError(f"Invalid type for argument `{arg}`. Expected a positive int. "
                                f"Received: {arg}={val!r} of type {type(val).__name__}")
        self.filters = int(filters)
        self.groups = int(groups)
        self.kernel_size = standardize_tuple(kernel_size, 1, "kernel_size")
        self.strides = standardize_tuple(strides, 1, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, 1, "dilation_rate")
        self.padding = _standardize_padding(padding, allow_causal=True)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=3)
        if self.filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={self.filters}.")
        if self.groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={self.groups}.")
        if self.filters % self.groups != 0:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={self.groups}, filters={self.filters}.")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self._act = ActivationStep(self.activation)

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        input_shape = shape_tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"Input 0 with name 'None' of layer '{self.name}' is incompatible with the layer: "
                f"expected ndim=3, found ndim={len(input_shape)}. "
                f"Full shape received: {input_shape}")
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs of layer '{self.name}' should "
                             f"be defined. Received input with shape {input_shape}")
        if channels % self.groups != 0:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of groups. "
                f"Received groups={self.groups}, but the input has {channels} channels "
                f"(full input shape is {input_shape}).")
        kernel_shape = (self.kernel_size[0], channels // self.groups, self.filters)
        self._check_output_size(input_shape, (self.kernel_size[0], channels, self.filters))
        self.kernel = self.add_weight(shape=kernel_shape, initializer=self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                    name="bias") if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=3, axes={self._channel_axis: channels})
        self.built = True

    def _steps(self, shape):
        return shape[1] if self.data_format == "channels_last" else shape[2]

    def _check_output_size(self, input_shape, full_kernel_shape):
        steps = self._steps(input_shape)
        out = conv_output_length(steps, self.kernel_size[0], self.padding, self.strides[0],
                                 self.dilation_rate[0])
        if out is not None and out <= 0:
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs shape="
                f"{input_shape}`, `kernel shape={full_kernel_shape}`, "
                f"`dilation_rate={np.array(self.dilation_rate)}`, `strides={self.strides}`, "
                f"`padding={self.padding}`.")

    def compute_output_shape(self, input_shape):
        input_shape = shape_tuple(input_shape)
        steps = conv_output_length(self._steps(input_shape), self.kernel_size[0], self.padding,
                                   self.strides[0], self.dilation_rate[0])
        if steps is not None and steps <= 0:
            self._check_output_size(input_shape, (self.kernel_size[0],
                                                  input_shape[self._channel_axis], self.filters))
        if self.data_format == "channels_last":
            return (input_shape[0], steps, self.filters)
        return (input_shape[0], self.filters, steps)

    def _op_args(self):
        return dict(strides=self.strides[0], padding=self.padding,
                    dilation_rate=self.dilation_rate[0], groups=self.groups)

    def forward(self, x, training=False):
        x = self._cast_input(x)
        if self.data_format == "channels_first":
            x = np.ascontiguousarray(np.swapaxes(x, 1, 2))
        if x.ndim != 3:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank 3; received shape "
                             f"{x.shape}")
        self._check_output_size(x.shape, (self.kernel_size[0], x.shape[2], self.filters))
        steps = conv_output_length(x.shape[1], self.kernel_size[0], self.padding,
                                   self.strides[0], self.dilation_rate[0])
        out = self._buffer("y", (x.shape[0], steps, self.filters), self.kernel.value.dtype)
        bias = self.bias.value if self.bias is not None else None
        y = _backend.ops.conv1d(x, self.kernel.value, bias, **self._op_args(),
                                activation=self._act.kernel_name, out=out)
        y, z = self._act.finish(self, y)
        if training:
            self._cache = (x, y, z)
        if self.data_format == "channels_first":
            y = np.swapaxes(y, 1, 2)
        return y

    def backward(self, dy, need_dx=True):
        x, y, z = self._cache
        if self.data_format == "channels_first":
            dy = np.ascontiguousarray(np.swapaxes(dy, 1, 2))
        dz = self._act.backward(self, dy, y, z)
        gk = self._grad(self.kernel)
        gb = self._grad(self.bias) if self.bias is not None else \
            self._buffer("db_unused", (self.filters,), gk.dtype)
        dx_out = self._buffer("dx", x.shape, x.dtype) if need_dx else None
        dx, _, _ = _backend.ops.conv1d_backward(dz, x, self.kernel.value, **self._op_args(),
                                                need_dx=need_dx, out=(dx_out, gk, gb))
        if dx is not None and self.data_format == "channels_first":
            dx = np.swapaxes(dx, 1, 2)
        return dx

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None})
        return config


Convolution1D = Conv1D
