"""Accuracy measures every layer may use: NRMSE, and the spikes spent to reach an error and stay there.

:mod:`spikec.tools.metrics` re-exports them beside the cost measures; they live
here, below the pipeline's layers, so that the compiler's own search for
options (:mod:`spikec.train.autotune`) measures with the same functions as the
benchmarks.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def nrmse(estimate: Any, target: Any, axis: Any = None) -> np.ndarray | float:
    """Normalized root-mean-square error: RMS(estimate - target) / RMS(target).

    With ``axis=None`` the error is pooled over all elements.  For a time
    series of estimates against one target, pass the element axes, e.g.
    ``nrmse(out.output, inv, axis=(-2, -1))`` gives the NRMSE at every step.
    A zero target falls back to the plain RMS error.
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    error = np.sqrt(np.mean((estimate - target) ** 2, axis=axis))
    scale = np.sqrt(np.mean(target**2, axis=axis if target.ndim == estimate.ndim else None))
    scale = np.where(scale > 0, scale, 1.0)
    result = error / scale
    return float(result) if np.ndim(result) == 0 else result


def spikes_to_reach(errors: np.ndarray, spikes: np.ndarray, level: float) -> float:
    """Cumulative spikes at the first step where ``errors`` fall to ``level`` and stay there.

    ``errors`` and ``spikes`` are per-step series of equal length.  Returns
    ``nan`` if the level is never reached for good.
    """
    errors = np.asarray(errors)
    above = np.nonzero(errors > level)[0]
    first = 0 if above.size == 0 else above[-1] + 1
    if first >= errors.size:
        return float("nan")
    return float(np.asarray(spikes)[first])


__all__ = ["nrmse", "spikes_to_reach"]
