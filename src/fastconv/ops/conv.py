"""conv1d and conv1d_backward: argument checks, then the compiled kernels (fastconv._ext._conv)."""
from .._ext import _conv
from ._checks import (conv1d_args, conv1d_backward_args, conv1d_backward_fast_args,
                      conv1d_fast_args, conv_activation, max_threads)

__all__ = ["conv1d", "conv1d_backward"]

_ACT_CODES = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}

# Below this many multiply-adds per thread a parallel region costs more than it saves, so small
# calls run on fewer threads. On the 2-core development machine a second thread already pays
# from about 0.5 M multiply-adds per call (bench/thread_thresholds.py); a machine where another
# process holds a core is the fit loop's thread governor's business (models/_threads.py). Any
# thread count gives bitwise-identical results; this only affects speed.
_MIN_MACS_PER_THREAD = 250_000


def _threads_for(macs):
    n = macs // _MIN_MACS_PER_THREAD
    return 1 if n <= 1 else min(max_threads(), n)


def _threads(a):
    return _threads_for(a.batch * a.out_len * a.k * (a.channels // a.groups) * a.filters)


def _macs(x, kernel, out_len):
    k, cg, filters = kernel.shape
    return x.shape[0] * out_len * k * cg * filters


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1, *,
           activation=None, out=None):
    """1-D convolution (cross-correlation, as Keras' `Conv1D`), channels_last.

    Computes ``y[b, s, f] = act(bias[f] + sum_j sum_c xp[b, s*strides + j*dilation_rate, c] *
    kernel[j, c - c0(f), f])`` where ``xp`` is ``x`` zero-padded according to `padding` and
    ``c`` runs over the input channels of the group of filter ``f``.

    Args:
        x: float32/float64 array (batch, steps, channels); any memory layout.
        kernel: array (kernel_size, channels // groups, filters).
        bias: None or array (filters,).
        strides: int >= 1 (or a 1-tuple).
        padding: "valid", "same" (extra pad on the right, as Keras/TF) or "causal"
            (``dilation_rate * (kernel_size - 1)`` zeros on the left).
        dilation_rate: int >= 1 (or a 1-tuple); not together with strides > 1.
        groups: int >= 1 dividing both channels and filters.
        activation: None, "linear", "relu", "sigmoid" or "tanh", applied after the bias.
        out: optional C-contiguous (batch, output steps, filters) buffer of the result dtype.

    Input shape:
        (batch, steps, channels)

    Output shape:
        (batch, new_steps, filters); valid: ``(steps - dilation_rate*(kernel_size-1) - 1)
        // strides + 1``; same and causal: ``ceil(steps / strides)``.

    Returns:
        The output array (`out` when given), dtype = NumPy promotion of the inputs' dtypes.

    Raises:
        TypeError: an array is not float32/float64, or an int argument has the wrong type.
        ValueError: wrong ranks or shapes, channel/group mismatch, bad padding/strides/
            dilation/groups, or an output length below 1 (kernel longer than the padded input).

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import conv1d
    >>> x = np.arange(5, dtype=np.float32).reshape(1, 5, 1)
    >>> conv1d(x, np.ones((2, 1, 1), np.float32))[0, :, 0]
    array([1., 3., 5., 7.], dtype=float32)
    """
    if activation is None or type(activation) is str:
        code = _ACT_CODES.get("linear" if activation is None else activation)
        fast = None if code is None else conv1d_fast_args(x, kernel, bias, strides, padding,
                                                          dilation_rate, groups, out)
        if fast is not None:
            y, left = fast
            _conv.conv1d_forward(x, kernel, bias, y, strides, dilation_rate, left, groups, code,
                                 _threads_for(_macs(x, kernel, y.shape[1])))
            return y
    act = conv_activation(activation)
    a = conv1d_args(x, kernel, bias, strides, padding, dilation_rate, groups, out)
    _conv.conv1d_forward(a.x, a.kernel, a.bias, a.out, a.strides, a.dilation, a.left, a.groups,
                         _ACT_CODES[act], _threads(a))
    return a.out


def conv1d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1, groups=1, *,
                    need_dx=True, out=None):
    """Gradients of `conv1d` (without activation) with respect to x, kernel and bias.

    Args:
        dy: gradient of the loss with respect to the conv output, (batch, new_steps, filters).
        x, kernel, strides, padding, dilation_rate, groups: as given to `conv1d`.
        need_dx: when False the input gradient is skipped and returned as None.
        out: None or a tuple (dx, dkernel, dbias) of C-contiguous buffers (entries may be None).

    Returns:
        (dx or None, dkernel, dbias) with the shapes of x, kernel and (filters,).

    Raises:
        TypeError, ValueError: as `conv1d`; also when `dy` does not have the output's shape.

    Example:
    >>> import numpy as np
    >>> from fastconv.ops import conv1d_backward
    >>> x = np.arange(5, dtype=np.float32).reshape(1, 5, 1)
    >>> w = np.ones((2, 1, 1), np.float32)
    >>> dx, dk, db = conv1d_backward(np.ones((1, 4, 1), np.float32), x, w)
    >>> dx[0, :, 0]
    array([1., 2., 2., 2., 1.], dtype=float32)
    >>> dk[:, 0, 0], db
    (array([ 6., 10.], dtype=float32), array([4.], dtype=float32))
    """
    fast = conv1d_backward_fast_args(dy, x, kernel, strides, padding, dilation_rate, groups,
                                     need_dx, out)
    if fast is not None:
        (dx, dkernel, dbias), left = fast
        _conv.conv1d_backward(dy, x, kernel, dx, dkernel, dbias, strides, dilation_rate, left,
                              groups, _threads_for(_macs(x, kernel, dy.shape[1])))
        return dx, dkernel, dbias
    a = conv1d_backward_args(dy, x, kernel, strides, padding, dilation_rate, groups, need_dx, out)
    dx, dkernel, dbias = a.out
    _conv.conv1d_backward(a.dy, a.x, a.kernel, dx, dkernel, dbias, a.strides, a.dilation,
                          a.left, a.groups, _threads(a))
    return dx, dkernel, dbias
