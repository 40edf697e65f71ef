"""Value ranges of the operands of nonlinear units.

Each nonlinear unit is tuned to the values its operands take.  Unless the
user gives a range (``spikec.configure(range=(lo, hi))``), it is measured by
running the ideal NumPy reference on the traced example inputs and widening
the observed interval by a safety margin.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spikec.backends.reference import simulate_graph
from spikec.errors import SpikecError
from spikec.ir.graph import Graph
from spikec.ir.registry import get_op


class LoweringError(SpikecError):
    """A graph cannot be turned into neurons (diverging ranges, an op with no rule...)."""


def measure_ranges(
    graph: Graph, inputs: Sequence[Callable[[float], np.ndarray]], t: float, dt: float
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-element (min, max) over time of every operand of a nonlinear node."""
    wanted = sorted({i for node in graph if get_op(node.op).is_nonlinear for i in node.inputs})
    if not wanted:
        return {}
    probe = graph.replace(outputs=wanted)
    steps = max(1, int(round(t / dt)))
    with np.errstate(all="ignore"):
        traces = simulate_graph(probe, inputs, steps, dt, progress=False)
    for node_id, trace in zip(wanted, traces):
        if not np.all(np.isfinite(trace)):
            node = graph[node_id]
            first = int(np.argmax(~np.isfinite(trace).reshape(steps, -1).all(axis=1)))
            raise LoweringError(
                f"measuring value ranges: the ideal simulation of this {node.op} went non-finite at "
                f"t = {(first + 1) * dt:g} s, so its units cannot be tuned",
                op=node.op, shapes=[node.shape], loc=node.loc,
                hint="the program diverges on the example inputs (an integrate that is unstable at this dt?); "
                "check it with prog.run(backend='numpy'), use a smaller gain or dt, or give ranges with "
                "spikec.configure(range=(lo, hi))",
            )
    return {node_id: (trace.min(axis=0), trace.max(axis=0)) for node_id, trace in zip(wanted, traces)}


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
