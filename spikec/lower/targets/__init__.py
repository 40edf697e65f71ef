"""Lowering targets: which neurons and synapses a netlist may use, in one table keyed by target name.

The ``"default"`` target is spikec's own lowering (Parabola product units,
ideal state nodes: exact in rate mode, cheapest in spikes).  Another target
(``LowerOptions(target=...)``) overrides some of it, and only that:

* ``rules``: op -> :class:`spikec.lower.rules.LowerRule`, consulted before
  the op's own rule (:func:`spikec.lower.rules.rule_for`);
* ``lower_state``: ``(lw, node) -> None`` building a stateful op in place of
  the ideal state node of :data:`spikec.lower.rules.STATE_RULES`;
* ``ranged``: ``graph -> node ids`` whose value ranges the target needs
  measured besides the operands of nonlinear units (states held in neurons);
* ``finish``: steps ``(lw) -> None`` run once every node and state is built;
* ``check``: ``netlist -> None``, raising when the netlist holds something
  the target does not allow (a user's neuron layer of another type...);
* ``neurons``: ``(graph, options) -> [(node, neurons)]``, the neurons it
  builds for nodes no rule counts (states held in neurons), so that
  :func:`spikec.lower.estimate.estimate` and the ``max_neurons`` check see
  them (:func:`extra_neurons`);
* ``defaults``: option -> value taken where the user left the option None.

Every target may quantise weights (``LowerOptions.weight_bits``,
:mod:`spikec.lower.targets.quantize`).  ``"lif"`` lives in
:mod:`spikec.lower.targets.standard`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spikec.errors import SpikecError
from spikec.util.nametable import NameTable

if TYPE_CHECKING:
    from spikec.ir.graph import Graph
    from spikec.lower.lowering import _Lowering
    from spikec.netlist import Netlist

__all__ = ["TARGETS", "Target", "extra_neurons", "finish", "register_target", "target_of"]


def _no_nodes(graph: Graph) -> Iterable[int]:
    return ()


def _no_neurons(graph: Graph, options: Any) -> list:
    return []


@dataclass(frozen=True)
class Target:
    """What one lowering target changes (see the module docstring for each field)."""

    name: str
    description: str
    rules: Mapping[str, Any] = field(default_factory=dict)
    lower_state: Callable[[_Lowering, Any], None] | None = None
    ranged: Callable[[Graph], Iterable[int]] = _no_nodes
    finish: tuple[Callable[[_Lowering], None], ...] = ()
    check: Callable[[Netlist], None] | None = None
    neurons: Callable[[Graph, Any], list] = _no_neurons
    defaults: Mapping[str, Any] = field(default_factory=dict)


#: target name -> :class:`Target`; an unknown name is an error that speaks as the ``target=`` option.
TARGETS: NameTable[Target] = NameTable("lowering target", error=SpikecError, asked="target={name!r}")


def register_target(target: Target) -> Target:
    """Add ``target`` to :data:`TARGETS` (a name may be registered once)."""
    return TARGETS.register(target.name, target)


def target_of(name: str) -> Target:
    """The target called ``name``; an unknown name is an error that lists the known ones."""
    return TARGETS.lookup(name)


def extra_neurons(graph: Graph, options: Any) -> list:
    """``[(node, neurons)]`` the target of ``options`` builds besides what the lowering rules count."""
    return list(target_of(options.target).neurons(graph, options))


def finish(lw: _Lowering) -> None:
    """The target's finishing steps, then the weight quantisation every target may ask for."""
    from spikec.lower.targets.quantize import quantize_weights

    for step in target_of(lw.options.target).finish:
        step(lw)
    if lw.options.weight_bits is not None:
        quantize_weights(lw, lw.options.weight_bits)


register_target(Target("default", "spikec's own lowering: Parabola product units and ideal state nodes"))
