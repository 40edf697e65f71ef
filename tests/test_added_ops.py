"""Ops added by following the "add an op" checklist: NumPy oracles and lowering accuracy.

* elementwise functions (``np.arctan``...): the traced graph equals NumPy
  (tests/test_ops.py's ``UNARY`` table covers the oracle for any shape);
  here the rate-mode NEF accuracy over a sweep of the measured range with
  the default 50 LIF neurons per element, as in tests/test_lowering.py's
  ``NEF_CASES``.  Measured when written (seed 0, dt = 1 ms): see ``ADDED_NEF_CASES``.
"""

from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.tools.metrics import nrmse


def sweep(lo, hi) -> spikec.Input:
    """Element ``i`` goes linearly from ``lo[i]`` to ``hi[i]`` in 1 s."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return spikec.Input(lo.shape, lambda t: lo + (hi - lo) * min(t, 1.0))


# name: (function, swept range, rate-mode NRMSE bound with 50 neurons; measured in the comment)
ADDED_NEF_CASES = {
    "arctan": (np.arctan, (-2.0, 2.0), 0.05),  # 2.9%
}


@pytest.mark.parametrize("name", sorted(ADDED_NEF_CASES))
def test_added_elementwise_functions_are_accurate_in_rate_mode(name):
    fn, (lo, hi), bound = ADDED_NEF_CASES[name]
    prog = spikec.compile(fn).trace(sweep([lo], [hi]))
    ideal = prog.run(t=1.0).output
    rate = prog.run(t=1.0, mode="rate").output
    assert np.all(np.isfinite(ideal))
    assert nrmse(rate, ideal) < bound, nrmse(rate, ideal)
    assert prog.netlist.stats().neurons == 50
