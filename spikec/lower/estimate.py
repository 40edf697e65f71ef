"""How big a program's network will be, from shapes alone, before anything is lowered.

:func:`estimate` walks a graph prepared for lowering and adds up each
nonlinear op's neurons as its lowering rule counts them
(:attr:`spikec.lower.rules.LowerRule.neurons`: a parabola product is 2
neurons per element, 4 with pairs; an NEF unit ``n_neurons`` per element; an
explicit neuron layer its size), so the neuron and population counts equal
the built netlist's.  Nonzero weights are counted exactly by the lowering
itself run without its ideal simulation
(:func:`spikec.lower.lowering.count_weights`), once the neurons are known to
be within ``max_neurons``; memory is an approximation (see :class:`Estimate`).
:func:`check_size` refuses a graph whose neurons exceed ``max_neurons``;
:func:`traced_neurons` bounds the neurons of a graph as traced (before the
passes expand ``@`` into its product units, which is where a program too
large to build would otherwise run out of memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spikec.ir.domain import Domain
from spikec.ir.graph import Graph
from spikec.ir.node import Node
from spikec.ir.registry import get_op
from spikec.lower.errors import LoweringError
from spikec.lower.options import LowerOptions
from spikec.lower.rules import RULES, node_options, rule_for
from spikec.lower.targets import extra_neurons

__all__ = ["BACKEND_BYTES", "Estimate", "check_size", "estimate", "traced_neurons"]

#: back end -> (bytes per stored weight, counting its index; bytes of state per neuron): what
#: :attr:`Estimate.memory` multiplies by.  numpy keeps float64 CSR (8 + 4 bytes) and a few float64
#: state arrays; jax float32 by default; nengo float64 with dense-ish signals and more state per neuron.
BACKEND_BYTES: dict[str, tuple[int, int]] = {
    "numpy": (12, 32),
    "jax": (8, 16),
    "nengo": (16, 64),
}


@dataclass(frozen=True)
class Estimate:
    """The size of the network a program lowers to, counted from shapes alone.

    ``neurons``, ``populations`` and ``nonzero_weights`` are exact (what the
    netlist will have); for a program over ``max_neurons``, which is never
    lowered, ``nonzero_weights`` is an approximation instead (each neuron's
    encoding weights, one per operand it reads, plus one decoding weight) and
    ``weights_exact`` False.  ``memory`` is bytes of weights and neuron state
    per back end (:data:`BACKEND_BYTES`), approximate.
    ``by_op`` lists ``(op, shape, neurons, where)`` per population, largest
    first.
    """

    neurons: int
    populations: int
    nonzero_weights: int
    memory: Mapping[str, int] = field(default_factory=dict)
    by_op: tuple[tuple[str, tuple[int, ...], int, str], ...] = ()
    weights_exact: bool = True

    def as_dict(self) -> dict[str, int]:
        """The counts and ``memory.<backend>`` in bytes, as one flat dictionary."""
        return {"neurons": self.neurons, "populations": self.populations, "nonzero_weights": self.nonzero_weights,
                **{f"memory.{k}": v for k, v in self.memory.items()}}

    def __str__(self) -> str:
        rows = [("neurons", f"{self.neurons:,}"), ("populations", f"{self.populations:,}"),
                ("nonzero weights" + ("" if self.weights_exact else " (approx.)"), f"{self.nonzero_weights:,}")]
        rows += [(f"memory {k} (approx.)", _bytes(v)) for k, v in self.memory.items()]
        rows += [(f"  {op}{list(shape)} at {where}", f"{n:,}") for op, shape, n, where in self.by_op[:5]]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v:>14}" for k, v in rows)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _where(node: Node) -> str:
    return node.loc.short if node.loc is not None else "?"


def estimate(graph: Graph, options: LowerOptions | None = None, *, domain: Domain | None = None) -> Estimate:
    """The size of the netlist :func:`spikec.lower.lower` builds from ``graph`` (prepared for lowering) over
    ``domain``."""
    options = options or LowerOptions()
    rows = []
    weights = 0
    for node in graph:
        opdef = get_op(node.op)
        if not opdef.is_nonlinear:
            continue
        n = int(rule_for(node, options.target).neurons(node, node_options(options, node)))
        if n:
            rows.append((node.op, tuple(node.shape), n, _where(node)))
            weights += n * (len(node.inputs) + 1)
    # what the lowering target builds besides the rules' units (the lif target's integrators)
    for node, n in extra_neurons(graph, options):
        rows.append((node.op, tuple(node.shape), int(n), _where(node)))
        weights += int(n) * (len(node.inputs) + 1)
    neurons = sum(r[2] for r in rows)
    exact = options.max_neurons is None or neurons <= options.max_neurons
    if exact:  # within the limit, so it can be lowered: count the weights as the lowering folds them
        from spikec.lower.lowering import count_weights  # (lowering imports this module: check_size)

        weights = count_weights(graph, options, domain=domain)
    memory = {name: weights * w + neurons * s for name, (w, s) in BACKEND_BYTES.items()}
    return Estimate(neurons, len(rows), weights, memory, tuple(sorted(rows, key=lambda r: -r[2])), exact)


def traced_neurons(graph: Graph, options: LowerOptions | None = None) -> list[tuple[Node, int]]:
    """A lower bound of the neurons of each nonlinear node of a graph as traced, before the passes.

    A node with a lowering rule of its own counts as that rule says; one the
    passes expand (``@``, ``einsum``, ``/``) counts its product units
    (:meth:`spikec.ir.registry.OpDef.count_units`) at a ``mul``'s neurons
    per element.  From shapes alone, so it is cheap for any size.
    """
    options = options or LowerOptions()
    out = []
    for node in graph:
        opdef = get_op(node.op)
        if not opdef.is_nonlinear:
            continue
        o = node_options(options, node)
        shapes = [graph[i].shape for i in node.inputs]
        rule = RULES.get(node.op)
        if rule is None and opdef.expanded_by:
            units = opdef.count_units(node, shapes)
            per_unit = RULES["mul"].neurons(_Unit(), o)
            if len(set(node.inputs)) == 1:  # x @ x: squares on the diagonal, still a product per unit
                per_unit = RULES["square"].neurons(_Unit(), o)
            out.append((node, int(units) * int(per_unit)))
        else:
            out.append((node, int(rule_for(node).neurons(node, o))))
    return out


class _Unit:
    """A one-element stand-in node for a rule's neurons-per-element (rules read only its size)."""

    size = 1


def check_size(graph: Graph, counts: list[tuple[Node, int]], options: LowerOptions, *,
               what: str = "lowering") -> None:
    """Raise :class:`LoweringError` when the ``(node, neurons)`` counts add up to more than ``max_neurons``.

    The error names the op with the most neurons, its shapes and the user's line.
    """
    limit = options.max_neurons
    counts = list(counts) + extra_neurons(graph, options)  # the lowering target's own populations
    total = sum(n for _, n in counts)
    if limit is None or total <= limit:
        return
    node, n = max(counts, key=lambda c: c[1])
    shapes = [tuple(graph[i].shape) for i in node.inputs]
    raise LoweringError(
        f"{what} would build {total:,} neurons, over max_neurons={limit:,}; the largest op, {node.op} of "
        f"{' and '.join(map(str, shapes))} (shape {tuple(node.shape)}), alone needs {n:,}",
        op=node.op, shapes=shapes, loc=node.loc,
        hint="make the program smaller (fewer or smaller products), or raise the limit with the compile or run "
        "option max_neurons=... (None: no limit) if the machine has the memory",
    )
