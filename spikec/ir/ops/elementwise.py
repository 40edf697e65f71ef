"""Elementwise functions: one scalar function applied to each element of one operand.

Each is one :func:`elementwise` line.  The lowering needs nothing more: the
generic NEF rule (:mod:`spikec.lower.rules`) tunes one ensemble per element
to the function's reference on the operand's measured range, kept inside
the function's domain (where the reference is finite).
"""

from __future__ import annotations

import numpy as np

from spikec.ir.ops._common import fmt, same_shape
from spikec.ir.registry import OpDef, OpKind, register


def elementwise(name: str, fn, doc: str, numpy_names: tuple[str, ...], *attr_keys: str) -> OpDef:
    """Register elementwise op ``name`` computing ``fn(attrs, x)``; ``attr_keys`` are shown in listings."""
    return register(OpDef(name, OpKind.NONLINEAR, doc, reference=lambda a, x: fn(a, x), shape_rule=same_shape,
                          elementwise=True, format_attrs=fmt(*attr_keys) if attr_keys else None,
                          numpy_names=numpy_names))


elementwise("square", lambda a, x: np.square(x), "x ** 2", ("np.square", "** 2"))
elementwise("sqrt", lambda a, x: np.sqrt(x), "square root", ("np.sqrt", "** 0.5"))
elementwise("power", lambda a, x: np.power(x, a["p"]), "x ** p for a constant p", ("**", "np.power"), "p")
elementwise("reciprocal", lambda a, x: 1.0 / x, "1 / x", ("const / x", "np.reciprocal"))
elementwise("exp", lambda a, x: np.exp(x), "exponential", ("np.exp",))
elementwise("log", lambda a, x: np.log(x), "natural logarithm", ("np.log",))
elementwise("sin", lambda a, x: np.sin(x), "sine", ("np.sin",))
elementwise("cos", lambda a, x: np.cos(x), "cosine", ("np.cos",))
elementwise("tanh", lambda a, x: np.tanh(x), "hyperbolic tangent", ("np.tanh",))
elementwise("arctan", lambda a, x: np.arctan(x), "inverse tangent", ("np.arctan",))
elementwise("arcsin", lambda a, x: np.arcsin(x), "inverse sine (domain [-1, 1])", ("np.arcsin",))
elementwise("arccos", lambda a, x: np.arccos(x), "inverse cosine (domain [-1, 1])", ("np.arccos",))
elementwise("arcsinh", lambda a, x: np.arcsinh(x), "inverse hyperbolic sine", ("np.arcsinh",))
elementwise("arccosh", lambda a, x: np.arccosh(x), "inverse hyperbolic cosine (domain [1, inf))", ("np.arccosh",))
elementwise("arctanh", lambda a, x: np.arctanh(x), "inverse hyperbolic tangent (domain (-1, 1))", ("np.arctanh",))
elementwise("abs", lambda a, x: np.abs(x), "absolute value", ("np.abs", "abs()"))
elementwise("relu", lambda a, x: np.maximum(x, 0.0), "max(x, 0)", ("np.maximum", "np.minimum", "np.clip (one-sided)"))
elementwise("clip", lambda a, x: np.clip(x, a["lo"], a["hi"]), "clip to [lo, hi]", ("np.clip",), "lo", "hi")
# h0 is the value at x == 0, as in np.heaviside: 0 for x > y, 1 for x >= y, so
# that a tie compares exactly as NumPy does.
elementwise("heaviside", lambda a, x: np.heaviside(x, a["h0"]), "1 where x > 0, h0 where x == 0, else 0",
            ("x > y", "x < y", ">=", "<="), "h0")
