"""Fusion of linear ops into single ``affine`` ops."""

from __future__ import annotations

import math

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.linear_map import is_identity, linear_map
from spikec.ir.registry import get_op, is_constant
from spikec.ir.sparse import SparseConst
from spikec.passes.rewrite import Rewriter, consumers_map


def fuse_linear(graph: Graph) -> Graph:
    """Collapse every tree of linear ops between non-linear values into one ``affine`` op.

    A linear node is *absorbable* when all its consumers are linear and it
    is neither an output nor named.  Visiting nodes in evaluation order,
    every linear node's matrix form is composed with the composed forms of
    its absorbable operands (matrix products from
    :func:`spikec.ir.linear_map.linear_map`, summed where paths from the
    same leaf join; ``const`` operands fold into the bias).  The leaves are
    the values a tree reads from outside: nonlinear, stateful and input
    nodes, and linear values kept on their own.  Each node that absorbed at
    least one operand becomes one ``affine`` op; single linear ops are left
    as they are.  A result that is the identity (up to a reshape) on one
    leaf becomes that leaf (or a ``reshape``); one without leaves a
    ``const``.

    Weights are not allowed to blow up.  An operand with one consumer is
    absorbed only if the composed matrices have no more nonzeros than the
    two stages kept apart; this keeps a narrow intermediate, such as the
    ``(n, k)`` sum of one matrix product that is broadcast into the next
    product's ``(n, m, k)`` units, instead of multiplying its weights by
    ``m``.  An operand with several consumers is copied into a consumer
    only if that adds no nonzeros to the consumer's own matrix (a slice, a
    reshape, a permutation: e.g. the split of a merged population read by
    two consumers); otherwise it is kept as one value that both read.

    Projection ops (``conv2d``, ``dense``) count as nonlinear here: they
    are never absorbed nor absorb their operands, so a convolution never
    turns into its (large) matrix and a parameter keeps its own weights.

    Nodes this bypasses stay in the graph, unused, for ``dce`` to remove.

    Preserves: the NumPy reference output of the graph for any inputs, up to
    floating-point rounding (matrix products reassociate sums); inputs,
    outputs, names and every nonlinear and stateful node.  Does not mutate
    ``graph``.
    """
    consumers = consumers_map(graph)
    outputs = set(graph.outputs)

    def linear(node_id: int) -> bool:
        # Projection ops (conv2d, dense) stay whole: see spikec.ir.ops.layers.
        opdef = get_op(graph[node_id].op)
        return opdef.is_linear and not opdef.is_projection

    absorbable, shared = set(), set()
    for node in graph:
        users = set(consumers[node.id])
        if linear(node.id) and node.id not in outputs and not node.name and users and all(map(linear, users)):
            absorbable.add(node.id)
            if len(users) > 1:
                shared.add(node.id)

    rw = Rewriter(graph)
    pending: dict[int, tuple[dict, np.ndarray, bool]] = {}  # absorbable id -> (leaves, bias, fused)

    def materialize(src: int) -> int:
        """Emit absorbable node ``src`` on its own (once); its new id."""
        if src in rw.map:
            return rw.map[src]
        leaves, bias, fused = pending[src]
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
                # A shared value is copied into each consumer only if that adds no weights.
                limit = w.nnz + (0 if src in shared else sum(m.nnz for m in sub.values()))
                if sum(p.nnz for p in products.values()) > limit:
                    _accumulate(leaves, materialize(src), w)
                    continue
                for leaf, p in products.items():
                    _accumulate(leaves, leaf, p)
                bias = bias + w @ sub_bias
                fused = True
            elif is_constant(rw.new(rw.map[src])):
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
    leaves = {leaf: m for leaf, m in leaves.items() if m.count_nonzero()}  # e.g. x - x
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
