"""Dead-code elimination."""

from __future__ import annotations

from spikec.ir.graph import Graph
from spikec.passes.rewrite import rebuild


def live_nodes(graph: Graph) -> set[int]:
    """Ids of the nodes some output depends on, through delayed edges too, plus the inputs."""
    live: set[int] = set()
    stack = list(graph.outputs)
    while stack:
        node_id = stack.pop()
        if node_id in live:
            continue
        live.add(node_id)
        stack.extend(graph[node_id].inputs)
    return live | set(graph.inputs)


def eliminate_dead_code(graph: Graph) -> Graph:
    """Remove the nodes that no output depends on.

    Dependence follows every operand edge, the one-step-delayed operands of
    stateful nodes included: a state that feeds an output keeps its driver
    (and the whole recurrence) alive.  Input nodes always stay, even when
    unused, because they are the program's signature.

    Preserves: the NumPy reference output of the graph for any inputs, bit
    for bit; inputs and outputs.  Does not mutate ``graph``.
    """
    return rebuild(graph, live_nodes(graph))
