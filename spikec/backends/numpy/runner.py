"""Run a netlist with the NumPy simulator step (``backend="numpy"``, rate/spiking modes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from spikec.backends.netsim import make_simulator
from spikec.backends.result import RunResult
from spikec.errors import RunError
from spikec.netlist import Netlist
from spikec.util.progress import progress_bar


def run_netlist(net: Netlist, inputs: Sequence, steps: int, dt: float, mode: str, *,
                batch_size: int | None = None, seed: int | None = 0, progress: bool | None = None,
                backend: str = "numpy") -> RunResult:
    """Simulate ``net``; ``inputs[i]`` is a function of time, or a list of them when batched."""
    batch = 1 if batch_size is None else batch_size
    start = time.perf_counter()
    sim = make_simulator(net, mode, dt, batch=batch, xp=np, seed=seed or 0)
    rng = np.random.default_rng(seed)
    per_batch: list[list[Callable]] = [[fn] * 1 if batch_size is None else list(fn) for fn in inputs]
    outputs = [np.empty((batch, steps, out.size)) for out in net.outputs]
    spikes = np.zeros((batch, steps))
    events = np.zeros((batch, steps))
    pop_spikes = {name: np.zeros((batch, steps)) for name in sim.neuron_types if sim.neuron_types[name].spiking}
    state = sim.init
    build = time.perf_counter() - start
    for k in progress_bar(range(steps), total=steps, desc=f"{net.name} (numpy {mode})", enable=progress):
        t = (k + 1) * dt
        values = [np.stack([np.ravel(fn(t)) for fn in fns]) for fns in per_batch]
        noise = {name: rng.random((batch, net[name].n)) for name in sim.noisy} or None
        state, report = sim.step(state, values, noise)
        for buf, value in zip(outputs, report["outputs"]):
            buf[:, k] = value
        spikes[:, k] = report["spikes"]
        if not np.all(np.isfinite(spikes[:, k])):
            bad = [name for name, count in report["pop_spikes"].items() if not np.all(np.isfinite(count))]
            raise RunError(f"{net.name}: the {mode} simulation went non-finite at t = {t:g} s (step {k + 1}) in "
                           f"population {', '.join(bad)}: spike counts are undefined from there on",
                           hint="the network diverges (an unstable integrate, a gain too large for this dt?); "
                                "check the program with backend='numpy', mode='ideal'")
        events[:, k] = report["events"]
        for name, count in report["pop_spikes"].items():
            pop_spikes[name][:, k] = count
    run = time.perf_counter() - start - build
    shaped = [o.reshape(batch, steps, *out.shape) for o, out in zip(outputs, net.outputs)]
    cum_spikes = np.cumsum(spikes, axis=1)
    info = {
        "population_spikes": {k: np.cumsum(v, axis=1)[0 if batch_size is None else slice(None)]
                              for k, v in pop_spikes.items()},
        "synaptic_events": np.cumsum(events, axis=1)[0 if batch_size is None else slice(None)],
        "build_time": build, "run_time": run,
    }
    if batch_size is None:
        shaped = [o[0] for o in shaped]
        cum_spikes = cum_spikes[0]
    return RunResult(t=dt * np.arange(1, steps + 1), outputs=tuple(shaped), backend=backend, mode=mode, dt=dt,
                     spikes=np.rint(cum_spikes).astype(np.int64), batched=batch_size is not None, info=info)
