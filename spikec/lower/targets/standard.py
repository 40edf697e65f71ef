"""The ``"lif"`` lowering target: only the neurons and synapses NIR and neuromorphic chips have.

A netlist lowered with ``LowerOptions(target="lif")`` holds LIF populations,
weights (optionally quantised: ``weight_bits``), lowpass synapses and
instantaneous sum nodes (weights, no state):

* a product ``x * y`` is an NEF ensemble of LIF neurons per element
  (``products="nef"`` whatever the options say), a square ``x ** 2`` an NEF
  ensemble decoding ``x**2``; elementwise functions are NEF ensembles as in
  the default lowering;
* a linear state (``integrate`` with the default Euler integrator or a
  ``Lowpass``, ``filter`` through a ``Lowpass``, ``lti``) is an NEF
  integrator (Principle 3 of the NEF, what ``nengo.networks.Integrator``
  builds): for ``ds/dt = A s + B u`` a recurrent population of LIF neurons
  per element, fed back through a lowpass of ``tau`` (``state_synapse``,
  100 ms by default) with transform ``tau A + I`` and driven through the same
  lowpass by ``tau B u``;
* a nonlinear state (``spikec.Adam``) or a synapse of higher order is
  refused, naming the op and its line.

Units read other units through ``unit_synapse`` (5 ms by default here: NEF
ensembles reading raw spikes leave their tuned range).  The units' neurons
are ``LIF(min_voltage=-inf)`` unless ``neuron_type`` says otherwise: NIR's
LIF has no voltage floor, and none is needed.  NIR's LIF has no refractory
period either, but NEF units need nengo's 2 ms at ``dt = 1 ms`` (without it
an integrator's error grows from 1.7% to 29%, in plain nengo as well), so
the export converts it: ``to_nir(refractory="drop")``.  An explicit
``spikec.neurons`` layer keeps the user's LIF.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from spikec.ir.attrs import Attrs
from spikec.ir.node import Node
from spikec.ir.registry import get_op
from spikec.lower.affine import Affine
from spikec.lower.errors import LoweringError
from spikec.lower.options import LowerOptions
from spikec.lower.ranges import widen
from spikec.lower.rules import LowerRule, lower_elementwise, lower_mul
from spikec.lower.targets import Target, register_target
from spikec.models.neurons import LIF
from spikec.netlist import Netlist, Projection, make_transform

if TYPE_CHECKING:
    from spikec.lower.lowering import _Lowering

__all__ = ["STATE_SYSTEMS", "SYNAPSE_SYSTEMS"]


# -- units ----------------------------------------------------------------------------------------


def lower_nef_mul(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """``x * y`` as an NEF product ensemble of LIF neurons (``products="nef"`` forced for this node)."""
    return lower_mul(lw, node.replace(config=Attrs(dict(node.config), products="nef")), operands)


def _nef_neurons(node: Node, o: LowerOptions) -> int:
    return node.size * o.n_neurons


# -- states held in neurons ---------------------------------------------------------------------------


def _integrator(synapse: Any) -> tuple[float, float]:
    return 0.0, 1.0


def _lowpass(synapse: Any) -> tuple[float, float]:
    return -1.0 / synapse.tau, 1.0 / synapse.tau


def _synapse_systems() -> dict[type, Callable[[Any], tuple[float, float]]]:
    from spikec.models.synapses import Integrator, Lowpass

    return {Integrator: _integrator, Lowpass: _lowpass}


#: synapse type -> ``synapse -> (a, b)``: the elementwise system ``ds/dt = a s + b u`` a ``filter`` through it is.
SYNAPSE_SYSTEMS: dict[type, Callable[[Any], tuple[float, float]]] = _synapse_systems()


def _filter_system(node: Node) -> tuple[sp.csr_array, sp.csr_array]:
    synapse = node.attrs["synapse"]
    rule = SYNAPSE_SYSTEMS.get(type(synapse))
    if rule is None:
        what = ("a nonlinear state" if not synapse.is_linear else f"a synapse of order {synapse.order}")
        raise LoweringError(
            f"{synapse.label()} ({what}) has no form on standard neurons (target='lif')",
            op="integrate" if not node.inputs or not synapse.is_linear else node.op, loc=node.loc,
            hint="write the Euler form, spikec.integrate(f, x0) with f the descent direction times a rate "
            "(an NEF integrator holds it), or a Lowpass; or lower with the default target"
            if not synapse.is_linear else "use a Lowpass (or spikec.lti with the filter's state space)")
    a, b = rule(synapse)
    eye = sp.identity(node.size, format="csr")
    return eye * a, eye * b


def _lti_system(node: Node) -> tuple[sp.csr_array, sp.csr_array]:
    a = np.asarray(node.attrs["A"].value, dtype=np.float64)
    b = np.asarray(node.attrs["B"].value, dtype=np.float64).reshape(len(a), -1)
    return sp.csr_array(a), sp.csr_array(b)


#: stateful op -> ``node -> (A, B)``: its continuous-time system ``ds/dt = A s + B u``.
STATE_SYSTEMS: dict[str, Callable[[Node], tuple[sp.csr_array, sp.csr_array]]] = {
    "filter": _filter_system,
    "lti": _lti_system,
}


def _recurrent_tau(o: LowerOptions) -> float:
    from spikec.models.synapses import Lowpass, as_synapse

    synapse = as_synapse(o.state_synapse)
    if type(synapse) is not Lowpass:
        raise LoweringError(f"state_synapse={o.state_synapse!r}: target='lif' holds states in NEF integrators, "
                            "whose recurrence needs a lowpass (give its time constant in seconds)")
    return float(synapse.tau)


def _state_range(lw: _Lowering, node: Node, o: LowerOptions) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radius of the values the state takes over the domain (widened by ``range_margin``)."""
    sound = lw.sound.get(node.id)
    lo, hi = sound if sound is not None else lw.ranges[node.id]
    center, radius = widen(np.ravel(lo), np.ravel(hi), o.range_margin)
    # a state that never moves still needs a nonzero radius to be represented
    return center, np.where(radius > 1e-9, radius, np.maximum(np.abs(center), 1.0))


def lower_state(lw: _Lowering, node: Node) -> None:
    """An NEF integrator for ``ds/dt = A s + B u``: LIF neurons fed back through a lowpass ``tau``.

    The population's input current is the lowpass of ``(tau A + I) s_hat +
    tau B u`` (``s_hat`` its own decoded value): at the lowpass's fixed point
    this is ``ds/dt = A s + B u``.  The decoded state is read by the rest of
    the network as the source ``state<id>``, rewired to the population's
    spikes and decoders once everything is built (:func:`rewire_states`).
    """
    from spikec.models.synapses import Lowpass

    o = lw.opts(node)
    x0 = node.attrs.get("x0")
    if x0 is not None and np.any(x0.value):
        raise LoweringError(f"{node.op} starts at a nonzero x0: an NEF integrator starts at 0 (target='lif')",
                            op=node.op, loc=node.loc,
                            hint="start at zero and add the initial value outside the state (x = x0 + integral)")
    a, b = STATE_SYSTEMS[node.op](node)
    tau = _recurrent_tau(o)
    center, radius = _state_range(lw, node, o)
    tuning = lw.nef(o, center[:, None], radius[:, None], lambda i, p: p[:, 0])
    operand = lw.exprs[node.inputs[0]].pruned() if node.inputs else Affine.constant(np.zeros(b.shape[1]))
    drive = operand.map(b * tau).pruned()
    # a constant drive goes into the biases: what the lowpass of a constant settles to
    lw.population(node, lw.nef_type(o), tuning, Affine.constant(drive.const),
                  {"units": node.size, "rule": "nef integrator", "tau": tau, "n_per_unit": o.n_neurons},
                  interval=(center - radius, center + radius))
    pop = lw.populations[-1].name
    encode, decode = sp.csr_array(tuning.encode), sp.csr_array(tuning.decode)
    feedback = sp.csr_array(a * tau + sp.identity(node.size, format="csr"))
    lw.projections.append(Projection(pop, pop, make_transform(encode @ feedback @ decode), Lowpass(tau)))
    for source, matrix in drive.terms.items():
        lw.projections.append(Projection(source, pop, make_transform(encode @ matrix), Lowpass(tau)))
    lw.held[f"state{node.id}"] = (pop, decode)


def rewire_states(lw: _Lowering) -> None:
    """Make every reader of a state held in neurons read the population's spikes through its decoders.

    A reader that is a unit (a population or a relay into units) reads
    them through ``unit_synapse``, as it would any population.
    """
    from spikec.models.synapses import as_synapse

    unit = as_synapse(lw.options.unit_synapse)
    for i, p in enumerate(lw.projections):
        if p.pre not in lw.held:
            continue
        pop, decode = lw.held[p.pre]
        synapse = p.synapse
        if synapse is None and (p.post in lw.population_names or p.post.startswith("relay")):
            synapse = unit
        lw.projections[i] = Projection(pop, p.post, make_transform(sp.csr_array(p.transform.to_scipy()) @ decode),
                                       synapse)


def one_synapse_per_population(lw: _Lowering) -> None:
    """Make every input of a population come through the same lowpass, so that it is one ``CubaLIF`` in NIR.

    A population reading some inputs through a lowpass and others directly
    (an NEF product of the program's input and a decoded state) would export
    as a LIF behind ``LI`` nodes, which snnTorch cannot load.  Two rewrites,
    both exact up to the lowpass's start (the filtered value rises from 0
    over its time constant):

    * a relay whose every input comes through one lowpass passes it on to its
      readers when they are all populations reading it directly (a lowpass
      commutes with the relay's weights; its offset is then filtered too);
    * a population reading through one lowpass and directly reads everything
      through that lowpass (a constant input arrives ``tau`` later).
    """
    from spikec.models.synapses import Lowpass

    projections = lw.projections
    for node in lw.nodes:
        into = [i for i, p in enumerate(projections) if p.post == node.name]
        out_of = [i for i, p in enumerate(projections) if p.pre == node.name]
        synapses = {projections[i].synapse for i in into}
        if (node.synapse is not None or len(synapses) != 1 or type(next(iter(synapses))) is not Lowpass
                or not out_of or any(projections[i].post not in lw.population_names
                                     or projections[i].synapse is not None for i in out_of)):
            continue
        synapse = synapses.pop()
        for i in into:
            projections[i] = replace(projections[i], synapse=None)
        for i in out_of:
            projections[i] = replace(projections[i], synapse=synapse)
    for name in lw.population_names:
        into = [i for i, p in enumerate(projections) if p.post == name]
        filtered = {projections[i].synapse for i in into} - {None}
        if len(filtered) != 1 or type(next(iter(filtered))) is not Lowpass:
            continue
        synapse = filtered.pop()
        for i in into:
            if projections[i].synapse is None:
                projections[i] = replace(projections[i], synapse=synapse)


def check_standard(net: Netlist) -> None:
    """Refuse a netlist with anything but LIF neurons, lowpass synapses and stateless sum nodes."""
    from spikec.models.synapses import Lowpass

    for pop in net.populations:
        if type(pop.neuron_type) is not LIF:
            raise LoweringError(
                f"population {pop.name} ({', '.join(pop.computes)}) uses {pop.neuron_type!r}; target='lif' "
                "allows LIF neurons only", op=pop.computes[0].split("@")[0] if pop.computes else None,
                hint="use spikec.LIF() in neuron layers and leave neuron_type at its default")
    for p in net.projections:
        if p.synapse is not None and type(p.synapse) is not Lowpass:
            raise LoweringError(f"projection {p.pre} -> {p.post} has synapse {p.synapse.label()}; target='lif' "
                                "allows lowpass synapses only", hint="give unit_synapse as a time constant")
    for node in net.nodes:
        if node.synapse is not None:
            raise LoweringError(f"sum node {node.name} ({', '.join(node.computes)}) holds state in "
                                f"{node.synapse.label()}; target='lif' holds state in neurons only")


def _states(graph) -> list[int]:
    return [n.id for n in graph if get_op(n.op).is_stateful]


def _state_neurons(graph, options: LowerOptions) -> list[tuple[Node, int]]:
    """Each state's NEF integrator: ``n_neurons`` per element (what :func:`lower_state` builds)."""
    from spikec.lower.rules import node_options

    return [(n, n.size * node_options(options, n).n_neurons) for n in graph if get_op(n.op).is_stateful]


register_target(Target(
    "lif", "LIF neurons, weights and lowpass synapses only (NEF products, functions and integrators)",
    rules={"mul": LowerRule(lower_nef_mul, neurons=_nef_neurons),
           "square": LowerRule(lower_elementwise, neurons=_nef_neurons)},
    lower_state=lower_state, ranged=_states, finish=(rewire_states, one_synapse_per_population),
    check=check_standard, neurons=_state_neurons,
    # no voltage floor (NIR's LIF has none; costs nothing measurable), but nengo's refractory period: without it
    # the NEF integrator's error at dt = 1 ms goes from 1.7% to 29% (the same in plain nengo)
    defaults={"unit_synapse": 0.005, "state_synapse": 0.1, "neuron_type": LIF(min_voltage=-math.inf)},
))
