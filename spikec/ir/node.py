"""Graph nodes: one array-valued operation each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from spikec.ir.attrs import Attrs
from spikec.ir.source import SourceLoc


@dataclass(frozen=True)
class Node:
    """One operation in the dataflow graph.

    Attributes
    ----------
    id
        Unique within its graph; ids only grow, so they also give creation order.
    op
        Name of the operation in the op registry (``spikec.ir.registry``).
    inputs
        Ids of the operand nodes, in argument order.  For stateful ops the
        operands are read with a one-step delay, which is how recurrences
        (``integrate``) form cycles without breaking the evaluation order.
    shape
        Shape of the array this node produces at each time step.
    attrs
        Static parameters of the op (constants, axes, synapses...).
    loc
        The line of user code that created the node, for error messages and
        listings.  Not part of node identity.
    name
        Optional user-facing name (input argument names, ``spikec.probe``).
    config
        Per-op lowering overrides from ``spikec.configure(...)`` (neuron
        counts, rates, value ranges...).  Part of node identity, so CSE
        never merges differently configured units.
    """

    id: int
    op: str
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    attrs: Attrs = field(default_factory=Attrs)
    loc: SourceLoc | None = field(default=None, compare=False)
    name: str | None = field(default=None, compare=False)
    config: Attrs = field(default_factory=Attrs)

    @property
    def size(self) -> int:
        """Number of scalar elements of the node's value."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def key(self) -> tuple[Any, ...]:
        """Value identity, ignoring the id: equal keys compute equal values."""
        return (self.op, self.inputs, self.shape, self.attrs, self.config)

    def replace(self, **changes: Any) -> Node:
        """A copy with some fields changed (nodes are immutable)."""
        return replace(self, **changes)
