"""Helpers shared by the passes: building a new graph from an old one.

Passes never mutate a graph.  A :class:`Rewriter` walks the old graph in an
evaluation order and emits nodes into a fresh id space, so every graph a
pass returns has ids ``0..n-1`` in an evaluation order (operands before
consumers, except the one-step-delayed operands of stateful nodes, which
may point forward: that is how a recurrence closes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from spikec.ir.attrs import Attrs
from spikec.ir.graph import Graph
from spikec.ir.node import Node
from spikec.ir.registry import get_op, is_constant, is_input

Shape = tuple[int, ...]


class Rewriter:
    """Builds a new :class:`Graph` from ``old`` node by node.

    ``map[old_id]`` is the new id that stands for an old node's value.  Emit
    non-stateful nodes only after their operands are mapped; stateful nodes
    (:meth:`copy`) may refer to old operands mapped later, and are wired up
    in :meth:`finish`.
    """

    def __init__(self, old: Graph):
        self.old = old
        self.nodes: dict[int, Node] = {}
        self.map: dict[int, int] = {}
        self._pending: dict[int, tuple[int, ...]] = {}
        # ``spikec.configure`` overrides stamped on emitted nodes: a pass that
        # rewrites a node sets this to that node's config, so the nodes that
        # replace it keep the user's per-op lowering choices.
        self.config = Attrs()

    @classmethod
    def over(cls, graph: Graph) -> Rewriter:
        """A scratch rewriter whose new graph starts as ``graph`` itself (ids mapped to themselves).

        For asking a pass's rules whether they would rewrite a node, without
        building a graph: what the rules emit is thrown away.  Needs ids
        ``0..n-1``, as every pass leaves them.
        """
        rw = cls(graph)
        rw.nodes = dict(graph.nodes)
        rw.map = {i: i for i in graph.nodes}
        return rw

    # -- emitting ---------------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[int] = (), attrs: Attrs | dict[str, Any] | None = None, *,
             shape: Shape | None = None, loc=None, name: str | None = None) -> int:
        """Add a node over new ids ``inputs``; its shape follows from the op unless given."""
        attrs = attrs if isinstance(attrs, Attrs) else Attrs(attrs or {})
        inputs = tuple(int(i) for i in inputs)
        if shape is None:
            shape = get_op(op).infer_shape(attrs, *(self.nodes[i].shape for i in inputs))
        node = Node(len(self.nodes), op, inputs, tuple(int(d) for d in shape), attrs, loc, name, self.config)
        self.nodes[node.id] = node
        return node.id

    def copy(self, node: Node, inputs: Sequence[int] | None = None, **changes: Any) -> int:
        """Copy old ``node`` into the new graph and map it; returns the new id.

        ``inputs`` (new ids) default to the mapped old operands.  A stateful
        node's old operands are mapped at :meth:`finish` instead.
        """
        new_id = len(self.nodes)
        if inputs is None and get_op(node.op).is_stateful:
            self._pending[new_id] = node.inputs
            inputs = ()
        elif inputs is None:
            inputs = tuple(self.map[i] for i in node.inputs)
        self.nodes[new_id] = node.replace(id=new_id, inputs=tuple(inputs), **changes)
        self.map[node.id] = new_id
        return new_id

    def alias(self, old_id: int, new_id: int) -> int:
        """Let old node ``old_id`` be represented by existing new node ``new_id``.

        A user-facing name on the old node moves to the new node if that has none.
        """
        self.map[old_id] = new_id
        name = self.old[old_id].name
        target = self.nodes[new_id]
        if name and not target.name and not is_input(target):
            self.nodes[new_id] = target.replace(name=name)
        return new_id

    def inputs_of(self, node: Node) -> tuple[int, ...]:
        """New ids of an old node's operands."""
        return tuple(self.map[i] for i in node.inputs)

    def new(self, new_id: int) -> Node:
        return self.nodes[new_id]

    # -- finishing ----------------------------------------------------------------
    def finish(self, inputs: Sequence[int] | None = None, outputs: Sequence[int] | None = None) -> Graph:
        """The new graph; boundary ids default to the mapped old boundary."""
        for new_id, old_inputs in self._pending.items():
            self.nodes[new_id] = self.nodes[new_id].replace(inputs=tuple(self.map[i] for i in old_inputs))
        ins = tuple(self.map[i] for i in self.old.inputs) if inputs is None else tuple(inputs)
        outs = tuple(self.map[i] for i in self.old.outputs) if outputs is None else tuple(outputs)
        return Graph(self.nodes.values(), ins, outs, self.old.name)


# -- small queries ------------------------------------------------------------------


def replace_nodes(graph: Graph, plans: Mapping[int, Any], build: Callable[[Rewriter, Node, Any], int]) -> Graph:
    """``graph`` with each node in ``plans`` replaced by what ``build(rw, node, plan)`` emits (its new id), under
    the node's ``spikec.configure`` settings; every other node copied. ``graph`` itself when nothing is planned."""
    if not plans:
        return graph
    rw = Rewriter(graph)
    for node_id in graph.order:
        node = graph[node_id]
        if node_id not in plans:
            rw.copy(node)
            continue
        rw.config = node.config
        rw.alias(node_id, build(rw, node, plans[node_id]))
        rw.config = Attrs()
    return rw.finish()


def consumers_map(graph: Graph) -> dict[int, list[int]]:
    """``node id -> consumer ids`` (one entry per operand slot, delayed edges included)."""
    out: dict[int, list[int]] = {i: [] for i in graph.nodes}
    for node in graph:
        for src in node.inputs:
            out[src].append(node.id)
    return out


def size(shape: Iterable[int]) -> int:
    return math.prod(shape)


def is_const(node: Node) -> bool:
    """Whether ``node`` is a compile-time constant."""
    return is_constant(node)


def const_value(node: Node):
    return node.attrs["value"].value


def instant_predecessors(graph: Graph, node: Node) -> tuple[int, ...]:
    """Operands read within the same time step (none for stateful nodes)."""
    return () if get_op(node.op).is_stateful else node.inputs


def rebuild(graph: Graph, keep: Iterable[int] | None = None) -> Graph:
    """A copy of ``graph`` (only the ``keep`` nodes, if given) with compact ids."""
    keep = set(graph.nodes) if keep is None else set(keep)
    rw = Rewriter(graph)
    for node_id in graph.order:
        if node_id in keep:
            rw.copy(graph[node_id])
    return rw.finish()
