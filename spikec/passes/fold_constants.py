"""Constant folding and algebraic identities with constants."""

from __future__ import annotations

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.registry import get_op, is_constant
from spikec.passes.rewrite import Rewriter, const_value


def fold_constants(graph: Graph) -> Graph:
    """Evaluate constant sub-expressions; turn ops with a constant operand into their linear form.

    Rewrites, visiting nodes in evaluation order:

    * an instantaneous op (linear or nonlinear) whose operands are all
      ``const`` nodes becomes a ``const`` node holding its NumPy reference
      value (left alone if that value is not finite, so the problem stays
      visible at its source); stateful ops are never folded, since their
      output changes over time even for a constant input;
    * ``scale`` by ones and ``offset`` by zeros that do not broadcast become
      their operand; ``scale`` by zeros becomes a ``const`` of zeros;
    * an op with one ``const`` operand becomes the linear op it really is:
      ``add``/``sub`` -> ``offset`` (and ``neg``), ``mul`` -> ``scale``,
      ``div`` by a constant without zeros -> ``scale`` by its reciprocal,
      ``matmul`` -> ``matmul_const``, ``einsum_bilinear`` -> ``einsum_linear``.

    Nodes this bypasses stay in the graph, unused, for ``dce`` to remove.

    Preserves: the NumPy reference output of the graph for any finite inputs
    (bit for bit, except ``x / c -> x * (1/c)`` and ``c / x -> c * (1/x)``,
    which round differently, and ``x * 0 -> 0``, which holds for finite x),
    the graph's inputs and outputs, and every stateful node.  Does not
    mutate ``graph``.
    """
    rw = Rewriter(graph)
    for node_id in graph.order:
        node = graph[node_id]
        new_id = fold(rw, node)
        if new_id is None:
            rw.copy(node)
        else:
            rw.alias(node.id, new_id)
    return rw.finish()


def rewrites(graph: Graph) -> list:
    """The nodes of ``graph`` this pass would rewrite (it leaves the graph unchanged when there are none)."""
    rw = Rewriter.over(graph)
    return [node for node in graph if fold(rw, node) is not None]


def fold(rw: Rewriter, node) -> int | None:
    """A new id equal in value to old ``node`` (its operands already mapped), or None to copy it unchanged."""
    opdef = get_op(node.op)
    if opdef.is_source or opdef.is_stateful:
        return None
    ins = rw.inputs_of(node)
    operands = [rw.new(i) for i in ins]
    consts = [is_constant(o) for o in operands]
    # A trainable parameter keeps its own op (folding it would lose the name -> weights mapping).
    if operands and all(consts) and not node.attrs.get("param"):
        with np.errstate(all="ignore"):
            value = np.asarray(opdef.reference(node.attrs, *(const_value(o) for o in operands)), dtype=np.float64)
        if np.all(np.isfinite(value)) and value.shape == node.shape:
            return rw.emit("const", (), {"value": ConstArray(value)}, loc=node.loc, name=node.name)
    identity = _IDENTITIES.get(node.op)
    if identity is not None:
        return identity(rw, node, ins, operands)
    linear_form = _ONE_CONST.get(node.op)
    if linear_form is not None and len(operands) == 2 and consts.count(True) == 1:
        k = consts.index(True)  # which operand is constant
        return linear_form(rw, node, ins[1 - k], k, const_value(operands[k]), operands)
    return None


# -- identities with a constant attribute: rule(rw, node, ins, operands) -------------------------


def _scale(rw: Rewriter, node, ins, operands) -> int | None:
    c = node.attrs["c"].value
    if operands[0].shape == node.shape and np.all(c == 1.0):
        return ins[0]
    if not np.any(c):
        return rw.emit("const", (), {"value": ConstArray(np.zeros(node.shape))}, loc=node.loc)
    return None


def _offset(rw: Rewriter, node, ins, operands) -> int | None:
    c = node.attrs["c"].value
    if operands[0].shape == node.shape and not np.any(c):
        return ins[0]
    return None


_IDENTITIES = {"scale": _scale, "offset": _offset}

# -- one constant operand: rule(rw, node, x, k, c, operands) -> the linear op it really is ---------
# ``x`` is the signal operand's new id, ``k`` the constant's position and ``c`` its value.


def _add(rw, node, x, k, c, operands):
    return rw.emit("offset", (x,), {"c": ConstArray(c)}, loc=node.loc)


def _sub(rw, node, x, k, c, operands):
    if k == 1:
        return rw.emit("offset", (x,), {"c": ConstArray(-c)}, loc=node.loc)
    return rw.emit("offset", (rw.emit("neg", (x,), loc=node.loc),), {"c": ConstArray(c)}, loc=node.loc)


def _mul(rw, node, x, k, c, operands):
    return rw.emit("scale", (x,), {"c": ConstArray(c)}, loc=node.loc)


def _div(rw, node, x, k, c, operands):
    if k == 1 and np.all(c != 0):
        return rw.emit("scale", (x,), {"c": ConstArray(1.0 / c)}, loc=node.loc)
    if k == 0:
        return rw.emit("scale", (rw.emit("reciprocal", (x,), loc=node.loc),), {"c": ConstArray(c)}, loc=node.loc)
    return None


def _matmul(rw, node, x, k, c, operands):
    side = "left" if k == 0 else "right"
    return rw.emit("matmul_const", (x,), {"c": ConstArray(c), "side": side}, loc=node.loc)


def _einsum_bilinear(rw, node, x, k, c, operands):
    it = iter(operands)
    slots = []
    for slot in node.attrs["consts"]:
        if slot is None:
            operand = next(it)
            slots.append(operand.attrs["value"] if is_constant(operand) else None)
        else:
            slots.append(slot)
    return rw.emit("einsum_linear", (x,), {"subscripts": node.attrs["subscripts"], "consts": tuple(slots)},
                   loc=node.loc)


_ONE_CONST = {"add": _add, "sub": _sub, "mul": _mul, "div": _div, "matmul": _matmul,
              "einsum_bilinear": _einsum_bilinear}
