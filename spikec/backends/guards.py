"""Run-time guards: no silent wrong answers.

A population made for an op carries a :class:`~spikec.netlist.Guard`: the
input currents its neurons were tuned for (from the operand ranges the
lowering measured or was given, or re-measured after training:
:mod:`spikec.train.guards`).  Outside them a single-neuron parabola square or
a NEF ensemble computes something else, silently (a symmetric parabola pair
stays exact in rate mode, but nothing was tuned or promised there).  Every back end therefore
carries, through its simulation loop (:func:`update_guard_state`, inside
:mod:`spikec.backends.netsim`'s step for NumPy and JAX; a per-step node in
the nengo network; for NengoDL, which runs the network as TensorFlow ops,
:func:`replay` of probed currents after the run), per guarded population each neuron's lowest and highest
current and the number of steps where some current left its interval, and
per population and stateful sum node the first step with a non-finite
value.  After the run :func:`check_finite` raises one clear
:class:`~spikec.errors.RunError` for non-finite values, and
:func:`range_violations` turns the counts into
``RunResult.info["range_violations"]`` (per op, with the user's source line,
the tuned range and the range seen in the operand's units), which
:func:`enforce` turns into a :class:`~spikec.errors.RangeWarning` or a
:class:`~spikec.errors.RangeError` (``on_range``).

Tolerance (spiking mode; rate mode compares currents unfiltered, within
:data:`RATE_TOLERANCE`): currents are compared through a lowpass (:data:`SMOOTHING_TAU`,
50 ms), and a neuron's current may pass its interval's ends by
:data:`TOLERANCE` (a quarter) of the interval's width before a step counts.
In spiking mode units read other units' spikes (raw, by default), which
carry quantization noise on top of the ideal values the ranges were
measured on.  Measured on in-domain runs at tolerance 0 (the largest
overshoot, as a fraction of the tuned width): the ``make demo`` 2x2 inverse
(seeds 0-2, spiking) 0 at 10 ms and 50 ms; the 5x5 Adam inverse with
``TUNED`` options on its example (jax, spiking, 2.5 s) 0 at 10 ms and 50 ms;
the 5x5 gradient-descent inverse of tests/test_backend_jax.py (spiking, 1 s,
0.9% NRMSE) 0.36 at 10 ms, 0.14 at 30 ms, 0.064 at 50 ms; the 5x5 Adam
inverse with default options (39% NRMSE: imprecise, not out of range) 1.42
at 10 ms, 0 at 50 ms.  Out-of-domain runs overshoot by tens of widths
(tests/test_guards.py); the 5x5 ``TUNED`` Adam network on held-out
matrices (RandomState(1..5), 54-223% NRMSE) is out of range in 2492-2498 of
2500 steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from spikec.errors import RangeError, RangeWarning, RunError
from spikec.netlist import Guard, Netlist, Population

__all__ = [
    "ON_RANGE",
    "RATE_TOLERANCE",
    "TOLERANCE",
    "check_finite",
    "check_on_range",
    "check_outputs",
    "describe",
    "enforce",
    "extremes",
    "guard_bounds",
    "initial_guard_state",
    "limit",
    "range_violations",
    "replay",
    "settings",
    "smoothing",
    "update_guard_state",
]

#: Fraction of a neuron's tuned current interval that a current may overshoot before a step counts.
TOLERANCE = 0.25

#: The same in rate mode, where currents carry no spike noise and are compared unfiltered: only rounding
#: (a box corner's current computed through the weights) may pass the interval's ends.  A rate unit
#: pushed past its interval computes something else at once (a single parabola neuron below its range
#: is silent), so a quarter-width allowance there would let wrong answers through without a word.
RATE_TOLERANCE = 1e-6

#: Time constant (seconds) of the lowpass through which currents are compared with their intervals
#: (see the module docstring for the measurements that set it and :data:`TOLERANCE`).
SMOOTHING_TAU = 0.05

#: What ``on_range`` may be.
ON_RANGE = ("warn", "error", "ignore")


def guard_bounds(net: Netlist) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per guarded population, ``(mid, inv_half)``: each neuron's current is read as
    ``z = (J - mid) * inv_half``, which is in [-1, 1] exactly on its tuned interval."""
    out = {}
    for pop in net.populations:
        g = pop.guard
        if g is None:
            continue
        lo, hi = g.j_lo.value, g.j_hi.value
        half = (hi - lo) / 2
        # a neuron tuned for one current only (zero width) is not checked
        out[pop.name] = ((lo + hi) / 2, np.where(half > 0, 1.0 / np.where(half > 0, half, 1.0), 0.0))
    return out


def limit(tolerance: float | None = None) -> float:
    """The largest ``|z|`` in range: 1 plus the tolerance (a fraction of the interval's width, two half-widths)."""
    return 1.0 + 2.0 * (TOLERANCE if tolerance is None else tolerance)


def initial_guard_state(net: Netlist, batch: int, xp, dtype) -> dict[str, Any]:
    """The guard part of a simulator's state: step counter, and per checked object its running records.

    Per guarded population: ``z`` (the smoothed normalized currents),
    ``zmax`` / ``zmin`` (their extremes so far) and ``imax`` / ``imin`` (the
    neurons that reached them), ``out`` (steps out of range), ``first``
    (first such step, -1: none); per population and stateful sum node
    ``bad`` (first non-finite step, -1: none).
    """
    def full(shape, value):
        return xp.asarray(np.full(shape, value, dtype=dtype))

    objects: dict[str, dict[str, Any]] = {}
    for pop in net.populations:
        entry = {"bad": full((batch,), -1.0)}
        if pop.guard is not None:
            entry.update(z=full((batch, pop.n), 0.0), zmax=full((batch,), -np.inf), zmin=full((batch,), np.inf),
                         out=full((batch,), 0.0),
                         first=full((batch,), -1.0))
        objects[pop.name] = entry
    for node in net.nodes:
        if node.synapse is not None:
            objects[node.name] = {"bad": full((batch,), -1.0)}
    return {"k": full((), 0.0), "objects": objects}


def settings(mode: str, dt: float) -> tuple[float, float]:
    """``(alpha, bound)`` for a run in ``mode``: spiking runs compare currents through the
    :data:`SMOOTHING_TAU` lowpass with :data:`TOLERANCE`; rate runs compare them as they are, with
    :data:`RATE_TOLERANCE`."""
    if mode == "rate":
        return 1.0, limit(RATE_TOLERANCE)
    return smoothing(dt), limit()


def smoothing(dt: float, tau: float | None = None) -> float:
    """The lowpass's step factor ``1 - exp(-dt / tau)`` (``tau``: :data:`SMOOTHING_TAU` unless given)."""
    return float(-np.expm1(-dt / (SMOOTHING_TAU if tau is None else tau)))


def update_guard_state(state: Mapping[str, Any], values: Mapping[str, Any],
                       bounds: Mapping[str, tuple[Any, Any]], xp, alpha: float,
                       bound: float | None = None) -> dict[str, Any]:
    """One step of the guards: ``values`` are this step's currents (populations) and states (sum nodes).

    Ranges are checked on currents through a lowpass (step factor ``alpha``,
    :func:`smoothing`), started at the centre of each neuron's interval: a
    unit that reads another unit's raw spikes sees each spike as a jump far
    outside its range, yet computes the mean it was tuned for, and a unit
    fed by units that have not spiked yet sees a start-up transient; a
    sustained excursion (an input outside the domain) passes the filter
    within a few steps.
    """
    k = state["k"]
    objects = {name: guard_entry(old, values[name], bounds.get(name), k, xp, alpha, bound)
               for name, old in state["objects"].items()}
    return {"k": k + 1, "objects": objects}


def guard_entry(old: Mapping[str, Any], value, bounds: tuple[Any, Any] | None, k, xp, alpha: float,
                bound: float | None = None) -> dict:
    """One object's records after step ``k`` (see :func:`update_guard_state`); ``bounds`` None: finiteness only.

    Few passes over the currents (JAX on a CPU pays for each one): the
    smoothed normalized current ``z`` is the only per-neuron record, and one
    max and one min per step give the extremes, whether a current was out
    of range (``|z| > limit()``) and whether one was non-finite (NaN
    propagates through both).
    """
    if bounds is None:
        finite = xp.all(xp.isfinite(value), axis=-1)
        return {"bad": xp.where((old["bad"] < 0) & ~finite, k, old["bad"])}
    mid, inv_half = bounds
    bound = limit() if bound is None else bound
    z = old["z"] + alpha * ((value - mid) * inv_half - old["z"])
    zmax, zmin = extremes(z, xp)
    outside = (zmax > bound) | (zmin < -bound)
    return {
        "z": z, "zmax": xp.maximum(zmax, old["zmax"]), "zmin": xp.minimum(zmin, old["zmin"]),
        "out": old["out"] + xp.where(outside, 1.0, 0.0),
        "first": xp.where((old["first"] < 0) & outside, k, old["first"]),
        "bad": xp.where((old["bad"] < 0) & ~(xp.isfinite(zmax) & xp.isfinite(zmin)), k, old["bad"]),
    }


def extremes(z, xp):
    """``(max, min)`` of ``z`` over its last axis (NaN propagates to both).

    Under JAX one variadic reduction (``lax.reduce`` of two operands) reads
    ``z`` once for both: XLA on a CPU runs ``max`` and ``min`` as two loops
    otherwise, and small networks pay for each (the 5x5 inverse steps about
    12% faster; the 20x20 the same).
    """
    if getattr(xp, "__name__", "") != "jax.numpy":
        return xp.max(z, axis=-1), xp.min(z, axis=-1)
    from jax import lax

    low, high = np.array(-np.inf, z.dtype), np.array(np.inf, z.dtype)
    return lax.reduce((z, z), (low, high), lambda a, b: (lax.max(a[0], b[0]), lax.min(a[1], b[1])), (z.ndim - 1,))


def replay(net: Netlist, mode: str, dt: float, records: Mapping[str, Any], batch: int = 1) -> dict[str, Any]:
    """The guard records of a finished run, from what it recorded per step (a post-run check).

    ``records`` maps a guarded population's name to its neurons' input
    currents and a stateful sum node's name to its values, each
    ``(batch, steps, n)`` (or ``(steps, n)``); objects left out are not
    checked.  The result is what :func:`update_guard_state` would have
    carried through the same run (``batch`` elements), ready for
    :func:`check_finite` and :func:`range_violations`.  For simulators that
    offer no per-step hook (NengoDL runs the network as TensorFlow ops) and
    for nengo networks built into a user's model: probe
    ``ens.neurons`` ``"input"`` (``synapse=None``) of each guarded population
    and the stateful nodes, then call this with the probe data.  Memory: the
    probes hold ``steps x neurons`` floats per batch element.
    """
    alpha, bound = settings(mode, dt)
    bounds = guard_bounds(net)
    data = {name: np.asarray(a, dtype=np.float64) for name, a in records.items()}
    data = {name: a[None] if a.ndim == 2 else a for name, a in data.items()}
    steps = max((a.shape[1] for a in data.values()), default=0)
    state = initial_guard_state(net, batch, np, np.float64)
    objects = state["objects"]
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(steps):
            for name, values in data.items():
                objects[name] = guard_entry(objects[name], values[:, k], bounds.get(name), float(k), np, alpha,
                                            bound)
    return {"k": float(steps), "objects": objects}


def describe(net: Netlist, name: str) -> str:
    """``population p (mul@prog.py:3)`` or ``state s``: a netlist object as errors name it."""
    obj = net[name]
    kind = "population" if isinstance(obj, Population) else "state"
    what = ", ".join(obj.computes)
    return f"{kind} {name}" + (f" ({what})" if what else "")


def check_finite(net: Netlist, mode: str, dt: float, guard_state: Mapping[str, Any]) -> None:
    """Raise :class:`RunError` naming the object and step where the run first went non-finite, if it did."""
    first: tuple[int, str] | None = None
    for name, entry in guard_state["objects"].items():
        bad = np.asarray(entry["bad"], dtype=np.float64)
        hit = bad[bad >= 0]
        if hit.size and (first is None or int(hit.min()) < first[0]):
            first = (int(hit.min()), name)
    if first is None:
        return
    step, name = first
    raise nonfinite_error(net, mode, dt, step, describe(net, name))


def check_outputs(net: Netlist, mode: str, dt: float, outputs) -> None:
    """Raise :class:`RunError` at the first step where an output is non-finite (currents may all be finite
    while an activity overflows); ``outputs[i]`` is ``(..., steps, *shape)``."""
    first: tuple[int, str] | None = None
    for out, values in zip(net.outputs, outputs):
        values = np.asarray(values)
        steps_axis = values.ndim - len(out.shape) - 1
        finite = np.isfinite(values).reshape(*values.shape[:steps_axis + 1], -1).all(axis=-1)
        finite = finite.reshape(-1, finite.shape[-1]).all(axis=0)
        if not finite.all():
            step = int(np.argmin(finite))
            if first is None or step < first[0]:
                first = (step, out.name)
    if first is not None:
        step, name = first
        feeding = [p.pre for p in net.incoming(net.outputs[[o.name for o in net.outputs].index(name)].source)
                   if isinstance(net[p.pre], Population)]
        what = " and ".join(describe(net, pre) for pre in feeding) or f"output {name}"
        raise nonfinite_error(net, mode, dt, step, what)


def nonfinite_error(net: Netlist, mode: str, dt: float, step: int, what: str) -> RunError:
    """The one error for a run that went non-finite at (0-based) ``step`` in ``what``."""
    return RunError(
        f"{net.name}: the {mode} simulation went non-finite at t = {(step + 1) * dt:g} s (step {step + 1}) in "
        f"{what}: its values are undefined from there on",
        hint="the network diverges (an unstable integrate, a gain too large for this dt, inputs far outside the "
             "ranges it was tuned for?); compare with prog.run(mode='ideal') on the same inputs and read "
             "result.info['range_violations'] of a shorter run")


def range_violations(net: Netlist, steps: int, dt: float, guard_state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per guarded population whose currents left their tuned interval: what, where, how far and how often.

    Each entry: ``op``, ``loc`` (``file:line``), ``source`` (the line's
    text), ``population``, ``steps`` (steps out of range; summed over batch
    elements), ``of_steps``, ``first_t`` (first time out of range),
    ``element`` (the operand element that went furthest out, relative to
    its tuned width), ``tuned`` (its tuned interval), ``seen`` (the
    operand values, in the operand's units, at the lowest and highest
    normalized currents any neuron reached, at ``seen_elements``).  Values
    are the currents through the guards' lowpass, mapped back to the
    operand.  The extremes are exact; which element reached them is the
    one furthest out at the end of the run (exact when the run ends out of
    range, as with inputs outside the domain; approximate for a transient
    excursion).
    """
    report = []
    for pop in net.populations:
        g = pop.guard
        entry = guard_state["objects"].get(pop.name)
        if g is None or entry is None:
            continue
        out = np.asarray(entry["out"], dtype=np.float64)
        if not out.sum() > 0:
            continue
        first = np.asarray(entry["first"], dtype=np.float64)
        zmax, zmin = (np.asarray(entry[key], dtype=np.float64) for key in ("zmax", "zmin"))
        bmax, bmin = int(np.argmax(zmax)), int(np.argmin(zmin))  # batch elements
        # which neuron reached an extreme is not recorded (an arg-max per step costs JAX on a CPU 7x):
        # the one furthest out at the end, where the run ends out of range (inputs outside the domain)
        final = np.asarray(entry["z"], dtype=np.float64)
        imax, imin = int(np.argmax(final[bmax])), int(np.argmin(final[bmin]))
        ends = sorted([(_operand(g, imin, zmin[bmin]), imin), (_operand(g, imax, zmax[bmax]), imax)])
        unit = g.unit.value.astype(np.int64)
        worst = imax if zmax[bmax] - 1 >= -1 - zmin[bmin] else imin
        element = int(unit[worst])
        report.append({
            "op": g.op, "loc": g.loc, "source": g.source, "population": pop.name,
            "steps": int(out.sum()), "of_steps": steps * out.size,
            "first_t": float((first[first >= 0].min() + 1) * dt),
            "element": element, "tuned": (float(g.lo.value[element]), float(g.hi.value[element])),
            "seen": (ends[0][0], ends[1][0]), "seen_elements": (int(unit[ends[0][1]]), int(unit[ends[1][1]])),
        })
    return report


def _operand(g: Guard, i: int, z: float) -> float:
    """Normalized current ``z`` of neuron ``i`` in its operand element's units."""
    j_lo, j_hi = g.j_lo.value, g.j_hi.value
    current = np.full(j_lo.shape, (j_lo[i] + j_hi[i]) / 2 + z * (j_hi[i] - j_lo[i]) / 2)
    return float(g.operand(current)[i])


def describe_violation(v: Mapping[str, Any]) -> str:
    """One violation in a sentence: op, source line, tuned range, range seen, how often."""
    where = v["op"] if v["loc"] is None else f"{v['op']} at {v['loc']}"
    if v["source"]:
        where += f" ({v['source']})"
    (tlo, thi), (slo, shi) = v["tuned"], v["seen"]
    (elo, ehi) = v["seen_elements"]
    return (f"{where}: operand element {v['element']} was tuned for [{tlo:.4g}, {thi:.4g}]; the operand took "
            f"[{slo:.4g}, {shi:.4g}] (elements {elo}, {ehi}); out of range in {v['steps']} of {v['of_steps']} "
            f"steps from t = {v['first_t']:g} s")


def check_on_range(on_range: str) -> None:
    """Refuse an ``on_range`` that is not one of :data:`ON_RANGE` (before a run, not after it)."""
    if on_range not in ON_RANGE:
        raise RunError(f"on_range must be one of {', '.join(map(repr, ON_RANGE))}, got {on_range!r}")


def enforce(violations: list[dict[str, Any]], on_range: str) -> None:
    """Warn (:class:`RangeWarning`), raise (:class:`RangeError`) or do nothing about ``violations``."""
    check_on_range(on_range)
    if not violations or on_range == "ignore":
        return
    lines = "\n  ".join(describe_violation(v) for v in violations)
    message = (f"inputs left the ranges the network was tuned for; these results may be wrong:\n  {lines}\n"
               "Declare the inputs you run on as the program's domain (prog.set_domain(x=(lo, hi) or a sampler), "
               "spikec.Input(shape, range=...), prog.tune_for(*examples)); in spiking runs the ranges seen are "
               "through a 50 ms lowpass; result.info['range_violations'] has the details")
    if on_range == "error":
        raise RangeError(message)
    warnings.warn(message, RangeWarning, stacklevel=3)
