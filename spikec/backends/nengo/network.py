"""A netlist as a nengo network of its own: :class:`SpikecNetwork`, what ``prog.to_nengo()`` returns.

The network is built by :func:`~spikec.backends.nengo.build.build_network`
with pass-through input nodes, and gives a user's nengo model what nengo's
own networks give (``nengo.networks.EnsembleArray`` has ``.input`` and
``.output``):

* ``.inputs[name]``: a ``nengo.Node(size_in=size)`` per program argument,
  keyed by the argument's name, ``size`` the number of elements of the
  argument's array (flattened in C order: ``x.reshape(-1)``).  Connect into
  it.
* ``.outputs[name]``: a ``nengo.Node(size_in=size)`` per program output
  (``out0``, ``out1``, ... in return order), flattened likewise.  Connect or
  probe out of it.  ``.input`` / ``.output`` are the only ones when there is
  exactly one.
* ``.input_shapes`` / ``.output_shapes``: the arrays' shapes.
* ``.output_probes[name]``: only with ``probe=...`` (or :meth:`SpikecNetwork.probe_outputs`).

Seeds follow nengo's rule for child networks: ``seed=None`` (the default)
lets the parent model's seed decide.  Only stochastic neurons use it; the
weights, gains and biases come from the lowering.

Every object and connection has a label, and each is also an attribute of the
network named after its label (``net.in_x``, ``net.out0``...), so that
nengo-gui (whose saved layout names objects by the Python expression that
reaches them) writes ``net.in_x`` rather than ``net.nodes[3]``.

Range guards: with ``guards=True`` the network carries the nengo back end's
:class:`~spikec.backends.nengo.guards.GuardMonitor`.  Call :meth:`SpikecNetwork.watch`
with the simulator before running and :meth:`SpikecNetwork.check_ranges` after it.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import nengo

from spikec.backends.guards import enforce, range_violations
from spikec.backends.nengo.build import build_network
from spikec.errors import RunError
from spikec.netlist import Netlist

__all__ = ["SpikecNetwork", "to_nengo"]


class SpikecNetwork(nengo.Network):
    """A compiled spikec program as a ``nengo.Network`` (see the module docstring).

    Attributes
    ----------
    inputs, outputs
        Argument name -> input node; output name -> output node (read-only
        mappings, in argument and return order).
    input_shapes, output_shapes
        The same keys -> the arrays' shapes (the nodes carry them flattened).
    output_probes
        Output name -> ``nengo.Probe``; empty unless probes were asked for.
    netlist, mode
        What was built, and in which mode.
    input, output
        The only input / output node, for a program of one argument / output
        (absent otherwise).
    model
        The :class:`~spikec.backends.nengo.build.NengoModel` with every handle
        (ensembles, sum nodes, connections, the guard monitor).
    """

    def __init__(self, netlist: Netlist, mode: str = "spiking", seed: int | None = None, *,
                 input_names: Sequence[str] | None = None, probe: Any = False, guards: bool = True,
                 label: str | None = None, add_to_container: bool | None = None):
        super().__init__(label=label or netlist.name, seed=seed, add_to_container=add_to_container)
        model = build_network(netlist, mode, seed, inputs=None, count_spikes=False, guards=guards,
                              output_probes=False, network=self)
        self.netlist, self.mode, self.model = netlist, mode, model
        # every program input has its netlist input (read or not), by index
        names = [src.name for src in netlist.inputs] if input_names is None else list(input_names)
        inputs = {names[src.index]: node for src, node in zip(netlist.inputs, model.inputs)}
        in_shapes = {names[src.index]: tuple(src.shape) for src in netlist.inputs}
        with self:
            outputs, out_shapes = {}, {}
            for out in netlist.outputs:
                node = model.objects[out.source]
                if out.source != out.name or not isinstance(node, nengo.Node):
                    # a node of its own labelled with the output's name (the source may be a state, "state6")
                    node = nengo.Node(size_in=out.size, label=out.name)
                    nengo.Connection(model.objects[out.source], node, synapse=None,
                                     label=f"{out.source} -> {out.name}")
                outputs[out.name], out_shapes[out.name] = node, tuple(out.shape)
        self.inputs: Mapping[str, nengo.Node] = MappingProxyType(inputs)
        self.outputs: Mapping[str, nengo.Node] = MappingProxyType(outputs)
        self.input_shapes: Mapping[str, tuple[int, ...]] = MappingProxyType(in_shapes)
        self.output_shapes: Mapping[str, tuple[int, ...]] = MappingProxyType(out_shapes)
        self.output_probes: Mapping[str, nengo.Probe] = MappingProxyType({})
        # .input / .output exist only where they are unambiguous (nengo-gui reads every attribute)
        if len(inputs) == 1:
            self.input = next(iter(inputs.values()))
        if len(outputs) == 1:
            self.output = next(iter(outputs.values()))
        self._sim = None
        if probe is not False:
            self.probe_outputs(None if probe is True else probe)
        self._name_objects()

    def probe_outputs(self, synapse: Any = None) -> Mapping[str, nengo.Probe]:
        """Add a ``nengo.Probe(self.outputs[name], synapse=synapse)`` per output; returns them by name.

        The data of such a probe is nengo's: with a synapse, sample ``k`` is the
        filter's output *before* step ``k``'s input (nengo updates a probe's
        filter after recording it), so it is ``prog.run(synapse=s)`` one step
        later: ``probe[k + 1] == run(synapse=s).output[k]``, and
        ``probe[0] == 0``.  Without a synapse the two are equal sample for sample.
        """
        if isinstance(synapse, (int, float)) and not isinstance(synapse, bool):
            synapse = nengo.Lowpass(float(synapse))
        syn = getattr(synapse, "to_nengo", None)  # a spikec synapse
        syn = syn() if callable(syn) else synapse
        with self:
            made = {name: nengo.Probe(node, synapse=syn, label=f"{name} probe")
                    for name, node in self.outputs.items()}
        self.output_probes = MappingProxyType({**self.output_probes, **made})
        self._name_objects()
        return MappingProxyType(made)

    # -- range guards -------------------------------------------------------------------
    def watch(self, sim: nengo.Simulator) -> SpikecNetwork:
        """Record this network's input currents in ``sim`` (call before ``sim.run``; again after ``sim.reset``).

        Without it the guard node does nothing, and :meth:`check_ranges` refuses.
        """
        if self.model.guard is None:
            raise RunError(f"{self.label}: built with guards=False; build it with to_nengo(guards=True) "
                           "to watch ranges")
        self.model.guard.bind(sim)
        self._sim = sim
        return self

    def range_violations(self) -> list[dict[str, Any]]:
        """Populations whose input currents left their tuned range so far (as ``result.info["range_violations"]``)."""
        if self._sim is None:
            raise RunError(f"{self.label}: no simulator watched; call net.watch(sim) after nengo.Simulator(model) "
                           "and before sim.run")
        return range_violations(self.netlist, int(self._sim.n_steps), self._sim.dt, self.model.guard.state)

    def check_ranges(self, on_range: str = "warn") -> list[dict[str, Any]]:
        """Warn (``"warn"``), raise (``"error"``) or stay silent (``"ignore"``) about :meth:`range_violations`.

        Returns the violations.  Non-finite currents raise during the run itself.
        """
        violations = self.range_violations()
        enforce(violations, on_range)
        return violations

    # -- names for nengo-gui ----------------------------------------------------------------
    def _name_objects(self) -> None:
        taken = set(dir(type(self))) | set(vars(self))
        names: dict[str, Any] = {}
        for obj in [*self.all_nodes, *self.all_ensembles, *self.all_connections, *self.all_probes]:
            base = _identifier(obj.label)
            name, i = base, 1
            while name in taken or name in names:
                i += 1
                name = f"{base}_{i}"
            names[name] = obj
        self._object_names = names

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: the labelled objects (see the module docstring)
        names = self.__dict__.get("_object_names")
        if names is not None and name in names:
            return names[name]
        if name in ("input", "output") and f"{name}s" in self.__dict__:
            handles = self.__dict__[f"{name}s"]
            raise AttributeError(f"the network has {len(handles)} {name}s ({', '.join(handles) or 'none'}); "
                                 f"use .{name}s[name]")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_object_names", ())))


def _identifier(label: str | None) -> str:
    """A Python identifier from a label (``"p3 -> out0"`` -> ``p3_out0``)."""
    name = re.sub(r"\W+", "_", str(label or "obj")).strip("_") or "obj"
    if name[0].isdigit():
        name = f"n_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


def to_nengo(netlist: Netlist, mode: str = "spiking", seed: int | None = None, *,
             input_names: Sequence[str] | None = None, probe: Any = False, guards: bool = True) -> SpikecNetwork:
    """``netlist`` as a :class:`SpikecNetwork` to embed in a nengo model of your own.

    Parameters
    ----------
    netlist
        The netlist (``prog.lower(dt=...)``; tuned for the ``dt`` your simulator runs with).
    mode
        ``"spiking"`` or ``"rate"``.
    seed
        The network's nengo seed; None inherits it from the parent model.
    input_names
        Names for the inputs by program-input index (the program's argument names);
        default: the netlist's input names.
    probe
        False: no probes.  True: an unfiltered ``nengo.Probe`` per output.  A
        synapse (a float is a lowpass time constant): probes filtered by it.
    guards
        Carry the range guards' node (see :meth:`SpikecNetwork.watch`).
    """
    return SpikecNetwork(netlist, mode, seed, input_names=input_names, probe=probe, guards=guards)

