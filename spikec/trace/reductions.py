"""Scans, differences and extremes along axes: ``np.cumsum``, ``np.diff``, ``np.max``/``np.min``.

``cumsum`` and ``diff`` are linear ops of their own.  ``max``/``min`` need no
op of their own: they become a balanced tree of pairwise ``np.maximum`` /
``np.minimum`` (each ``y + relu(x - y)``, see :func:`spikec.trace.api.maximum`),
so reducing ``k`` elements costs ``k - 1`` rectifier units per output element
and ``ceil(log2 k)`` of them in a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikec.errors import UnsupportedOperationError
from spikec.ir.source import capture
from spikec.trace import api
from spikec.trace.tracer import Tracer


def cumsum(x: Tracer, axis: Any = None) -> Tracer:
    """``np.cumsum(x, axis)``: a linear op (``axis=None``: of the flattened array)."""
    if axis is not None:
        axis = api._axis(int(axis), x.ndim, "cumsum", x)
    return x._ctx.emit("cumsum", [x], {"axis": axis})


def diff(x: Tracer, n: int = 1, axis: int = -1) -> Tracer:
    """``np.diff(x, n, axis)``: a linear op (``n=0`` gives ``x``)."""
    if int(n) != n or n < 0:
        raise UnsupportedOperationError(f"np.diff needs a non-negative integer order n, got {n!r}", op="diff",
                                        shapes=[x.shape], loc=capture())
    if x.ndim == 0:
        raise api._shape_error("diff", [x.shape], "diff requires input that is at least one dimensional")
    axis = api._axis(int(axis), x.ndim, "diff", x)
    if n == 0:
        return x
    if n >= x.shape[axis]:
        raise api._shape_error("diff", [x.shape], f"order n={n} leaves no element along axis {axis} "
                               f"(length {x.shape[axis]}): an empty signal")
    return x._ctx.emit("diff", [x], {"n": int(n), "axis": axis})


def _extreme(pairwise, name: str, x: Tracer, axis: Any, keepdims: bool) -> Tracer:
    """Reduce ``x`` over ``axis`` with the pairwise ``pairwise`` (np.maximum or np.minimum), as a balanced tree."""
    nd = x.ndim
    axes = api._axes(axis, nd, name, x)
    axes = tuple(range(nd)) if axes is None else axes
    if nd and any(x.shape[a] == 0 for a in axes):
        raise api._shape_error(name, [x.shape], "zero-size reduction with no identity")
    kept = [a for a in range(nd) if a not in axes]
    out_shape = tuple(1 if a in axes else x.shape[a] for a in range(nd)) if keepdims else \
        tuple(x.shape[a] for a in kept)
    k = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    # the reduced axes last, flattened into one of length k
    values = api.reshape(api.transpose(x, kept + list(axes)), tuple(x.shape[a] for a in kept) + (k,))
    while values.shape[-1] > 1:
        length = values.shape[-1]
        half = length // 2
        paired = pairwise(values[..., :half], values[..., half:2 * half])
        values = paired if length % 2 == 0 else api.concatenate([paired, values[..., 2 * half:]], axis=-1)
    return api.reshape(values, out_shape)


def amax(x: Tracer, axis: Any = None, keepdims: bool = False) -> Tracer:
    """``np.max(x, axis, keepdims=keepdims)`` as a tree of pairwise maxima."""
    return _extreme(api.maximum, "max", x, axis, keepdims)


def amin(x: Tracer, axis: Any = None, keepdims: bool = False) -> Tracer:
    """``np.min(x, axis, keepdims=keepdims)`` as a tree of pairwise minima."""
    return _extreme(api.minimum, "min", x, axis, keepdims)
