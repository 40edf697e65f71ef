"""Layer ops: explicit neuron layers and the projection ops (convolution, pooling, dense).

``conv2d``, ``dense`` and ``avg_pool2d`` are linear, but they are
*projection ops* (``OpDef.is_projection``): the passes and the lowering
never fold them into other linear ops (a convolution as a matrix holds
kh*kw*channels weights per output element, and a trainable parameter must
keep its own weights).  Each becomes one projection with a ``Convolution``,
``Dense`` or ``AvgPool`` transform (pooling kept apart so that simulators
pool, instead of gathering through a matrix).  Their ``linear_map`` is the
equivalent matrix, for checks and for code that wants one.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse

from spikec.ir.attrs import Attrs
from spikec.ir.conv import conv_output_shape, conv_padding, conv_pattern
from spikec.ir.linear_map import LinearMap, prune
from spikec.ir.node import Node
from spikec.ir.ops._common import fmt
from spikec.ir.registry import OpDef, OpKind, register

Shapes = list[tuple[int, ...]]

# ------------------------------------------------------------- explicit neurons


def neuron_rates(neuron_type, J: np.ndarray) -> np.ndarray:
    """Steady-state activity (Hz, times ``amplitude``) of ``neuron_type`` for currents ``J``.

    The rate counterpart's ``rates`` (so a spiking wrapper's ``amplitude``
    counts, as in its mean output); models with no rate counterpart (AdEx,
    Izhikevich) give their own simulated steady-state rate.
    """
    from spikec.errors import ConstantError

    try:
        rate_type = neuron_type.as_rate()
    except ConstantError:
        rate_type = neuron_type
    return np.asarray(rate_type.rates(np.asarray(J, dtype=np.float64)), dtype=np.float64)


def _neurons(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    return neuron_rates(attrs["neuron_type"], attrs["gain"].value * x + attrs["bias"].value)


def _neurons_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = np.broadcast_shapes(shape, attrs["gain"].shape, attrs["bias"].shape)
    if tuple(out) != tuple(shape):
        raise ValueError(f"neuron gain {attrs['gain'].shape} and bias {attrs['bias'].shape} must broadcast "
                         f"to the input shape {shape}")
    return shape


# Not ``elementwise``: gain and bias may be per element, so two layers cannot be
# merged into one over concatenated operands; the lowering has its own rule.
register(OpDef(
    "neurons", OpKind.NONLINEAR,
    "explicit neuron layer: one neuron per element with current J = gain * x + bias; the value is the "
    "neurons' activity (steady-state rate of neuron_type in the reference; spikes amplitude/dt when spiking)",
    reference=_neurons, shape_rule=_neurons_shape, format_attrs=fmt("neuron_type", "gain", "bias"),
    numpy_names=("spikec.models.neurons",),
))


# ------------------------------------------------------- convolution, pooling, dense


def conv2d_reference(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Cross-correlation of ``x`` (h, w, c) with ``kernel`` (kh, kw, c, f), channels last (TensorFlow's)."""
    from numpy.lib.stride_tricks import sliding_window_view

    kernel = attrs["kernel"].value
    (top, bottom), (left, right) = conv_padding(x.shape, kernel.shape, attrs["strides"], attrs["padding"])
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    kh, kw = kernel.shape[:2]
    sy, sx = attrs["strides"]
    windows = sliding_window_view(xp, (kh, kw), axis=(0, 1))[::sy, ::sx]  # (oh, ow, c, kh, kw)
    return np.einsum("ijcab,abcf->ijf", windows, kernel)


def _conv2d_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    kernel = attrs["kernel"].shape
    if len(shape) != 3 or len(kernel) != 4 or kernel[2] != shape[2]:
        raise ValueError(f"conv2d needs x of shape (height, width, channels) and a kernel of shape "
                         f"(kh, kw, channels, filters) with matching channels; got x {shape}, kernel {kernel}")
    out = conv_output_shape(shape, kernel, attrs["strides"], attrs["padding"])
    if min(out) < 1:
        raise ValueError(f"conv2d: kernel {kernel[:2]} is larger than the input {shape[:2]} (padding 'valid')")
    return out


def _conv2d_map(node: Node, shapes: Shapes) -> LinearMap:
    kernel = node.attrs["kernel"]
    rows, cols, kidx = conv_pattern(tuple(shapes[0]), kernel.shape, tuple(node.attrs["strides"]),
                                    node.attrs["padding"])
    matrix = scipy.sparse.csr_array((np.ravel(kernel.value)[kidx], (rows, cols)),
                                    shape=(node.size, math.prod(shapes[0])))
    return [prune(matrix)], np.zeros(node.size)


register(OpDef(
    "conv2d", OpKind.LINEAR,
    "2-D convolution (cross-correlation) of x (height, width, channels) with a constant or parameter kernel "
    "(kh, kw, channels, filters); strides, padding 'valid' or 'same' (a projection op: never folded)",
    reference=conv2d_reference, shape_rule=_conv2d_shape, format_attrs=fmt("param", "strides", "padding"),
    linear_map=_conv2d_map, is_projection=True, numpy_names=("spikec.conv2d",),
))


def pool_windows(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """The ``(oh, ow, c, ph, pw)`` pooling windows of ``x`` (height, width, channels), 'valid'."""
    from numpy.lib.stride_tricks import sliding_window_view

    (ph, pw), (sy, sx) = attrs["pool"], attrs["strides"]
    return sliding_window_view(x, (ph, pw), axis=(0, 1))[::sy, ::sx]  # (oh, ow, c, ph, pw)


def _avg_pool2d_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    (ph, pw), (sy, sx) = attrs["pool"], attrs["strides"]
    if len(shape) != 3 or shape[0] < ph or shape[1] < pw:
        raise ValueError(f"avg_pool2d needs x of shape (height, width, channels) at least {attrs['pool']}; "
                         f"got {shape}")
    return ((shape[0] - ph) // sy + 1, (shape[1] - pw) // sx + 1, shape[2])


def _avg_pool2d_map(node: Node, shapes: Shapes) -> LinearMap:
    """Each output element averages its window: ``1/(ph*pw)`` on the window's inputs."""
    n_in = math.prod(shapes[0])
    windows = pool_windows(node.attrs, np.arange(n_in, dtype=np.int64).reshape(shapes[0]))
    cols = windows.reshape(-1, windows.shape[-2] * windows.shape[-1])
    k = cols.shape[1]
    rows = np.repeat(np.arange(cols.shape[0], dtype=np.int64), k)
    matrix = scipy.sparse.csr_array((np.full(rows.size, 1.0 / k), (rows, cols.ravel())), shape=(cols.shape[0], n_in))
    return [matrix], np.zeros(node.size)


register(OpDef(
    "avg_pool2d", OpKind.LINEAR, "mean over (ph, pw) windows of x (height, width, channels), 'valid' (TensorFlow's)",
    reference=lambda a, x: pool_windows(a, x).mean(axis=(3, 4)), shape_rule=_avg_pool2d_shape,
    format_attrs=fmt("pool", "strides"), linear_map=_avg_pool2d_map, is_projection=True,
    numpy_names=("spikec.avg_pool2d",),
))


def _dense_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    w = attrs["weights"].shape
    if len(w) != 2 or w[0] != math.prod(shape):
        raise ValueError(f"dense needs weights of shape (x.size, units) = ({math.prod(shape)}, units); got {w}")
    return (w[1],)


def _dense_map(node: Node, shapes: Shapes) -> LinearMap:
    return [prune(scipy.sparse.csr_array(node.attrs["weights"].value.T))], np.zeros(node.size)


register(OpDef(
    "dense", OpKind.LINEAR,
    "ravel(x) @ weights for constant or parameter weights (n_in, units) (a projection op: never folded)",
    reference=lambda a, x: np.ravel(x) @ a["weights"].value, shape_rule=_dense_shape,
    format_attrs=fmt("param"), linear_map=_dense_map, is_projection=True, numpy_names=("spikec.dense",),
))
