"""The dataflow graph: frozen nodes, with a networkx ``MultiDiGraph`` view on demand.

The evaluation order is a plain-Python topological sort (:func:`topological_order`):
every trace needs it, and importing networkx for it alone would cost more than
tracing a small program.  networkx is imported when its view is asked for
(printing, DOT, analyses) or to name the cycle of a graph that has one.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from spikec.errors import ShapeError, TraceError
from spikec.ir.attrs import Attrs
from spikec.ir.node import Node
from spikec.ir.registry import OpKind, get_op
from spikec.ir.source import SourceLoc

if TYPE_CHECKING:
    import networkx as nx


class CycleError(ValueError):
    """A directed graph given to :func:`topological_order` has a cycle: ``cycle`` lists its edges ``(u, v)``."""

    def __init__(self, cycle: list[tuple]):
        super().__init__("the graph has a cycle: " + " -> ".join(str(u) for u, _ in cycle))
        self.cycle = cycle


def topological_order(nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable]],
                      key: Callable[[Any], Any] | None = None) -> tuple:
    """The nodes ordered so that every edge ``(u, v)`` has ``u`` before ``v``; among the nodes
    ready at once, the smallest ``key(node)`` first (the node itself without ``key``), ties in
    the order ``nodes`` lists them.

    The same order as ``networkx.lexicographical_topological_sort`` of a ``DiGraph`` built with
    ``add_nodes_from(nodes)`` then ``add_edges_from(edges)`` (repeated edges count once), so
    orders, and with them seeds and netlists, do not depend on which of the two computed them.
    Raises :class:`CycleError` naming the cycle networkx's ``find_cycle`` finds in that graph.
    """
    rank: dict[Hashable, int] = {}
    for node in nodes:
        rank.setdefault(node, len(rank))
    children: dict[Hashable, dict[Hashable, None]] = {node: {} for node in rank}
    for u, v in edges:
        for end in (u, v):
            if end not in rank:
                rank[end] = len(rank)
                children[end] = {}
        children[u][v] = None
    indegree = dict.fromkeys(rank, 0)
    for kids in children.values():
        for v in kids:
            indegree[v] += 1
    key = key or (lambda node: node)
    ready = [(key(n), rank[n], n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (key(child), rank[child], child))
    if len(order) < len(rank):
        import networkx as nx  # only to name the cycle, on the error path

        g = nx.DiGraph()
        g.add_nodes_from(rank)
        g.add_edges_from((u, v) for u, kids in children.items() for v in kids)
        raise CycleError(list(nx.find_cycle(g)))
    return tuple(order)


class Graph:
    """An immutable dataflow graph of array operations.

    Nodes are kept in id order, which is creation order and therefore a
    valid evaluation order once the one-step-delayed operands of stateful
    nodes are set aside.  The networkx view (:attr:`nx`, built on first use) holds one edge per
    operand, pointing from producer to consumer, with attributes ``port``
    (operand position) and ``delayed`` (True for operands of stateful ops).

    Passes never mutate a graph; they build a new one with
    :class:`GraphBuilder` or :meth:`replace`.
    """

    def __init__(
        self,
        nodes: Iterable[Node],
        inputs: Sequence[int],
        outputs: Sequence[int],
        name: str = "program",
    ):
        self.nodes: dict[int, Node] = {n.id: n for n in sorted(nodes, key=lambda n: n.id)}
        self.inputs: tuple[int, ...] = tuple(inputs)
        self.outputs: tuple[int, ...] = tuple(outputs)
        self.name = name

    # -- access ---------------------------------------------------------
    def __getitem__(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    @property
    def input_nodes(self) -> list[Node]:
        return [self.nodes[i] for i in self.inputs]

    @property
    def output_nodes(self) -> list[Node]:
        return [self.nodes[i] for i in self.outputs]

    @cached_property
    def nx(self) -> nx.MultiDiGraph:
        """The graph as networkx sees it (a ``MultiDiGraph``: ``x*x`` has two edges)."""
        import networkx as nx  # on first use: tracing and lowering never need it

        g = nx.MultiDiGraph(name=self.name)
        for node in self:
            g.add_node(node.id, node=node)
        for node in self:
            delayed = get_op(node.op).is_stateful
            for port, src in enumerate(node.inputs):
                g.add_edge(src, node.id, port=port, delayed=delayed)
        return g

    @cached_property
    def order(self) -> tuple[int, ...]:
        """Evaluation order of one time step: operands before consumers.

        Edges into stateful nodes are left out, because a stateful node's
        value during a step depends only on earlier steps.  A cycle that
        remains is an algebraic loop and is rejected.
        """
        instant = ((src, node.id) for node in self if not get_op(node.op).is_stateful for src in node.inputs)
        try:
            return topological_order(self.nodes, instant)
        except CycleError as exc:
            ops = " -> ".join(self.nodes[u].op for u, _ in exc.cycle)
            raise TraceError(
                f"the graph has an algebraic loop ({ops}): a value depends on itself within one time step",
                hint="close recurrences with spikec.integrate or spikec.filter",
            ) from None

    def consumers(self, node_id: int) -> list[Node]:
        """Nodes that read ``node_id`` (each once, in id order)."""
        return [self.nodes[v] for v in self._consumers.get(node_id, ())]

    @cached_property
    def _consumers(self) -> dict[int, tuple[int, ...]]:
        found: dict[int, set[int]] = {}
        for node in self:
            for src in node.inputs:
                found.setdefault(src, set()).add(node.id)
        return {src: tuple(sorted(ids)) for src, ids in found.items()}

    def operands(self, node: Node | int) -> list[Node]:
        """Operand nodes of ``node``, in argument order."""
        node = self.nodes[node] if isinstance(node, int) else node
        return [self.nodes[i] for i in node.inputs]

    # -- derived graphs -----------------------------------------------------
    def replace(
        self,
        nodes: Iterable[Node] | None = None,
        inputs: Sequence[int] | None = None,
        outputs: Sequence[int] | None = None,
        name: str | None = None,
    ) -> Graph:
        """A new graph with some parts swapped out."""
        return Graph(
            self.nodes.values() if nodes is None else nodes,
            self.inputs if inputs is None else inputs,
            self.outputs if outputs is None else outputs,
            self.name if name is None else name,
        )

    def validate(self) -> Graph:
        """Check that every operand exists and every shape follows its op's rule."""
        for node in self:
            for src in node.inputs:
                if src not in self.nodes:
                    raise TraceError(f"node {node.id} ({node.op}) reads missing node {src}", loc=node.loc)
            opdef = get_op(node.op)
            shapes = [self.nodes[i].shape for i in node.inputs]
            expected = opdef.infer_shape(node.attrs, *shapes)
            if tuple(expected) != node.shape:
                raise ShapeError(
                    f"node {node.id} has shape {node.shape} but {node.op} gives {expected}",
                    op=node.op, shapes=shapes, loc=node.loc,
                )
        for i in self.inputs + self.outputs:
            if i not in self.nodes:
                raise TraceError(f"graph boundary names missing node {i}")
        _ = self.order  # raises on algebraic loops
        return self

    # -- presentation -------------------------------------------------------
    def stats(self) -> GraphStats:
        """Counts of ops, nodes, edges and nonlinear units."""
        return GraphStats.of(self)

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph."""
        from spikec.ir.dot import to_dot

        return to_dot(self)

    def pretty(self, show_loc: bool = True) -> str:
        """Readable listing, one line per op (see :mod:`spikec.ir.printer`)."""
        from spikec.ir.printer import format_graph

        return format_graph(self, show_loc=show_loc)

    def __str__(self) -> str:
        return self.pretty()

    def __repr__(self) -> str:
        return f"<Graph {self.name!r}: {len(self)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs>"


class GraphBuilder:
    """Mutable staging area for building a :class:`Graph` node by node.

    Shapes are inferred from the op registry as nodes are added, so a shape
    error surfaces at the user's line, not later.
    """

    def __init__(self, name: str = "program", first_id: int = 0):
        self.name = name
        self.nodes: dict[int, Node] = {}
        self._ids = itertools.count(first_id)

    def add(
        self,
        op: str,
        inputs: Sequence[int] = (),
        attrs: Attrs | dict[str, Any] | None = None,
        *,
        shape: tuple[int, ...] | None = None,
        loc: SourceLoc | None = None,
        name: str | None = None,
        display_op: str | None = None,
        config: Attrs | None = None,
    ) -> Node:
        """Create a node; its shape comes from the op's shape rule unless given.

        ``shape`` must be given for stateful nodes whose operand does not exist
        yet (the state of a recurrence, closed later with :meth:`set_inputs`).
        """
        opdef = get_op(op)
        attrs = attrs if isinstance(attrs, Attrs) else Attrs(attrs or {})
        inputs = tuple(int(i) for i in inputs)
        if opdef.arity is not None and len(inputs) != opdef.arity and shape is None:
            raise TypeError(f"op {op} takes {opdef.arity} operands, got {len(inputs)}")
        if shape is None:
            shapes = [self.nodes[i].shape for i in inputs]
            try:
                shape = opdef.infer_shape(attrs, *shapes)
            except (ValueError, IndexError, TypeError) as exc:
                raise ShapeError(
                    f"{display_op or op}: {exc}", op=display_op or op, shapes=shapes, loc=loc
                ) from None
        node = Node(next(self._ids), op, inputs, tuple(int(d) for d in shape), attrs, loc, name,
                    config if config is not None else Attrs())
        self.nodes[node.id] = node
        return node

    def set_inputs(self, node_id: int, inputs: Sequence[int]) -> Node:
        """Reconnect a node's operands (used to close recurrences)."""
        node = self.nodes[node_id].replace(inputs=tuple(inputs))
        self.nodes[node_id] = node
        return node

    def build(self, inputs: Sequence[int], outputs: Sequence[int]) -> Graph:
        """Freeze into a validated :class:`Graph`."""
        return Graph(self.nodes.values(), inputs, outputs, self.name).validate()


@dataclass(frozen=True)
class GraphStats:
    """Summary numbers of a graph, as printed by ``prog.stats()``."""

    nodes: int
    edges: int
    inputs: int
    outputs: int
    ops: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    nonlinear_units: int = 0
    state_elements: int = 0

    @classmethod
    def of(cls, graph: Graph) -> GraphStats:
        ops: Counter[str] = Counter()
        kinds: Counter[str] = Counter({k.value: 0 for k in OpKind})
        units = state = 0
        for node in graph:
            opdef = get_op(node.op)
            ops[node.op] += 1
            kinds[opdef.kind.value] += 1
            units += opdef.count_units(node, [graph[i].shape for i in node.inputs])
            if opdef.is_stateful:
                state += node.size
        return cls(
            nodes=len(graph),
            edges=sum(len(node.inputs) for node in graph),  # one per operand, as in the networkx view
            inputs=len(graph.inputs),
            outputs=len(graph.outputs),
            ops=dict(sorted(ops.items())),
            kinds=dict(kinds),
            nonlinear_units=units,
            state_elements=state,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes, "edges": self.edges, "inputs": self.inputs, "outputs": self.outputs,
            "nonlinear_units": self.nonlinear_units, "state_elements": self.state_elements,
            **{f"kind.{k}": v for k, v in self.kinds.items()},
            **{f"op.{k}": v for k, v in self.ops.items()},
        }

    def __str__(self) -> str:
        rows = [
            ("nodes", self.nodes), ("edges", self.edges), ("inputs", self.inputs),
            ("outputs", self.outputs), ("nonlinear units", self.nonlinear_units),
            ("state elements", self.state_elements),
        ]
        rows += [(f"{k} ops", v) for k, v in self.kinds.items()]
        rows += [(f"  {k}", v) for k, v in self.ops.items()]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v:>8}" for k, v in rows)
