"""The nengo back end: a netlist as a ``nengo.Network``, run by ``nengo.Simulator``.

:func:`build_network` maps a :class:`~spikec.netlist.Netlist` one to one onto
nengo objects; :class:`~spikec.backends.nengo.run.NengoBackend` (``backend="nengo"``) runs it and
:mod:`spikec.backends.nengo_dl.backend` (``backend="nengo_dl"``) runs the very same
network on NengoDL.  :func:`spikec.backends.nengo.network.to_nengo` hands the network to users who
embed it in models of their own (a :class:`~spikec.backends.nengo.network.SpikecNetwork`).

Mapping (nothing is grouped here: the netlist already is)
---------------------------------------------------------
* :class:`~spikec.netlist.Population` -> one :class:`SpikecEnsemble` (a ``nengo.Ensemble(n, 1)``
  that refuses decoded probes) whose
  neuron type is the population's type made spiking (``as_spiking()``) or
  rate (``as_rate()``), with the population's ``gain`` and ``bias``.  Every
  connection goes to and from ``ens.neurons``; nengo multiplies what enters
  ``.neurons`` by the ensemble's gain, which is exactly the netlist's
  ``J = gain * sum + bias``.  No decoded connection exists, so nengo solves no
  decoders (encoders and evaluation points are set to trivial constants so
  that nothing is sampled either).  The population's ``initial_state`` goes
  to the nengo neuron type's ``initial_state``.
* :class:`~spikec.netlist.InputSource` -> ``nengo.Node(output=f)`` where
  ``f(t)`` is the flattened program input at ``t``; with ``inputs=None`` (what
  ``to_nengo`` does) a pass-through ``nengo.Node(size_in=size)`` that the
  user connects into instead.
* A :class:`~spikec.netlist.SumNode` without synapse -> a pass-through
  ``nengo.Node(size_in=size)``; its ``offset`` comes from a constant node
  connected with ``synapse=None``.
* A :class:`~spikec.netlist.SumNode` with a synapse -> two pass-through
  nodes, ``<name>.in`` (where the incoming projections and the offset are
  summed: the synapse's input ``u``) and ``<name>`` (what consumers read),
  joined by one ``nengo.Connection`` that carries the synapse.  nengo runs
  connection synapses as *update* operators, so consumers see during step
  ``k`` the synapse's output before step ``k``'s update, exactly the
  netlist's semantics; and a projection that has its own synapse keeps its
  own extra one-step delay.  The synapse is nengo's own (``to_nengo()``)
  when it is linear; a nonzero ``x0`` is added exactly by linearity (a
  constant ``x0`` into ``<name>`` and, for a filter started at its
  equilibrium for the input ``c = x0 / dc_gain``, a constant ``-c`` into
  ``<name>.in``).  Anything else (Adam, filters without such an equilibrium)
  runs the spikec synapse itself inside a :class:`SpikecSynapse` process.
* :class:`~spikec.netlist.Projection` -> one ``nengo.Connection`` with a
  ``nengo.Dense`` or ``nengo.Sparse`` transform and the projection's synapse
  (nengo's one-step delay included).  All-zero projections are skipped.
* :class:`~spikec.netlist.Output` -> ``nengo.Probe(node, synapse=None)`` (for a run;
  an embedded network gets probes only when asked).
* Spike accounting: probing every neuron would not fit in memory (54,000
  neurons x 2,500 steps), so each spiking population feeds a shared counter
  node through a ``(2, n)`` transform whose rows are ``1/amplitude`` (spikes
  per step, divided by dt) and ``fan_out/amplitude`` (synaptic events per
  step, divided by dt), where a neuron's fan-out is the number of nonzero
  weights in its column over all the population's outgoing projections.  One
  probe on the counter records both for every population.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nengo
import nengo.synapses
import numpy as np

from spikec.backends.common import InputFeed, fan_out
from spikec.backends.nengo.neurons import nengo_adapter
from spikec.errors import BackendError, RunError
from spikec.netlist import AvgPool, Convolution, Dense, Netlist, Population, Sparse

__all__ = ["MODES", "NengoModel", "SpikecEnsemble", "SpikecSynapse", "build_network", "quiet_nengo_build"]

MODES = ("spiking", "rate")


# --------------------------------------------------------------------------- ensembles


class _NoDecodedValue(tuple):
    """An empty ``probeable`` that explains itself.

    nengo's ``Probe(ens)`` takes ``ens.probeable[0]`` as its attribute and
    ``Probe(ens, attr)`` checks ``attr in ens.probeable``: both land here with
    a message instead of a decoded output that would read 0.0.
    """

    def __getitem__(self, index):
        raise nengo.exceptions.ValidationError(repr(self), attr="probeable")

    def __repr__(self) -> str:
        return ("none on the ensemble: a spikec population has no decoded value (its encoders and evaluation "
                "points are placeholders, so nengo's decoders would read 0.0). Probe its neurons instead "
                "(nengo.Probe(ens.neurons): spikes or rates; nengo.Probe(ens.neurons, 'input'): currents) "
                "or the network's .outputs[name]")


class SpikecEnsemble(nengo.Ensemble):
    """A netlist population as a ``nengo.Ensemble`` driven through ``.neurons`` only.

    Its value lives in its neurons (spikes, currents), not in a decoded
    vector: a ``nengo.Probe`` of the ensemble itself, and a decoded
    ``nengo.Connection`` out of it (or out of a slice ``ens[i]``), are refused
    with an error saying what to read instead.
    """

    probeable = _NoDecodedValue()

    @property
    def size_out(self):
        """Refused: there is no decoded output to connect from.

        nengo's ``Connection`` reads ``pre.size_out`` while it checks its
        ``pre`` (and ``ens[i]`` reads it for the slice), before any decoders
        are solved: the one place where a decoded connection is refused at the
        user's line, as ``nengo.Probe(ens)`` is.  Connections *into* the
        ensemble read ``size_in``, and ``ens.neurons`` is its own object.
        """
        raise nengo.exceptions.ValidationError(
            f"a spikec population ({self.label}) has no decoded value to connect from (its encoders and evaluation "
            "points are placeholders, so decoders solved for it would read nothing the network computes). Connect "
            "from its neurons instead (nengo.Connection(ens.neurons, post, transform=...): spikes or rates) or from "
            "the network's .outputs[name]", attr="size_out", obj=self)

    def __getitem__(self, key):
        """Refused: a slice of the ensemble is a decoded value too (see :attr:`size_out`)."""
        return self.size_out


# --------------------------------------------------------------------------- synapses


class SpikecSynapse(nengo.synapses.Synapse):
    """A spikec synapse run as a nengo synapse (numpy step, any nengo simulator).

    Used where nengo has no equivalent (:class:`~spikec.models.synapses.Adam`, or a
    linear filter started at an ``x0`` that nengo cannot express).  It emits
    ``output(state) - x0``, so that with the usual zero initial output of a
    nengo synapse plus a constant ``x0`` added downstream, consumers see
    ``x0`` at step 0 and ``output(state)`` afterwards.  The spikec state is
    kept in nengo state signals (flattened to 1-D), so ``sim.reset()`` and
    NengoDL's generic process builder handle it.
    """

    def __init__(self, synapse: Any, x0: np.ndarray | None = None):
        super().__init__(default_size_in=1, default_size_out=1)
        self.synapse = synapse
        self.x0 = None if x0 is None else np.asarray(x0, dtype=np.float64)

    # nengo's FrozenObject compares processes by their nengo parameters, of
    # which this one has none: compare by identity instead.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def _template(self, shape_in):
        x0 = None if self.x0 is None else np.broadcast_to(self.x0, shape_in)
        return self.synapse.init_state(tuple(shape_in), x0)

    def make_state(self, shape_in, shape_out, dt, dtype=None, y0=None):
        dtype = nengo.rc.float_dtype if dtype is None else dtype
        return {f"s{i}": np.asarray(a, dtype=dtype).reshape(-1)
                for i, a in enumerate(self._template(shape_in))}

    def make_step(self, shape_in, shape_out, dt, rng, state):
        shapes = [np.shape(a) for a in self._template(shape_in)]
        views = [state[f"s{i}"] for i in range(len(shapes))]
        synapse = self.synapse
        x0 = 0.0 if self.x0 is None else np.broadcast_to(self.x0, shape_in)

        def step_spikec_synapse(t, u):
            current = tuple(np.reshape(v, s) for v, s in zip(views, shapes))
            new, y = synapse.step(current, u, dt)
            for v, a in zip(views, new):
                v[...] = np.reshape(a, -1)
            return y - x0

        return step_spikec_synapse

    def __repr__(self) -> str:
        label = getattr(self.synapse, "label", None)
        return f"SpikecSynapse({label() if callable(label) else self.synapse!r})"


def _nengo_synapse(synapse: Any):
    """nengo's equivalent of a spikec synapse, or a :class:`SpikecSynapse` wrapper."""
    if synapse is None:
        return None
    if getattr(synapse, "is_linear", False):
        try:
            return synapse.to_nengo()
        except BackendError:
            pass
    return SpikecSynapse(synapse)


def _dc_gain(filt) -> float | None:
    num, den = np.asarray(filt.num), np.asarray(filt.den)
    if filt.analog:
        return None if den[-1] == 0 else float(num[-1] / den[-1])
    s = float(np.sum(den))
    return None if s == 0 else float(np.sum(num)) / s


def _linear_x0_plan(synapse: Any, x0: np.ndarray) -> np.ndarray | None:
    """Input shift ``c`` such that ``y = x0 + S_zero(u - c)``, or None.

    Holds when ``init_state(x0)`` is an equilibrium of the filter under the
    constant input ``c``: ``c = x0 / dc_gain``, or ``c = 0`` for filters whose
    state holds under zero input (the integrator).  Checked numerically with
    one step, since equilibria do not depend on dt under zero-order hold.
    """
    if not getattr(synapse, "is_linear", False) or not hasattr(synapse, "num"):
        return None
    try:
        synapse.to_nengo()
    except BackendError:
        return None
    gain = _dc_gain(synapse)
    candidates = [np.zeros_like(x0)]
    if gain:
        candidates.insert(0, x0 / gain)
    state = synapse.init_state(x0.shape, x0)
    scale = max(1.0, float(np.max(np.abs(x0))))
    for c in candidates:
        for dt in (1e-3, 0.1):
            new, y = synapse.step(state, c, dt)
            if not (np.allclose(y, x0, rtol=0, atol=1e-12 * scale)
                    and all(np.allclose(a, b, rtol=0, atol=1e-12 * scale) for a, b in zip(new, state))):
                break
        else:
            return c
    return None


# ---------------------------------------------------------------------------- neurons


def _with_initial_state(neuron_type, values: dict[str, np.ndarray]):
    """A copy of a nengo neuron type with ``initial_state`` replaced (nengo objects are frozen)."""
    state = neuron_type.__getstate__()
    merged = dict(neuron_type.initial_state or {})
    merged.update(values)
    state["initial_state"] = merged
    clone = type(neuron_type).__new__(type(neuron_type))
    clone.__setstate__(state)
    return clone


def _nengo_neuron_type(pop: Population, mode: str):
    """The nengo neuron type simulating ``pop`` in ``mode``, with its initial state.

    The initial state is the population's ``initial_state`` where given, and
    the spikec type's ``init_state(n, rng=None)`` (the low end of each
    variable's range) for the rest, as in the NumPy/JAX simulators; nengo's
    own random defaults are never used, so spike trains agree between back
    ends.  In rate mode the spiking state (voltage...) is dropped.
    """
    ntype = pop.neuron_type
    try:
        spikec_type = ntype.as_spiking() if mode == "spiking" else ntype.as_rate()
        nengo_type = nengo_adapter(spikec_type)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(
            f"population {pop.name}: neuron type {_label(ntype)} cannot run in {mode} mode on nengo "
            f"({type(exc).__name__}: {exc})",
            hint="use a neuron type from spikec.models.neurons that has a nengo form, or another mode or back end",
        ) from exc
    if not isinstance(nengo_type, nengo.neurons.NeuronType):
        raise BackendError(
            f"population {pop.name}: nengo_adapter({_label(spikec_type)}) returned {nengo_type!r}, "
            "not a nengo NeuronType")
    given = pop.state0()
    try:
        values = dict(spikec_type.init_state(pop.n, None))
    except Exception as exc:
        raise BackendError(f"population {pop.name}: {_label(spikec_type)}.init_state failed: {exc}") from exc
    unknown = sorted(set(given) - set(values))
    if unknown and mode == "spiking":
        raise BackendError(
            f"population {pop.name}: initial state {', '.join(map(repr, unknown))} is not a state of "
            f"{_label(spikec_type)} (its states: {', '.join(map(repr, values)) or 'none'})")
    values.update({k: v for k, v in given.items() if k in values})
    if not values:
        return nengo_type
    outer = dict(nengo_type.state)
    base = getattr(nengo_type, "base_type", None)
    inner = dict(base.state) if base is not None else {}
    outer_values, inner_values = {}, {}
    for name, value in values.items():
        value = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), (pop.n,)))
        if name in outer:
            outer_values[name] = value
        elif name in inner:
            inner_values[name] = value
        else:
            raise BackendError(
                f"population {pop.name}: state {name!r} of {_label(spikec_type)} is not a state of nengo's "
                f"{nengo_type} (its states: {', '.join(map(repr, [*outer, *inner])) or 'none'})")
    if inner_values:
        state = nengo_type.__getstate__()
        state["base_type"] = _with_initial_state(base, inner_values)
        clone = type(nengo_type).__new__(type(nengo_type))
        clone.__setstate__(state)
        nengo_type = clone
    if outer_values:
        nengo_type = _with_initial_state(nengo_type, outer_values)
    return nengo_type


def _label(obj) -> str:
    label = getattr(obj, "label", None)
    return label() if callable(label) else type(obj).__name__


# ---------------------------------------------------------------------------- network


@dataclass
class NengoModel:
    """A netlist built as a ``nengo.Network``, with the handles a run needs.

    Attributes
    ----------
    network
        The ``nengo.Network``.
    netlist, mode
        What was built, and in which mode.
    objects
        Netlist object name -> nengo object whose output is that object's
        value (``ens.neurons`` for a population, a node otherwise).
    ensembles
        Population name -> ``nengo.Ensemble``.
    inputs
        ``nengo.Node`` of each netlist input, in ``netlist.inputs`` order.
    feeds
        The :class:`InputFeed` behind each input node (empty when the inputs
        are pass-through nodes).
    state_inputs
        Stateful sum node name -> its ``<name>.in`` node (the synapse input).
    connections
        One ``nengo.Connection`` per non-empty projection (in netlist order).
    output_probes
        One probe per netlist output (in ``netlist.outputs`` order).
    counter_probe
        Probe on the spike counter (None in rate mode or without counting).
    counted
        Names of the populations counted, in counter order: population ``i``
        has columns ``2 i`` (spikes) and ``2 i + 1`` (synaptic events).
    fan_out
        Population name -> each neuron's number of nonzero outgoing weights.
    guard
        The run-time guards' :class:`~spikec.backends.nengo.guards.GuardMonitor`, or None.
    """

    network: nengo.Network
    netlist: Netlist
    mode: str
    objects: dict[str, Any]
    ensembles: dict[str, nengo.Ensemble]
    inputs: tuple[nengo.Node, ...]
    feeds: tuple[InputFeed, ...]
    state_inputs: dict[str, nengo.Node]
    connections: tuple[nengo.Connection, ...]
    output_probes: tuple[nengo.Probe, ...]
    counter_probe: nengo.Probe | None = None
    counted: tuple[str, ...] = ()
    fan_out: dict[str, np.ndarray] = field(default_factory=dict)
    guard: Any = None  # GuardMonitor | None

    def counts(self, counter_data: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-step spikes and synaptic events, each ``(..., steps, populations)`` integers."""
        per_step = np.rint(np.asarray(counter_data) * dt).astype(np.int64)
        return per_step[..., 0::2], per_step[..., 1::2]


def build_network(netlist: Netlist, mode: str = "spiking", seed: int | None = 0, *,
                  inputs: Sequence[Callable[[float], Any]] | None = None,
                  count_spikes: bool = True, guards: bool = False, output_probes: bool = True,
                  network: nengo.Network | None = None) -> NengoModel:
    """Build ``netlist`` as a ``nengo.Network`` (see the module docstring for the mapping).

    Parameters
    ----------
    netlist
        The netlist (validated here).
    mode
        ``"spiking"`` (each population's spiking type) or ``"rate"``.
    seed
        The network's seed.  Little is random: initial neuron states come
        from the netlist (or the spikec type's ``init_state(n, rng=None)``),
        so only stochastic neurons (PoissonSpiking) use it.
    inputs
        One output function per netlist input (indexed by
        ``InputSource.index``): input nodes call it with ``t`` (wrapped in an
        :class:`InputFeed` unless it already is one).  None: inputs become
        pass-through nodes to connect into.
    count_spikes
        Add the spike counter (spiking mode only).
    guards
        Add the run-time guards' node (:class:`~spikec.backends.nengo.guards.GuardMonitor`;
        bind it to the simulator before running).
    output_probes
        Add one unfiltered probe per output (what a run reads back).
    network
        Build into this (empty) network instead of a new ``nengo.Network``
        labelled with the netlist's name and seeded with ``seed``.
    """
    if mode not in MODES:
        raise BackendError(f"unknown mode {mode!r} for the nengo back ends; modes: {', '.join(MODES)}")
    try:
        netlist.validate()
    except ValueError as exc:
        raise BackendError(f"invalid netlist: {exc}") from exc
    _check_finite(netlist)

    objects: dict[str, Any] = {}
    ensembles: dict[str, nengo.Ensemble] = {}
    state_inputs: dict[str, nengo.Node] = {}
    input_nodes, feeds = [], []
    connections = []

    net = nengo.Network(label=netlist.name, seed=seed) if network is None else network
    with net:
        for src in netlist.inputs:
            if inputs is None:
                node = nengo.Node(size_in=src.size, label=src.name)
            else:
                try:
                    fn = inputs[src.index]
                except (IndexError, KeyError):
                    raise RunError(f"no input function for netlist input {src.name} (index {src.index})") from None
                feed = fn if isinstance(fn, InputFeed) else InputFeed(src, fn)
                feeds.append(feed)
                node = nengo.Node(output=feed, size_out=src.size, label=src.name)
            input_nodes.append(node)
            objects[src.name] = node

        for pop in netlist.populations:
            ens = SpikecEnsemble(
                pop.n, 1, neuron_type=_nengo_neuron_type(pop, mode),
                gain=np.asarray(pop.gain.value, dtype=np.float64), bias=np.asarray(pop.bias.value, dtype=np.float64),
                encoders=np.ones((pop.n, 1)), eval_points=np.zeros((1, 1)), normalize_encoders=False,
                label=pop.name,
            )
            ensembles[pop.name] = ens
            objects[pop.name] = ens.neurons

        for sn in netlist.nodes:
            value = nengo.Node(size_in=sn.size, label=sn.name)
            objects[sn.name] = value
            offset = np.zeros(sn.size) if sn.offset is None else np.broadcast_to(sn.offset.value, (sn.size,))
            if sn.synapse is None:
                _constant(value, offset, f"{sn.name}.offset")
                continue
            u = nengo.Node(size_in=sn.size, label=f"{sn.name}.in")
            state_inputs[sn.name] = u
            x0 = None if sn.x0 is None else np.broadcast_to(np.asarray(sn.x0.value, dtype=np.float64), (sn.size,))
            if x0 is not None and not np.any(x0):
                x0 = None
            shift = None if x0 is None else _linear_x0_plan(sn.synapse, np.array(x0))
            if x0 is None:
                synapse = _nengo_synapse(sn.synapse)
            elif shift is not None:
                synapse = sn.synapse.to_nengo()
                offset = offset - shift
            else:
                synapse = SpikecSynapse(sn.synapse, x0)
            _constant(u, offset, f"{sn.name}.offset")
            if x0 is not None:
                _constant(value, x0, f"{sn.name}.x0")
            nengo.Connection(u, value, synapse=synapse, transform=None, label=f"{sn.name}.synapse")

        for p in netlist.projections:
            if p.transform.nnz == 0:
                continue
            pre = objects[p.pre]
            post = state_inputs.get(p.post, objects[p.post])
            connections.append(nengo.Connection(
                pre, post, transform=_nengo_transform(p.transform),
                synapse=_nengo_synapse(p.synapse), label=f"{p.pre} -> {p.post}",
            ))

        probes = tuple(nengo.Probe(objects[out.source], synapse=None, label=out.name)
                       for out in netlist.outputs) if output_probes else ()

        counter_probe, counted, fans = None, [], fan_out(netlist)
        if mode == "spiking" and count_spikes:
            spiking = [pop for pop in netlist.populations if ensembles[pop.name].neuron_type.spiking]
            if spiking:
                counter = nengo.Node(size_in=2 * len(spiking), label="spike counter")
                for i, pop in enumerate(spiking):
                    fan = fans[pop.name]
                    amplitude = float(getattr(ensembles[pop.name].neuron_type, "amplitude", 1.0))
                    rows = np.vstack([np.ones(pop.n), fan]) / amplitude
                    nengo.Connection(ensembles[pop.name].neurons, counter[2 * i:2 * i + 2], transform=rows,
                                     synapse=None, label=f"{pop.name}.count")
                    counted.append(pop.name)
                counter_probe = nengo.Probe(counter, synapse=None, label="spike counts")

        guard = None
        if guards:
            from spikec.backends.nengo.guards import GuardMonitor

            guard = GuardMonitor(netlist, mode, ensembles,
                                 {sn.name: objects[sn.name] for sn in netlist.nodes if sn.synapse is not None})

    return NengoModel(
        network=net, netlist=netlist, mode=mode, objects=objects, ensembles=ensembles,
        inputs=tuple(input_nodes), feeds=tuple(feeds), state_inputs=state_inputs,
        connections=tuple(connections), output_probes=probes, counter_probe=counter_probe,
        counted=tuple(counted), fan_out=fans, guard=guard,
    )


def _check_finite(netlist: Netlist) -> None:
    """Name the netlist object holding a NaN or inf (nengo would only say "must be finite")."""
    arrays: list[tuple[str, Any]] = []
    for pop in netlist.populations:
        arrays += [(f"population {pop.name}: gain", pop.gain), (f"population {pop.name}: bias", pop.bias)]
        arrays += [(f"population {pop.name}: initial {k}", v) for k, v in pop.initial_state]
    for sn in netlist.nodes:
        arrays += [(f"sum node {sn.name}: offset", sn.offset), (f"sum node {sn.name}: x0", sn.x0)]
    for p in netlist.projections:
        if isinstance(p.transform, AvgPool):  # no weights
            continue
        w = (p.transform.weights if isinstance(p.transform, Dense) else
             p.transform.kernel if isinstance(p.transform, Convolution) else p.transform.data)
        arrays.append((f"projection {p.pre} -> {p.post}: weights", w))
    for what, arr in arrays:
        if arr is not None and not np.all(np.isfinite(arr.value)):
            raise BackendError(f"netlist {netlist.name}: {what} contains NaN or inf",
                               hint="the lowering produced non-finite values; check the value ranges it assumed")


def _constant(target, value: np.ndarray, label: str) -> None:
    if np.any(value):
        nengo.Connection(nengo.Node(np.array(value, dtype=np.float64), label=label), target, synapse=None,
                         label=f"{label} -> {target.label}")


def _nengo_transform(tr):
    if isinstance(tr, AvgPool):
        tr = Sparse.from_scipy(tr.matrix())
    if isinstance(tr, Convolution):
        kh, kw, _, filters = tr.kernel.shape
        return nengo.Convolution(filters, tr.input_shape, kernel_size=(kh, kw), strides=tr.strides,
                                 padding=tr.padding, channels_last=True,
                                 init=np.asarray(tr.kernel.value, dtype=np.float64))
    if isinstance(tr, Dense):
        return nengo.Dense(tr.shape, init=np.asarray(tr.weights.value, dtype=np.float64))
    keep = tr.data.value != 0
    indices = np.stack([tr.rows.value[keep], tr.cols.value[keep]], axis=1)
    return nengo.Sparse(tr.shape, indices=indices, init=np.asarray(tr.data.value[keep], dtype=np.float64))


@contextlib.contextmanager
def quiet_nengo_build():
    """Silence what nengo's builder says about tuning that spikec does not use.

    With gain and bias given, nengo still computes each ensemble's
    ``max_rates`` and ``intercepts`` for its records, and warns (a
    ``log1p`` of a negative number, "Non-finite values detected in
    `max_rates`") for populations that never fire over [-1, 1] (such as
    those driven only through their bias or tuned for another range).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Non-finite values detected in `max_rates`")
        warnings.filterwarnings("ignore", message="Non-finite values detected in `intercepts`")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"nengo\.neurons")
        yield
