"""Export netlists of LIF networks to NIR, and import NIR graphs back.

`NIR <https://neuroir.org>`_ (the ``nir`` package) is the exchange format of
neuromorphic simulators and chips.  Its nodes are continuous-time systems
wired by edges; a node's input is the sum of its incoming edges.  The mapping:

=======================================  =========================================================
netlist                                  NIR
=======================================  =========================================================
:class:`~spikec.netlist.InputSource`      ``Input``
:class:`~spikec.netlist.Population` of    ``LIF(tau=tau_rc, r=gain, v_leak=bias, v_threshold=1,
:class:`~spikec.neurons.LIF`              v_reset=0)``: ``tau dv/dt = (v_leak - v) + r I`` is
                                          nengo's ``tau_rc dv/dt = gain I + bias - v``
projection weights ``W``                 ``Linear(W * amplitude)`` (a spike is a unit event in
                                          NIR, ``amplitude/dt`` for one step in nengo)
``Lowpass(tau)`` synapse                 ``LI(tau, r=1, v_leak=0)``
``Integrator`` synapse                   ``I(r=1)``
:class:`~spikec.netlist.SumNode`          ``Affine(identity, offset)`` (``Linear`` without offset)
:class:`~spikec.netlist.Output`           ``Output``
=======================================  =========================================================

What NIR cannot say is kept in each node's ``metadata["spikec"]`` and
read back by :func:`from_nir`: LIF's refractory period ``tau_ref`` and
``min_voltage`` (NIR's LIF has neither; other tools will ignore them, so
:func:`to_nir` warns when they matter), a state's initial value ``x0``, and
the graph-level time step and names.  Other neuron types (parabola product
units, NEF ensembles, AdEx...) have no NIR node and raise
:class:`NIRError`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from spikec.errors import SpikecError
from spikec.ir.attrs import ConstArray
from spikec.netlist import (
    Dense,
    InputSource,
    Netlist,
    Output,
    Population,
    Projection,
    Sparse,
    SumNode,
    make_transform,
)

__all__ = ["NIRError", "from_nir", "to_nir"]


class NIRError(SpikecError):
    """A netlist that NIR cannot express, or a NIR graph spikec cannot import."""


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a dependency of the "all" extra
        raise NIRError("NIR export needs the nir package", hint="pip install nir") from exc
    return nir


def _lif_node(nir, pop: Population):
    from spikec.neurons import LIF, LIFRate

    neuron = pop.neuron_type
    if type(neuron) not in (LIF, LIFRate):
        raise NIRError(f"population {pop.name!r} has {neuron.label()} neurons; NIR export supports LIF populations",
                       hint="NIR has no node for this neuron type; keep such programs on spikec's back ends")
    n = pop.n
    extra = {"neuron": type(neuron).__name__, "tau_ref": neuron.tau_ref, "amplitude": neuron.amplitude,
             "min_voltage": getattr(neuron, "min_voltage", 0.0)}
    state = pop.state0()
    if state:
        extra["initial_state"] = {k: np.asarray(v).tolist() for k, v in state.items()}
    return nir.LIF(tau=np.full(n, neuron.tau_rc), r=np.asarray(pop.gain.value, dtype=np.float64).copy(),
                   v_leak=np.asarray(pop.bias.value, dtype=np.float64).copy(), v_threshold=np.ones(n),
                   v_reset=np.zeros(n), metadata={"spikec": extra})


def _synapse_node(nir, synapse, size: int, x0=None):
    from spikec.synapses import Integrator, Lowpass

    extra = {} if x0 is None else {"x0": np.asarray(x0).tolist()}
    if isinstance(synapse, Lowpass):
        return nir.LI(tau=np.full(size, synapse.tau), r=np.ones(size), v_leak=np.zeros(size),
                      metadata={"spikec": extra})
    if isinstance(synapse, Integrator):
        return nir.I(r=np.ones(size), metadata={"spikec": extra})
    raise NIRError(f"synapse {synapse!r} has no NIR node; NIR export supports Lowpass and Integrator synapses")


def to_nir(net: Netlist, dt: float | None = None):
    """``net`` as a ``nir.NIRGraph`` (see the module docstring for the mapping).

    ``dt`` (seconds), when given, is recorded in the graph's metadata for
    tools that simulate in discrete time.  Raises :class:`NIRError` for
    populations other than LIF / LIFRate and synapses other than Lowpass and
    Integrator.  Warns when LIF neurons have a refractory period or a
    voltage floor, which NIR's LIF node does not model (they are kept in
    metadata for :func:`from_nir`).
    """
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    amplitude: dict[str, float] = {}
    for src in net.inputs:
        nodes[src.name] = nir.Input(input_type={"input": np.array([src.size])},
                                    metadata={"spikec": {"index": src.index, "shape": list(src.shape)}})
    lossy = []
    for pop in net.populations:
        nodes[pop.name] = _lif_node(nir, pop)
        amplitude[pop.name] = pop.neuron_type.amplitude
        if pop.neuron_type.tau_ref > 0 or getattr(pop.neuron_type, "min_voltage", 0.0) != float("-inf"):
            lossy.append(pop.name)
    if lossy:
        warnings.warn(f"NIR's LIF has no refractory period and no voltage floor: populations {', '.join(lossy)} "
                      "keep tau_ref and min_voltage in metadata['spikec'] only (spikec.nir_io.from_nir reads them "
                      "back; other NIR tools will simulate them without)", stacklevel=2)
    for node in net.nodes:
        offset = np.zeros(node.size) if node.offset is None else np.asarray(node.offset.value, dtype=np.float64)
        summing = f"{node.name}" if node.synapse is None else f"{node.name}.in"
        nodes[summing] = nir.Affine(weight=np.eye(node.size), bias=offset.copy(), metadata={"spikec": {}})
        if node.synapse is not None:
            nodes[node.name] = _synapse_node(nir, node.synapse, node.size,
                                             None if node.x0 is None else node.x0.value)
            edges.append((summing, node.name))
    for index, proj in enumerate(net.projections):
        if not isinstance(proj.transform, (Dense, Sparse)):
            raise NIRError(f"projection {index} ({proj.pre} -> {proj.post}) has a {type(proj.transform).__name__} "
                           "transform, which NIR export does not support yet")
        weight = np.asarray(proj.transform.to_dense(), dtype=np.float64) * amplitude.get(proj.pre, 1.0)
        name = f"w{index}"
        nodes[name] = nir.Linear(weight=weight, metadata={"spikec": {"pre": proj.pre, "post": proj.post}})
        edges.append((proj.pre, name))
        post = proj.post if proj.post not in {n.name for n in net.nodes if n.synapse is not None} \
            else f"{proj.post}.in"
        if proj.synapse is not None:
            syn = f"w{index}.synapse"
            nodes[syn] = _synapse_node(nir, proj.synapse, weight.shape[0])
            edges += [(name, syn), (syn, post)]
        else:
            edges.append((name, post))
    for out in net.outputs:
        name = f"output.{out.name}"
        nodes[name] = nir.Output(output_type={"output": np.array([out.size])},
                                 metadata={"spikec": {"index": out.index, "shape": list(out.shape)}})
        edges.append((out.source, name))
    meta = {"spikec": {"name": net.name, "dt": dt}}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _meta(node) -> dict:
    return dict((getattr(node, "metadata", None) or {}).get("spikec", {}) or {})


def from_nir(graph, name: str | None = None) -> Netlist:
    """A netlist from a ``nir.NIRGraph`` of Input, Output, Linear, Affine, LIF, LI and I nodes.

    Each LIF node becomes a LIF population (``gain = r / v_threshold``,
    ``bias = v_leak / v_threshold``; ``v_reset`` must be 0; unit-amplitude
    spikes, as NIR's), LI and I nodes become filtering sum nodes, and Linear
    and Affine nodes become instantaneous sum nodes whose incoming
    projections carry the weights (``W (x1 + x2) = W x1 + W x2``) and whose
    offset is the bias.  Refractory periods and other details stored by
    :func:`to_nir` in ``metadata["spikec"]`` are restored; without them a
    LIF has ``tau_ref = 0`` and no voltage floor.
    """
    nir = _nir()
    from spikec.neurons import LIF
    from spikec.synapses import Integrator, Lowpass

    meta = _meta(graph)
    nodes = dict(graph.nodes)
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise NIRError(f"NIR edge {a!r} -> {b!r} names a node that is not in the graph")
        preds[b].append(a)
    inputs, populations, sums, outputs, projections = [], [], [], [], []

    def size_of(key: str) -> int:
        node = nodes[key]
        if isinstance(node, nir.Input):
            return int(np.prod(node.input_type["input"]))
        if isinstance(node, (nir.Linear, nir.Affine)):
            return int(np.asarray(node.weight).shape[0])
        if isinstance(node, nir.I):
            return int(np.asarray(node.r).size)
        return int(np.asarray(node.tau).size)

    def identity_from(key: str, into: str) -> None:
        for src in preds[key]:
            projections.append(Projection(src, into, Dense(ConstArray(np.eye(size_of(src))))))

    for key, node in nodes.items():
        info = _meta(node)
        if isinstance(node, nir.Input):
            shape = tuple(info.get("shape", [size_of(key)]))
            inputs.append(InputSource(key, int(info.get("index", len(inputs))), shape))
        elif isinstance(node, nir.Output):
            if len(preds[key]) != 1:
                raise NIRError(f"NIR output {key!r} must have exactly one input edge, has {len(preds[key])}")
            source = preds[key][0]
            outputs.append((int(info.get("index", len(outputs))), key, source,
                            tuple(info.get("shape", [size_of(source)]))))
        elif isinstance(node, nir.LIF):
            theta = np.asarray(node.v_threshold, dtype=np.float64)
            reset = np.zeros_like(theta) if node.v_reset is None else np.asarray(node.v_reset, dtype=np.float64)
            if np.any(reset != 0):
                raise NIRError(f"NIR LIF {key!r} resets to {reset.ravel()[:3]}...; spikec's LIF resets to 0")
            taus = np.unique(np.asarray(node.tau, dtype=np.float64))
            if taus.size != 1:
                raise NIRError(f"NIR LIF {key!r} has several time constants; a spikec population shares one")
            n = int(np.asarray(node.tau).size)
            neuron = LIF(tau_rc=float(taus[0]), tau_ref=float(info.get("tau_ref", 0.0)),
                         min_voltage=float(info.get("min_voltage", float("-inf"))))
            initial = tuple((k, ConstArray(np.asarray(v, dtype=np.float64)))
                            for k, v in sorted(info.get("initial_state", {}).items()))
            gain, bias = (ConstArray(np.broadcast_to(np.asarray(v, dtype=np.float64) / theta, (n,)).copy())
                          for v in (node.r, node.v_leak))
            populations.append(Population(key, n, neuron, gain, bias, initial_state=initial))
            identity_from(key, key)
        elif isinstance(node, (nir.LI, nir.I)):
            size = size_of(key)
            if isinstance(node, nir.LI):
                taus = np.unique(np.asarray(node.tau, dtype=np.float64))
                if taus.size != 1 or np.any(np.asarray(node.v_leak) != 0) or np.any(np.asarray(node.r) != 1):
                    raise NIRError(f"NIR LI {key!r}: spikec imports LI nodes with one tau, r = 1 and v_leak = 0 "
                                   "(a lowpass synapse)")
                synapse = Lowpass(float(taus[0]))
            else:
                if np.any(np.asarray(node.r) != 1):
                    raise NIRError(f"NIR I {key!r}: spikec imports integrators with r = 1")
                synapse = Integrator()
            x0 = info.get("x0")
            sums.append(SumNode(key, size, synapse, None if x0 is None else ConstArray(np.asarray(x0, float))))
            identity_from(key, key)
        elif isinstance(node, (nir.Linear, nir.Affine)):
            weight = np.asarray(node.weight, dtype=np.float64)
            bias = np.asarray(getattr(node, "bias", np.zeros(weight.shape[0])), dtype=np.float64)
            sums.append(SumNode(key, weight.shape[0], offset=ConstArray(bias) if np.any(bias != 0) else None))
            for src in preds[key]:
                if size_of(src) != weight.shape[1]:
                    raise NIRError(f"NIR {type(node).__name__} {key!r} takes {weight.shape[1]} values but {src!r} "
                                   f"gives {size_of(src)}")
                projections.append(Projection(src, key, make_transform(weight)))
        else:
            raise NIRError(f"NIR node {key!r} is a {type(node).__name__}; spikec imports Input, Output, Linear, "
                           "Affine, LIF, LI and I nodes")
    inputs.sort(key=lambda s: s.index)
    outs = tuple(Output(key, index, source, shape) for index, key, source, shape in sorted(outputs))
    return Netlist(name or meta.get("name") or "nir", tuple(inputs), tuple(populations), tuple(sums),
                   tuple(projections), outs)
