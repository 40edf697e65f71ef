"""Products of inputs hoisted out of recurrences: ``(s (X @ P) + C) @ R -> s X @ (P @ R) + C @ R``.

A recurrence such as the matrix-inverse gradient ``2 (M @ A - I) @ A.T``
passes its state ``M`` through two layers of product units every step:
``M @ A``, then the residual times ``A.T``.  Each layer filters spikes (a
delay) and quantises, and the delay inside the loop is what makes a descent
overshoot.  When ``P`` and ``R`` depend on inputs and constants only (never
on a state), the same value is ``2 (M @ (A @ A.T) - A.T)``: ``A @ A.T`` is
a product of inputs, outside the loop, and the state meets one product
layer.  The unit count is unchanged (both forms need ``n**3`` products for
``n x n`` matrices).
"""

from __future__ import annotations

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.ir.node import Node
from spikec.ir.registry import get_op
from spikec.passes.rewrite import Rewriter, consumers_map, replace_nodes


def hoist_gram(graph: Graph) -> Graph:
    """Rewrite ``(s * (X @ P) + C) @ R`` as ``s * (X @ (P @ R)) + C @ R`` when ``P`` and ``R`` read no state.

    Matches a 2-D ``matmul`` whose left operand is a chain of ``scale`` (by a
    scalar), ``offset`` (by a constant) and ``neg`` over another 2-D
    ``matmul(X, P)``, each link used only by the next, where ``X`` depends on
    a state and neither ``P`` nor ``R`` does (they are functions of inputs and
    constants).  Preserves the NumPy reference output for any inputs, up to
    floating-point rounding (matrix products are associative), and the
    nodes' source lines and ``spikec.configure`` settings.
    """
    consumers = consumers_map(graph)
    stateful = _reads_state(graph)
    plans: dict[int, tuple[Node, Node, float, np.ndarray]] = {}
    for node in graph:
        plan = _match(graph, node, consumers, stateful)
        if plan is not None:
            plans[node.id] = plan
    # the chain and the inner product may become unused: dce drops them
    return replace_nodes(graph, plans, _hoisted)


def _hoisted(rw: Rewriter, node: Node, plan: tuple[Node, Node, float, np.ndarray]) -> int:
    """``s X @ (P @ R) + C @ R`` in place of ``node``."""
    inner, right, factor, constant = plan
    x, p = rw.inputs_of(inner)
    r = rw.map[right.id]
    gram = rw.emit("matmul", (p, r), loc=node.loc)
    out = rw.emit("matmul", (x, gram), loc=node.loc)
    if factor != 1.0:
        out = rw.emit("scale", (out,), {"c": ConstArray(np.float64(factor))}, loc=node.loc)
    if np.any(constant):
        shift = rw.emit("matmul_const", (r,), {"c": ConstArray(constant), "side": "left"}, loc=node.loc)
        out = rw.emit("add", (out, shift), loc=node.loc)
    return out


def _match(graph: Graph, node: Node, consumers: dict[int, list[int]], stateful: set[int]
           ) -> tuple[Node, Node, float, np.ndarray] | None:
    """``(inner matmul, R, s, C)`` when ``node`` is ``(s (X @ P) + C) @ R`` as :func:`hoist_gram` rewrites it."""
    if node.op != "matmul" or len(node.shape) != 2:
        return None
    left, right = (graph[i] for i in node.inputs)
    if right.id in stateful or len(right.shape) != 2:
        return None
    factor, constant, link = 1.0, np.zeros(left.shape), left
    while link.op in _LINKS:
        if len(consumers[link.id]) != 1:
            return None
        step = _LINKS[link.op](link)
        if step is None:
            return None
        # the chain so far is v -> factor * v + constant; this link maps its operand u to a*u + b
        a, b = step
        factor, constant = factor * a, constant + factor * np.broadcast_to(b, left.shape)
        link = graph[link.inputs[0]]
    if link.op != "matmul" or len(link.shape) != 2 or link.shape != left.shape:
        return None
    if len(consumers[link.id]) != 1:
        return None
    x, p = (graph[i] for i in link.inputs)
    if p.id in stateful or x.id not in stateful or len(p.shape) != 2 or len(x.shape) != 2:
        return None
    return link, right, float(factor), np.array(constant, dtype=np.float64)


def _scale(node: Node) -> tuple[float, float] | None:
    # a one-element constant of any ndim is a scalar here: _match refuses a chain whose links changed the shape
    c = np.asarray(node.attrs["c"].value)
    return (float(c.item()), 0.0) if c.size == 1 else None


def _offset(node: Node) -> tuple[float, np.ndarray] | None:
    c = np.asarray(node.attrs["c"].value, dtype=np.float64)
    return (1.0, c) if np.broadcast_shapes(c.shape, node.shape) == node.shape else None


#: linear links allowed between the two products: op -> (node -> (a, b) with the link computing a*u + b, or None)
_LINKS = {
    "scale": _scale,
    "offset": _offset,
    "neg": lambda node: (-1.0, 0.0),
}


def _reads_state(graph: Graph) -> set[int]:
    """Ids of the nodes whose value depends (within a step or through earlier ones) on a stateful node."""
    out: set[int] = set()
    for node_id in graph.order:
        node = graph[node_id]
        if get_op(node.op).is_stateful or any(i in out for i in node.inputs):
            out.add(node_id)
    return out
