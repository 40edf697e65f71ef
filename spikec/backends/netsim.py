"""A netlist simulator written once against an array module ``xp``.

:func:`make_simulator` turns a :class:`~spikec.netlist.Netlist` into a pure
``step(state, inputs) -> (state, outputs)`` function plus an initial state.
With ``xp = numpy`` the NumPy back end loops over it; the JAX back end runs
the same step under ``jax.lax.scan``.  It implements the netlist semantics
documented in :mod:`spikec.netlist`, which are nengo's: synapses update at
the end of a step and are seen by consumers one step later; neurons and
projections without synapses act within the step.

Values carry a leading batch axis: ``(batch, size)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from spikec.netlist import Dense, InputSource, Netlist, Population, Sparse, SumNode


@dataclass
class Simulator:
    """A netlist prepared for stepping.

    ``step(state, inputs, noise)`` takes the state pytree, a list of input
    arrays ``(batch, size)`` in program-input order and a dict of uniform
    noise per population that needs it; it returns the new state and a dict
    with ``outputs`` (list of ``(batch, size)``), ``spikes`` and ``events``
    (``(batch,)`` counts this step, per population in ``pop_spikes``).
    """

    netlist: Netlist
    mode: str
    dt: float
    batch: int
    xp: Any
    init: dict
    step: Callable
    neuron_types: dict[str, Any] = field(default_factory=dict)
    noisy: tuple[str, ...] = ()


def _matvec(transform, xp) -> Callable:
    """``x -> x @ W.T`` on the last axis, sparse when the transform is sparse."""
    if isinstance(transform, Dense):
        w_t = xp.asarray(transform.weights.value.T)
        return lambda x: x @ w_t
    assert isinstance(transform, Sparse)
    rows = xp.asarray(transform.rows.value)
    cols = xp.asarray(transform.cols.value)
    data = xp.asarray(transform.data.value)
    size_out = transform.shape[0]
    if xp is np:
        matrix = transform.to_scipy().T.tocsr()
        return lambda x: np.asarray(x @ matrix)
    import jax

    def apply(x):
        contrib = x[..., cols] * data
        return jax.ops.segment_sum(contrib.T, rows, num_segments=size_out).T

    return apply


def make_simulator(net: Netlist, mode: str, dt: float, batch: int = 1, xp=np, seed: int = 0) -> Simulator:
    """Prepare ``net`` for simulation in ``mode`` ("rate" or "spiking")."""
    if mode not in ("rate", "spiking"):
        raise ValueError(f"mode must be 'rate' or 'spiking', got {mode!r}")
    objects = net.objects
    types = {p.name: (p.neuron_type.as_spiking() if mode == "spiking" else p.neuron_type.as_rate())
             for p in net.populations}
    incoming = {name: [] for name in objects}
    delayed = []
    for index, proj in enumerate(net.projections):
        entry = (index, proj, _matvec(proj.transform, xp))
        if proj.synapse is not None:
            delayed.append(entry)
        incoming[proj.post].append(entry)
    stateful_nodes = [n for n in net.nodes if n.synapse is not None]
    order = [name for name in net.order
             if not isinstance(objects[name], InputSource)
             and not (isinstance(objects[name], SumNode) and objects[name].synapse is not None)]
    input_index = {inp.name: inp.index for inp in net.inputs}
    fanout = _fanouts(net)

    # ---- initial state
    init: dict[str, Any] = {"neurons": {}, "nodes": {}, "projections": {}}
    for pop in net.populations:
        defaults = types[pop.name].init_state(pop.n, rng=None)
        given = pop.state0()
        init["neurons"][pop.name] = {
            k: xp.asarray(np.broadcast_to(given.get(k, v), (batch, pop.n)).astype(np.float64))
            for k, v in defaults.items()
        }
    for node in stateful_nodes:
        x0 = None if node.x0 is None else xp.asarray(np.broadcast_to(node.x0.value, (batch, node.size)))
        init["nodes"][node.name] = node.synapse.init_state((batch, node.size), x0, xp=xp)
    for index, proj, _ in delayed:
        init["projections"][index] = proj.synapse.init_state((batch, objects[proj.post].size), None, xp=xp)
    gains = {p.name: xp.asarray(p.gain.value) for p in net.populations}
    biases = {p.name: xp.asarray(p.bias.value) for p in net.populations}
    offsets = {n.name: (None if n.offset is None else xp.asarray(n.offset.value)) for n in net.nodes}
    amplitude = {p.name: float(getattr(types[p.name], "amplitude", 1.0)) for p in net.populations}
    spiking_pops = [p.name for p in net.populations if types[p.name].spiking]
    noisy = tuple(p.name for p in net.populations if getattr(types[p.name], "needs_noise", False))

    def summed(name, values, state, size):
        total = offsets.get(name)
        total = xp.zeros((batch, size)) if total is None else xp.broadcast_to(total, (batch, size))
        for index, proj, matvec in incoming[name]:
            if proj.synapse is not None:
                total = total + proj.synapse.output(state["projections"][index])
            else:
                total = total + matvec(values[proj.pre])
        return total

    def step(state, inputs, noise=None):
        values: dict[str, Any] = {}
        for inp in net.inputs:
            values[inp.name] = inputs[input_index[inp.name]]
        for node in stateful_nodes:
            values[node.name] = node.synapse.output(state["nodes"][node.name])
        new_neurons = {}
        spikes = {}
        for name in order:
            obj = objects[name]
            if isinstance(obj, Population):
                current = gains[name] * summed(name, values, state, obj.n) + biases[name]
                kwargs = {"noise": noise[name]} if noise is not None and name in noise else {}
                new_neurons[name], activity = types[name].step(state["neurons"][name], current, dt, xp=xp, **kwargs)
                values[name] = activity
                if name in spiking_pops:
                    spikes[name] = activity * (dt / amplitude[name])
            else:
                values[name] = summed(name, values, state, obj.size)
        new_nodes = {}
        for node in stateful_nodes:
            u = summed(node.name, values, state, node.size)
            new_nodes[node.name], _ = node.synapse.step(state["nodes"][node.name], u, dt, xp=xp)
        new_projections = {}
        for index, proj, matvec in delayed:
            new_projections[index], _ = proj.synapse.step(state["projections"][index], matvec(values[proj.pre]), dt,
                                                          xp=xp)
        pop_spikes = {name: xp.sum(s, axis=-1) for name, s in spikes.items()}
        events = sum((xp.sum(s * xp.asarray(fanout[name]), axis=-1) for name, s in spikes.items()),
                     xp.zeros((batch,)))
        total = sum(pop_spikes.values(), xp.zeros((batch,)))
        new_state = {"neurons": new_neurons, "nodes": new_nodes, "projections": new_projections}
        report = {"outputs": [values[out.source] for out in net.outputs], "spikes": total, "events": events,
                  "pop_spikes": pop_spikes}
        return new_state, report

    return Simulator(net, mode, dt, batch, xp, init, step, types, noisy)


def _fanouts(net: Netlist) -> dict[str, np.ndarray]:
    """Nonzero outgoing weights per neuron: each spike is that many synaptic events."""
    out = {p.name: np.zeros(p.n) for p in net.populations}
    for proj in net.projections:
        if proj.pre in out:
            matrix = proj.transform.to_scipy()
            out[proj.pre] += np.asarray((matrix != 0).sum(axis=0)).ravel()
    return out
