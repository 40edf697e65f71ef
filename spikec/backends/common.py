"""What every back end shares: run settings, run inputs, spike accounting and the one result assembler.

A back end receives a :class:`~spikec.netlist.Netlist`, the program's inputs
(functions of time) and a :class:`RunSpec`; it never sees the program.
:class:`NetlistBackend` is the base class that checks the mode and the
back end's own options (declared in its ``options`` table) in one place,
:func:`check_options`, which :class:`spikec.program.Program` also uses to
tell lowering options from back-end options.  :func:`assemble_result` turns
per-step output and spike counts into a :class:`RunResult` with the same
``info`` keys (:data:`RESULT_INFO_KEYS`) on every back end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from spikec.backends.guards import check_finite, check_on_range, check_outputs, enforce, range_violations
from spikec.backends.result import RunResult
from spikec.errors import BackendError, RunError
from spikec.netlist import AvgPool, Convolution, Dense, InputSource, Netlist
from spikec.util.progress import show_progress

__all__ = [
    "RESULT_INFO_KEYS",
    "InputFeed",
    "NetlistBackend",
    "RunSpec",
    "assemble_result",
    "check_options",
    "fan_out",
    "input_functions",
    "show_progress",
    "steps_of",
]

# The info keys every netlist run reports (back ends add their own extras).
RESULT_INFO_KEYS = (
    "population_spikes", "population_synaptic_events", "synaptic_events", "total_spikes",
    "total_synaptic_events", "fan_out", "build_time", "run_time", "seed",
)


# ------------------------------------------------------------------------------ settings


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """How to run a netlist: ``steps`` of ``dt`` in ``mode``.

    ``batch_size`` is None for a single run, else the number of batch
    elements (each input is then a list of functions, one per element).
    ``options`` are the back end's own options with its defaults filled in.
    """

    steps: int
    dt: float
    mode: str
    seed: int | None = 0
    progress: bool | None = None
    batch_size: int | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def t(self) -> float:
        """The simulated time, ``steps * dt``."""
        return self.steps * self.dt

    @property
    def batched(self) -> bool:
        return self.batch_size is not None

    @property
    def elements(self) -> int:
        """Batch elements simulated (1 for an unbatched run)."""
        return 1 if self.batch_size is None else self.batch_size


def steps_of(t: float, dt: float) -> int:
    """Time steps of ``dt`` in ``t`` seconds (at least one)."""
    steps = int(round(t / dt))
    if steps < 1:
        raise RunError(f"t={t} is shorter than one time step dt={dt}")
    return steps


def check_options(backend: str, given: Iterable[str], accepted: Iterable[str],
                  lowering: Iterable[str] | None = None) -> None:
    """Refuse options that neither the back end (``accepted``) nor, when given, the lowering takes.

    ``lowering`` is None for a back end run on a netlist directly (there is
    nothing left to lower), else the lowering options' names: run options
    that the back end does not take are lowering options.
    """
    accepted = sorted(accepted)
    unknown = sorted(set(given) - set(accepted) - set(lowering or ()))
    if not unknown:
        return
    own = ", ".join(accepted) or "none"
    if lowering is None:
        raise RunError(f"backend {backend!r} got unknown options: {', '.join(unknown)}; its options are {own}")
    raise RunError(f"backend {backend!r} got unknown lowering options: {', '.join(unknown)}; lowering options are "
                   f"{', '.join(sorted(lowering))}, and the back end's own options are {own}")


class NetlistBackend:
    """Base of the back ends: checks a run's settings into a :class:`RunSpec`, then :meth:`execute` runs it.

    Subclasses set ``name``, ``modes``, ``default_mode``, ``options`` (the
    back end's own run options and their defaults) and, where a mode runs
    the program's graph rather than a netlist (``"ideal"``),
    ``graph_modes``; they implement :meth:`execute`.
    """

    name: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ()
    default_mode: ClassVar[str] = ""
    graph_modes: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[Mapping[str, Any]] = {}

    def check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise RunError(f"backend {self.name!r} has modes {', '.join(self.modes)}; got mode={mode!r}")

    def spec(self, *, t: float, dt: float, mode: str | None = None, seed: int | None = 0,
             progress: bool | None = None, batch_size: int | None = None,
             options: Mapping[str, Any] | None = None) -> RunSpec:
        """The :class:`RunSpec` of a run; ``options`` must all be the back end's own."""
        mode = mode or self.default_mode
        self.check_mode(mode)
        options = dict(options or {})
        check_options(self.name, options, self.options)
        return RunSpec(steps=steps_of(t, dt), dt=dt, mode=mode, seed=seed, progress=progress,
                       batch_size=batch_size, options={**self.options, **options})

    def run(self, netlist: Netlist, inputs: Sequence[Any], *, t: float, dt: float, mode: str | None = None,
            seed: int | None = 0, progress: bool | None = None, batch_size: int | None = None,
            on_range: str = "warn", **options: Any) -> RunResult:
        """Run ``netlist`` for ``t`` seconds; ``inputs[i]`` is program input ``i`` (a function of time,
        or a list of them when ``batch_size`` is given); ``options`` are the back end's own.
        ``on_range``: ``"warn"``, ``"error"`` or ``"ignore"`` when units leave their tuned ranges
        (:func:`spikec.backends.guards.enforce`)."""
        check_on_range(on_range)
        spec = self.spec(t=t, dt=dt, mode=mode, seed=seed, progress=progress, batch_size=batch_size,
                         options=options)
        result = self.execute(netlist, inputs, spec)
        enforce(result.info.get("range_violations") or [], on_range)
        return result

    def execute(self, netlist: Netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult:
        """Run ``netlist`` as ``spec`` says (checked by :meth:`spec`)."""
        raise NotImplementedError

    def check_netlist(self, netlist: Any) -> Netlist:
        """``netlist``, or a clear error when a back end is handed something else (a program, say)."""
        if not isinstance(netlist, Netlist):
            raise BackendError(f"{netlist!r} has no netlist: backend {self.name!r} runs a Netlist "
                               f"(prog.lower() gives one), got a {type(netlist).__name__}")
        return netlist


# -------------------------------------------------------------------------------- inputs


class InputFeed:
    """The flattened program input at ``t``, for one netlist input.

    Its function can be swapped between runs (:attr:`fn`), so one built
    simulator serves every element of a batch.  Without a function it gives
    zeros.
    """

    def __init__(self, source: InputSource, fn: Callable[[float], Any] | None = None):
        self.name = source.name
        self.size = source.size
        self.fn = fn

    def __call__(self, t: float) -> np.ndarray:
        if self.fn is None:
            return np.zeros(self.size)
        value = np.asarray(self.fn(t), dtype=np.float64).reshape(-1)
        if value.size != self.size:
            if value.size == 1:
                return np.full(self.size, value[0])
            raise RunError(f"input {self.name!r} gave {value.size} values at t={t:g}, expected {self.size}")
        if not np.all(np.isfinite(value)):
            bad = np.flatnonzero(~np.isfinite(value))
            raise RunError(f"input {self.name!r} is not finite at t = {t:g} s: element {bad[0]} is "
                           f"{value[bad[0]]} ({bad.size} of {self.size} elements non-finite)",
                           hint="the input function returned NaN or inf; a network cannot compute with it")
        return value

    def sample(self, steps: int, dt: float) -> np.ndarray:
        """The input at ``t = dt, 2 dt, ... steps * dt``: ``(steps, size)``."""
        out = np.empty((steps, self.size))
        for k in range(steps):
            out[k] = self((k + 1) * dt)
        return out

    def __repr__(self) -> str:
        return f"<InputFeed {self.name}[{self.size}]>"


def input_functions(netlist: Netlist, inputs: Sequence[Any], batch_size: int | None) -> list[list]:
    """``[element][netlist input]`` functions of time; one element unless batched."""
    elements = 1 if batch_size is None else batch_size
    table = []
    for b in range(elements):
        row = []
        for src in netlist.inputs:
            if src.index >= len(inputs):
                raise RunError(f"netlist input {src.name} is program input {src.index}, "
                               f"but only {len(inputs)} inputs were given")
            fn = inputs[src.index]
            row.append(fn if batch_size is None else fn[b])
        table.append(row)
    return table


# ------------------------------------------------------------------------ spike accounting


def fan_out(netlist: Netlist) -> dict[str, np.ndarray]:
    """Each population's neurons' nonzero outgoing weights, over all their projections (int64).

    A spike is that many synaptic events.
    """
    fans = {pop.name: np.zeros(pop.n, dtype=np.int64) for pop in netlist.populations}
    for proj in netlist.projections:
        if proj.pre not in fans:
            continue
        tr = proj.transform
        if isinstance(tr, Dense):
            fans[proj.pre] += np.count_nonzero(tr.weights.value, axis=0)
        elif isinstance(tr, (Convolution, AvgPool)):
            fans[proj.pre] += tr.fan_out().astype(np.int64)
        else:
            fans[proj.pre] += np.asarray((tr.to_scipy() != 0).sum(axis=0)).ravel().astype(np.int64)
    return fans


def assemble_result(netlist: Netlist, spec: RunSpec, outputs: Sequence[np.ndarray], *, backend: str,
                    spikes: Mapping[str, np.ndarray], events: Mapping[str, np.ndarray],
                    fans: Mapping[str, np.ndarray], info: Mapping[str, Any],
                    guard_state: Mapping[str, Any] | None = None) -> RunResult:
    """The :class:`RunResult` of a netlist run, the same on every back end.

    ``outputs[i]`` holds netlist output ``i``'s values, ``(steps, size)`` or
    ``(batch, steps, size)`` when batched (any float layout that reshapes to
    that).  ``spikes`` and ``events`` map populations to their spikes and
    synaptic events *per step* (``(steps,)`` or ``(batch, steps)``, near
    integers: rounded here); populations left out count zero.  ``info``
    holds the back end's timings and extras.  ``guard_state``: the run's
    final guard records (:mod:`spikec.backends.guards`): a non-finite value
    raises :class:`RunError` here, and ``info["range_violations"]`` lists
    the ops whose units left their tuned ranges (the caller warns).
    """
    steps, dt = spec.steps, spec.dt
    if guard_state is not None:
        check_finite(netlist, spec.mode, dt, guard_state)
    lead = () if spec.batch_size is None else (spec.batch_size,)
    shaped = tuple(np.asarray(o, dtype=np.float64).reshape(*lead, steps, *out.shape)
                   for o, out in zip(outputs, netlist.outputs))
    zeros = np.zeros((*lead, steps), dtype=np.int64)

    def cumulative(per_step: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts = {name: np.cumsum(np.rint(np.asarray(v)).astype(np.int64).reshape(*lead, steps), axis=-1)
                  for name, v in per_step.items()}
        return {pop.name: counts.get(pop.name, zeros) for pop in netlist.populations}

    if guard_state is not None:
        check_outputs(netlist, spec.mode, dt, shaped)
    pop_spikes, pop_events = cumulative(spikes), cumulative(events)
    total = sum(pop_spikes.values(), zeros)
    synaptic_events = sum(pop_events.values(), zeros)
    last = (lambda a: int(a[-1])) if spec.batch_size is None else (lambda a: a[:, -1].copy())
    merged = {"seed": spec.seed, **info}
    merged.update({
        "population_spikes": pop_spikes,
        "population_synaptic_events": pop_events,
        "synaptic_events": synaptic_events,
        "total_spikes": last(total),
        "total_synaptic_events": last(synaptic_events),
        "fan_out": dict(fans),
    })
    if guard_state is not None:
        merged["range_violations"] = range_violations(netlist, steps, dt, guard_state)
    return RunResult(t=dt * np.arange(1, steps + 1), outputs=shaped, backend=backend, mode=spec.mode, dt=dt,
                     spikes=total, batched=spec.batch_size is not None, info=merged)
