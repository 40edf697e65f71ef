"""Readable text listing of a graph, in the spirit of JAX's jaxpr.

One line per op: a short fresh name with its shape, the op with its static
attributes, its operands, and the user's ``file:line`` that created it::

    program inverse(A:[2,2]) -> (b)
      b:[2,2] = filter[synapse=Integrator, x0=zeros(2, 2)] f    # inverse.py:7
      c:[2,2] = matmul_const[side=right, c=<float64[2, 2]>] b  # inverse.py:5
      ...

Operands of stateful ops are read one step late, so a recurrence shows a
forward reference (``f`` above), marked with ``^``.
"""

from __future__ import annotations

import itertools
import string
from typing import TYPE_CHECKING

from spikec.ir.registry import get_op

if TYPE_CHECKING:  # pragma: no cover
    from spikec.ir.graph import Graph


def fresh_names(exclude: set[str]) -> itertools.Iterator[str]:
    """a, b, ..., z, ba, bb, ... skipping names in ``exclude`` (like jaxpr)."""
    letters = string.ascii_lowercase
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            if n > 1 and combo[0] == "a":
                continue  # "aa" would read like a typo of "a"
            name = "".join(combo)
            if name not in exclude:
                yield name


def node_names(graph: Graph) -> dict[int, str]:
    """Display name of every node: argument names for inputs, fresh names for the rest."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for node in graph.input_nodes:
        if node.name and node.name.isidentifier() and node.name not in taken:
            names[node.id] = node.name
            taken.add(node.name)
    fresh = fresh_names(taken)
    for node in graph:
        if node.id not in names:
            names[node.id] = next(fresh)
    return names


def format_shape(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def format_node(node, names: dict[int, str]) -> str:
    """The op part of a listing line: ``op[attrs] operands``."""
    opdef = get_op(node.op)
    text = node.op
    if opdef.format_attrs is not None:
        attrs = opdef.format_attrs(node.attrs)
        if attrs:
            text += f"[{attrs}]"
    late = opdef.is_stateful
    operands = [names[i] + ("^" if late and i >= node.id else "") for i in node.inputs]
    if operands:
        text += " " + " ".join(operands)
    return text


def format_graph(graph: Graph, show_loc: bool = True) -> str:
    """The whole listing as one string."""
    names = node_names(graph)
    params = ", ".join(f"{names[n.id]}:{format_shape(n.shape)}" for n in graph.input_nodes)
    outs = ", ".join(names[i] for i in graph.outputs)
    lines = [f"program {graph.name}({params}) -> ({outs})"]
    body = []
    for node in graph:
        if get_op(node.op).is_input:
            continue
        lhs = f"{names[node.id]}:{format_shape(node.shape)}"
        body.append((f"  {lhs} = {format_node(node, names)}", node.loc))
    width = max((len(text) for text, _ in body), default=0)
    for text, loc in body:
        if show_loc and loc is not None:
            lines.append(f"{text:<{width}}  # {loc.short}")
        else:
            lines.append(text)
    if any(get_op(n.op).is_stateful and any(i >= n.id for i in n.inputs) for n in graph):
        lines.append("  (^ = operand from the previous time step: a recurrence)")
    return "\n".join(lines)
