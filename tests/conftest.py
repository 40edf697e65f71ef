"""Shared helpers for the spikec test suite.

The oracle for every instantaneous program (one without stateful ops) is
NumPy itself: at every time step the NumPy reference back end must output
exactly what the same Python function returns when called on plain arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import spikec
from spikec.ir.interpret import simulate_graph

DT = 1e-3

# Hypothesis: no deadlines (timings on a shared 2-core machine are noisy).
# Example counts are kept small so the suite stays fast; SPIKEC_TEST_SCALE=20
# multiplies every count for an occasional deep run.
settings.register_profile(
    "spikec", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("spikec")
SCALE = int(os.environ.get("SPIKEC_TEST_SCALE", "1"))


def examples(n: int) -> settings:
    """Hypothesis settings with ``n`` examples (times ``SPIKEC_TEST_SCALE``)."""
    return settings(max_examples=n * SCALE, deadline=None)


def unwrap(value: Any) -> Any:
    """The plain value behind a ``spikec.const`` marker (anything else unchanged)."""
    return value.value if isinstance(value, spikec.const) else value


def numpy_value(fn: Callable, *args: Any) -> Any:
    """``fn`` run by plain NumPy on the same arguments (``spikec.const`` unwrapped)."""
    return fn(*[unwrap(a) for a in args])


def trace(fn: Callable, *args: Any, optimize: bool = True, **kwargs: Any) -> spikec.Program:
    """``spikec.compile(fn).trace(*args)``; ``optimize=False`` skips the graph passes (faster)."""
    options = {} if optimize else {"passes": []}
    return spikec.compile(fn, **options).trace(*args, **kwargs)


def run_reference(fn: Callable, *args: Any, steps: int = 3, dt: float = DT, **run_options: Any):
    """Trace ``fn`` with ``args`` and run it on the NumPy reference for ``steps`` steps.

    Returns the :class:`spikec.RunResult`.
    """
    return trace(fn, *args).run(t=steps * dt, dt=dt, backend="numpy", **run_options)


def assert_matches_numpy(fn: Callable, *args: Any, rtol: float = 1e-12, atol: float = 1e-12,
                         steps: int = 2, scale_atol: bool = False, optimize: bool = False) -> spikec.Program:
    """Assert that ``fn`` traced and simulated equals ``fn`` run by NumPy, at every step.

    The graph as traced is simulated (a failure is a tracing or op-reference
    bug); with ``optimize`` the default passes run too and ``prog.run``'s
    optimized graph must agree as well (a failure only there is a pass bug).
    Shapes must match exactly (no broadcasting of the result).  With
    ``scale_atol`` the absolute tolerance grows with the largest expected
    magnitude, for long compositions.  Returns the traced program so that
    callers can also check its graph.
    """
    expected = numpy_value(fn, *args)
    expected_outputs = expected if isinstance(expected, (tuple, list)) else (expected,)
    prog = trace(fn, *args, optimize=optimize)
    providers, _ = prog.input_providers((), {})
    runs = [("traced graph", simulate_graph(prog.traced_graph, providers, steps, DT))]
    if optimize:
        runs.append(("optimized graph", prog.run(t=steps * DT, dt=DT, backend="numpy").outputs))
    for which, outputs in runs:
        assert len(outputs) == len(expected_outputs)
        for out, exp in zip(outputs, expected_outputs):
            exp = np.asarray(exp, dtype=np.float64)
            assert out.shape == (steps, *exp.shape), f"{which}: spikec gives {out.shape[1:]}, NumPy {exp.shape}"
            tol = atol * (1 + np.abs(exp).max(initial=0.0)) if scale_atol else atol
            np.testing.assert_allclose(out, np.broadcast_to(exp, out.shape), rtol=rtol, atol=tol,
                                       err_msg=f"{which} (axis 0 is the time step)")
    return prog


def op_counts(prog: spikec.Program) -> dict[str, int]:
    """Ops of the program's graph as traced, by name (``{"matmul": 1, ...}``)."""
    return prog.traced_graph.stats().ops


def ops_of_kind(prog: spikec.Program, kind: str) -> set[str]:
    """Names of the ops of one kind (``"linear"``, ``"nonlinear"``...) in the graph as traced."""
    from spikec.ir import get_op

    return {n.op for n in prog.traced_graph if get_op(n.op).kind.value == kind}


@pytest.fixture
def rng() -> np.random.RandomState:
    """A seeded random state (the same numbers in every test)."""
    return np.random.RandomState(1234)
