"""Checks and label formatting shared by the neuron and synapse libraries."""

from __future__ import annotations

import math

from spikec.errors import ConstantError


def format_float(value: float) -> str:
    """Short, stable text for a float in labels (``0.02``, ``1e-05``, ``-inf``)."""
    return f"{value:g}"


def check_dt(dt) -> float:
    """The time step as a positive, finite Python float, or a clear error.

    ``dt`` enters Python-level arithmetic (``amplitude / dt``, loop counts) and
    keys discretization caches, so it must be a concrete number, never a
    traced value.
    """
    try:
        dt = float(dt)
    except TypeError as exc:
        raise ConstantError(
            f"the time step dt must be a concrete Python number, got {dt!r}",
            hint="pass dt as a float; it is fixed when the program is built",
        ) from exc
    if not (math.isfinite(dt) and dt > 0):
        raise ConstantError(f"the time step dt must be positive and finite, got {dt!r}")
    return dt
