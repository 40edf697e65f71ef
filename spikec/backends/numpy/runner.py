"""Run a netlist with the NumPy simulator step (``backend="numpy"``, rate/spiking modes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from spikec.backends.common import InputFeed, RunSpec, assemble_result, input_functions
from spikec.backends.guards import check_finite, describe, nonfinite_error
from spikec.backends.netsim import make_simulator
from spikec.backends.result import RunResult
from spikec.netlist import Netlist
from spikec.util.progress import progress_bar


def run_netlist(net: Netlist, inputs: Sequence, steps: int, dt: float, mode: str, *,
                batch_size: int | None = None, seed: int | None = 0, progress: bool | None = None,
                backend: str = "numpy") -> RunResult:
    """Simulate ``net``; ``inputs[i]`` is a function of time, or a list of them when batched."""
    spec = RunSpec(steps=steps, dt=dt, mode=mode, seed=seed, progress=progress, batch_size=batch_size)
    batch = spec.elements
    start = time.perf_counter()
    sim = make_simulator(net, mode, dt, batch=batch, xp=np, seed=seed or 0, guards=True)
    rng = np.random.default_rng(seed)
    table = input_functions(net, inputs, batch_size)  # [element][netlist input]
    per_batch: list[list[Callable]] = [[InputFeed(src, row[i]) for row in table] for i, src in enumerate(net.inputs)]
    outputs = [np.empty((batch, steps, out.size)) for out in net.outputs]
    counted = [name for name in sim.neuron_types if sim.neuron_types[name].spiking]
    pop_spikes = {name: np.zeros((batch, steps)) for name in counted}
    pop_events = {name: np.zeros((batch, steps)) for name in counted}
    state = sim.init
    build = time.perf_counter() - start
    for k in progress_bar(range(steps), total=steps, desc=f"{net.name} (numpy {mode})", enable=progress):
        t = (k + 1) * dt
        values: list = [None] * max([src.index + 1 for src in net.inputs], default=0)
        for src, fns in zip(net.inputs, per_batch):
            values[src.index] = np.stack([fn(t) for fn in fns])
        noise = {name: rng.random((batch, net[name].n)) for name in sim.noisy} or None
        state, report = sim.step(state, values, noise)
        for buf, value in zip(outputs, report["outputs"]):
            buf[:, k] = value
        if k % 64 == 63 or not np.all(np.isfinite(report["spikes"])):
            # stop a diverged run early (NaN in every later step); the error names the first object hit
            check_finite(net, mode, dt, state["guard"])
            bad = [name for name, count in report["pop_spikes"].items() if not np.all(np.isfinite(count))]
            if bad:  # finite currents, but activities that overflow
                raise nonfinite_error(net, mode, dt, k, " and ".join(describe(net, name) for name in bad))
        for name in counted:
            pop_spikes[name][:, k] = report["pop_spikes"][name]
            pop_events[name][:, k] = report["pop_events"][name]
    run = time.perf_counter() - start - build
    unbatch = (lambda a: a[0]) if batch_size is None else (lambda a: a)
    return assemble_result(
        net, spec, [unbatch(o) for o in outputs], backend=backend,
        spikes={name: unbatch(v) for name, v in pop_spikes.items()},
        events={name: unbatch(v) for name, v in pop_events.items()},
        fans=sim.fanout, info={"build_time": build, "run_time": run}, guard_state=state["guard"],
    )
