"""Removal of ops that return their operand unchanged (or only reshaped)."""

from __future__ import annotations

import numpy as np

from spikec.ir.graph import Graph
from spikec.ir.registry import get_op
from spikec.passes.rewrite import Rewriter

# The op that stands for "same elements, new shape": what shape-only changes become.
RESHAPE = "reshape"


def remove_identities(graph: Graph) -> Graph:
    """Drop ops that do not change their operand's value, and collapse trivial chains.

    * ``reshape`` to the operand's own shape, ``transpose`` by the identity
      permutation, ``broadcast_to`` the same shape, ``flip`` along axes of
      length one, ``getitem`` that selects every element in order,
      ``sum``/``mean`` over no axes or only axes of length one (with
      ``keepdims``), single-operand ``concatenate``, ``select`` with a
      condition that is all true (or all false), ``neg(neg(x))``, and
      ``matmul_const`` by an identity matrix: replaced by their operand;
    * the same ops when they only change the shape (a ``getitem`` like
      ``x[None]``, a ``sum`` over length-one axes, a one-operand ``stack``):
      replaced by a ``reshape``;
    * ``reshape(reshape(x))`` and ``transpose(transpose(x))``: one op.

    Nodes this bypasses stay in the graph, unused, for ``dce`` to remove.

    Preserves: the NumPy reference output of the graph for any inputs, bit
    for bit; inputs, outputs, and user-facing names (a removed node's name
    moves to the node that replaces it).  Does not mutate ``graph``.
    """
    rw = Rewriter(graph)
    for node_id in graph.order:
        node = graph[node_id]
        rule = _RULES.get(node.op)
        if rule is not None and node.inputs:
            ins = rw.inputs_of(node)
            new_id = rule(rw, node, ins)
            if new_id is not None:
                if new_id == RESHAPE:
                    new_id = _reshape(rw, ins[0], node)
                rw.alias(node.id, new_id)
                continue
        rw.copy(node)
    return rw.finish()


def _reshape(rw: Rewriter, src: int, node) -> int:
    """``src`` reshaped to ``node.shape`` (no node when the shape already matches)."""
    operand = rw.new(src)
    if operand.shape == node.shape:
        return src
    if operand.op == RESHAPE:
        src = operand.inputs[0]
        if rw.new(src).shape == node.shape:
            return src
    return rw.emit(RESHAPE, (src,), {"shape": tuple(node.shape)}, loc=node.loc)


def _order_only(rw: Rewriter, node, ins):
    """An op whose output lists the operand's elements in C order is a reshape."""
    operand = rw.new(ins[0])
    if node.size != operand.size:
        return None
    index = np.asarray(get_op(node.op).reference(node.attrs, np.arange(operand.size).reshape(operand.shape)))
    if index.dtype.kind not in "iu" or not np.array_equal(index.ravel(), np.arange(operand.size)):
        return None
    return RESHAPE


def _reshape_rule(rw, node, ins):
    return RESHAPE


def _transpose_rule(rw, node, ins):
    axes = tuple(node.attrs["axes"])
    if axes == tuple(range(len(axes))):
        return ins[0]
    operand = rw.new(ins[0])
    if operand.op == node.op:  # transpose(transpose(x)): one permutation
        inner = tuple(operand.attrs["axes"])
        composed = tuple(inner[i] for i in axes)
        if composed == tuple(range(len(composed))):
            return operand.inputs[0]
        return rw.emit("transpose", (operand.inputs[0],), {"axes": composed}, loc=node.loc)
    return _order_only(rw, node, ins)


def _reduce_rule(rw, node, ins):
    operand = rw.new(ins[0])
    nd = operand.ndim
    axis = node.attrs["axis"]
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in axis) if nd else ()
    if all(operand.shape[a] == 1 for a in axes) and node.size == operand.size:
        return RESHAPE
    return None


def _concatenate_rule(rw, node, ins):
    return RESHAPE if len(ins) == 1 else None


def _neg_rule(rw, node, ins):
    operand = rw.new(ins[0])
    if operand.op == node.op:  # neg(neg(x))
        return operand.inputs[0]
    return None


def _select_rule(rw, node, ins):
    cond = np.asarray(node.attrs["cond"].value, dtype=bool)
    for pick, src in ((True, ins[0]), (False, ins[1])):
        if np.all(cond == pick) and rw.new(src).shape == node.shape:
            return src
    return None


def _matmul_const_rule(rw, node, ins):
    c = node.attrs["c"].value
    operand = rw.new(ins[0])
    if c.ndim == 2 and c.shape[0] == c.shape[1] and operand.shape == node.shape \
            and np.array_equal(c, np.eye(c.shape[0])):
        return ins[0]
    return None


_RULES = {
    "reshape": _reshape_rule,
    "transpose": _transpose_rule,
    "broadcast_to": _order_only,
    "flip": _order_only,
    "getitem": _order_only,
    "stack": _order_only,
    "sum": _reduce_rule,
    "mean": _reduce_rule,
    "concatenate": _concatenate_rule,
    "neg": _neg_rule,
    "select": _select_rule,
    "matmul_const": _matmul_const_rule,
}

__all__ = ["remove_identities"]
