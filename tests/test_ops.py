"""Every op and every NumPy entry point, against NumPy itself.

A program without stateful ops is instantaneous: at every time step the
NumPy reference back end must output what the same function gives on plain
arrays.  Besides values, these tests pin down what each construct costs:
products with constants must trace to linear ops only, products of signals
to nonlinear ones.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import assert_matches_numpy, examples, numpy_value, op_counts, ops_of_kind, run_reference
from conftest import trace as _trace
from hypothesis import given

import spikec
from spikec.ir import all_ops, get_op
from spikec.trace.numpy_dispatch import FUNCTIONS, UFUNCS, supported_function_names


def trace(fn, *args):
    """Trace without the graph passes: these tests look at the graph as traced."""
    return _trace(fn, *args, optimize=False)

# Parametrized families run many small hypothesis tests: few examples each.
FAST = examples(25)
EACH = examples(10)

# ------------------------------------------------------------------ strategies


def floats(lo=-10.0, hi=10.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def shapes(min_dims=0, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def arrays(shape, lo=-10.0, hi=10.0):
    return hnp.arrays(np.float64, shape, elements=floats(lo, hi))


@st.composite
def away_from_zero(draw, shape, lo=0.1, hi=10.0):
    """Values with |v| in [lo, hi], either sign (denominators)."""
    mag = draw(arrays(shape, lo, hi))
    sign = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    return mag * sign


def tie_prone(shape):
    """Few distinct values, so comparisons hit exact ties often."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0]))


# ============================================================ entry-point tables

R = np.random.RandomState(0)
X = R.randn(3, 4)
Y = R.randn(3, 4)
V = R.randn(4)
SQ = R.randn(3, 3)
POS = R.rand(3, 4) + 0.1
C34 = R.randn(3, 4)
C45 = R.randn(4, 5)
X3 = R.randn(2, 3, 4)

# One example per supported ufunc: (function, arguments).  Signals are the
# ndarray arguments; spikec.const(...) marks a constant.
UFUNC_EXAMPLES = {
    np.add: [(lambda a, b: np.add(a, b), (X, Y)), (lambda a: np.add(a, C34), (X,))],
    np.subtract: [(lambda a, b: np.subtract(a, b), (X, Y)), (lambda a: np.subtract(C34, a), (X,))],
    np.multiply: [(lambda a, b: np.multiply(a, b), (X, Y)), (lambda a: np.multiply(C34, a), (X,))],
    np.true_divide: [(lambda a, b: np.true_divide(a, b), (X, POS)), (lambda a: np.divide(C34, a), (POS,))],
    np.negative: [(lambda a: np.negative(a), (X,))],
    np.positive: [(lambda a: np.positive(a) * 2, (X,))],
    np.power: [(lambda a: np.power(a, 3), (X,)), (lambda a: np.power(2.0, a), (X,))],
    np.float_power: [(lambda a: np.float_power(a, 2.5), (POS,))],
    np.matmul: [(lambda a, b: np.matmul(a, b), (X, C45)), (lambda a: np.matmul(a, C45), (X,))],
    np.square: [(lambda a: np.square(a), (X,))],
    np.sqrt: [(lambda a: np.sqrt(a), (POS,))],
    np.exp: [(lambda a: np.exp(a), (X,))],
    np.log: [(lambda a: np.log(a), (POS,))],
    np.sin: [(lambda a: np.sin(a), (X,))],
    np.cos: [(lambda a: np.cos(a), (X,))],
    np.tanh: [(lambda a: np.tanh(a), (X,))],
    np.arctan: [(lambda a: np.arctan(a), (X,))],
    np.arcsin: [(lambda a: np.arcsin(a), (np.tanh(X),))],
    np.arccos: [(lambda a: np.arccos(a), (np.tanh(X),))],
    np.arcsinh: [(lambda a: np.arcsinh(a), (X,))],
    np.arctanh: [(lambda a: np.arctanh(a), (np.tanh(X),))],
    np.arccosh: [(lambda a: np.arccosh(a), (1.0 + POS,))],
    np.absolute: [(lambda a: np.absolute(a), (X,)), (lambda a: abs(a), (X,))],
    np.fabs: [(lambda a: np.fabs(a), (X,))],
    np.reciprocal: [(lambda a: np.reciprocal(a), (POS,))],
    np.maximum: [(lambda a, b: np.maximum(a, b), (X, Y)), (lambda a: np.maximum(a, 0.2), (X,))],
    np.minimum: [(lambda a, b: np.minimum(a, b), (X, Y)), (lambda a: np.minimum(C34, a), (X,))],
    np.fmax: [(lambda a, b: np.fmax(a, b), (X, Y))],
    np.fmin: [(lambda a, b: np.fmin(a, b), (X, Y))],
    np.greater: [(lambda a, b: np.greater(a, b), (X, Y))],
    np.greater_equal: [(lambda a, b: np.greater_equal(a, b), (X, X))],
    np.less: [(lambda a, b: np.less(a, b), (X, Y))],
    np.less_equal: [(lambda a, b: np.less_equal(a, b), (X, X))],
    np.sign: [(lambda a: np.sign(a), (np.array([-2.0, 0.0, 3.0]),))],
}

FUNCTION_EXAMPLES = {
    np.reshape: [(lambda a: np.reshape(a, (4, 3)), (X,)), (lambda a: np.reshape(a, -1), (X,))],
    np.ravel: [(lambda a: np.ravel(a), (X,))],
    np.transpose: [(lambda a: np.transpose(a), (X3,)), (lambda a: np.transpose(a, (1, 2, 0)), (X3,))],
    np.swapaxes: [(lambda a: np.swapaxes(a, 0, -1), (X3,))],
    np.moveaxis: [(lambda a: np.moveaxis(a, 0, -1), (X3,)), (lambda a: np.moveaxis(a, [0, 1], [2, 0]), (X3,))],
    np.expand_dims: [(lambda a: np.expand_dims(a, 1), (X,)), (lambda a: np.expand_dims(a, (0, -1)), (X,))],
    np.squeeze: [(lambda a: np.squeeze(a), (R.randn(1, 3, 1),)), (lambda a: np.squeeze(a, 2), (R.randn(1, 3, 1),))],
    np.flip: [(lambda a: np.flip(a), (X3,)), (lambda a: np.flip(a, (0, 2)), (X3,))],
    np.fliplr: [(lambda a: np.fliplr(a), (X,))],
    np.flipud: [(lambda a: np.flipud(a), (X,))],
    np.broadcast_to: [(lambda a: np.broadcast_to(a, (2, 3, 4)), (V,))],
    np.concatenate: [(lambda a, b: np.concatenate([a, C34, b], axis=1), (X, Y))],
    np.stack: [(lambda a, b: np.stack([a, C34, b], axis=-1), (X, Y))],
    np.hstack: [(lambda a, b: np.hstack([a, b, C34]), (X, Y))],
    np.vstack: [(lambda a: np.vstack([a, V, a]), (V,))],
    np.atleast_1d: [(lambda a: np.atleast_1d(a), (np.array(2.5),))],
    np.atleast_2d: [(lambda a: np.atleast_2d(a), (V,))],
    np.sum: [(lambda a: np.sum(a, axis=1), (X3,)), (lambda a: np.sum(a, initial=2.0), (X,))],
    np.mean: [(lambda a: np.mean(a, axis=(0, 2), keepdims=True), (X3,))],
    np.max: [(lambda a: np.max(a), (X3,)), (lambda a: np.max(a, axis=(0, 2), keepdims=True), (X3,))],
    np.amax: [(lambda a: np.amax(a, 1), (X,)), (lambda a: np.amax(a, axis=0, initial=0.5), (X,))],
    np.min: [(lambda a: np.min(a, axis=-1), (X3,)), (lambda a: np.min(a, keepdims=True), (X,))],
    np.amin: [(lambda a: np.amin(a, (0, 1)), (X3,))],
    np.cumsum: [(lambda a: np.cumsum(a), (X,)), (lambda a: np.cumsum(a, axis=1), (X3,))],
    np.diff: [(lambda a: np.diff(a), (X3,)), (lambda a: np.diff(a, 2, axis=0, prepend=1.0, append=C34[:1]), (X,))],
    np.dot: [(lambda a, b: np.dot(a, b), (X, C45)), (lambda a: np.dot(a, C45), (X,))],
    np.outer: [(lambda a, b: np.outer(a, b), (V, X)), (lambda a: np.outer(a, V), (X,))],
    np.tensordot: [(lambda a, b: np.tensordot(a, b, 1), (X, C45)), (lambda a: np.tensordot(a, C45, 1), (X,))],
    np.einsum: [(lambda a, b: np.einsum("ij,jk->ik", a, b), (X, C45)),
                (lambda a: np.einsum("ij,jk", a, C45), (X,))],
    np.trace: [(lambda a: np.trace(a), (SQ,)), (lambda a: np.trace(a, 1, 0, 2), (X3,))],
    np.linalg.norm: [(lambda a: np.linalg.norm(a), (X,)), (lambda a: np.linalg.norm(a, 1, axis=0), (X,))],
    np.clip: [(lambda a: np.clip(a, -0.5, 0.5), (X,))],
    np.where: [(lambda a, b: np.where(C34 > 0, a, b), (X, Y)), (lambda a, b: np.where(a > 0, a, b), (X, Y))],
    np.copy: [(lambda a: np.copy(a) * 2, (X,))],
    np.zeros_like: [(lambda a: a + np.zeros_like(a), (X,))],
    np.ones_like: [(lambda a: a * 2 + np.ones_like(a), (X,))],
    np.empty_like: [(lambda a: np.broadcast_to(a, np.empty_like(a).shape) * 2, (X,))],
    np.full_like: [(lambda a: a + np.full_like(a, 3.0), (X,))],
    np.shape: [(lambda a: a * np.shape(a)[1], (X,))],
    np.ndim: [(lambda a: a * np.ndim(a), (X,))],
    np.size: [(lambda a: a * np.size(a) + np.size(a, 1), (X,))],
}


def _cases(table):
    return [pytest.param(fn, args, id=f"{getattr(key, '__name__', key)}-{i}")
            for key, cases in table.items() for i, (fn, args) in enumerate(cases)]


def test_every_ufunc_has_an_example():
    assert set(UFUNC_EXAMPLES) == set(UFUNCS)


def test_every_function_has_an_example():
    assert set(FUNCTION_EXAMPLES) == set(FUNCTIONS)
    assert supported_function_names() == sorted(f"{f.__module__.replace('numpy', 'np')}.{f.__name__}"
                                                for f in FUNCTIONS)
    assert "np.linalg.norm" in supported_function_names()


@pytest.mark.parametrize("fn, args", _cases(UFUNC_EXAMPLES))
def test_ufunc_example(fn, args):
    assert_matches_numpy(fn, *args, optimize=True)


@pytest.mark.parametrize("fn, args", _cases(FUNCTION_EXAMPLES))
def test_function_example(fn, args):
    assert_matches_numpy(fn, *args, optimize=True)


def test_every_registered_op_is_exercised():
    """The examples above (plus integrate/filter/lti elsewhere) reach every op in the registry."""
    seen = set()
    for table in (UFUNC_EXAMPLES, FUNCTION_EXAMPLES):
        for cases in table.values():
            for fn, args in cases:
                seen |= set(op_counts(trace(fn, *args)))
    seen |= set(op_counts(trace(lambda a: X[::2] @ a[[0, 2]].T + np.where(SQ[:2, :2] > 0, 1.0, a[:2, :2]), X)))
    stateful = {name for name, op in all_ops().items() if op.is_stateful}
    # Ops that no NumPy entry point creates, tested where they come from: passes
    # ("affine", fuse_linear) and spikec's own API ("neurons", spikec.neurons;
    # "conv2d", "avg_pool2d", "dense": tests/test_conv.py).
    # A new op must get an example above or an entry here.
    elsewhere = {"affine", "neurons", "conv2d", "avg_pool2d", "dense"}
    assert set(all_ops()) - stateful - elsewhere - seen == set()


def test_registry_entries_are_complete():
    for name, op in all_ops().items():
        assert op.name == name
        assert op.doc
        if op.kind.value in ("linear", "nonlinear"):
            assert op.reference is not None, name
        if op.is_stateful:
            assert op.stateful is not None, name
        if op.elementwise:
            assert op.is_nonlinear, name


# =============================================================== elementwise

UNARY = {
    "negative": (np.negative, floats()),
    "neg_op": (lambda x: -x, floats()),
    "pos_op": (lambda x: +x * 1.5, floats()),
    "square": (np.square, floats()),
    "sqrt": (np.sqrt, floats(0.01, 10)),
    "exp": (np.exp, floats(-5, 5)),
    "log": (np.log, floats(0.01, 10)),
    "sin": (np.sin, floats()),
    "cos": (np.cos, floats()),
    "tanh": (np.tanh, floats()),
    "arctan": (np.arctan, floats()),
    "arcsin": (np.arcsin, floats(-1.0, 1.0)),
    "arccos": (np.arccos, floats(-1.0, 1.0)),
    "arcsinh": (np.arcsinh, floats()),
    "arctanh": (np.arctanh, floats(-0.99, 0.99)),
    "arccosh": (np.arccosh, floats(1.0, 10.0)),
    "abs": (np.abs, floats()),
    "abs_builtin": (abs, floats()),
    "fabs": (np.fabs, floats()),
    "sign": (np.sign, st.sampled_from([-2.0, -0.5, 0.0, 0.5, 3.0])),
    "reciprocal": (np.reciprocal, floats(0.1, 10)),
    "relu": (lambda x: np.maximum(x, 0), floats()),
    "clip": (lambda x: np.clip(x, -1, 2), floats()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@EACH
@given(data=st.data())
def test_unary(name, data):
    fn, elements = UNARY[name]
    x = data.draw(hnp.arrays(np.float64, shapes(), elements=elements))
    prog = assert_matches_numpy(fn, x)
    units = {"negative": 0, "neg_op": 0, "pos_op": 0, "sign": 2 * x.size}.get(name, x.size)
    assert prog.traced_graph.stats().nonlinear_units == units


@FAST
@given(data=st.data())
def test_reciprocal_of_negative_values(data):
    x = data.draw(away_from_zero(data.draw(shapes())))
    assert_matches_numpy(np.reciprocal, x)
    assert_matches_numpy(lambda a: 1 / a, x)


# ==================================================================== binary

BINARY = {
    "add": (lambda a, b: a + b, False),
    "sub": (lambda a, b: a - b, False),
    "mul": (lambda a, b: a * b, False),
    "div": (lambda a, b: a / b, True),
    "np.add": (np.add, False),
    "np.subtract": (np.subtract, False),
    "np.multiply": (np.multiply, False),
    "np.divide": (np.divide, True),
    "maximum": (np.maximum, False),
    "minimum": (np.minimum, False),
    "fmax": (np.fmax, False),
    "fmin": (np.fmin, False),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@EACH
@given(data=st.data())
def test_binary_signal_signal_broadcasting(name, data):
    """Both operands are signals and both may broadcast, e.g. (3, 1) + (1, 4)."""
    fn, divides = BINARY[name]
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=4)).input_shapes
    a = data.draw(arrays(sa))
    b = data.draw(away_from_zero(sb) if divides else arrays(sb))
    assert_matches_numpy(fn, a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
@EACH
@given(data=st.data())
def test_binary_with_constants(name, data):
    """signal (op) constant and constant (op) signal, constants of any broadcastable shape."""
    fn, divides = BINARY[name]
    sa, sc = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=4)).input_shapes
    a = data.draw(away_from_zero(sa) if divides else arrays(sa))
    c = data.draw(away_from_zero(sc) if divides else arrays(sc))
    prog = assert_matches_numpy(lambda s: fn(s, c), a)
    prog_r = assert_matches_numpy(lambda s: fn(c, s), a)
    scalar = data.draw(floats(0.5, 3.0))
    assert_matches_numpy(lambda s: fn(s, scalar), a)
    assert_matches_numpy(lambda s: fn(scalar, s), a)
    if name in ("add", "sub", "mul", "np.add", "np.subtract", "np.multiply"):
        assert ops_of_kind(prog, "nonlinear") == set()
        assert ops_of_kind(prog_r, "nonlinear") == set()


def test_products_of_signals_are_nonlinear():
    prog = trace(lambda a, b: a * b, X, Y)
    assert op_counts(prog) == {"input": 2, "mul": 1}
    assert prog.traced_graph.stats().nonlinear_units == X.size
    prog = trace(lambda a, b: a / b, X, POS)
    assert op_counts(prog) == {"input": 2, "div": 1}
    prog = trace(lambda a: a * a, X)
    assert op_counts(prog) == {"input": 1, "mul": 1}
    assert prog.traced_graph.stats().edges == 2  # both operands are the same node: two edges


def test_broadcast_units_count_output_elements():
    prog = trace(lambda a, b: a * b, R.randn(3, 1), R.randn(1, 4))
    assert prog.traced_graph.stats().nonlinear_units == 12


def test_division_by_constant_is_a_scale():
    prog = assert_matches_numpy(lambda a: a / np.array([2.0, 4.0, -8.0, 0.5]), X)
    assert op_counts(prog) == {"input": 1, "scale": 1}


def test_constant_over_signal_broadcasts_even_with_unit_numerator():
    """np.ones((3, 4)) / y for y of shape (4,) has shape (3, 4), like NumPy."""
    ones = np.ones((3, 4))
    assert_matches_numpy(lambda b: ones / b, POS[0])
    assert_matches_numpy(lambda b: 1.0 / b, POS)


# ========================================================= powers & comparisons


@pytest.mark.parametrize("p, op", [(2, "square"), (0.5, "sqrt"), (-1, "reciprocal"), (3, "power"),
                                   (-2, "power"), (2.5, "power"), (1.0, None), (0, None)])
def test_power_with_constant_exponent(p, op):
    x = POS + 0.5
    prog = assert_matches_numpy(lambda a: a**p, x)
    assert_matches_numpy(lambda a: np.power(a, p), x)
    nonlinear = {n.op for n in prog.traced_graph if get_op(n.op).is_nonlinear}
    assert nonlinear == ({op} if op else set())


def test_power_one_returns_the_signal_itself():
    prog = trace(lambda a: a**1, X)
    assert prog.traced_graph.outputs == prog.traced_graph.inputs


def test_power_zero_is_ones_of_the_signal_shape():
    res = run_reference(lambda a: a**0, X)
    np.testing.assert_array_equal(res.output, np.ones((3, 3, 4)))


def test_power_of_negative_base_with_integer_exponent():
    assert_matches_numpy(lambda a: a**3, X)
    assert_matches_numpy(lambda a: a**-2, X + 10)


@pytest.mark.parametrize("base", [2.0, 0.5, np.e, 10])
def test_constant_to_the_power_of_a_signal(base):
    prog = assert_matches_numpy(lambda a: base**a, X)
    assert_matches_numpy(lambda a: np.power(base, a), X)
    assert ops_of_kind(prog, "nonlinear") == {"exp"}


COMPARISONS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@EACH
@given(data=st.data())
def test_comparisons_give_zero_one_including_ties(name, data):
    fn = COMPARISONS[name]
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=4)).input_shapes
    a, b = data.draw(tie_prone(sa)), data.draw(tie_prone(sb))
    c = data.draw(st.sampled_from([-1.0, 0.0, 0.5]))
    assert_matches_numpy(fn, a, b)
    assert_matches_numpy(lambda s: fn(s, c), a)
    assert_matches_numpy(lambda s: fn(c, s), a)
    assert_matches_numpy(lambda s: fn(s, s), a)


def test_comparison_values_are_zero_or_one():
    out = run_reference(lambda a, b: a > b, X, Y).output
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert ops_of_kind(trace(lambda a, b: a > b, X, Y), "nonlinear") == {"heaviside"}


# ================================================================ array API


def test_array_attributes():
    seen = {}

    def fn(a):
        seen.update(shape=a.shape, ndim=a.ndim, len=len(a), size=a.size, dtype=a.dtype)
        return a.T

    assert_matches_numpy(fn, X3)
    assert seen == {"shape": (2, 3, 4), "ndim": 3, "len": 2, "size": 24, "dtype": np.float64}


def test_iteration_yields_rows():
    assert_matches_numpy(lambda a: np.stack([row * i for i, row in enumerate(a)]), X)
    assert_matches_numpy(lambda a: sum(a), X)


def test_len_and_iteration_of_0d_signal_fail_like_numpy():
    def fn(a):
        with pytest.raises(TypeError):
            len(a)
        with pytest.raises(TypeError):
            iter(a)
        return a

    trace(fn, np.array(1.0))


TRACER_METHODS = {
    ".T": lambda a: a.T,
    "transpose()": lambda a: a.transpose(),
    "transpose(1, 0, 2)": lambda a: a.transpose(1, 0, 2),
    "transpose((2, 0, 1))": lambda a: a.transpose((2, 0, 1)),
    "reshape(4, 6)": lambda a: a.reshape(4, 6),
    "reshape((-1, 2))": lambda a: a.reshape((-1, 2)),
    "reshape(-1)": lambda a: a.reshape(-1),
    "ravel": lambda a: a.ravel(),
    "flatten": lambda a: a.flatten(),
    "swapaxes": lambda a: a.swapaxes(0, 2),
    "sum": lambda a: a.sum(axis=0),
    "mean": lambda a: a.mean(),
    "max": lambda a: a.max(),
    "max axis": lambda a: a.max(axis=1, keepdims=True),
    "min": lambda a: a.min(axis=(0, 2)),
    "cumsum": lambda a: a.cumsum(axis=-1),
    "sum keepdims": lambda a: a.sum(axis=(0, -1), keepdims=True),
    "dot": lambda a: a.dot(V),
    "clip": lambda a: a.clip(-0.5, 0.5),
    "copy": lambda a: a.copy() * 2,
    "astype": lambda a: a.astype(np.float64) + 1,
    "squeeze": lambda a: a[None].squeeze(0),
}


@pytest.mark.parametrize("name", sorted(TRACER_METHODS))
def test_tracer_methods(name):
    assert_matches_numpy(TRACER_METHODS[name], X3)


def test_filter_method_with_no_synapse_is_identity():
    res = run_reference(lambda a: a.filter(None) * 3, X3)
    np.testing.assert_allclose(res.output[-1], 3 * X3, rtol=1e-12)


# ------------------------------------------------------------------ indexing


@FAST
@given(data=st.data())
def test_basic_indexing(data):
    """Integers (also negative), slices with steps, None and Ellipsis."""
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    assert_matches_numpy(lambda a: a[index], x)


@FAST
@given(data=st.data())
def test_integer_array_indexing(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=shapes(max_dims=2)))
    assert_matches_numpy(lambda a: a[index], x)


@FAST
@given(data=st.data())
def test_boolean_mask_indexing(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    full = data.draw(hnp.arrays(bool, shape))
    rows = data.draw(hnp.arrays(bool, shape[:1]))
    assert_matches_numpy(lambda a: a[full] * 1.0, x)
    assert_matches_numpy(lambda a: a[rows], x)


@pytest.mark.parametrize("index", [
    (0,), (-1,), (slice(None, None, -1),), (slice(1, None, 2), slice(None, None, -2)), (None, Ellipsis, None),
    (Ellipsis, 1), (1, Ellipsis), ([0, 2, 2],), ([0, 2], [1, -1]), (slice(1, None), [0, 3]),
    (np.array([[0, 1], [2, 0]]),), (Ellipsis, np.array([True, False, True, True])), (-2, -1), (),
], ids=repr)
def test_indexing_forms(index):
    prog = assert_matches_numpy(lambda a: a[index], X)
    assert ops_of_kind(prog, "nonlinear") == set()


def test_trivial_index_adds_no_node():
    assert op_counts(trace(lambda a: a[...], X)) == {"input": 1}
    assert op_counts(trace(lambda a: a[:], X)) == {"input": 1}


# ------------------------------------------------------------------- shapes


@FAST
@given(data=st.data())
def test_reshape_ravel_flatten(data):
    shape = data.draw(shapes())
    x = data.draw(arrays(shape))
    target = data.draw(st.permutations(list(shape) + [1]))
    assert_matches_numpy(lambda a: a.reshape(target), x)
    assert_matches_numpy(lambda a: np.reshape(a, (-1,) + tuple(target[1:])), x)
    assert_matches_numpy(lambda a: a.ravel(), x)
    assert_matches_numpy(lambda a: a.flatten(), x)
    assert_matches_numpy(np.ravel, x)


@FAST
@given(data=st.data())
def test_transposes(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    x = data.draw(arrays(shape))
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)))
    axis = st.integers(-nd, nd - 1)
    a1, a2 = data.draw(axis), data.draw(axis)
    src = data.draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd))
    dst = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=len(src), max_size=len(src),
                             unique_by=lambda d: d % nd))
    assert_matches_numpy(lambda a: a.T, x)
    assert_matches_numpy(lambda a: np.transpose(a, perm), x)
    assert_matches_numpy(lambda a: a.transpose(perm), x)
    assert_matches_numpy(lambda a: np.swapaxes(a, a1, a2), x)
    assert_matches_numpy(lambda a: np.moveaxis(a, src, dst), x)
    assert_matches_numpy(lambda a: np.moveaxis(a, a1, a2), x)


@FAST
@given(data=st.data())
def test_expand_squeeze_flip(data):
    shape = data.draw(shapes(max_side=3))
    x = data.draw(arrays(shape))
    nd = len(shape)
    new = data.draw(st.lists(st.integers(-(nd + 1), nd), min_size=1, max_size=2,
                             unique_by=lambda a: a % (nd + 2)))
    new_axes = sorted({a % (nd + len(new)) for a in new})
    if len(new_axes) == len(new):
        assert_matches_numpy(lambda a: np.expand_dims(a, tuple(new)), x)
    assert_matches_numpy(lambda a: np.expand_dims(a, 0), x)
    assert_matches_numpy(np.squeeze, x)
    ones = [i for i, d in enumerate(shape) if d == 1]
    if ones:
        assert_matches_numpy(lambda a: np.squeeze(a, axis=ones[0]), x)
        assert_matches_numpy(lambda a: a.squeeze(tuple(ones)), x)
    if nd:
        flip_axes = data.draw(st.lists(st.integers(-nd, nd - 1), unique_by=lambda a: a % nd, max_size=nd))
        assert_matches_numpy(lambda a: np.flip(a, tuple(flip_axes)), x)
        assert_matches_numpy(lambda a: np.flip(a, axis=flip_axes[0] if flip_axes else None), x)
    if nd >= 2:
        assert_matches_numpy(np.fliplr, x)
    if nd >= 1:
        assert_matches_numpy(np.flipud, x)


@FAST
@given(data=st.data())
def test_broadcast_to(data):
    shape = data.draw(shapes(max_dims=2))
    target = data.draw(hnp.broadcastable_shapes(shape, min_side=1, max_side=3))
    target = np.broadcast_shapes(shape, target)
    x = data.draw(arrays(shape))
    assert_matches_numpy(lambda a: np.broadcast_to(a, target), x)


# ---------------------------------------------------------------- joining


@FAST
@given(data=st.data())
def test_concatenate_mixing_signals_and_constants(data):
    base = data.draw(shapes(min_dims=1, max_dims=3, max_side=3))
    nd = len(base)
    axis = data.draw(st.integers(-nd, nd - 1))
    pieces = data.draw(st.lists(st.tuples(st.booleans(), st.integers(1, 3)), min_size=1, max_size=4))
    signals, consts, kinds = [], [], []
    for is_signal, size in pieces:
        shape = list(base)
        shape[axis] = size
        value = data.draw(arrays(tuple(shape)))
        (signals if is_signal else consts).append(value)
        kinds.append(is_signal)
    if not signals:
        signals.append(data.draw(arrays(base)))
        kinds.append(True)

    def fn(*sigs):
        s, c = iter(sigs), iter(consts)
        return np.concatenate([next(s) if k else next(c) for k in kinds], axis=axis)

    assert_matches_numpy(fn, *signals)

    def flat(*sigs):
        s, c = iter(sigs), iter(consts)
        return np.concatenate([next(s) if k else next(c) for k in kinds], axis=None)

    assert_matches_numpy(flat, *signals)


@FAST
@given(data=st.data())
def test_stack_hstack_vstack(data):
    shape = data.draw(shapes(max_dims=2, max_side=3))
    a, b, c = (data.draw(arrays(shape)) for _ in range(3))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_matches_numpy(lambda p, q: np.stack([p, c, q], axis=axis), a, b)
    assert_matches_numpy(lambda p, q: np.hstack([p, c, q]), a, b)
    assert_matches_numpy(lambda p, q: np.vstack([c, p, q]), a, b)
    assert_matches_numpy(lambda p: np.stack([p]), a)


def test_joins_are_linear():
    prog = trace(lambda a, b: np.concatenate([np.stack([a, b]), C34[None]]), X, Y)
    assert ops_of_kind(prog, "nonlinear") == set()


# -------------------------------------------------------------- reductions


@FAST
@given(data=st.data())
def test_sum_and_mean(data):
    shape = data.draw(shapes(min_dims=0, max_dims=4))
    x = data.draw(arrays(shape))
    nd = len(shape)
    keepdims = data.draw(st.booleans())
    axis = data.draw(st.one_of(
        st.none(),
        st.integers(-nd, nd - 1) if nd else st.none(),
        st.lists(st.integers(-nd, nd - 1), unique_by=lambda a: a % nd, max_size=nd).map(tuple) if nd
        else st.just(()),
    ))
    prog = assert_matches_numpy(lambda a: np.sum(a, axis=axis, keepdims=keepdims), x)
    assert_matches_numpy(lambda a: a.sum(axis=axis, keepdims=keepdims), x)
    assert_matches_numpy(lambda a: np.mean(a, axis=axis, keepdims=keepdims), x)
    assert_matches_numpy(lambda a: a.mean(axis=axis, keepdims=keepdims), x)
    assert ops_of_kind(prog, "nonlinear") == set()


def test_sum_variants():
    assert_matches_numpy(lambda a: np.add.reduce(a), X3)
    assert_matches_numpy(lambda a: np.add.reduce(a, axis=2), X3)
    assert_matches_numpy(lambda a: np.sum(a, axis=1, initial=-3.0), X3)


# ---------------------------------------------------------------- products


@FAST
@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 4), data=st.data())
def test_matmul_signal_signal_units(n, m, k, data):
    a, b = data.draw(arrays((n, m))), data.draw(arrays((m, k)))
    prog = assert_matches_numpy(lambda p, q: p @ q, a, b)
    assert op_counts(prog) == {"input": 2, "matmul": 1}
    assert prog.traced_graph.stats().nonlinear_units == n * m * k
    assert prog.traced_graph.stats().kinds["nonlinear"] == 1


def test_program_stats_count_matmul_products():
    """prog.stats() (graph and netlist) counts n*m*k products for an (n, m) @ (m, k) signal matmul."""
    prog = _trace(lambda p, q: p @ q, np.ones((2, 3)), np.ones((3, 4)))
    assert prog.stats().nonlinear_units == 2 * 3 * 4


@FAST
@given(data=st.data())
def test_matmul_shapes(data):
    """1-D, 2-D and batched (broadcasting) matmul, all signal/constant combinations."""
    n, m, k = (data.draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                                   min_side=1, max_side=3)).input_shapes
    form = data.draw(st.sampled_from(["1-1", "1-2", "2-1", "2-2", "N-N", "N-1", "1-N"]))
    sa = {"1": (m,), "2": (n, m), "N": batch_a + (n, m)}[form[0]]
    sb = {"1": (m,), "2": (m, k), "N": batch_b + (m, k)}[form[2]]
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    assert_matches_numpy(lambda p, q: p @ q, a, b)
    assert_matches_numpy(np.matmul, a, b)
    prog_l = assert_matches_numpy(lambda q: a @ q, b)
    prog_r = assert_matches_numpy(lambda p: np.matmul(p, b), a)
    assert ops_of_kind(prog_l, "nonlinear") == set()
    assert ops_of_kind(prog_r, "nonlinear") == set()


DOT_CASES = {
    "1d-1d": ((4,), (4,)),
    "2d-1d": ((3, 4), (4,)),
    "1d-2d": ((4,), (4, 5)),
    "2d-2d": ((3, 4), (4, 5)),
    "Nd-1d": ((2, 3, 4), (4,)),
    "1d-Nd": ((3,), (2, 3, 4)),
    "2d-Nd": ((3, 4), (2, 4, 5)),
    "Nd-Nd": ((2, 3, 4), (5, 4, 2)),
    "0d-2d": ((), (3, 4)),
    "2d-0d": ((3, 4), ()),
}


@pytest.mark.parametrize("case", sorted(DOT_CASES))
def test_dot(case, rng):
    sa, sb = DOT_CASES[case]
    a, b = rng.randn(*sa), rng.randn(*sb)
    prog = assert_matches_numpy(np.dot, a, b)
    if sa and sb:
        assert ops_of_kind(prog, "nonlinear") <= {"matmul", "einsum_bilinear"}
        assert prog.traced_graph.stats().nonlinear_units == a.size * b.size // (sa[-1])
    prog_l = assert_matches_numpy(lambda q: np.dot(a, q), b)
    prog_r = assert_matches_numpy(lambda p: np.dot(p, b), a)
    if sa:
        assert_matches_numpy(lambda p: p.dot(b), a)
    assert ops_of_kind(prog_l, "nonlinear") == set()
    assert ops_of_kind(prog_r, "nonlinear") == set()


@pytest.mark.parametrize("axes, sa, sb", [
    (2, (2, 3, 4), (3, 4, 5)), (1, (2, 3), (3, 4)), (0, (2,), (3,)), (([1], [0]), (2, 3, 4), (3, 5)),
    (([0, 2], [1, 0]), (2, 3, 4), (4, 2, 5)), ((1, 0), (2, 3, 4), (3, 5)), (([-1], [-2]), (2, 3), (3, 3)),
])
def test_tensordot(axes, sa, sb, rng):
    a, b = rng.randn(*sa), rng.randn(*sb)
    prog = assert_matches_numpy(lambda p, q: np.tensordot(p, q, axes), a, b)
    assert ops_of_kind(prog, "nonlinear") == {"einsum_bilinear"}
    if isinstance(axes, int):
        contracted = sa[len(sa) - axes:]
    else:
        ax = [axes[0]] if isinstance(axes[0], int) else axes[0]
        contracted = [sa[i] for i in ax]
    assert prog.traced_graph.stats().nonlinear_units == a.size * b.size // math.prod(contracted)
    prog_c = assert_matches_numpy(lambda p: np.tensordot(p, b, axes), a)
    assert ops_of_kind(prog_c, "nonlinear") == set()
    assert_matches_numpy(lambda q: np.tensordot(a, q, axes), b)


def test_outer(rng):
    a, b = rng.randn(3), rng.randn(2, 2)
    prog = assert_matches_numpy(np.outer, a, b)
    assert ops_of_kind(prog, "nonlinear") == {"mul"}
    assert prog.traced_graph.stats().nonlinear_units == 12
    prog = assert_matches_numpy(lambda p: np.outer(p, b), a)
    assert ops_of_kind(prog, "nonlinear") == set()
    prog = assert_matches_numpy(lambda q: np.outer(a, q), b)
    assert ops_of_kind(prog, "nonlinear") == set()


EINSUM_ONE = ["ij->ji", "ij", "ji", "ii", "ii->i", "ij->", "ij->i", "ij->j", "...ij->...ji", "i...->...", "...i"]
EINSUM_TWO = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk", (3, 4), (4, 5)), ("ij,kj", (3, 4), (5, 4)),
    ("i,i", (4,), (4,)), ("i,i->", (4,), (4,)), ("i,j->ij", (3,), (4,)), ("i,j", (3,), (4,)),
    ("ij,ij->ij", (3, 4), (3, 4)), ("ij,ij->", (3, 4), (3, 4)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("...ij,...jk", (2, 3, 4), (2, 4, 5)), ("...ij,...jk->...ik", (2, 3, 4), (4, 5)),
    ("ij, jk -> ik", (3, 4), (4, 5)), ("ii,i->i", (3, 3), (3,)), ("Ab,bC", (2, 3), (3, 4)),
]


@pytest.mark.parametrize("subscripts", EINSUM_ONE)
def test_einsum_one_operand(subscripts, rng):
    x = rng.randn(3, 3) if "ii" in subscripts or subscripts in ("i...->...",) else rng.randn(3, 4)
    if "..." in subscripts:
        x = rng.randn(2, 3, 4)
    prog = assert_matches_numpy(lambda a: np.einsum(subscripts, a), x)
    assert ops_of_kind(prog, "nonlinear") == set()


@pytest.mark.parametrize("subscripts, sa, sb", EINSUM_TWO)
def test_einsum_two_operands(subscripts, sa, sb, rng):
    a, b = rng.randn(*sa), rng.randn(*sb)
    prog = assert_matches_numpy(lambda p, q: np.einsum(subscripts, p, q), a, b)
    assert ops_of_kind(prog, "nonlinear") == {"einsum_bilinear"}
    # Products: one per combination of all index values (ellipsis axes once).
    lhs = subscripts.split("->")[0]
    per_batch = np.einsum(lhs + ("->..." if "..." in lhs else "->"), np.ones(sa), np.ones(sb))
    expected_units = per_batch.flat[0] * per_batch.size
    assert prog.traced_graph.stats().nonlinear_units == expected_units
    for fn in (lambda p: np.einsum(subscripts, p, b), lambda q: np.einsum(subscripts, a, q)):
        prog = assert_matches_numpy(fn, a if fn.__code__.co_varnames[0] == "p" else b)
        assert ops_of_kind(prog, "nonlinear") == set()


def test_einsum_units_with_ellipsis():
    prog = trace(lambda p, q: np.einsum("...ij,...jk->...ik", p, q), np.ones((2, 3, 4)), np.ones((2, 4, 5)))
    assert prog.traced_graph.stats().nonlinear_units == 2 * 3 * 4 * 5
    prog = trace(lambda p, q: p @ q, np.ones((2, 3, 4)), np.ones((2, 4, 5)))
    assert prog.traced_graph.stats().nonlinear_units == 2 * 3 * 4 * 5


@pytest.mark.parametrize("shape, args", [
    ((3, 3), ()), ((3, 4), ()), ((3, 4), (1,)), ((3, 4), (-1,)), ((3, 4), (-2,)), ((3, 4), (7,)),
    ((2, 3, 4), (0, 1, 2)), ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (-1, -1, 0)), ((2, 3, 4), (0, 0, 2)),
])
def test_trace(shape, args, rng):
    x = rng.randn(*shape)
    prog = assert_matches_numpy(lambda a: np.trace(a, *args), x)
    assert ops_of_kind(prog, "nonlinear") == set()
    assert_matches_numpy(lambda a: np.trace(a, offset=args[0] if args else 0), x)


# ----------------------------------------------------------- selection & co


@FAST
@given(data=st.data())
def test_where_with_constant_condition(data):
    sc, sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_side=1, max_side=3)).input_shapes
    cond = data.draw(hnp.arrays(bool, sc))
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    prog = assert_matches_numpy(lambda p, q: np.where(cond, p, q), a, b)
    assert ops_of_kind(prog, "nonlinear") == set()
    assert_matches_numpy(lambda p: np.where(cond, p, b), a)
    assert_matches_numpy(lambda q: np.where(cond, a, q), b)
    assert_matches_numpy(lambda q: np.where(cond, 1.5, q), b)


@FAST
@given(data=st.data())
def test_where_with_signal_condition(data):
    sc, sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_side=1, max_side=3)).input_shapes
    x, a, b = data.draw(tie_prone(sc)), data.draw(arrays(sa)), data.draw(arrays(sb))
    prog = assert_matches_numpy(lambda s, p, q: np.where(s > 0, p, q), x, a, b)
    assert "mul" in ops_of_kind(prog, "nonlinear")
    assert_matches_numpy(lambda s, p: np.where(s >= 0, p, b), x, a)
    assert_matches_numpy(lambda s: np.where(s < 0.5, a, b), x)
    assert_matches_numpy(lambda s: np.where(s <= 0, s, 0.0), x)


def test_where_needs_three_arguments():
    with pytest.raises(spikec.UnsupportedOperationError):
        trace(lambda a: np.where(a > 0), X)


@FAST
@given(data=st.data())
def test_clip(data):
    sx, slo, shi = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_side=1, max_side=3)).input_shapes
    x = data.draw(arrays(sx, -3, 3))
    lo = data.draw(arrays(slo, -2, 0))
    hi = lo + data.draw(arrays(shi, 0.1, 2))
    assert_matches_numpy(lambda a: np.clip(a, lo, hi), x)
    assert_matches_numpy(lambda a: np.clip(a, -1.0, 0.5), x)
    assert_matches_numpy(lambda a: np.clip(a, lo, None), x)
    assert_matches_numpy(lambda a: np.clip(a, None, hi), x)
    assert_matches_numpy(lambda a: np.clip(a, -0.25, None), x)
    assert_matches_numpy(lambda a: np.clip(a, None, 0.25), x)
    assert_matches_numpy(lambda a: a.clip(0.0, 1.0), x)
    assert_matches_numpy(lambda a: np.clip(a, min=-1.0, max=1.0), x)


def test_scalar_clip_is_one_nonlinear_op():
    prog = trace(lambda a: np.clip(a, -1, 1), X)
    assert op_counts(prog) == {"input": 1, "clip": 1}


@EACH
@given(data=st.data())
def test_maximum_minimum(data):
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=4)).input_shapes
    a, b = data.draw(tie_prone(sa)), data.draw(arrays(sb))
    c = data.draw(arrays(sb))
    for f in (np.maximum, np.minimum, np.fmax, np.fmin):
        assert_matches_numpy(f, a, b)
        assert_matches_numpy(lambda p: f(p, c), a)
        assert_matches_numpy(lambda p: f(c, p), a)
        assert_matches_numpy(lambda p: f(p, 0.0), a)
        assert_matches_numpy(lambda p: f(0.5, p), a)


def test_maximum_with_constant_uses_one_rectifier():
    prog = trace(lambda a: np.maximum(a, 0.3), X)
    assert ops_of_kind(prog, "nonlinear") == {"relu"}
    assert prog.traced_graph.stats().nonlinear_units == X.size


@pytest.mark.parametrize("like", [np.zeros_like, np.ones_like, lambda a: np.full_like(a, -2.5)])
def test_like_functions_give_constants_of_the_signal_shape(like):
    seen = []

    def fn(a):
        c = like(a)
        seen.append(c)
        return a * 0.5 + c

    assert_matches_numpy(fn, X3)
    assert isinstance(seen[-1], np.ndarray) and seen[-1].shape == X3.shape
    assert seen[-1].dtype == np.float64


def test_constant_outputs_are_allowed():
    res = run_reference(lambda a: np.ones_like(a), X)
    np.testing.assert_array_equal(res.output, np.ones((3, 3, 4)))


def test_spikec_const_marks_constants():
    """spikec.const(W) is folded into a linear op; the bare array would be a second signal."""
    W = R.randn(4, 2)
    prog = assert_matches_numpy(lambda a, w: a @ w, X, spikec.const(W))
    assert op_counts(prog) == {"input": 1, "matmul_const": 1}
    assert prog.input_names == ["a"]
    prog = trace(lambda a, w: a @ w, X, W)
    assert op_counts(prog) == {"input": 2, "matmul": 1}


def test_python_scalars_are_static():
    prog = assert_matches_numpy(lambda a, k: a * k + k, X, 3.0)
    assert prog.input_names == ["a"]
    assert ops_of_kind(prog, "nonlinear") == set()


def test_static_argument_names():
    f = spikec.compile(lambda a, w: a @ w, static=("w",))
    prog = f.trace(X, C45)
    assert prog.input_names == ["a"]
    np.testing.assert_allclose(prog.run(t=0.002).output[-1], X @ C45, rtol=1e-12)


def test_ndarray_on_the_left_defers_to_the_tracer():
    """ndarray (op) tracer must dispatch to spikec (not make an object array)."""
    assert_matches_numpy(lambda a: C34 + a, X)
    assert_matches_numpy(lambda a: C34 * a, X)
    assert_matches_numpy(lambda a: C34 - a, X)
    assert_matches_numpy(lambda a: C34 / a, POS)
    assert_matches_numpy(lambda a: C34 > a, X)
    assert_matches_numpy(lambda a: SQ @ a, X)
    assert_matches_numpy(lambda a: 2.0 ** a, X)


def test_several_outputs():
    res = run_reference(lambda a, b: (a + b, a * b, a[0]), X, Y)
    assert len(res.outputs) == 3
    np.testing.assert_allclose(res.outputs[0][-1], X + Y, rtol=1e-12)
    np.testing.assert_allclose(res.outputs[1][-1], X * Y, rtol=1e-12)
    np.testing.assert_allclose(res.outputs[2][-1], X[0], rtol=1e-12)
    assert res.final[2].shape == (4,)
    assert numpy_value(lambda a: a, spikec.const(3)) == 3


def test_clip_with_an_infinite_bound_is_one_sided():
    # np.clip(x, 0, np.inf) is NumPy's idiom for a one-sided clip.
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    for lo, hi in [(0.0, np.inf), (-np.inf, 1.0), (-1.0, np.inf)]:
        prog = spikec.compile(lambda v, lo=lo, hi=hi: np.clip(v, lo, hi)).trace(x)
        np.testing.assert_allclose(prog.run(t=0.002).output[-1], np.clip(x, lo, hi), rtol=0, atol=1e-12)
        assert "relu" in {n.op for n in prog.traced_graph}
