"""Value ranges of the operands of nonlinear units.

Each nonlinear unit is tuned to the values its operands take.  Unless the
user gives a range (``spikec.configure(range=(lo, hi))``), it is measured by
running the ideal NumPy reference on the traced example inputs and widening
the observed interval by a safety margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from spikec.ir.graph import Graph
from spikec.ir.interpret import simulate_graph
from spikec.lower.errors import LoweringError
from spikec.lower.rules import needs_ranges

__all__ = ["LoweringError", "measure_ranges", "widen"]

def measure_ranges(
    graph: Graph, inputs: Sequence[Callable[[float], np.ndarray]], t: float, dt: float
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-element (min, max) over time of every operand of a nonlinear node."""
    # Explicit neuron layers fix their own tuning: their operands need no range
    # (measuring them would simulate a whole convolutional network for nothing).
    wanted = sorted({i for node in graph if needs_ranges(node) for i in node.inputs})
    if not wanted:
        return {}
    steps = max(1, int(round(t / dt)))
    # Running extremes, not stored traces: the operands of a 30x30 inverse's
    # products are 10^5 values per step.
    lows = {i: np.full(graph[i].shape, np.inf) for i in wanted}
    highs = {i: np.full(graph[i].shape, -np.inf) for i in wanted}
    first_bad: dict[int, int] = {}
    step = 0

    def observe(values: dict[int, np.ndarray]) -> None:
        nonlocal step
        for i in wanted:
            value = values[i]
            np.minimum(lows[i], value, out=lows[i])
            np.maximum(highs[i], value, out=highs[i])
            if i not in first_bad and not np.all(np.isfinite(value)):
                first_bad[i] = step
        step += 1

    with np.errstate(all="ignore"):
        # Only what the operands depend on: other nodes (a neuron layer whose
        # ideal value simulates an AdEx for 2 s per call, say) are not needed.
        simulate_graph(graph, inputs, steps, dt, progress=False, observe=observe, only=wanted)
    for node_id in wanted:
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
    return {node_id: (lows[node_id], highs[node_id]) for node_id in wanted}


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
