"""Random compositions of ops: plain NumPy and spikec must agree.

The generator lives in ``tests/programs.py`` so that pass tests can reuse
it (a pass must not change what a random program computes).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DT, examples
from hypothesis import given
from programs import RandomProgram, programs, random_program

import spikec
from spikec.ir.interpret import simulate_graph
from spikec.trace import trace_function


def check_program(prog: RandomProgram, steps: int = 2, optimize: bool = True) -> spikec.Program:
    """Trace and run ``prog``; assert every step equals the NumPy result.

    The graph as traced is checked, and with ``optimize`` also the graph
    after the default passes (what ``prog.run`` simulates).
    """
    expected = prog.expected()
    assert expected.shape == prog.shape
    compiled = spikec.compile(prog.fn, **({} if optimize else {"passes": []})).trace(*prog.inputs)
    providers, _ = compiled.input_providers((), {})
    runs = [("traced", simulate_graph(compiled.traced_graph, providers, steps, DT)[0])]
    if optimize:
        runs.append(("optimized", compiled.run(t=steps * DT, dt=DT).output))
    # Decompositions (max(x, y) = y + relu(x - y), c / y = c * (1 / y), ...)
    # round differently from NumPy, so allow a few ulps of the magnitude.
    tol = 1e-9 * (1 + np.abs(expected).max(initial=0.0))
    for which, out in runs:
        assert out.shape == (steps, *prog.shape), (which, prog)
        np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-9, atol=tol,
                                   err_msg=f"{which} graph of {prog!r}")
    return compiled


@examples(100)
@given(programs())
def test_random_programs_match_numpy(prog):
    check_program(prog)


@examples(30)
@given(programs(n_inputs=3, max_depth=5, max_ndim=3))
def test_deeper_random_programs_match_numpy(prog):
    check_program(prog)


@pytest.mark.parametrize("seed", range(40))
def test_seeded_random_programs_match_numpy(seed):
    """A fixed corpus (no hypothesis), the same on every run."""
    check_program(random_program(seed, max_depth=4))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(40, 1040))
def test_many_seeded_random_programs(seed):
    check_program(random_program(seed, max_depth=5, max_ndim=3))


def test_generator_is_deterministic_and_varied():
    a, b = random_program(7), random_program(7)
    assert a.text == b.text
    assert all(np.array_equal(x, y) for x, y in zip(a.inputs, b.inputs))
    texts = {random_program(seed).text for seed in range(30)}
    assert len(texts) > 25


def test_generator_reaches_most_ops():
    """The corpus exercises the bulk of the op registry (so it is worth reusing for passes)."""
    seen = set()
    for seed in range(200):
        prog = random_program(seed, max_depth=4)
        graph, _, _ = trace_function(prog.fn, prog.inputs, {}, frozenset(), "random")
        seen |= {node.op for node in graph}
    wanted = {"add", "sub", "neg", "scale", "offset", "matmul_const", "einsum_linear", "reshape", "transpose",
              "getitem", "concatenate", "stack", "sum", "mean", "select", "mul", "div", "matmul",
              "einsum_bilinear", "square", "sqrt", "exp", "log", "sin", "cos", "tanh", "abs", "relu", "clip",
              "heaviside", "reciprocal", "power"}
    assert wanted - seen == set()


def test_check_program_catches_a_wrong_result():
    """The harness itself can fail: a program whose spikec result differs from NumPy's."""
    good = random_program(0)

    def fn(*xs):
        out = good.fn(*xs)
        # Traced: an extra + 1 only in the spikec version.
        return out + 1 if isinstance(xs[0], spikec.trace.Tracer) else out

    bad = RandomProgram(fn, good.inputs, good.text + " (+1 when traced)", good.shape)
    with pytest.raises(AssertionError):
        check_program(bad)
