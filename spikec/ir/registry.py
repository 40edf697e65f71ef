"""The op registry: the one place that lists every operation.

Each :class:`OpDef` says what an op is (its kind), how its output shape
follows from its operands (``shape_rule``), what it means in plain NumPy
(``reference``) and, for linear ops, its matrix form (``linear_map``).  The
NumPy reference back end, the passes and the lowering all read this table
instead of testing op names; adding an op means adding one entry (in a
module of :mod:`spikec.ir.ops`) and, if it is nonlinear and not elementwise,
one lowering rule (:mod:`spikec.lower.rules`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikec.ir.attrs import Attrs
from spikec.util.nametable import NameTable

Shape = tuple[int, ...]


class OpKind(str, enum.Enum):
    """How an op maps to a spiking network.

    ``SOURCE`` ops produce values from outside the graph (inputs, constants).
    ``LINEAR`` ops are affine maps of their operands; they cost no neurons,
    because fusion folds them into projection weights.
    ``NONLINEAR`` ops cost neurons.
    ``STATEFUL`` ops hold state across time steps (synapses); they read their
    operands with a one-step delay, which is what lets recurrences close.
    """

    SOURCE = "source"
    LINEAR = "linear"
    NONLINEAR = "nonlinear"
    STATEFUL = "stateful"


@dataclass(frozen=True)
class StatefulRule:
    """Simulation rule for a stateful op, written against an array module ``xp``.

    ``init(attrs, shape, input_shape, xp)`` gives the state before the first
    step; ``output(attrs, state)`` the value consumers see; ``step(attrs,
    state, u, dt, xp)`` consumes one input sample and returns the new state.
    """

    init: Callable[[Attrs, Shape, Shape, Any], Any]
    output: Callable[[Attrs, Any], Any]
    step: Callable[[Attrs, Any, Any, float, Any], Any]


@dataclass(frozen=True)
class OpDef:
    """Everything spikec knows about one operation.

    Attributes
    ----------
    name
        Registry key, also what the printer shows.
    kind
        See :class:`OpKind`.
    reference
        ``reference(attrs, *operand_values) -> ndarray``: the op's meaning in
        plain NumPy, on unbatched float64 arrays.  This is the test oracle and
        what the NumPy reference back end evaluates.  Unused for sources and
        stateful ops.
    shape_rule
        ``shape_rule(attrs, *operand_shapes) -> shape``.  When omitted the
        reference is evaluated on zero arrays, which gives NumPy's exact
        broadcasting and error behaviour for free.
    arity
        Number of operands, or ``None`` when variadic.
    elementwise
        For nonlinear ops: the op applies one scalar function to each element
        of its single operand, so the generic NEF lowering applies.
    commutative
        Operand order does not matter (lets CSE share ``x*y`` and ``y*x``).
    units
        ``units(node, operand_shapes) -> int``: number of scalar nonlinear
        units the op needs (products for ``mul``/``matmul``, elements for an
        elementwise function).  Defaults to the output size for nonlinear ops.
    stateful
        Simulation rule for stateful ops.
    format_attrs
        ``format_attrs(attrs) -> str``: compact attribute text for listings.
    doc
        One line on what the op computes.
    numpy_names
        The NumPy spellings that trace to this op (for README and errors).
    linear_map
        For linear ops: ``linear_map(node, operand_shapes) -> (weights, bias)``
        or ``None`` where it has no closed form for these shapes, as described
        in :func:`spikec.ir.linear_map.linear_map`; when omitted (or it
        returns ``None``) the map is found by probing the reference.
    is_structural
        A linear op whose output only rearranges (and repeats) operand
        elements; its matrix is read off the reference applied to indices.
    is_projection
        A linear op that passes and lowering keep whole: it becomes one
        projection with a transform of its own (convolution, dense, pooling)
        instead of being folded into other weights.
    unit_inputs
        Values one nonlinear unit of this op represents (2 for products).
    expanded_by
        The pass that rewrites this op into others before lowering (the
        lowering has no rule for it).
    """

    name: str
    kind: OpKind
    doc: str
    reference: Callable[..., np.ndarray] | None = None
    shape_rule: Callable[..., Shape] | None = None
    arity: int | None = 1
    elementwise: bool = False
    commutative: bool = False
    units: Callable[..., int] | None = None
    stateful: StatefulRule | None = None
    format_attrs: Callable[[Attrs], str] | None = None
    numpy_names: tuple[str, ...] = field(default=())
    linear_map: Callable[..., Any] | None = None
    is_structural: bool = False
    is_projection: bool = False
    unit_inputs: int = 1
    expanded_by: str | None = None

    @property
    def is_linear(self) -> bool:
        return self.kind is OpKind.LINEAR

    @property
    def is_nonlinear(self) -> bool:
        return self.kind is OpKind.NONLINEAR

    @property
    def is_stateful(self) -> bool:
        return self.kind is OpKind.STATEFUL

    @property
    def is_source(self) -> bool:
        return self.kind is OpKind.SOURCE

    @property
    def is_input(self) -> bool:
        """A source whose value comes from outside the graph (a program argument)."""
        return self.is_source and self.reference is None

    @property
    def is_constant(self) -> bool:
        """A source with a compile-time value (its reference takes no operands)."""
        return self.is_source and self.reference is not None

    def infer_shape(self, attrs: Attrs, *shapes: Shape) -> Shape:
        """Output shape for operands of the given shapes (may raise ValueError)."""
        if self.shape_rule is not None:
            return tuple(int(d) for d in self.shape_rule(attrs, *shapes))
        if self.reference is None:
            raise TypeError(f"op {self.name!r} has neither a shape rule nor a reference")
        # Large operands as read-only zero-stride views: shape inference must not allocate their size.
        dummies = [np.zeros(s) if int(np.prod(s)) <= _DUMMY_LIMIT else np.broadcast_to(np.zeros(()), s)
                   for s in shapes]
        return tuple(np.shape(self.reference(attrs, *dummies)))

    def count_units(self, node: Any, shapes: list[Shape]) -> int:
        """Scalar nonlinear units this node needs (0 for non-nonlinear ops)."""
        if not self.is_nonlinear:
            return 0
        if self.units is not None:
            return int(self.units(node, shapes))
        return int(node.size)


#: op name -> :class:`OpDef`, in registration order.
_REGISTRY: NameTable[OpDef] = NameTable("op")


#: Operand size above which shape inference runs the reference on zero-stride views (see OpDef.infer_shape).
_DUMMY_LIMIT = 1 << 20


def register(opdef: OpDef) -> OpDef:
    """Add an op to the registry; names are unique."""
    return _REGISTRY.register(opdef.name, opdef)


def get_op(name: str) -> OpDef:
    """Look an op up by name (an unknown name is a KeyError that lists the registered ops)."""
    return _REGISTRY.lookup(name)


def all_ops() -> dict[str, OpDef]:
    """A copy of the registry, name -> OpDef, in registration order."""
    return dict(_REGISTRY)


def is_input(node: Any) -> bool:
    """Whether ``node`` is a program input."""
    return get_op(node.op).is_input


def is_constant(node: Any) -> bool:
    """Whether ``node`` is a compile-time constant (its value is ``node.attrs["value"]``)."""
    return get_op(node.op).is_constant
