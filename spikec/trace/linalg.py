"""``np.linalg.norm`` on signals, as a composition of ops that already lower to neurons.

No op of its own: the 2-norm (and the Frobenius norm) is ``sqrt(sum(x**2))``,
one ``square`` unit per element (NEF, tuned to the element's range), the sum
folded into weights, and one ``sqrt`` unit per result; the 1- and inf-norms
are sums and maxima of ``abs``.  What that costs in accuracy is measured in
``benchmarks/elementwise_accuracy.py``.  Norms that need an eigen- or
singular-value decomposition (a matrix's 2-norm, the nuclear norm) have no
such composition and are refused with what to write instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikec.errors import UnsupportedOperationError
from spikec.ir.source import capture
from spikec.trace import api, reductions
from spikec.trace.tracer import Tracer

__all__ = ["norm"]


def _sum_of_squares_root(x: Tracer, axes: tuple[int, ...]) -> Tracer:
    return api.unary("sqrt", api.sum_(api.unary("square", x), axis=axes, keepdims=True))


# vector norms along one axis (keepdims=True throughout; the caller drops the axes)
_VECTOR = {
    None: lambda x, a: _sum_of_squares_root(x, (a,)),
    2: lambda x, a: _sum_of_squares_root(x, (a,)),
    1: lambda x, a: api.sum_(api.unary("abs", x), axis=(a,), keepdims=True),
    np.inf: lambda x, a: reductions.amax(api.unary("abs", x), axis=a, keepdims=True),
    -np.inf: lambda x, a: reductions.amin(api.unary("abs", x), axis=a, keepdims=True),
}

# matrix norms over (row axis, column axis), as np.linalg.norm defines them
_MATRIX = {
    None: lambda x, r, c: _sum_of_squares_root(x, (r, c)),
    "fro": lambda x, r, c: _sum_of_squares_root(x, (r, c)),
    1: lambda x, r, c: reductions.amax(api.sum_(api.unary("abs", x), axis=(r,), keepdims=True), axis=c,
                                       keepdims=True),
    -1: lambda x, r, c: reductions.amin(api.sum_(api.unary("abs", x), axis=(r,), keepdims=True), axis=c,
                                        keepdims=True),
    np.inf: lambda x, r, c: reductions.amax(api.sum_(api.unary("abs", x), axis=(c,), keepdims=True), axis=r,
                                            keepdims=True),
    -np.inf: lambda x, r, c: reductions.amin(api.sum_(api.unary("abs", x), axis=(c,), keepdims=True), axis=r,
                                             keepdims=True),
}

_INSTEAD = {
    "vector": "supported vector orders: None, 2, 1, np.inf, -np.inf; for another p write "
              "np.sum(np.abs(x) ** p, axis) ** (1 / p)",
    "matrix": "supported matrix orders: None, 'fro', 1, -1, np.inf, -np.inf; the 2-norm and the nuclear norm "
              "need singular values, which have no neural lowering: bound them by the Frobenius norm "
              "(np.linalg.norm(A, 'fro') >= np.linalg.norm(A, 2)), or compute the largest singular value as a "
              "state that converges to it (spikec.integrate with a power-iteration step)",
}


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tracer:
    """``np.linalg.norm(x, ord, axis, keepdims)`` (see the module docstring for what is supported)."""
    if not isinstance(x, Tracer):
        return np.linalg.norm(x, ord, axis, keepdims)
    nd = x.ndim
    if axis is None and ord is None:
        # NumPy: the 2-norm of the flattened array, whatever its dimensions
        result = _sum_of_squares_root(x, tuple(range(nd))) if nd else api.unary("abs", x)
        return result if keepdims else api.reshape(result, ())
    if axis is None:
        if nd not in (1, 2):
            raise UnsupportedOperationError(
                f"np.linalg.norm with ord={ord!r} and no axis needs a 1-D or 2-D array, got {nd}-D",
                op="norm", shapes=[x.shape], loc=capture(), hint="give axis=, or ord=None for the flattened 2-norm")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    resolved = tuple(api._axis(int(a), nd, "norm", x) for a in axes)
    if len(set(resolved)) != len(resolved) or len(resolved) not in (1, 2):
        raise api._shape_error("norm", [x.shape], f"axis must be one axis or two distinct axes, got {axis!r}")
    kind = "vector" if len(resolved) == 1 else "matrix"
    table = _VECTOR if kind == "vector" else _MATRIX
    rule = next((fn for key, fn in table.items() if _same_order(key, ord)), None)
    if rule is None:
        raise UnsupportedOperationError(f"np.linalg.norm with ord={ord!r} ({kind} norm) on a signal", op="norm",
                                        shapes=[x.shape], loc=capture(), hint=_INSTEAD[kind])
    result = rule(x, *resolved)
    if keepdims:
        return result
    return api.reshape(result, tuple(d for i, d in enumerate(x.shape) if i not in resolved))


def _same_order(key: Any, ord: Any) -> bool:
    """Whether ``ord`` names the table's ``key`` (``2`` and ``2.0`` alike; ``None`` and strings exactly)."""
    if key is None or ord is None or isinstance(key, str) or isinstance(ord, str):
        return key == ord
    try:
        return float(key) == float(ord)
    except (TypeError, ValueError):
        return False
