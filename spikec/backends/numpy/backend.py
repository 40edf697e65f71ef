"""``backend="numpy"``: the netlist's neurons simulated in NumPy (:mod:`spikec.backends.numpy.runner`).

Its ``mode="ideal"`` (the graph interpreter,
:func:`spikec.ir.interpret.simulate_graph`) needs the program's graph, not a
netlist: :class:`spikec.program.Program` runs it (``graph_modes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spikec.backends.common import NetlistBackend, RunSpec
from spikec.backends.result import RunResult
from spikec.errors import RunError
from spikec.netlist import Netlist


class NumpyBackend(NetlistBackend):
    """``backend="numpy"``: the ideal reference (``mode="ideal"``, run by the program on its graph), or the
    netlist's neurons simulated in NumPy (``mode="rate"`` or ``"spiking"``).  It takes no options of its own."""

    name = "numpy"
    modes = ("ideal", "rate", "spiking")
    default_mode = "ideal"
    graph_modes = ("ideal",)

    def execute(self, netlist: Netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult:
        from spikec.backends.numpy.runner import run_netlist

        if spec.mode in self.graph_modes:
            raise RunError(f"backend 'numpy' runs mode={spec.mode!r} on a program's graph, not on a netlist; "
                           "use prog.run(..., mode='ideal')")
        return run_netlist(self.check_netlist(netlist), inputs, spec.steps, spec.dt, spec.mode,
                           batch_size=spec.batch_size, seed=spec.seed, progress=spec.progress)
