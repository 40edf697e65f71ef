"""Trainable parameters and the layers that take them: ``spikec.param``, ``conv2d``, ``avg_pool2d``, ``dense``.

A parameter is a named constant that training may change::

    k1 = spikec.param("conv1", rng.normal(0, 0.3, (3, 3, 1, 32)))
    h = spikec.models.neurons(spikec.conv2d(img, k1), spikec.LIF(amplitude=0.01), gain, bias)

It is not a signal: it enters the graph as an attribute of the op that uses
it (the kernel of a ``conv2d``, the weights of a ``dense``, the gain or bias
of a ``neurons`` layer), tagged with its name.  Those ops are never folded
into other constants (see ``OpDef.is_projection`` in :mod:`spikec.ir.ops.layers`),
so after lowering every parameter still owns exactly one projection's weights or one
population's gains or biases: ``Netlist.info["params"]`` maps each name to
them, which is what ``Program.fit`` trains and ``Program.save_params`` saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikec.errors import ShapeError, UnsupportedOperationError
from spikec.ir.attrs import ConstArray
from spikec.ir.source import capture
from spikec.trace.context import as_constant
from spikec.trace.tracer import Tracer


@dataclass(frozen=True)
class Param:
    """A named, trainable constant (see :func:`param`); ``value`` is its initial value."""

    name: str
    init: ConstArray

    @property
    def value(self) -> np.ndarray:
        return self.init.value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.init.shape

    def __repr__(self) -> str:
        return f"spikec.param({self.name!r}, shape={self.shape})"


def param(name: str, init: Any) -> Param:
    """Declare a trainable parameter ``name`` with initial value ``init`` (an array).

    Use it where a layer takes constant weights: ``spikec.conv2d(x,
    spikec.param("conv1", k0))``, ``spikec.dense(x, spikec.param("out",
    w0))``, ``spikec.models.neurons(x, lif, gain, bias=spikec.param("b1", b0))``.
    Names must be unique within a program (one name used twice means shared
    weights only if the two uses agree on the value; the lowering checks).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"spikec.param needs a non-empty string name, got {name!r}")
    if isinstance(init, Tracer):
        raise UnsupportedOperationError(f"spikec.param({name!r}): the initial value must be a constant array",
                                        op="param", shapes=[init.shape], loc=capture())
    return Param(name, ConstArray(as_constant(init, f"parameter {name!r}")))


def split_param(value: Any, what: str) -> tuple[np.ndarray, str | None]:
    """``(array, parameter name or None)`` of a constant or :class:`Param` argument."""
    if isinstance(value, Param):
        return value.value, value.name
    if isinstance(value, Tracer):
        raise UnsupportedOperationError(f"the {what} must be a constant or a spikec.param, not a signal",
                                        shapes=[value.shape], loc=capture())
    return as_constant(value, what), None


def _pair(value: Any, what: str) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(int(v) == v and v >= 1 for v in pair):
        raise ValueError(f"{what} must be a positive integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv2d(x: Any, kernel: Any, strides: Any = 1, padding: str = "valid") -> Any:
    """2-D convolution of ``x`` (height, width, channels), channels last, as ``tf.nn.conv2d``/``nengo.Convolution``.

    ``kernel`` has shape ``(kh, kw, channels, filters)`` and is a constant
    or a :func:`param`; ``strides`` an int or a pair; ``padding`` ``"valid"``
    or ``"same"``.  Returns ``(out_height, out_width, filters)``.  Linear: it
    costs no neurons and becomes one convolution projection (never the
    equivalent dense matrix).  On plain arrays it computes the result.
    """
    from spikec.ir.ops.layers import conv2d_reference

    k, name = split_param(kernel, "conv2d kernel")
    if padding not in ("valid", "same"):
        raise ValueError(f"conv2d padding must be 'valid' or 'same', got {padding!r}")
    attrs = {"kernel": ConstArray(k), "strides": _pair(strides, "conv2d strides"), "padding": padding,
             "param": name}
    if not isinstance(x, Tracer):
        return conv2d_reference(attrs, as_constant(x, "conv2d input"))
    if len(x.shape) != 3 or k.ndim != 4 or k.shape[2] != x.shape[2]:
        raise ShapeError("spikec.conv2d needs x of shape (height, width, channels) and a kernel of shape "
                         "(kh, kw, channels, filters)", op="conv2d", shapes=[x.shape, k.shape], loc=capture())
    return x._ctx.emit("conv2d", [x], attrs)


def avg_pool2d(x: Any, pool_size: Any = 2, strides: Any = None) -> Any:
    """Average pooling of ``x`` (height, width, channels) over ``pool_size`` windows ('valid', as Keras).

    ``strides`` defaults to ``pool_size``.  Linear (costs no neurons).
    """
    from spikec.ir.ops.layers import pool_windows

    pool = _pair(pool_size, "avg_pool2d pool_size")
    attrs = {"pool": pool, "strides": pool if strides is None else _pair(strides, "avg_pool2d strides")}
    if not isinstance(x, Tracer):
        return pool_windows(attrs, as_constant(x, "avg_pool2d input")).mean(axis=(3, 4))
    if len(x.shape) != 3:
        raise ShapeError("spikec.avg_pool2d needs x of shape (height, width, channels)", op="avg_pool2d",
                         shapes=[x.shape], loc=capture())
    return x._ctx.emit("avg_pool2d", [x], attrs)


def dense(x: Any, weights: Any) -> Any:
    """``ravel(x) @ weights`` with constant or :func:`param` weights of shape ``(x.size, units)``.

    Like ``x.ravel() @ w``, but kept as one projection of its own (so a
    parameter keeps its weights through the passes).
    """
    w, name = split_param(weights, "dense weights")
    if not isinstance(x, Tracer):
        return np.ravel(as_constant(x, "dense input")) @ w
    if w.ndim != 2 or w.shape[0] != x.size:
        raise ShapeError(f"spikec.dense needs weights of shape ({x.size}, units) for x of shape {x.shape}",
                         op="dense", shapes=[x.shape, w.shape], loc=capture())
    return x._ctx.emit("dense", [x], {"weights": ConstArray(w), "param": name})
