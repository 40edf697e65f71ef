"""Graphviz DOT export of a graph (text only; rendering needs graphviz)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spikec.ir.printer import format_node, format_shape, node_names
from spikec.ir.registry import OpKind, get_op

if TYPE_CHECKING:  # pragma: no cover
    from spikec.ir.graph import Graph

# Colour says what a node costs: inputs, free linear maps, neurons, state.
_STYLE = {
    OpKind.SOURCE: 'shape=box, style="rounded,filled", fillcolor="#cfe2f3"',
    OpKind.LINEAR: 'shape=box, style="rounded"',
    OpKind.NONLINEAR: 'shape=box, style="rounded,filled", fillcolor="#f9cb9c"',
    OpKind.STATEFUL: 'shape=box, style="rounded,filled", fillcolor="#b6d7a8"',
}


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def to_dot(graph: Graph) -> str:
    """DOT text: one box per node (coloured by kind), dashed edges for delayed operands."""
    names = node_names(graph)
    lines = [f"digraph {_quote(graph.name)} {{", "  rankdir=TB;", '  node [fontname="monospace"];']
    outputs = set(graph.outputs)
    for node in graph:
        opdef = get_op(node.op)
        if opdef.is_input:
            label = f"{names[node.id]}{format_shape(node.shape)}"
        else:
            label = f"{names[node.id]}{format_shape(node.shape)} = {format_node(node, names)}"
        if node.loc is not None:
            label += f"\n{node.loc.short}"
        style = _STYLE[opdef.kind]
        if node.id in outputs:
            style += ", penwidth=2"
        lines.append(f"  n{node.id} [label={_quote(label)}, {style}];")
    for u, v, data in graph.nx.edges(data=True):
        attrs = f'label="{data["port"]}"' if len(graph[v].inputs) > 1 else ""
        if data["delayed"]:
            attrs = (attrs + ", " if attrs else "") + "style=dashed, constraint=false"
        lines.append(f"  n{u} -> n{v}" + (f" [{attrs}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines)
