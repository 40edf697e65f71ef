"""Expansion of bilinear ops into explicit elementwise product units."""

from __future__ import annotations

import string

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.registry import is_constant
from spikec.passes.rewrite import Rewriter

Shape = tuple[int, ...]


def expand_bilinear(graph: Graph) -> Graph:
    """Rewrite every product of two signals as one elementwise ``mul`` plus linear ops.

    * ``matmul(x, y)`` with ``x`` of shape ``(..., n, m)`` and ``y`` of shape
      ``(..., m, k)`` becomes ``sum(mul(X, Y), axis=-2)`` where ``X`` and
      ``Y`` are ``x`` and ``y`` reshaped and broadcast to ``(..., n, m, k)``:
      one ``mul`` of ``n*m*k`` product units (1-D operands as NumPy
      treats them);
    * ``einsum_bilinear`` becomes a ``mul`` over the full index space (one
      unit per combination of all index values, as the op's unit count
      says), each signal brought into that space by an ``einsum_linear``
      (for transposes and diagonals), ``reshape`` and ``broadcast_to``;
      constant operands become a ``scale`` and the contraction a ``sum``
      and ``transpose``;
    * ``div(x, y)`` becomes ``mul(x, reciprocal(y))``;
    * ``mul(x, x)`` becomes ``square(x)`` (one input per unit instead of two);
    * a broadcasting ``mul`` gets explicit ``broadcast_to`` operands, so that
      after this pass every ``mul`` multiplies two operands of its own shape
      element by element: the lowering builds one product unit per element;
    * ``matmul``/``einsum_bilinear`` with a ``const`` operand become
      ``matmul_const``/``einsum_linear`` (they are linear).

    After this pass the only nonlinear ops are ``mul`` (equal-shape
    operands) and the elementwise ops; the lowering relies on that.

    Preserves: the NumPy reference output for any inputs, up to rounding
    (sums are reassociated; ``x / y`` becomes ``x * (1 / y)``); inputs,
    outputs, names, and the number of product units (``matmul`` and
    ``einsum_bilinear`` count exactly the units their ``mul`` gets).  Does not
    mutate ``graph``.
    """
    rw = Rewriter(graph)
    for node_id in graph.order:
        node = graph[node_id]
        rule = _RULES.get(node.op)
        rw.config = node.config
        new_id = rule(rw, node, rw.inputs_of(node)) if rule is not None else None
        if new_id is None:
            rw.copy(node)
        else:
            if rw.new(new_id).shape != node.shape:  # pragma: no cover - a bug in a rule
                raise AssertionError(f"expand_bilinear changed the shape of {node.op} node {node.id}")
            rw.alias(node.id, new_id)
    return rw.finish()


# -- helpers -------------------------------------------------------------------------


def _to_shape(rw: Rewriter, src: int, shape: Shape, loc) -> int:
    """``src`` broadcast to ``shape``."""
    if rw.new(src).shape == tuple(shape):
        return src
    return rw.emit("broadcast_to", (src,), {"shape": tuple(shape)}, loc=loc)


def _mul(rw: Rewriter, a: int, b: int, shape: Shape, loc) -> int:
    if a == b:
        return rw.emit("square", (_to_shape(rw, a, shape, loc),), loc=loc)
    return rw.emit("mul", (_to_shape(rw, a, shape, loc), _to_shape(rw, b, shape, loc)), loc=loc)


def _const_of(rw: Rewriter, new_id: int):
    node = rw.new(new_id)
    return node.attrs["value"] if is_constant(node) else None


# -- rules ---------------------------------------------------------------------------


def _mul_rule(rw: Rewriter, node, ins):
    a, b = ins
    if a != b and rw.new(a).shape == node.shape and rw.new(b).shape == node.shape:
        return None
    return _mul(rw, a, b, node.shape, node.loc)


def _div_rule(rw: Rewriter, node, ins):
    x, y = ins
    recip = rw.emit("reciprocal", (y,), loc=node.loc)
    return _mul(rw, x, recip, node.shape, node.loc)


def _matmul_rule(rw: Rewriter, node, ins):
    x, y = ins
    loc = node.loc
    for k, side in ((0, "left"), (1, "right")):
        c = _const_of(rw, ins[k])
        if c is not None:
            return rw.emit("matmul_const", (ins[1 - k],), {"c": c, "side": side}, loc=loc)
    xs, ys = rw.new(x).shape, rw.new(y).shape
    if len(xs) == 1 and len(ys) == 1:  # inner product
        return rw.emit("sum", (_mul(rw, x, y, xs, loc),), {"axis": (0,), "keepdims": False}, loc=loc)
    if len(xs) == 1:  # (m,) @ (..., m, k) -> (..., k)
        xe = rw.emit("reshape", (x,), {"shape": (xs[0], 1)}, loc=loc)
        full = np.broadcast_shapes((xs[0], 1), ys)
        prod = _mul(rw, xe, y, full, loc)
        return rw.emit("sum", (prod,), {"axis": (len(full) - 2,), "keepdims": False}, loc=loc)
    if len(ys) == 1:  # (..., n, m) @ (m,) -> (..., n)
        full = np.broadcast_shapes(xs, ys)
        prod = _mul(rw, x, y, full, loc)
        return rw.emit("sum", (prod,), {"axis": (len(full) - 1,), "keepdims": False}, loc=loc)
    # (..., n, m) @ (..., m, k): product over (..., n, m, k), summed over m.
    xe = rw.emit("reshape", (x,), {"shape": xs + (1,)}, loc=loc)
    ye = rw.emit("reshape", (y,), {"shape": ys[:-2] + (1,) + ys[-2:]}, loc=loc)
    full = np.broadcast_shapes(xs + (1,), ys[:-2] + (1,) + ys[-2:])
    prod = _mul(rw, xe, ye, full, loc)
    return rw.emit("sum", (prod,), {"axis": (len(full) - 2,), "keepdims": False}, loc=loc)


def _explicit_subscripts(subscripts: str, shapes: list[Shape]) -> tuple[list[str], str]:
    """Input terms and output with ``...`` replaced by explicit (unused) letters."""
    subscripts = subscripts.replace(" ", "")
    lhs, rhs = subscripts.split("->")
    terms = lhs.split(",")
    if "..." not in subscripts:
        return terms, rhs
    unused = [c for c in string.ascii_letters if c not in subscripts]
    n_ell = max(len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t)
    ell = "".join(unused[:n_ell])
    out_terms = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", ell[n_ell - k:] if k else "")
        out_terms.append(term)
    return out_terms, rhs.replace("...", ell)


def _einsum_rule(rw: Rewriter, node, ins):
    attrs, loc = node.attrs, node.loc
    consts = list(attrs["consts"])
    # A const node among the signals: the einsum is linear.
    it = iter(ins)
    slots = [(next(it) if c is None else None, c) for c in consts]
    signal_slots = [i for i, (s, _) in enumerate(slots) if s is not None]
    for i in signal_slots:
        c = _const_of(rw, slots[i][0])
        if c is not None:
            other = next(s for j, (s, _) in enumerate(slots) if s is not None and j != i)
            new_consts = tuple(c if j == i else cc for j, (_, cc) in enumerate(slots))
            return rw.emit("einsum_linear", (other,), {"subscripts": attrs["subscripts"], "consts": new_consts},
                           loc=loc)
    shapes = [rw.new(s).shape if s is not None else c.shape for s, c in slots]
    terms, out = _explicit_subscripts(attrs["subscripts"], shapes)
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for letter, dim in zip(term, shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)
    letters = sorted(sizes, key=lambda ch: min(t.index(ch) + 100 * k for k, t in enumerate(terms) if ch in t))
    full_shape = tuple(sizes[ch] for ch in letters)

    memo: dict[tuple[int, str], int] = {}

    def to_full(src: int, term: str) -> int:
        if (src, term) not in memo:
            memo[src, term] = _to_full(src, term)
        return memo[src, term]

    def _to_full(src: int, term: str) -> int:
        present = "".join(ch for ch in letters if ch in term)
        if term != present:
            src = rw.emit("einsum_linear", (src,), {"subscripts": f"{term}->{present}", "consts": (None,)},
                          loc=loc)
        shape = rw.new(src).shape
        padded = tuple(shape[present.index(ch)] if ch in present else 1 for ch in letters)
        if padded != shape:
            src = rw.emit("reshape", (src,), {"shape": padded}, loc=loc)
        return _to_shape(rw, src, full_shape, loc)

    a, b = (to_full(slots[i][0], terms[i]) for i in signal_slots)
    prod = _mul(rw, a, b, full_shape, loc)
    const_slots = [i for i, (s, _) in enumerate(slots) if s is None]
    if const_slots:
        present = "".join(ch for ch in letters if any(ch in terms[i] for i in const_slots))
        value = np.einsum(",".join(terms[i] for i in const_slots) + "->" + present,
                          *(slots[i][1].value for i in const_slots))
        padded = tuple(value.shape[present.index(ch)] if ch in present else 1 for ch in letters)
        prod = rw.emit("scale", (prod,), {"c": ConstArray(value.reshape(padded))}, loc=loc)
    summed = tuple(i for i, ch in enumerate(letters) if ch not in out)
    if summed:
        prod = rw.emit("sum", (prod,), {"axis": summed, "keepdims": False}, loc=loc)
    kept = [ch for ch in letters if ch in out]
    perm = tuple(kept.index(ch) for ch in out)
    if perm != tuple(range(len(perm))):
        prod = rw.emit("transpose", (prod,), {"axes": perm}, loc=loc)
    return prod


def rewrites(graph: Graph) -> list:
    """The nodes of ``graph`` this pass would rewrite (it leaves the graph unchanged when there are none)."""
    rw = Rewriter.over(graph)
    out = []
    for node in graph:
        rule = _RULES.get(node.op)
        if rule is not None and rule(rw, node, node.inputs) is not None:
            out.append(node)
    return out


_RULES = {
    "mul": _mul_rule,
    "div": _div_rule,
    "matmul": _matmul_rule,
    "einsum_bilinear": _einsum_rule,
}
