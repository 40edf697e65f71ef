"""Run-time guards on nengo's simulator (see :mod:`spikec.backends.guards`).

nengo computes each ensemble's input current ``J`` in a signal of its own
(``model.sig[ens.neurons]["in"]``) but offers no per-step hook.  A
:class:`GuardMonitor` is a ``nengo.Node`` that every population's neurons
(and every stateful sum node) feed through a one-row transform: nengo
therefore runs it after those neurons' step, when ``J`` holds this step's
currents, and the node reads them straight from the simulator's signals
(bound after the simulator is built, :meth:`GuardMonitor.bind`) and updates
the same records as the NumPy and JAX simulators.

Cost: one ``(1, n)`` dot product per population and one Python call with a
few NumPy reductions over the currents per step; no probe, so no memory
that grows with the run (probing ``ens.neurons`` ``"input"`` would store
``steps x neurons`` floats: 640 MB for the 20x20 inverse at 2.5 s).
"""

from __future__ import annotations

from typing import Any

import nengo
import numpy as np

from spikec.backends.guards import (
    describe,
    guard_bounds,
    initial_guard_state,
    nonfinite_error,
    settings,
    update_guard_state,
)
from spikec.netlist import Netlist

__all__ = ["GuardMonitor"]


class GuardMonitor:
    """Per-step guards of one nengo network built from ``netlist``.

    ``ensembles``: population name -> ``nengo.Ensemble``; ``values``:
    stateful sum node name -> the nengo node showing its value.  Call
    :meth:`bind` with the simulator before running, :meth:`reset` before each
    batch element; :attr:`state` holds the records (batch of one).
    """

    def __init__(self, netlist: Netlist, mode: str, ensembles: dict[str, Any], values: dict[str, Any]):
        self.netlist, self.mode = netlist, mode
        self.ensembles, self.values = ensembles, values
        self.bounds = guard_bounds(netlist)
        self.currents: dict[str, np.ndarray] = {}
        self.dt = 1.0
        self.alpha, self.bound = 1.0, None
        self.state = initial_guard_state(netlist, 1, np, np.float64)
        names = list(ensembles) + list(values)
        self.slot = {name: i for i, name in enumerate(names)}
        self.node = None
        if not names:  # nothing to watch (nengo wants a node with inputs to take them)
            return
        self.node = nengo.Node(self, size_in=len(names), size_out=0, label="spikec guards")
        for name, ens in ensembles.items():
            nengo.Connection(ens.neurons, self.node[self.slot[name]], transform=np.ones((1, ens.n_neurons)),
                             synapse=None, label=f"{name}.guard")
        for name, node in values.items():
            nengo.Connection(node, self.node[self.slot[name]], transform=np.ones((1, node.size_out)),
                             synapse=None, label=f"{name}.guard")

    def bind(self, sim: nengo.Simulator) -> GuardMonitor:
        """Read the currents from ``sim``'s signals (views that nengo updates in place)."""
        self.dt = sim.dt
        self.alpha, self.bound = settings(self.mode, sim.dt)
        self.currents = {name: sim.signals[sim.model.sig[ens.neurons]["in"]]
                         for name, ens in self.ensembles.items()}
        self.reset()
        return self

    def failure(self, sim: nengo.Simulator, exc: Exception):
        """The :class:`RunError` for a floating-point error nengo raised inside a step: it names the
        populations whose currents or activities are non-finite or would overflow when squared."""
        step = int(sim.n_steps)  # the step in progress (0-based)
        suspects = []
        for name, ens in self.ensembles.items():
            values = [sim.signals[sim.model.sig[ens.neurons][key]] for key in ("in", "out")]
            with np.errstate(all="ignore"):
                if any(not np.all(np.isfinite(v)) or np.max(np.abs(v), initial=0.0) > 1e150 for v in values):
                    suspects.append(describe(self.netlist, name))
        what = " and ".join(suspects) or f"a neuron step ({type(exc).__name__}: {exc})"
        return nonfinite_error(self.netlist, self.mode, self.dt, step, what)

    def reset(self) -> None:
        """Start the records afresh (a new run or batch element)."""
        self.state = initial_guard_state(self.netlist, 1, np, np.float64)

    def __call__(self, t: float, x: np.ndarray) -> None:
        if not self.currents:  # not bound: a network embedded in a user's model
            return None
        values = {name: current[None, :] for name, current in self.currents.items()}
        values.update({name: x[None, self.slot[name]:self.slot[name] + 1] for name in self.values})
        with np.errstate(invalid="ignore", over="ignore"):
            self.state = update_guard_state(self.state, values, self.bounds, np, self.alpha, self.bound)
        for name, entry in self.state["objects"].items():
            if entry["bad"][0] >= 0:
                # stop here: nengo would go on with NaN (or fail in a neuron step with its own error)
                raise nonfinite_error(self.netlist, self.mode, self.dt, int(entry["bad"][0]),
                                      describe(self.netlist, name))
        return None
