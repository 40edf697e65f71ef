"""``backend="numpy"``: the netlist's neurons simulated in NumPy, or the ideal reference
(:func:`spikec.ir.interpret.simulate_graph`) in ``mode="ideal"``."""

from __future__ import annotations

import numpy as np

from spikec.backends.result import RunResult
from spikec.errors import RunError
from spikec.ir.interpret import simulate_graph


class NumpyBackend:
    """``backend="numpy"``: the ideal reference (``mode="ideal"``), or the
    netlist's neurons simulated in NumPy (``mode="rate"`` or ``"spiking"``)."""

    name = "numpy"
    modes = ("ideal", "rate", "spiking")
    default_mode = "ideal"

    def run(self, program, inputs, *, t: float, dt: float, mode: str, seed: int | None,
            progress: bool | None, batch_size: int | None = None, **options) -> RunResult:
        steps = int(round(t / dt))
        if mode != "ideal":
            from spikec.backends.numpy.runner import run_netlist

            net = program.lower(dt=dt, seed=seed, **options)
            return run_netlist(net, inputs, steps, dt, mode, batch_size=batch_size, seed=seed, progress=progress)
        if options:
            raise RunError(f"backend 'numpy' in ideal mode takes no options; got {', '.join(sorted(options))}")
        graph = program.graph
        if batch_size is None:
            outputs = simulate_graph(graph, inputs, steps, dt, progress)
        else:
            runs = [simulate_graph(graph, [fns[b] for fns in inputs], steps, dt, progress)
                    for b in range(batch_size)]
            outputs = [np.stack([run[i] for run in runs]) for i in range(len(graph.outputs))]
        shape = (steps,) if batch_size is None else (batch_size, steps)
        return RunResult(
            t=dt * np.arange(1, steps + 1), outputs=tuple(outputs), backend=self.name, mode=mode, dt=dt,
            spikes=np.zeros(shape, dtype=np.int64), batched=batch_size is not None,
        )
