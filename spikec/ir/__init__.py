"""The intermediate representation: a dataflow graph of array operations.

* :class:`Node` — one frozen operation.
* :class:`Graph` / :class:`GraphBuilder` — the graph (networkx underneath).
* :mod:`spikec.ir.registry` — the op table; :mod:`spikec.ir.ops` fills it.
* :mod:`spikec.ir.printer` / :mod:`spikec.ir.dot` — listing and DOT export.
"""

from spikec.ir import ops as _ops  # noqa: F401  (fills the registry)
from spikec.ir.attrs import Attrs, ConstArray, IndexArray
from spikec.ir.graph import Graph, GraphBuilder, GraphStats
from spikec.ir.node import Node
from spikec.ir.registry import OpDef, OpKind, StatefulRule, all_ops, get_op, register
from spikec.ir.source import SourceLoc

__all__ = [
    "Attrs",
    "ConstArray",
    "Graph",
    "GraphBuilder",
    "GraphStats",
    "IndexArray",
    "Node",
    "OpDef",
    "OpKind",
    "SourceLoc",
    "StatefulRule",
    "all_ops",
    "get_op",
    "register",
]
