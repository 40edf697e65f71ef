"""Merging of independent nonlinear nodes into a few large populations."""

from __future__ import annotations

from collections import defaultdict

from spikec.ir.graph import Graph, topological_order
from spikec.ir.registry import get_op
from spikec.passes.rewrite import Rewriter, instant_predecessors


def nonlinear_depth(graph: Graph) -> dict[int, int]:
    """Number of nonlinear nodes on the longest instantaneous path ending at each node.

    Delayed edges (into stateful nodes) are ignored, so a state starts at 0.
    Two nonlinear nodes with the same depth cannot lie on one path.
    """
    depth: dict[int, int] = {}
    for node_id in graph.order:
        node = graph[node_id]
        base = max((depth[i] for i in instant_predecessors(graph, node)), default=0)
        depth[node_id] = base + (1 if get_op(node.op).is_nonlinear else 0)
    return depth


def _operands_of_own_shape(graph: Graph, node) -> bool:
    return all(graph[i].shape == node.shape for i in node.inputs)


# Nonlinear ops that are not ``elementwise`` (one operand) but merge like them when
# the check holds: op -> check(graph, node).
_ALSO_MERGEABLE = {"mul": _operands_of_own_shape}


def mergeable(graph: Graph, node) -> bool:
    """An elementwise nonlinear node, or a ``mul`` of two operands of its own shape."""
    opdef = get_op(node.op)
    if not opdef.is_nonlinear:
        return False
    if opdef.elementwise and len(node.inputs) == 1:
        return True
    check = _ALSO_MERGEABLE.get(node.op)
    return check is not None and check(graph, node)


def merge_units(graph: Graph, min_group: int = 2) -> Graph:
    """Merge nonlinear nodes with the same op and attributes that do not depend on each other.

    Candidates are elementwise nonlinear nodes and ``mul`` nodes whose
    operands have the mul's shape (as :func:`expand_bilinear` leaves them).
    They are grouped by op, attributes and *nonlinear depth* (the number of
    nonlinear nodes on the longest path of instantaneous edges that ends at
    the node; delayed edges into stateful nodes are ignored).  Nodes of equal
    depth never have a path between them, and because every edge into a
    nonlinear node raises the depth, merging all groups at once cannot close
    an instantaneous cycle (a cycle would have to enter a merged node by an
    edge that raises the depth and come back without lowering it).  The
    merged graph is topologically sorted (:func:`~spikec.ir.graph.topological_order`).

    A group of ``min_group`` or more nodes becomes one node over the
    concatenation of its members' raveled operands; each member's value is
    recovered with a ``getitem`` slice and a ``reshape``, which
    :func:`fuse_linear` later folds into the consumers' weights.  Groups keep
    the first member's source location; names move to the member's reshape.

    Preserves: the NumPy reference output of the graph for any inputs, bit
    for bit (elementwise ops compute the same function of the same values);
    inputs, outputs, the number of nonlinear units, and every stateful node.
    Does not mutate ``graph``.
    """
    depth = nonlinear_depth(graph)
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for node in graph:
        if mergeable(graph, node):
            buckets[node.op, node.attrs, node.config, depth[node.id]].append(node.id)
    groups = [members for members in buckets.values() if len(members) >= max(2, min_group)]
    if not groups:
        return graph.replace()
    group_of = {m: g for g, members in enumerate(groups) for m in members}

    def vertex(node_id: int):
        return ("g", group_of[node_id]) if node_id in group_of else ("n", node_id)

    first = {}
    for node in graph:
        first.setdefault(vertex(node.id), min(groups[group_of[node.id]]) if node.id in group_of else node.id)
    edges = [(vertex(src), vertex(node.id)) for node in graph for src in instant_predecessors(graph, node)
             if vertex(src) != vertex(node.id)]
    order = topological_order(first, edges, key=lambda v: first[v])

    rw = Rewriter(graph)
    for kind, key in order:
        if kind == "n":
            rw.copy(graph[key])
        else:
            _emit_group(rw, graph, groups[key])
    return rw.finish()


def _flat(rw: Rewriter, src: int, loc) -> int:
    node = rw.new(src)
    if node.ndim == 1:
        return src
    return rw.emit("reshape", (src,), {"shape": (node.size,)}, loc=loc)


def _emit_group(rw: Rewriter, graph: Graph, members: list[int]) -> None:
    nodes = [graph[m] for m in sorted(members)]
    head = nodes[0]
    loc = head.loc
    arity = len(head.inputs)
    operands = []
    for port in range(arity):
        parts = [_flat(rw, rw.map[n.inputs[port]], loc) for n in nodes]
        operands.append(rw.emit("concatenate", parts, {"axis": 0}, loc=loc))
    rw.config = head.config  # every member has the same config (it is in the bucket key)
    merged = rw.emit(head.op, operands, head.attrs, loc=loc)
    start = 0
    for node in nodes:
        stop = start + node.size
        part = rw.emit("getitem", (merged,), {"index": (("slice", start, stop, None),)}, loc=node.loc)
        if node.shape != (node.size,):
            part = rw.emit("reshape", (part,), {"shape": tuple(node.shape)}, loc=node.loc)
        rw.alias(node.id, part)
        start = stop
