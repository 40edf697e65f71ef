"""The passes a graph goes through before lowering, run only where they change something.

The lowering (:func:`spikec.lower.lower`) runs no passes; it takes the graph
after :data:`~spikec.passes.manager.LOWERING_PIPELINE` (``expand_bilinear``,
so that the only nonlinear ops are ``mul`` and elementwise ops, then
``fold_constants`` and ``dce``).  The default pipeline's result is already
such a graph, so :func:`prepare_for_lowering` first asks :func:`unprepared`
whether the pipeline would change anything: that check runs no pass, it
asks each pass's rules whether they would fire on a node (and looks for
dead nodes and ids out of evaluation order, which the passes renumber).
"""

from __future__ import annotations

from spikec.ir.graph import Graph
from spikec.passes.dce import live_nodes
from spikec.passes.expand_bilinear import rewrites as expand_rewrites
from spikec.passes.fold_constants import rewrites as fold_rewrites
from spikec.passes.manager import LOWERING_PIPELINE, PassManager


def _where(node) -> str:
    return f"{node.op} (node {node.id}" + (f", {node.loc.short})" if node.loc is not None else ")")


def unprepared(graph: Graph) -> list[str]:
    """What :data:`LOWERING_PIPELINE` would still change in ``graph``, one line each; empty when nothing."""
    if graph.order != tuple(range(len(graph))):
        return ["node ids are not 0..n-1 in evaluation order (the passes renumber them)"]
    problems = []
    for name, rewrites in (("expand_bilinear", expand_rewrites), ("fold_constants", fold_rewrites)):
        nodes = rewrites(graph)
        if nodes:
            more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
            problems.append(f"the {name} pass would rewrite {', '.join(map(_where, nodes[:3]))}{more}")
    dead = len(graph) - len(live_nodes(graph))
    if dead:
        problems.append(f"{dead} nodes no output depends on (the dce pass removes them)")
    return problems


def prepare_for_lowering(graph: Graph) -> Graph:
    """``graph`` after :data:`LOWERING_PIPELINE`: ``graph`` itself when that would change nothing."""
    if not unprepared(graph):
        return graph
    return PassManager(LOWERING_PIPELINE, validate=False).run(graph)[0]
