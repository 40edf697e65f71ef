"""Shared helpers for the spikec test suite.

The oracle for every instantaneous program (one without stateful ops) is
NumPy itself: at every time step the NumPy reference back end must output
exactly what the same Python function returns when called on plain arrays.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import spikec

DT = 1e-3

# Hypothesis profiles: "dev" (default) keeps the suite fast on a 2-core
# machine; "ci-long" is for occasional deep runs (HYPOTHESIS_PROFILE=ci-long).
settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "ci-long", deadline=None, max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def unwrap(value: Any) -> Any:
    """The plain value behind a ``spikec.const`` marker (anything else unchanged)."""
    return value.value if isinstance(value, spikec.const) else value


def numpy_value(fn: Callable, *args: Any) -> Any:
    """``fn`` run by plain NumPy on the same arguments (``spikec.const`` unwrapped)."""
    return fn(*[unwrap(a) for a in args])


def trace(fn: Callable, *args: Any, **kwargs: Any) -> spikec.Program:
    """``spikec.compile(fn).trace(*args)``."""
    return spikec.compile(fn).trace(*args, **kwargs)


def run_reference(fn: Callable, *args: Any, steps: int = 3, dt: float = DT, **run_options: Any):
    """Trace ``fn`` with ``args`` and run it on the NumPy reference for ``steps`` steps.

    Returns the :class:`spikec.RunResult`.
    """
    return trace(fn, *args).run(t=steps * dt, dt=dt, backend="numpy", **run_options)


def assert_matches_numpy(fn: Callable, *args: Any, rtol: float = 1e-12, atol: float = 1e-12,
                         steps: int = 2, scale_atol: bool = False) -> spikec.Program:
    """Assert that ``fn`` traced and simulated equals ``fn`` run by NumPy, at every step.

    Shapes must match exactly (no broadcasting of the result).  With
    ``scale_atol`` the absolute tolerance grows with the largest expected
    magnitude, for long compositions.  Returns the traced program so that
    callers can also check its graph.
    """
    expected = numpy_value(fn, *args)
    prog = trace(fn, *args)
    result = prog.run(t=steps * DT, dt=DT, backend="numpy")
    expected_outputs = expected if isinstance(expected, (tuple, list)) else (expected,)
    assert len(result.outputs) == len(expected_outputs)
    for out, exp in zip(result.outputs, expected_outputs):
        exp = np.asarray(exp, dtype=np.float64)
        assert out.shape == (steps, *exp.shape), f"spikec gives {out.shape[1:]}, NumPy {exp.shape}"
        tol = atol * (1 + np.abs(exp).max(initial=0.0)) if scale_atol else atol
        np.testing.assert_allclose(out, np.broadcast_to(exp, out.shape), rtol=rtol, atol=tol,
                                   err_msg="(axis 0 is the time step)")
    return prog


def op_counts(prog: spikec.Program) -> dict[str, int]:
    """Ops of the program's graph by name (``{"matmul": 1, ...}``)."""
    return prog.graph.stats().ops


def ops_of_kind(prog: spikec.Program, kind: str) -> set[str]:
    """Names of the ops of one kind (``"linear"``, ``"nonlinear"``...) in the graph."""
    from spikec.ir import get_op

    return {n.op for n in prog.graph if get_op(n.op).kind.value == kind}


@pytest.fixture
def rng() -> np.random.RandomState:
    """A seeded random state (the same numbers in every test)."""
    return np.random.RandomState(1234)
