"""Fusion of linear ops into single ``affine`` ops."""

from __future__ import annotations

import math

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.registry import get_op
from spikec.ir.sparse import SparseConst
from spikec.passes.linear_map import is_identity, linear_map
from spikec.passes.rewrite import Rewriter, consumers_map


def fuse_linear(graph: Graph) -> Graph:
    """Collapse every tree of linear ops between non-linear values into one ``affine`` op.

    A linear node is *absorbable* when it has exactly one consumer node
    (which may read it more than once), that consumer is linear, and the
    node is neither an output nor named.  Visiting nodes in evaluation
    order, every linear node's matrix form is composed with the composed
    forms of its absorbable operands (matrix products from
    :func:`spikec.passes.linear_map.linear_map`, summed where paths from the
    same leaf join; ``const`` operands fold into the bias).  The leaves are
    the values a tree reads from outside: nonlinear, stateful and input
    nodes, and the roots of other trees.  Each tree that absorbed at least
    one node becomes one ``affine`` op; single linear ops are left as they
    are.  A result that is the identity (up to a reshape) on one leaf
    becomes that leaf (or a ``reshape``); one without leaves a ``const``.

    Weights are not allowed to blow up: an operand is absorbed only if the
    composed matrices have no more nonzeros than the two stages kept apart
    (otherwise it stays a separate value).  This keeps a narrow
    intermediate, such as the ``(n, k)`` sum of one matrix product that is
    broadcast into the next product's ``(n, m, k)`` units, instead of
    multiplying its weights by ``m``.  A linear node with several consumers
    also stays a separate value (folding it into each consumer would cost
    no neurons but duplicate its weights).

    Preserves: the NumPy reference output of the graph for any inputs, up to
    floating-point rounding (matrix products reassociate sums); inputs,
    outputs, names and every nonlinear and stateful node.  Does not mutate
    ``graph``.
    """
    consumers = consumers_map(graph)
    outputs = set(graph.outputs)

    def linear(node_id: int) -> bool:
        return get_op(graph[node_id].op).is_linear

    absorbable = set()
    for node in graph:
        users = set(consumers[node.id])
        if (linear(node.id) and node.id not in outputs and not node.name and len(users) == 1
                and linear(next(iter(users)))):
            absorbable.add(node.id)

    rw = Rewriter(graph)
    pending: dict[int, tuple[dict, np.ndarray, bool]] = {}  # absorbable id -> (leaves, bias, fused)

    def materialize(src: int) -> int:
        """Emit absorbable node ``src`` on its own; its new id."""
        leaves, bias, fused = pending.pop(src)
        if fused:
            return rw.alias(src, _emit(rw, graph[src], leaves, bias))
        return rw.copy(graph[src])

    for node_id in graph.order:
        node = graph[node_id]
        if not linear(node_id):
            rw.copy(node)
            continue
        weights, bias = linear_map(node, [graph[i].shape for i in node.inputs])
        leaves: dict[int, object] = {}
        fused = False
        for w, src in zip(weights, node.inputs):
            if src in pending:
                sub, sub_bias, _ = pending[src]
                products = {leaf: w @ m for leaf, m in sub.items()}
                if sum(p.nnz for p in products.values()) > w.nnz + sum(m.nnz for m in sub.values()):
                    _accumulate(leaves, materialize(src), w)
                    continue
                for leaf, p in products.items():
                    _accumulate(leaves, leaf, p)
                bias = bias + w @ sub_bias
                fused = True
            elif rw.new(rw.map[src]).op == "const":
                bias = bias + w @ np.ravel(rw.new(rw.map[src]).attrs["value"].value)
            else:
                _accumulate(leaves, rw.map[src], w)
        if node_id in absorbable:
            pending[node_id] = (leaves, bias, fused)
        elif fused:
            rw.alias(node_id, _emit(rw, node, leaves, bias))
        else:
            rw.copy(node)
    return rw.finish()


def _accumulate(leaves: dict, leaf: int, m) -> None:
    leaves[leaf] = m if leaf not in leaves else leaves[leaf] + m


def _emit(rw: Rewriter, node, leaves: dict, bias: np.ndarray) -> int:
    loc = node.loc
    if not leaves:
        return rw.emit("const", (), {"value": ConstArray(bias.reshape(node.shape))}, loc=loc)
    has_bias = bool(np.any(bias))
    if len(leaves) == 1 and not has_bias:
        (leaf, w), = leaves.items()
        if is_identity(w):
            src = leaf
            if rw.new(src).shape == node.shape:
                return src
            return rw.emit("reshape", (src,), {"shape": tuple(node.shape)}, loc=loc)
    inputs = tuple(leaves)
    weights = tuple(SparseConst(w) for w in leaves.values())
    attrs = {"weights": weights, "bias": ConstArray(bias) if has_bias else None, "shape": tuple(node.shape)}
    assert all(w.shape == (math.prod(node.shape), rw.new(i).size) for w, i in zip(weights, inputs))
    return rw.emit("affine", inputs, attrs, loc=loc)
