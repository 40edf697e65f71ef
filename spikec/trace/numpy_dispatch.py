"""Tables that route NumPy ufuncs and functions on tracers to :mod:`spikec.trace.api`.

A NumPy entry point that is not listed here raises
:class:`~spikec.errors.UnsupportedOperationError` naming the function and
listing what is supported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from spikec.errors import InPlaceError, UnsupportedOperationError
from spikec.ir.source import capture
from spikec.trace import api, linalg, reductions


def _shapes(args) -> list[tuple[int, ...]]:
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(api._shape(b) for b in a if hasattr(b, "shape") or np.isscalar(b))
        elif hasattr(a, "shape") or np.isscalar(a):
            out.append(api._shape(a))
    return out


# ----------------------------------------------------------------------------- ufuncs

UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: api.add,
    np.subtract: api.subtract,
    np.multiply: api.multiply,
    np.true_divide: api.divide,
    np.negative: api.negative,
    np.positive: lambda x: x,
    np.power: api.power,
    np.float_power: api.power,
    np.matmul: api.matmul,
    np.square: lambda x: api.unary("square", x),
    np.sqrt: lambda x: api.unary("sqrt", x),
    np.exp: lambda x: api.unary("exp", x),
    np.log: lambda x: api.unary("log", x),
    np.sin: lambda x: api.unary("sin", x),
    np.cos: lambda x: api.unary("cos", x),
    np.tanh: lambda x: api.unary("tanh", x),
    np.arctan: lambda x: api.unary("arctan", x),
    np.arcsin: lambda x: api.unary("arcsin", x),
    np.arccos: lambda x: api.unary("arccos", x),
    np.arcsinh: lambda x: api.unary("arcsinh", x),
    np.arctanh: lambda x: api.unary("arctanh", x),
    np.arccosh: lambda x: api.unary("arccosh", x),
    np.absolute: lambda x: api.unary("abs", x),
    np.fabs: lambda x: api.unary("abs", x),
    np.reciprocal: api.reciprocal,
    np.maximum: api.maximum,
    np.minimum: api.minimum,
    np.fmax: api.maximum,
    np.fmin: api.minimum,
    np.greater: api.greater,
    np.greater_equal: api.greater_equal,
    np.less: api.less,
    np.less_equal: api.less_equal,
    np.sign: api.sign,
}


def dispatch_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``__array_ufunc__`` for tracers."""
    if kwargs.get("out") is not None:
        raise InPlaceError(f"np.{ufunc.__name__}(..., out=...) writes into an array in place",
                           op=ufunc.__name__, loc=capture(), hint="assign the result instead")
    if method == "reduce" and ufunc is np.add:
        axis = kwargs.get("axis", 0)
        return api.sum_(inputs[0], axis=axis, keepdims=kwargs.get("keepdims", False))
    extra = {k: v for k, v in kwargs.items() if v is not None and k not in ("dtype", "casting")}
    dtype = kwargs.get("dtype")
    if method != "__call__" or ufunc not in UFUNCS or extra or (dtype is not None and np.dtype(dtype).kind != "f"):
        what = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if extra:
            what += f" with {', '.join(extra)}="
        raise UnsupportedOperationError(
            f"{what} is not supported on traced signals", op=what, shapes=_shapes(inputs), loc=capture(),
            hint="supported ufuncs: " + ", ".join(sorted(f"np.{u.__name__}" for u in UFUNCS)),
        )
    return UFUNCS[ufunc](*inputs)


# -------------------------------------------------------------------------- functions


def _like(fill: float):
    def make(a, dtype=None, order="K", subok=True, shape=None, **kwargs):
        return np.full(api._shape(a) if shape is None else shape, fill, dtype=dtype or np.float64)

    return make


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return np.full(api._shape(a) if shape is None else shape, fill_value, dtype=dtype or np.float64)


def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise UnsupportedOperationError("np.where(condition) with one argument (np.nonzero) on a signal",
                                        op="where", loc=capture(), hint="use the three-argument form")
    return api.where(condition, x, y)


def _reduction(fn):
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if out is not None:
            raise InPlaceError("out= writes into an array in place", op=fn.__name__, loc=capture())
        if kwargs.get("where") is not None:
            raise UnsupportedOperationError("where= in a reduction", op=fn.__name__, loc=capture())
        initial = kwargs.pop("initial", None)
        # Anything else would be silently ignored and change the result.
        extra = sorted(k for k, v in kwargs.items() if v is not None and k != "where")
        if extra or (initial is not None and fn is not api.sum_):
            what = ", ".join(f"{k}=" for k in extra or ["initial"])
            raise UnsupportedOperationError(f"{what} in a reduction", op=fn.__name__, loc=capture())
        out = fn(a, axis=axis, keepdims=bool(keepdims))
        return out if initial is None else api.add(out, initial)

    return reduce


def _clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kwargs):
    if out is not None:
        raise InPlaceError("np.clip(..., out=...) writes into an array in place", op="clip", loc=capture())
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    return api.clip(a, lo, hi)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    return api.reshape(a, shape if shape is not None else newshape, order=order)


def _concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    if out is not None:
        raise InPlaceError("np.concatenate(..., out=...) writes in place", op="concatenate", loc=capture())
    return api.concatenate(arrays, axis=axis)


def _stack(arrays, axis=0, out=None, dtype=None, casting=None):
    return api.stack(arrays, axis=axis)


def _einsum(*operands, out=None, optimize=False, **kwargs):
    if out is not None:
        raise InPlaceError("np.einsum(..., out=...) writes in place", op="einsum", loc=capture())
    return api.einsum(operands[0], *operands[1:])


def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return api.trace(a, offset, axis1, axis2)


def _extreme(fn, pairwise):
    def reduce(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            raise InPlaceError("out= writes into an array in place", op=fn.__name__, loc=capture())
        if where is not None:
            raise UnsupportedOperationError("where= in a reduction", op=fn.__name__, loc=capture())
        result = fn(a, axis=axis, keepdims=bool(keepdims))
        return result if initial is None else pairwise(result, initial)

    return reduce


def _cumsum(a, axis=None, dtype=None, out=None):
    if out is not None:
        raise InPlaceError("np.cumsum(..., out=...) writes into an array in place", op="cumsum", loc=capture())
    return reductions.cumsum(a, axis)


def _diff(a, n=1, axis=-1, prepend=None, append=None):
    if prepend is not None or append is not None:
        # np.diff's own rule: scalars become one slice along the axis.
        axis = api._axis(int(axis), a.ndim, "diff", a)
        edge = tuple(1 if i == axis else d for i, d in enumerate(a.shape))
        parts = [np.broadcast_to(p, edge) if p is not None and np.ndim(p) == 0 else p for p in (prepend, append)]
        a = api.concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis=axis)
    return reductions.diff(a, n, axis)


FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.reshape: _reshape,
    np.ravel: lambda a, order="C": api.reshape(a, (-1,), order=order),
    np.transpose: lambda a, axes=None: api.transpose(a, axes),
    np.swapaxes: api.swapaxes,
    np.moveaxis: api.moveaxis,
    np.expand_dims: api.expand_dims,
    np.squeeze: api.squeeze,
    np.flip: api.flip,
    np.fliplr: lambda a: api.flip(a, 1),
    np.flipud: lambda a: api.flip(a, 0),
    np.broadcast_to: lambda array, shape, subok=False: api.broadcast_to(array, shape),
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.hstack: lambda tup, dtype=None, casting=None: api.hstack(tup),
    np.vstack: lambda tup, dtype=None, casting=None: api.vstack(tup),
    np.atleast_1d: lambda *arys: api.atleast_1d(arys[0]) if len(arys) == 1 else [api.atleast_1d(a) for a in arys],
    np.atleast_2d: lambda *arys: api.atleast_2d(arys[0]) if len(arys) == 1 else [api.atleast_2d(a) for a in arys],
    np.sum: _reduction(api.sum_),
    np.mean: _reduction(api.mean),
    np.max: _extreme(reductions.amax, api.maximum),
    np.amax: _extreme(reductions.amax, api.maximum),
    np.min: _extreme(reductions.amin, api.minimum),
    np.amin: _extreme(reductions.amin, api.minimum),
    np.cumsum: _cumsum,
    np.diff: _diff,
    np.dot: lambda a, b, out=None: api.dot(a, b),
    np.outer: lambda a, b, out=None: api.outer(a, b),
    np.tensordot: api.tensordot,
    np.einsum: _einsum,
    np.trace: _trace,
    np.linalg.norm: linalg.norm,
    np.clip: _clip,
    np.where: _where,
    np.copy: lambda a, order="K", subok=False: a,
    np.zeros_like: _like(0.0),
    np.ones_like: _like(1.0),
    np.empty_like: _like(0.0),
    np.full_like: _full_like,
    np.shape: lambda a: api._shape(a),
    np.ndim: lambda a: len(api._shape(a)),
    np.size: lambda a, axis=None: int(np.prod(api._shape(a))) if axis is None else api._shape(a)[axis],
}


def supported_function_names() -> list[str]:
    """NumPy functions that accept traced signals, for documentation and errors."""
    return sorted(f"{f.__module__.replace('numpy', 'np')}.{f.__name__}" for f in FUNCTIONS)


def dispatch_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """``__array_function__`` for tracers."""
    handler = FUNCTIONS.get(func)
    if handler is None:
        module = getattr(func, "__module__", "numpy") or "numpy"
        name = f"{module.replace('numpy', 'np')}.{func.__name__}"
        raise UnsupportedOperationError(
            f"{name} is not supported on traced signals", op=name, shapes=_shapes(args), loc=capture(),
            hint="supported NumPy functions: " + ", ".join(supported_function_names())
            + "; plus the ufuncs " + ", ".join(sorted(f"np.{u.__name__}" for u in UFUNCS)),
        )
    return handler(*args, **kwargs)
