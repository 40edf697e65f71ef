"""Constant folding and algebraic identities with constants."""

from __future__ import annotations

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.registry import get_op
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
        opdef = get_op(node.op)
        if opdef.kind.value == "source" or opdef.is_stateful:
            rw.copy(node)
            continue
        ins = rw.inputs_of(node)
        operands = [rw.new(i) for i in ins]
        consts = [o.op == "const" for o in operands]
        # A trainable parameter keeps its own op (folding it would lose the name -> weights mapping).
        if operands and all(consts) and not node.attrs.get("param"):
            with np.errstate(all="ignore"):
                value = np.asarray(opdef.reference(node.attrs, *(const_value(o) for o in operands)),
                                   dtype=np.float64)
            if np.all(np.isfinite(value)) and value.shape == node.shape:
                rw.map[node.id] = rw.emit("const", (), {"value": ConstArray(value)}, loc=node.loc,
                                          name=node.name)
                continue
        new_id = _simplify(rw, node, ins, operands, consts)
        if new_id is None:
            rw.copy(node)
        else:
            rw.alias(node.id, new_id)
    return rw.finish()


def _simplify(rw: Rewriter, node, ins, operands, consts) -> int | None:
    """A new id equal in value to ``node``, or None to copy the node unchanged."""
    op, attrs, loc = node.op, node.attrs, node.loc
    if op == "scale":
        c = attrs["c"].value
        if operands[0].shape == node.shape and np.all(c == 1.0):
            return ins[0]
        if not np.any(c):
            return rw.emit("const", (), {"value": ConstArray(np.zeros(node.shape))}, loc=loc)
        return None
    if op == "offset":
        c = attrs["c"].value
        if operands[0].shape == node.shape and not np.any(c):
            return ins[0]
        return None
    if len(operands) != 2 or consts.count(True) != 1:
        return None
    k = consts.index(True)  # which operand is constant
    c = const_value(operands[k])
    x = ins[1 - k]
    if op == "add":
        return rw.emit("offset", (x,), {"c": ConstArray(c)}, loc=loc)
    if op == "sub":
        if k == 1:
            return rw.emit("offset", (x,), {"c": ConstArray(-c)}, loc=loc)
        return rw.emit("offset", (rw.emit("neg", (x,), loc=loc),), {"c": ConstArray(c)}, loc=loc)
    if op == "mul":
        return rw.emit("scale", (x,), {"c": ConstArray(c)}, loc=loc)
    if op == "div":
        if k == 1 and np.all(c != 0):
            return rw.emit("scale", (x,), {"c": ConstArray(1.0 / c)}, loc=loc)
        if k == 0:
            return rw.emit("scale", (rw.emit("reciprocal", (x,), loc=loc),), {"c": ConstArray(c)}, loc=loc)
        return None
    if op == "matmul":
        side = "left" if k == 0 else "right"
        return rw.emit("matmul_const", (x,), {"c": ConstArray(c), "side": side}, loc=loc)
    if op == "einsum_bilinear":
        it = iter(operands)
        slots = []
        for slot in attrs["consts"]:
            if slot is None:
                operand = next(it)
                slots.append(operand.attrs["value"] if operand.op == "const" else None)
            else:
                slots.append(slot)
        return rw.emit("einsum_linear", (x,), {"subscripts": attrs["subscripts"], "consts": tuple(slots)},
                       loc=loc)
    return None
