"""Run a netlist with the NumPy simulator step (``backend="numpy"``, rate/spiking modes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from spikec.backends.common import RunSpec, assemble_result
from spikec.backends.netsim import make_simulator
from spikec.backends.result import RunResult
from spikec.errors import RunError
from spikec.netlist import Netlist
from spikec.util.progress import progress_bar


def run_netlist(net: Netlist, inputs: Sequence, steps: int, dt: float, mode: str, *,
                batch_size: int | None = None, seed: int | None = 0, progress: bool | None = None,
                backend: str = "numpy") -> RunResult:
    """Simulate ``net``; ``inputs[i]`` is a function of time, or a list of them when batched."""
    spec = RunSpec(steps=steps, dt=dt, mode=mode, seed=seed, progress=progress, batch_size=batch_size)
    batch = spec.elements
    start = time.perf_counter()
    sim = make_simulator(net, mode, dt, batch=batch, xp=np, seed=seed or 0)
    rng = np.random.default_rng(seed)
    per_batch: list[list[Callable]] = [[fn] * 1 if batch_size is None else list(fn) for fn in inputs]
    outputs = [np.empty((batch, steps, out.size)) for out in net.outputs]
    counted = [name for name in sim.neuron_types if sim.neuron_types[name].spiking]
    pop_spikes = {name: np.zeros((batch, steps)) for name in counted}
    pop_events = {name: np.zeros((batch, steps)) for name in counted}
    state = sim.init
    build = time.perf_counter() - start
    for k in progress_bar(range(steps), total=steps, desc=f"{net.name} (numpy {mode})", enable=progress):
        t = (k + 1) * dt
        values = [np.stack([np.ravel(fn(t)) for fn in fns]) for fns in per_batch]
        noise = {name: rng.random((batch, net[name].n)) for name in sim.noisy} or None
        state, report = sim.step(state, values, noise)
        for buf, value in zip(outputs, report["outputs"]):
            buf[:, k] = value
        if not np.all(np.isfinite(report["spikes"])):
            bad = [name for name, count in report["pop_spikes"].items() if not np.all(np.isfinite(count))]
            raise RunError(f"{net.name}: the {mode} simulation went non-finite at t = {t:g} s (step {k + 1}) in "
                           f"population {', '.join(bad)}: spike counts are undefined from there on",
                           hint="the network diverges (an unstable integrate, a gain too large for this dt?); "
                                "check the program with backend='numpy', mode='ideal'")
        for name in counted:
            pop_spikes[name][:, k] = report["pop_spikes"][name]
            pop_events[name][:, k] = report["pop_events"][name]
    run = time.perf_counter() - start - build
    unbatch = (lambda a: a[0]) if batch_size is None else (lambda a: a)
    return assemble_result(
        net, spec, [unbatch(o) for o in outputs], backend=backend,
        spikes={name: unbatch(v) for name, v in pop_spikes.items()},
        events={name: unbatch(v) for name, v in pop_events.items()},
        fans=sim.fanout, info={"build_time": build, "run_time": run},
    )
