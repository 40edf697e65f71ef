"""Common-subexpression elimination by value numbering with partition refinement."""

from __future__ import annotations

from spikec.ir.graph import Graph
from spikec.ir.registry import get_op
from spikec.passes.rewrite import Rewriter


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Merge nodes that compute the same value: equal ``Node.key()`` after operand renaming.

    Two nodes are merged when they have the same op, shape and attributes
    and their operands are (recursively) merged too; for commutative ops
    (``OpDef.commutative``: ``add``, ``mul``) the operands may come in either
    order, so ``x*y`` and ``y*x`` share their product units.  Inputs are
    never merged; equal constants are.

    Recurrences make the definition circular (a state node reads a later
    node that reads the state), so the classes are found as the coarsest
    congruence by partition refinement: stateful nodes start out grouped by
    op, shape and attributes (their initial state is an attribute), the
    instantaneous nodes are numbered in evaluation order from their
    operands' classes, and a group of stateful nodes is split whenever its
    members' operands fall into different classes, until nothing splits.
    Two recurrences merge exactly when they start equal and are driven by
    equal expressions of equal states, which by induction over time steps
    means they hold equal values at every step.

    Each class keeps its first node in evaluation order; names move to it.

    Preserves: the NumPy reference output of the graph for any inputs, bit
    for bit; inputs and outputs (outputs may now name the same node).  Does
    not mutate ``graph``.
    """
    order = graph.order
    stateful = [n for n in graph if get_op(n.op).is_stateful]
    state_class: dict[int, int] = {}
    while True:
        classes = _number(graph, order, state_class)
        refined: dict[int, int] = {}
        table: dict[tuple, int] = {}
        for node in stateful:
            key = (classes[node.id], tuple(classes[i] for i in node.inputs))
            refined[node.id] = table.setdefault(key, len(table))
        before = len({classes[n.id] for n in stateful})
        if len(table) == before:
            break
        state_class = refined

    rw = Rewriter(graph)
    rep: dict[int, int] = {}  # class -> new id
    for node_id in order:
        c = classes[node_id]
        if c in rep:
            rw.alias(node_id, rep[c])
        else:
            rep[c] = rw.copy(graph[node_id])
    return rw.finish()


def _number(graph: Graph, order, state_class: dict[int, int]) -> dict[int, int]:
    """Class number of every node, given the classes of the stateful nodes."""
    classes: dict[int, int] = {}
    table: dict[tuple, int] = {}
    for node_id in order:
        node = graph[node_id]
        opdef = get_op(node.op)
        if opdef.is_stateful:
            key = ("state", node.op, node.shape, node.attrs, node.config, state_class.get(node_id))
        elif opdef.is_input:
            key = ("input", node_id)
        else:
            operands = tuple(classes[i] for i in node.inputs)
            if opdef.commutative:
                operands = tuple(sorted(operands))
            key = (node.op, node.shape, node.attrs, node.config, operands)
        classes[node_id] = table.setdefault(key, len(table))
    return classes
