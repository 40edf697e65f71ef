"""Ops added by following the "add an op" checklist: NumPy oracles and lowering accuracy.

* Elementwise functions (``np.arctan``, ``np.arcsin``, ``np.arccos``,
  ``np.arcsinh``, ``np.arccosh``, ``np.arctanh``): the traced graph equals NumPy for any
  shape (tests/test_ops.py's ``UNARY`` and ``UFUNC_EXAMPLES`` tables); here
  the rate-mode NEF accuracy over a sweep with the default 50 LIF neurons per
  element, as in tests/test_lowering.py's ``NEF_CASES`` (measured when
  written, seed 0, dt = 1 ms: in ``ADDED_NEF_CASES``), and the domain: units
  are tuned inside [-1, 1] (arcsin, arccos), (-1, 1) (arctanh) or [1, inf)
  (arccosh), and an operand outside it is refused with a LoweringError naming
  the op.
* ``np.cumsum``, ``np.diff``: linear ops (no neurons); their matrices equal
  the reference.
* ``np.max``/``np.min`` (and ``amax``/``amin``, ``x.max()``/``x.min()``):
  no op of their own, a balanced tree of pairwise maxima (``k - 1`` rectifier
  units per output element for ``k`` reduced elements, ``ceil(log2 k)`` deep).
  Rate mode, max of 4 oscillating values: NRMSE 6.3% (three NEF rectifiers).
* ``np.linalg.norm``: no op of its own either, ``sqrt(sum(x ** 2))`` (and
  sums and maxima of ``abs`` for the 1- and inf-norms); NumPy's semantics for
  ``ord``, ``axis`` and ``keepdims``, and the orders that need singular
  values refused with what to write instead.
"""

from __future__ import annotations

import math
import re
import sys

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import assert_matches_numpy, examples, op_counts
from hypothesis import given

import spikec
from spikec.errors import ShapeError, UnsupportedOperationError
from spikec.ir.linear_map import linear_map
from spikec.lower import LoweringError
from spikec.passes.merge_units import nonlinear_depth
from spikec.tools.metrics import nrmse


def draw_array(data, **shape_options) -> np.ndarray:
    """A float64 array in [-10, 10] of a drawn shape (``shape_options``: hypothesis's ``array_shapes``)."""
    shape = data.draw(hnp.array_shapes(**shape_options))
    return data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))


def sweep(lo, hi) -> spikec.Input:
    """Element ``i`` goes linearly from ``lo[i]`` to ``hi[i]`` in 1 s."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return spikec.Input(lo.shape, lambda t: lo + (hi - lo) * min(t, 1.0))


def wave(size: int) -> spikec.Input:
    freqs = np.resize([3.0, 5.0, 7.0, 11.0], size)
    return spikec.Input((size,), lambda t: np.sin(2 * np.pi * freqs * t + np.linspace(0.0, 2.0, size)))


# ============================================================== elementwise functions

# name: (function, swept range, rate-mode NRMSE bound with 50 neurons)  # measured
ADDED_NEF_CASES = {
    "arctan": (np.arctan, (-2.0, 2.0), 0.05),  # 2.9%
    "arcsin": (np.arcsin, (-0.9, 0.9), 0.05),  # 2.1%
    "arcsin to the domain's ends": (np.arcsin, (-1.0, 1.0), 0.06),  # 3.6%
    "arccos": (np.arccos, (-1.0, 1.0), 0.05),  # 1.8%
    "arcsinh": (np.arcsinh, (-2.0, 2.0), 0.05),  # 2.3%
    "arccosh": (np.arccosh, (1.0, 3.0), 0.05),  # 1.7%
    "arctanh": (np.arctanh, (-0.8, 0.8), 0.05),  # 2.6%
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


@pytest.mark.parametrize("fn, lo, hi", [(np.arcsin, -2.0, 2.0), (np.arccos, 0.0, 1.5), (np.arctanh, -1.0, 1.0),
                                        (np.arccosh, 0.5, 2.0)])
def test_operands_outside_the_domain_are_refused(fn, lo, hi):
    prog = spikec.compile(fn).trace(sweep([lo], [hi]))
    with pytest.raises(LoweringError, match=f"{fn.__name__} is not finite") as info:
        prog.lower()
    assert info.value.op == fn.__name__ and "range=" in info.value.hint


@pytest.mark.parametrize("user_range, ok", [((-0.9, 0.9), True), ((-1.2, 0.5), False)])
def test_a_user_range_must_lie_inside_the_domain(user_range, ok):
    def f(x):
        with spikec.configure(range=user_range):
            return np.arctanh(x)

    prog = spikec.compile(f).trace(sweep([-0.5], [0.5]))
    if ok:
        assert prog.netlist.stats().neurons == 50
    else:
        with pytest.raises(LoweringError, match="arctanh is not finite"):
            prog.lower()


# ================================================================== cumsum and diff


@examples(20)
@given(data=st.data())
def test_cumsum_matches_numpy(data):
    x = draw_array(data, min_dims=1, max_dims=3, max_side=4)
    shape = x.shape
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    prog = assert_matches_numpy(lambda a: np.cumsum(a, axis=axis), x, optimize=True)
    assert prog.traced_graph.stats().nonlinear_units == 0


@examples(20)
@given(data=st.data())
def test_diff_matches_numpy(data):
    x = draw_array(data, min_dims=1, max_dims=3, min_side=2, max_side=5)
    shape = x.shape
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.integers(0, shape[axis] - 1))
    prog = assert_matches_numpy(lambda a: np.diff(a, n=n, axis=axis), x, optimize=True, scale_atol=True)
    assert prog.traced_graph.stats().nonlinear_units == 0


@pytest.mark.parametrize("op, attrs, shape", [
    ("cumsum", {"axis": None}, (3, 4)), ("cumsum", {"axis": 1}, (2, 3, 4)), ("cumsum", {"axis": 0}, (5,)),
    ("diff", {"n": 1, "axis": 0}, (4, 3)), ("diff", {"n": 3, "axis": 2}, (2, 3, 5)),
])
def test_linear_maps_of_cumsum_and_diff_match_the_reference(op, attrs, shape):
    from spikec.ir import Attrs, Node, get_op

    x = np.random.RandomState(0).randn(*shape)
    want = get_op(op).reference(Attrs(attrs), x)
    (w,), bias = linear_map(Node(1, op, (0,), want.shape, Attrs(attrs)), [shape])
    np.testing.assert_allclose(w @ x.ravel() + bias, want.ravel(), rtol=1e-12, atol=1e-12)
    assert not bias.any()


def test_cumsum_and_diff_cost_no_neurons_and_lower_exactly():
    prog = spikec.compile(lambda x: (np.cumsum(x), np.diff(x, 2))).trace(wave(4))
    assert prog.netlist.stats().neurons == 0
    ideal, rate = prog.run(t=0.2), prog.run(t=0.2, mode="rate")
    for got, want in zip(rate.outputs, ideal.outputs):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_diff_errors():
    x = np.ones((2, 3))
    with pytest.raises(ShapeError, match="no element along axis 1"):
        spikec.compile(lambda a: np.diff(a, 3)).trace(x)
    with pytest.raises(UnsupportedOperationError, match="non-negative integer"):
        spikec.compile(lambda a: np.diff(a, -1)).trace(x)
    with pytest.raises(ShapeError, match="at least one dimensional"):
        spikec.compile(lambda a: np.diff(a)).trace(np.array(1.0))
    assert op_counts(spikec.compile(lambda a: np.diff(a, 0)).trace(x)) == {"input": 1}


# ======================================================================= max and min


@examples(25)
@given(data=st.data())
def test_max_and_min_match_numpy(data):
    x = draw_array(data, min_dims=0, max_dims=3, max_side=4)
    shape = x.shape
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.lists(st.integers(0, nd - 1), unique=True).map(tuple)) if nd else
                     st.none())
    keepdims = data.draw(st.booleans())
    for fn in (np.max, np.min, np.amax, np.amin):
        assert_matches_numpy(lambda a: fn(a, axis=axis, keepdims=keepdims), x, optimize=True)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 9])
def test_max_is_a_tree_of_k_minus_one_rectifiers(k):
    prog = spikec.compile(lambda a: a.max(axis=1)).trace(np.random.RandomState(k).randn(3, k))
    graph = prog.graph
    assert graph.stats().nonlinear_units == 3 * (k - 1)
    assert {n.op for n in graph} - {"input"} <= {"relu", "affine", "reshape"}
    depth = nonlinear_depth(graph)
    assert max(depth.values()) == math.ceil(math.log2(k))


def test_max_and_min_in_rate_mode():
    prog = spikec.compile(lambda x: (x.max(), x.min())).trace(wave(4))
    ideal, rate = prog.run(t=1.0), prog.run(t=1.0, mode="rate")
    for got, want in zip(rate.outputs, ideal.outputs):
        assert nrmse(got, want) < 0.10, nrmse(got, want)


def test_max_errors():
    x = np.ones((2, 3))
    with pytest.raises(UnsupportedOperationError, match="where="):
        spikec.compile(lambda a: np.max(a, where=a > 0)).trace(x)
    with pytest.raises(ShapeError, match="out of bounds"):
        spikec.compile(lambda a: np.max(a, axis=2)).trace(x)
    with pytest.raises(ShapeError, match="zero-size"):
        spikec.compile(lambda a: np.min(a, axis=1)).trace(np.ones((2, 0)))


# ==================================================================== np.linalg.norm

VECTOR_ORDS = [None, 2, 2.0, 1, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]


@examples(25)
@given(data=st.data())
def test_norm_matches_numpy(data):
    x = draw_array(data, min_dims=1, max_dims=3, max_side=4)
    shape = x.shape
    nd = len(shape)
    keepdims = data.draw(st.booleans())
    form = data.draw(st.sampled_from(["flat", "vector", "matrix"] if nd >= 2 else ["flat", "vector"]))
    if form == "flat":
        ord_, axis = (None, None) if nd > 2 else (data.draw(st.sampled_from(VECTOR_ORDS if nd == 1 else
                                                                             MATRIX_ORDS)), None)
    elif form == "vector":
        ord_, axis = data.draw(st.sampled_from(VECTOR_ORDS)), data.draw(st.integers(-nd, nd - 1))
    else:
        ord_ = data.draw(st.sampled_from(MATRIX_ORDS))
        axis = tuple(data.draw(st.permutations(range(nd)))[:2])
    assert_matches_numpy(lambda a: np.linalg.norm(a, ord_, axis, keepdims), x, optimize=True, scale_atol=True)


def test_norm_of_a_scalar_and_of_constants():
    assert_matches_numpy(lambda a: np.linalg.norm(a), np.array(-3.0))
    assert_matches_numpy(lambda a: np.linalg.norm(a, keepdims=True), np.ones((2, 3)))
    prog = spikec.compile(lambda a: a * np.linalg.norm(np.array([3.0, 4.0]))).trace(np.ones(2))
    assert op_counts(prog).get("sqrt", 0) == 0  # a plain array's norm is NumPy's, a constant


def test_norm_is_square_units_a_sum_and_one_sqrt():
    prog = spikec.compile(lambda a: np.linalg.norm(a, axis=1)).trace(np.ones((3, 4)))
    counts = op_counts(prog)
    assert counts["square"] == 1 and counts["sqrt"] == 1
    assert prog.traced_graph.stats().nonlinear_units == 3 * 4 + 3


def test_norm_in_rate_mode():
    prog = spikec.compile(lambda x: np.linalg.norm(x)).trace(wave(3))
    ideal, rate = prog.run(t=1.0), prog.run(t=1.0, mode="rate")
    assert nrmse(rate.output, ideal.output) < 0.05, nrmse(rate.output, ideal.output)  # 1.7% when written


@pytest.mark.parametrize("ord_, shape, hint", [
    (2, (3, 3), "singular values"), ("nuc", (3, 3), "Frobenius"), (3, (4,), r"\*\* p"), ("fro", (4,), "vector"),
])
def test_norms_without_a_neural_lowering_say_what_to_write(ord_, shape, hint):
    with pytest.raises(UnsupportedOperationError, match=r"np\.linalg\.norm") as info:
        spikec.compile(lambda a: np.linalg.norm(a, ord_)).trace(np.ones(shape))
    assert info.value.op == "norm"
    assert re.search(hint, str(info.value)), str(info.value)


def test_norm_axis_errors():
    with pytest.raises(ShapeError, match="two distinct axes"):
        spikec.compile(lambda a: np.linalg.norm(a, axis=(0, 0))).trace(np.ones((2, 2)))
    with pytest.raises(UnsupportedOperationError, match="1-D or 2-D"):
        spikec.compile(lambda a: np.linalg.norm(a, 1)).trace(np.ones((2, 2, 2)))


# ===================================================== the accuracy benchmark covers every op


def test_the_accuracy_benchmark_measures_every_elementwise_op():
    """benchmarks/elementwise_accuracy.py has a case for each registered elementwise op, and its cases run."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "elementwise_accuracy.py"
    spec = importlib.util.spec_from_file_location("elementwise_accuracy", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    assert bench.uncovered_ops() == []
    row = bench.measure("arccosh", bench.CASES["arccosh"], points=4, t=0.1, window=0.05)
    assert row["neurons"] == 50 and row["rate"] < 0.05 and row["spiking"] < 0.1
