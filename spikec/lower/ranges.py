"""Value ranges of the operands of nonlinear units, over the program's domain and the whole run.

Each nonlinear unit is tuned to the values its operands take.  Where it can,
the lowering bounds them soundly: :func:`interval_ranges` propagates the
boxes of boxed inputs (:class:`spikec.ir.domain.Domain`) through the graph by
interval arithmetic, one rule per kind of op in :data:`INTERVAL_RULES` (a
linear op ``W x + b`` maps centre ``c`` and radius ``r`` to ``W c + b`` and
``|W| r``; a product takes the extremes of the corner products; an
elementwise function its bounds on the interval, exact when it is monotone
there).  A value that depends on a state (a recurrence), on an input without
a box, or on an explicit neuron layer has no sound bound; it is measured
(:func:`measure_ranges`) by running the ideal NumPy reference over the
calibration runs (the traced example, the user's samples, sampler draws,
points of boxes) for ``range_t`` seconds and widening the union by a safety
margin.  With constant inputs the simulation folds what is affine in the
states into one sparse product per step (``simulate_graph(fold=True)``):
ranges to rounding, a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from spikec.ir.graph import Graph
from spikec.ir.interpret import simulate_graph
from spikec.ir.linear_map import linear_map
from spikec.ir.node import Node
from spikec.ir.registry import get_op
from spikec.lower.errors import LoweringError
from spikec.lower.rules import needs_ranges

__all__ = [
    "INTERVAL_RULES",
    "LoweringError",
    "Measured",
    "interval_ranges",
    "measure_ranges",
    "wanted_operands",
    "widen",
]

Interval = tuple[np.ndarray, np.ndarray]  # flat float64 lower and upper bounds
InputFunction = Callable[[float], np.ndarray]

# -- sound bounds: interval arithmetic ----------------------------------------------------------------

IntervalRule = Callable[[Graph, Node, list[Interval]], Interval | None]

#: op name -> ``rule(graph, node, operand intervals) -> interval of the node, or None (no sound bound)``.
#: Ops without an entry get one by kind in :func:`_rule_for`.
INTERVAL_RULES: dict[str, IntervalRule] = {}


def _broadcast(graph: Graph, node: Node, port: int, bound: np.ndarray) -> np.ndarray:
    return np.broadcast_to(bound.reshape(graph[node.inputs[port]].shape), node.shape).ravel()


def _linear(graph: Graph, node: Node, operands: list[Interval]) -> Interval:
    matrices, bias = linear_map(node, [graph[i].shape for i in node.inputs])
    center, radius = np.array(bias, dtype=np.float64), np.zeros(node.size)
    for matrix, (lo, hi) in zip(matrices, operands):
        center += matrix @ ((lo + hi) / 2)
        radius += abs(matrix) @ ((hi - lo) / 2)
    return center - radius, center + radius


def _mul(graph: Graph, node: Node, operands: list[Interval]) -> Interval:
    (lx, hx), (ly, hy) = ([_broadcast(graph, node, p, b) for b in operands[p]] for p in (0, 1))
    corners = np.stack([lx * ly, lx * hy, hx * ly, hx * hy])
    return corners.min(axis=0), corners.max(axis=0)


def _square(graph: Graph, node: Node, operands: list[Interval]) -> Interval:
    (lo, hi), = operands
    top = np.maximum(lo * lo, hi * hi)
    bottom = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(lo * lo, hi * hi))
    return bottom, top


_GRID = np.linspace(0.0, 1.0, 65)[:, None]


def _elementwise(graph: Graph, node: Node, operands: list[Interval]) -> Interval | None:
    """Bounds of ``f`` on each element's interval: its ends where ``f`` is monotone on a fine grid, else the grid's
    extremes padded by 1% of their spread (a smooth function's peak between grid points is that close)."""
    (lo, hi), = operands
    points = lo + (hi - lo) * _GRID
    with np.errstate(all="ignore"):
        values = np.asarray(get_op(node.op).reference(node.attrs, points), dtype=np.float64)
    if values.shape != points.shape or not np.all(np.isfinite(values)):
        return None  # not finite somewhere on the interval: the lowering's own domain check reports it
    steps = np.diff(values, axis=0)
    monotone = np.all(steps >= 0, axis=0) | np.all(steps <= 0, axis=0)
    low, high = values.min(axis=0), values.max(axis=0)
    pad = np.where(monotone, 0.0, 0.01 * (high - low))
    return low - pad, high + pad


INTERVAL_RULES["mul"] = _mul
INTERVAL_RULES["square"] = _square


def _rule_for(node: Node) -> IntervalRule | None:
    rule = INTERVAL_RULES.get(node.op)
    if rule is not None:
        return rule
    opdef = get_op(node.op)
    if opdef.is_linear and not opdef.is_constant:
        return _linear
    if opdef.is_nonlinear and opdef.elementwise:
        return _elementwise
    return None  # states, neuron layers, anything else: no sound bound


def interval_ranges(graph: Graph, boxes: Sequence[Interval | None]) -> dict[int, Interval]:
    """Sound per-element bounds of every node that depends only on boxed inputs and constants.

    ``boxes[i]`` is program input ``i``'s box (flat lower and upper bounds)
    or None.  Nodes missing from the result have no sound bound: they depend
    on a state, an input without a box, or an op without an interval rule.
    """
    known: dict[int, Interval] = {}
    if not any(b is not None for b in boxes):
        return known
    for node_id in graph.order:
        node = graph[node_id]
        opdef = get_op(node.op)
        if opdef.is_input:
            box = boxes[int(node.attrs["index"])]
            if box is not None:
                known[node_id] = (np.ravel(box[0]).astype(np.float64), np.ravel(box[1]).astype(np.float64))
            continue
        if opdef.is_constant:
            value = np.ravel(opdef.reference(node.attrs)).astype(np.float64)
            known[node_id] = (value, value)
            continue
        rule = _rule_for(node)
        if rule is None or any(i not in known for i in node.inputs):
            continue
        bound = rule(graph, node, [known[i] for i in node.inputs])
        if bound is not None:
            known[node_id] = (np.minimum(bound[0], bound[1]), np.maximum(bound[0], bound[1]))
    return known


# -- measured bounds: the ideal reference over calibration runs ----------------------------------------


def wanted_operands(graph: Graph) -> list[int]:
    """Every operand of a node whose units are tuned to its operands' ranges."""
    # Explicit neuron layers fix their own tuning: their operands need no range
    # (measuring them would simulate a whole convolutional network for nothing).
    return sorted({i for node in graph if needs_ranges(node) for i in node.inputs})


class Measured(dict):
    """Measured ``node id -> (lo, hi)``, with how many calibration runs gave them (``runs``) and how many of the
    calibration runs beyond the traced example went non-finite and were left out (``diverged``)."""

    runs: int = 0
    diverged: int = 0

    def origin(self) -> str:
        """Where these ranges came from, in words."""
        if self.runs <= 1:
            return "example"
        text = f"sampled over {self.runs} inputs"
        text += f", +{SPREAD:g} sd" if self.runs >= MIN_RUNS_TO_EXTRAPOLATE else ""
        return text + (f" ({self.diverged} diverged, left out)" if self.diverged else "")


def measure_ranges(graph: Graph, inputs: Sequence[InputFunction], t: float, dt: float, *,
                   more: Sequence[Sequence[InputFunction]] = (), wanted: Sequence[int] | None = None) -> Measured:
    """Per-element (min, max) over time of ``wanted`` nodes (default: every operand of a nonlinear node).

    ``inputs`` is the traced example's run; ``more`` further calibration runs
    (their union is returned).  The example run must stay finite (else
    :class:`LoweringError`); a further run that goes non-finite (a matrix
    whose gradient flow diverges at this step size) is left out and counted.
    """
    wanted = wanted_operands(graph) if wanted is None else sorted(wanted)
    result = Measured()
    if not wanted:
        return result
    per_run: list[tuple[dict[int, np.ndarray], dict[int, np.ndarray]]] = []
    for k, run in enumerate([inputs, *more]):
        try:
            per_run.append(_measure_run(graph, run, t, dt, wanted))
        except LoweringError:
            if k == 0:
                raise
            result.diverged += 1
    result.runs = len(per_run)
    for i in wanted:
        lows = np.stack([low[i] for low, _ in per_run])
        highs = np.stack([high[i] for _, high in per_run])
        lo, hi = lows.min(axis=0), highs.max(axis=0)
        if len(per_run) >= MIN_RUNS_TO_EXTRAPOLATE:
            # A few draws of a sampler under-cover it: the next draw's extremes lie
            # beyond the few seen.  Extend each bound to SPREAD standard deviations
            # of that bound across the runs (from the mean), where that is wider.
            lo = np.minimum(lo, lows.mean(axis=0) - SPREAD * lows.std(axis=0, ddof=1))
            hi = np.maximum(hi, highs.mean(axis=0) + SPREAD * highs.std(axis=0, ddof=1))
        result[i] = (lo, hi)
    return result


#: Calibration runs (with the traced example) from which sampled ranges are extrapolated (see SPREAD).
MIN_RUNS_TO_EXTRAPOLATE = 4
#: Standard deviations (across calibration runs) by which each measured bound is extended beyond the runs' mean.
SPREAD = 3.0


def _measure_run(graph: Graph, inputs: Sequence[InputFunction], t: float, dt: float,
                 wanted: list[int]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    steps = max(1, int(round(t / dt)))
    # A broadcast's extremes are its source's, broadcast: watch the source (a 100x100 inverse's product operands
    # are 10^6 values per step, broadcasts of 10^4).
    gathers = {i: g for i in wanted if (g := _broadcast_of(graph, graph[i])) is not None}
    wanted_all, wanted = wanted, sorted({gathers[i][0] if i in gathers else i for i in wanted})
    # Running extremes, not stored traces: the operands of a 30x30 inverse's
    # products are 10^5 values per step.
    lows = {i: np.full(graph[i].shape, np.inf) for i in wanted}
    highs = {i: np.full(graph[i].shape, -np.inf) for i in wanted}
    first_bad: dict[int, int] = {}
    step = 0
    # With every input constant the graph is autonomous: once its states stop moving, every later step repeats
    # this one and cannot widen a range, so the run ends there (a 100x100 inverse settles in a fraction of range_t).
    states = [n.id for n in graph if get_op(n.op).is_stateful] if all(
        getattr(fn, "constant", False) for fn in inputs) else None
    previous: dict[int, np.ndarray] = {}
    still = 0

    def observe(values: dict[int, np.ndarray]) -> None:
        nonlocal step, still
        for i in wanted:
            value = values[i]
            np.minimum(lows[i], value, out=lows[i])
            np.maximum(highs[i], value, out=highs[i])
            if i not in first_bad and not np.all(np.isfinite(value)):
                first_bad[i] = step
        step += 1
        if states is None or first_bad:
            return
        moved = False
        for i in states:
            if i not in values:  # a state that nothing measured depends on is not simulated (``only=wanted``)
                continue
            value = values[i]
            last = previous.get(i)
            # (a non-finite step compares False: it counts as moving)
            if last is None or not np.max(np.abs(value - last), initial=0.0) <= SETTLED * max(
                    1.0, float(np.max(np.abs(value), initial=0.0))):
                moved = True
            previous[i] = np.array(value, copy=True)
        still = 0 if moved else still + 1
        if still >= SETTLED_STEPS:
            raise _Settled

    with np.errstate(all="ignore"):
        # Only what the operands depend on: other nodes (a neuron layer whose
        # ideal value simulates an AdEx for 2 s per call, say) are not needed.
        try:
            simulate_graph(graph, inputs, steps, dt, progress=False, observe=observe, only=wanted, fold=True)
        except _Settled:
            pass
    _measure_run.steps = step  # how many steps the last run simulated (tests check that a settled run stops)
    for i, (source, picks, zero) in gathers.items():
        shape = graph[i].shape
        # ``+ zero`` as the broadcast's own values have it: an affine's (spikec.ir.ops.linear._affine) turn -0 into 0
        lows[i] = lows[source].ravel()[picks].reshape(shape) + zero
        highs[i] = highs[source].ravel()[picks].reshape(shape) + zero
        if source in first_bad:
            first_bad[i] = first_bad[source]
    lows = {i: lows[i] for i in wanted_all}
    highs = {i: highs[i] for i in wanted_all}
    for node_id in wanted_all:
        if node_id in first_bad:
            node = graph[node_id]
            raise LoweringError(
                f"measuring value ranges: the ideal simulation of this {node.op} went non-finite at "
                f"t = {(first_bad[node_id] + 1) * dt:g} s, so its units cannot be tuned",
                op=node.op, shapes=[node.shape], loc=node.loc,
                hint="the program diverges on the example inputs (an integrate that is unstable at this dt?); "
                "check it with prog.run(backend='numpy'), use a smaller gain or dt, or give ranges with "
                "spikec.configure(range=(lo, hi))",
            )
    return lows, highs


def _broadcast_of(graph: Graph, node: Node) -> tuple[int, np.ndarray, float] | None:
    """``(source, picks, zero)`` when ``node``'s value is ``source``'s flat value at ``picks`` plus ``zero`` (every
    element of it at least once, so they go non-finite together), else None: a ``broadcast_to`` (``zero`` -0.0:
    values as they are) or an ``affine`` that is a selection without bias (0.0: it turns -0 into 0)."""
    if node.op == "broadcast_to" and len(node.inputs) == 1:
        source = graph[node.inputs[0]]
        picks = np.broadcast_to(np.arange(source.size).reshape(source.shape), node.shape).ravel()
        return source.id, picks, -0.0
    if node.op != "affine" or len(node.inputs) != 1:
        return None
    (weight,), bias = node.attrs["weights"], node.attrs["bias"]
    if weight.picks is None or (bias is not None and np.any(bias.value)):
        return None
    if np.unique(weight.picks).size != graph[node.inputs[0]].size:
        return None
    return node.inputs[0], weight.picks, 0.0


class _Settled(Exception):
    """Ends a measuring run whose states have settled (raised from its observer)."""


#: A state has settled when one step moves it by at most this, relative to its largest magnitude (at least 1)...
SETTLED = 1e-12
#: ...for this many steps in a row, with every input constant.
SETTLED_STEPS = 20


def widen(lo: np.ndarray, hi: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radius of ``[lo, hi]`` widened by ``margin``, never of zero width.

    A value that never moved in the example run still gets a range: a tenth
    of the largest radius among its neighbours, or 1 if all are constant.
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    center = (lo + hi) / 2
    radius = (hi - lo) / 2 * margin
    scale = np.max(np.abs(np.concatenate([np.ravel(lo), np.ravel(hi)]))) if lo.size else 0.0
    floor = max(0.1 * float(np.max(radius, initial=0.0)), 0.05 * scale, 1e-3)
    return center, np.maximum(radius, floor)
