"""``backend="nengo"``: a netlist's nengo network (:mod:`spikec.backends.nengo.build`) run by
``nengo.Simulator``, and the probe data read back as a :class:`~spikec.backends.result.RunResult`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import nengo
import numpy as np

from spikec.backends.common import InputFeed, NetlistBackend, RunSpec, assemble_result, input_functions
from spikec.backends.nengo.build import MODES, NengoModel, build_network, quiet_nengo_build
from spikec.backends.result import RunResult
from spikec.errors import BackendError
from spikec.netlist import Netlist
from spikec.util.progress import show_progress

__all__ = ["NengoBackend", "by_index", "collect_result"]


def by_index(netlist: Netlist, feeds: Sequence[InputFeed]) -> dict[int, InputFeed]:
    """The feeds by program-input index, as :func:`~spikec.backends.nengo.build.build_network` takes them."""
    return {src.index: feed for src, feed in zip(netlist.inputs, feeds)}


def collect_result(model: NengoModel, spec: RunSpec, outputs: list[np.ndarray], counter: np.ndarray | None, *,
                   backend: str, info: Mapping[str, Any], guard_state: Mapping[str, Any] | None = None) -> RunResult:
    """Assemble a :class:`RunResult` from probe data.

    ``outputs[i]`` is ``(steps, size)``, or ``(batch, steps, size)`` when
    batched; ``counter`` is the counter probe's data (same leading axes) or
    None.
    """
    spikes: dict[str, np.ndarray] = {}
    events: dict[str, np.ndarray] = {}
    if counter is not None and model.counted:
        per_spike, per_event = model.counts(counter, spec.dt)
        for i, name in enumerate(model.counted):
            spikes[name] = per_spike[..., i]
            events[name] = per_event[..., i]
    return assemble_result(model.netlist, spec, outputs, backend=backend, spikes=spikes, events=events,
                           fans=model.fan_out, info=info, guard_state=guard_state)


class NengoBackend(NetlistBackend):
    """``backend="nengo"``: the netlist on nengo's reference simulator.

    Modes: ``"spiking"`` (default) and ``"rate"``.  Batched runs build one
    simulator and run each batch element in turn on it (``sim.reset`` between
    elements, the input functions swapped).  Options: ``optimize`` (nengo's
    operator merging, default True).

    ``RunResult.info``: ``build_time`` and ``run_time`` (seconds),
    ``population_spikes`` and ``population_synaptic_events`` (population
    name -> cumulative counts per step), ``synaptic_events`` (their total per
    step), ``total_spikes``, ``total_synaptic_events``, ``fan_out``, ``seed``.
    """

    name = "nengo"
    modes = MODES
    default_mode = "spiking"
    options = MappingProxyType({"optimize": True})

    def execute(self, netlist: Netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult:
        netlist = self.check_netlist(netlist)
        steps, dt, seed = spec.steps, spec.dt, spec.seed
        table = input_functions(netlist, inputs, spec.batch_size)
        feeds = [InputFeed(src) for src in netlist.inputs]
        start = time.perf_counter()
        model = build_network(netlist, spec.mode, seed, inputs=by_index(netlist, feeds), guards=True)
        bar = show_progress(spec.progress, steps * len(table))
        try:
            with quiet_nengo_build():
                sim = nengo.Simulator(model.network, dt=dt, seed=seed, progress_bar=bar,
                                      optimize=spec.options["optimize"])
        except nengo.exceptions.NengoException as exc:
            raise BackendError(f"nengo could not build {netlist.name}: {type(exc).__name__}: {exc}") from exc
        build_time = time.perf_counter() - start
        outputs, counters, guard_states = [], [], []
        start = time.perf_counter()
        model.guard.bind(sim)
        with sim:
            for b, row in enumerate(table):
                for feed, fn in zip(feeds, row):
                    feed.fn = fn
                if b:
                    sim.reset(seed=seed)
                    model.guard.reset()
                try:
                    sim.run_steps(steps, progress_bar=bar)
                except (FloatingPointError, nengo.exceptions.SimulationError) as exc:
                    # nengo steps under np.errstate(invalid="raise"): a diverging network stops inside it
                    raise model.guard.failure(sim, exc) from exc
                guard_states.append(model.guard.state)
                outputs.append([np.array(sim.data[p]) for p in model.output_probes])
                if model.counter_probe is not None:
                    counters.append(np.array(sim.data[model.counter_probe]))
        run_time = time.perf_counter() - start
        if spec.batched:
            outs = [np.stack([o[i] for o in outputs]) for i in range(len(model.output_probes))]
            counter = np.stack(counters) if counters else None
        else:
            outs = outputs[0]
            counter = counters[0] if counters else None
        info = {"build_time": build_time, "run_time": run_time, "seed": seed}
        # each element's records have a batch axis of one: join them along it
        guard_state = {"k": guard_states[0]["k"], "objects": {
            name: {key: np.concatenate([g["objects"][name][key] for g in guard_states]) for key in entry}
            for name, entry in guard_states[0]["objects"].items()}}
        return collect_result(model, spec, outs, counter, backend=self.name, info=info, guard_state=guard_state)
