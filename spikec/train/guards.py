"""Run-time guards after training: the ranges re-measured on the training data.

A unit's guard (:class:`spikec.netlist.Guard`) holds the input currents its
neurons were tuned for, from the operand ranges the lowering measured over
the program's domain with the *initial* parameters.  Training changes the
weights that feed those units, so the ranges no longer describe the network:
on its own training data a trained network would warn (its units see
currents the lowering never tuned for, and training made use of them), and
an input unlike the training data would be judged against ranges that no
longer mean anything.

:func:`remeasure_guards` therefore re-measures every guarded population's
currents on the training inputs with the trained parameters (one rate
step: the trainable networks are feed-forward without synapses, so rate mode
settles in one step) and widens each guard to hold them.  After ``fit`` a
guard means "the currents seen on the tuned domain or on the training data":
a run on inputs like the training data is quiet, one far from both warns.
``prog.set_params(values, inputs=x)`` and ``prog.load_params(path,
inputs=x)`` do the same on ``x``.

Parameters set without inputs to measure on (and no earlier ``fit``) leave
nothing to re-measure with: :func:`drop_stale_guards` takes the guards off
(judging currents against ranges measured for other weights would be noise,
or silence where it matters) and marks the netlist, and every run of it says
so (:func:`warn_stale_guards`: a :class:`~spikec.errors.RangeWarning`, or a
:class:`~spikec.errors.RangeError` under ``on_range="error"``).
Non-finite values are still checked: they need no tuned range.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from spikec.backends.guards import guard_bounds
from spikec.backends.netsim import make_simulator
from spikec.errors import RangeError, RangeWarning
from spikec.ir.attrs import ConstArray
from spikec.netlist import Guard, Netlist

__all__ = ["MEASURE_EXAMPLES", "STALE", "drop_stale_guards", "measured_examples", "remeasure_guards",
           "warn_stale_guards", "widen_guard"]

#: ``net.info["guards"]`` of a netlist whose guards :func:`drop_stale_guards` took off.
STALE = ("off: parameters were set without inputs to re-measure the tuned ranges on, so the ranges the lowering "
         "measured no longer describe the network")

#: The most training examples :func:`remeasure_guards` runs (a deterministic subset of evenly spaced ones).
MEASURE_EXAMPLES = 2048

#: Examples per simulator batch while measuring.
_BATCH = 256


def remeasure_guards(net: Netlist, x: np.ndarray) -> Netlist:
    """``net`` with each guard widened to the currents its population sees on examples ``x`` (``(n, *shape)``).

    Populations without a guard, and a netlist with none, are returned as
    they are.  ``net.info["guards"]`` says how the guards were measured.
    """
    if not any(p.guard is not None for p in net.populations):
        return net
    x = measured_examples(x)
    bounds = guard_bounds(net)
    low = {name: np.full(net[name].n, np.inf) for name in bounds}
    high = {name: np.full(net[name].n, -np.inf) for name in bounds}
    (source,) = net.inputs
    for first in range(0, len(x), _BATCH):
        chunk = x[first:first + _BATCH]
        sim = make_simulator(net, "rate", 1e-3, batch=len(chunk), xp=np, guards=True)
        values = [None] * (source.index + 1)
        values[source.index] = chunk.reshape(len(chunk), -1)
        state, _ = sim.step(sim.init, values)
        for name, (mid, inv_half) in bounds.items():
            # rate mode compares currents unfiltered: z is this step's normalized current
            z = np.asarray(state["guard"]["objects"][name]["z"], dtype=np.float64)
            current = mid + z / np.where(inv_half > 0, inv_half, np.inf)
            low[name] = np.fmin(low[name], current.min(axis=0))
            high[name] = np.fmax(high[name], current.max(axis=0))
    populations = tuple(
        p if p.guard is None else dataclasses.replace(p, guard=widen_guard(p.guard, low[p.name], high[p.name]))
        for p in net.populations)
    widened = dataclasses.replace(net, populations=populations, info=dict(net.info))
    widened.info["guards"] = f"tuned ranges widened to the currents seen on {len(x)} training examples"
    return widened


def measured_examples(x: np.ndarray) -> np.ndarray:
    """The examples :func:`remeasure_guards` runs: all of ``x``, or :data:`MEASURE_EXAMPLES` evenly spaced ones
    (a copy, float64: what a program keeps after ``fit`` without holding on to the whole training set)."""
    x = np.asarray(x)
    if len(x) > MEASURE_EXAMPLES:
        x = x[np.linspace(0, len(x) - 1, MEASURE_EXAMPLES).round().astype(np.int64)]
    return np.array(x, dtype=np.float64)


def widen_guard(guard: Guard, j_low: np.ndarray, j_high: np.ndarray) -> Guard:
    """``guard`` widened so that neuron ``i`` accepts currents ``[j_low[i], j_high[i]]``.

    The guard maps a neuron's current linearly to its operand element's
    units (:meth:`Guard.operand`); the currents seen are mapped to operand
    values, each element's interval grows to hold all of its neurons'
    values, and each neuron's current interval follows from its element's
    new interval through the same line.  Neurons tuned for one current only
    (zero width: not checked) stay so.
    """
    j_lo, j_hi = guard.j_lo.value, guard.j_hi.value
    unit = guard.unit.value.astype(np.int64)
    lo, hi = guard.lo.value.astype(np.float64).copy(), guard.hi.value.astype(np.float64).copy()
    checked = (j_hi > j_lo) & np.isfinite(j_low) & np.isfinite(j_high)
    seen = np.stack([guard.operand(j_low), guard.operand(j_high)])
    np.fmin.at(lo, unit[checked], seen[:, checked].min(axis=0))
    np.fmax.at(hi, unit[checked], seen[:, checked].max(axis=0))
    old_lo, old_hi = guard.lo.value[unit], guard.hi.value[unit]
    width = np.where(old_hi > old_lo, old_hi - old_lo, 1.0)
    # the inverse of Guard.operand: the current at an operand value, along the neuron's line
    frac_lo, frac_hi = (lo[unit] - old_lo) / width, (hi[unit] - old_lo) / width
    rising = guard.sign.value > 0
    frac_lo, frac_hi = np.where(rising, frac_lo, 1.0 - frac_hi), np.where(rising, frac_hi, 1.0 - frac_lo)
    new_lo, new_hi = j_lo + frac_lo * (j_hi - j_lo), j_lo + frac_hi * (j_hi - j_lo)
    new_lo, new_hi = np.where(j_hi > j_lo, new_lo, j_lo), np.where(j_hi > j_lo, new_hi, j_hi)
    return dataclasses.replace(guard, j_lo=ConstArray(new_lo), j_hi=ConstArray(new_hi), lo=ConstArray(lo),
                               hi=ConstArray(hi))


def drop_stale_guards(net: Netlist) -> Netlist:
    """``net`` without its guards, marked :data:`STALE` (``net`` itself when it has none).

    For parameters set with nothing to re-measure the guards on: runs then
    check non-finite values only, and :func:`warn_stale_guards` says so.
    """
    if not any(p.guard is not None for p in net.populations):
        return net
    populations = tuple(p if p.guard is None else dataclasses.replace(p, guard=None) for p in net.populations)
    return dataclasses.replace(net, populations=populations, info={**net.info, "guards": STALE})


def warn_stale_guards(net: Netlist, on_range: str, name: str = "the program") -> None:
    """Say on every run of ``net`` that it checked no ranges because :func:`drop_stale_guards` took them off:
    a :class:`~spikec.errors.RangeWarning` under ``on_range="warn"``, a :class:`~spikec.errors.RangeError` under
    ``"error"`` (a run that cannot be checked is not a checked run), nothing under ``"ignore"``."""
    if net.info.get("guards") != STALE or on_range == "ignore":
        return
    message = (
        f"{name}: its parameters changed (set_params / load_params) without inputs to re-measure the tuned ranges "
        "on, so this run checks no unit against a range (non-finite values only). Pass the examples it will see: "
        "prog.set_params(values, inputs=x) or prog.load_params(path, inputs=x), as fit does")
    if on_range == "error":
        raise RangeError(message)
    warnings.warn(message, RangeWarning, stacklevel=3)
