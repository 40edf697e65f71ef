"""Graph passes (spikec.passes): each preserves the NumPy reference output and does its job.

The oracle for a pass is the graph it was given: simulated by the NumPy
reference back end, the graph before and the graph after must give the same
outputs at every step (to rounding), for random programs with and without
recurrences.
"""

from __future__ import annotations

import itertools
import math
import pickle
import time

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import BINARY, UNARY, programs, random_program

import spikec
from spikec.ir import Attrs, ConstArray, GraphBuilder, get_op
from spikec.ir.interpret import simulate_graph
from spikec.ir.node import Node
from spikec.ir.sparse import SparseConst
from spikec.passes import (
    DEFAULT_PIPELINE,
    LOWERING_PIPELINE,
    PASSES,
    PassLog,
    PassManager,
    budget,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    expand_bilinear,
    fold_constants,
    fuse_linear,
    linear_map,
    merge_units,
    prepare_for_lowering,
    remove_identities,
    run_passes,
)
from spikec.passes.merge_units import nonlinear_depth

STEPS = 6
DT = 1e-3


# -- helpers ------------------------------------------------------------------------------


def traced(fn, *args):
    """The graph exactly as traced (no passes)."""
    return spikec.compile(fn, passes=[]).trace(*args).graph


def simulate(graph, inputs, steps=STEPS):
    arrays = [np.asarray(a, float) for a in inputs]
    return simulate_graph(graph, [lambda t, a=a: a for a in arrays], steps, DT)


def assert_same_outputs(before, after, inputs, steps=STEPS, rtol=1e-9, atol=1e-9):
    expected = simulate(before, inputs, steps)
    got = simulate(after, inputs, steps)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol * (1 + np.abs(e).max(initial=0)))


def snapshot(graph):
    return (tuple(graph.nodes.items()), graph.inputs, graph.outputs, graph.name)


def ops(graph):
    return graph.stats().ops


def check_invariants(graph):
    """What every pass output satisfies: valid, compact ids, ids in evaluation order."""
    graph.validate()
    assert sorted(graph.nodes) == list(range(len(graph)))
    for node in graph:
        if not get_op(node.op).is_stateful:
            assert all(i < node.id for i in node.inputs), node


def input_node(b, shape, index, name=None):
    name = name or f"x{index}"
    return b.add("input", (), {"shape": shape, "name": name, "index": index}, name=name).id


def with_recurrence(q, unary, binary):
    """Random program ``q`` inside a recurrence (``integrate``) and a ``filter``.

    ``q`` computes ``u`` from the program's inputs; the state ``s`` (of
    ``u``'s shape) then evolves as ``ds/dt = -s + tanh(g(s, u)) / 2`` and is
    filtered, where ``g`` applies the continuous functions ``unary`` to its
    first operand and combines it with the second by ``binary``.  The
    recurrence reads only continuous functions of the state: a comparison of
    a state with itself could flip on a rounding difference that passes are
    allowed to make (``programs.py`` applies comparisons to inputs only).
    """

    def g(v, u):
        for _, fn in unary:
            v = fn(v)
        return binary[1](v, u)

    def fn(x0, x1):
        u = q.fn(x0, x1)
        s = spikec.integrate(lambda s: -s + 0.5 * np.tanh(g(s, u)), x0=np.full(q.shape, 0.1))
        y = spikec.filter(g(s, u), 0.01)
        return s, y, np.exp(np.tanh(g(y, s)))

    return fn, q.inputs


def stateful_program(seed):
    rng = np.random.RandomState(seed)
    unary = [UNARY[i] for i in rng.randint(len(UNARY), size=2)]
    return with_recurrence(random_program(seed, n_inputs=2, max_depth=3), unary, BINARY[rng.randint(len(BINARY))])


# Random programs as (fn, inputs): plain expression trees and trees inside recurrences.
any_programs = st.one_of(
    programs(max_depth=4).map(lambda p: (p.fn, p.inputs)),
    st.builds(with_recurrence, programs(n_inputs=2, max_depth=3),
              st.lists(st.sampled_from(UNARY), min_size=1, max_size=3), st.sampled_from(BINARY)),
)
ALL_PASSES = sorted(PASSES)


# -- every pass preserves the reference output, never mutates its input ----------------


@pytest.mark.parametrize("name", ALL_PASSES)
@settings(max_examples=40)
@given(program=any_programs)
def test_pass_preserves_reference_output(name, program):
    fn, inputs = program
    graph = traced(fn, *inputs)
    before = snapshot(graph)
    out = PASSES[name](graph)
    assert snapshot(graph) == before, f"{name} mutated its input"
    check_invariants(out)
    assert len(out.inputs) == len(graph.inputs) and len(out.outputs) == len(graph.outputs)
    assert_same_outputs(graph, out, inputs)


@settings(max_examples=60)
@given(program=any_programs)
def test_default_pipeline_preserves_reference_output(program):
    fn, inputs = program
    graph = traced(fn, *inputs)
    before = snapshot(graph)
    out, log = run_passes(graph)
    assert snapshot(graph) == before
    check_invariants(out)
    assert_same_outputs(graph, out, inputs, steps=10)
    # Every pass but expand_bilinear (x / y -> x * (1 / y): two units) kept the number of
    # nonlinear units or lowered it (CSE, folding).
    for rec in log:
        if rec.name != "expand_bilinear":
            assert rec.after.nonlinear_units <= rec.before.nonlinear_units, rec.name


@settings(max_examples=20)
@given(program=any_programs, order=st.permutations(ALL_PASSES))
def test_passes_in_any_order(program, order):
    fn, inputs = program
    graph = traced(fn, *inputs)
    out, _ = run_passes(graph, list(order))
    assert_same_outputs(graph, out, inputs)


def test_pipeline_is_idempotent_on_a_recurrence():
    fn, inputs = stateful_program(4)
    once, _ = run_passes(traced(fn, *inputs))
    twice, _ = run_passes(once)
    assert once.stats() == twice.stats()


@settings(max_examples=25)
@given(program=any_programs)
def test_lowering_pipeline_leaves_only_lowerable_nonlinear_ops(program):
    fn, inputs = program
    graph = traced(fn, *inputs)
    for out in (prepare_for_lowering(graph), run_passes(graph)[0]):
        for node in out:
            opdef = get_op(node.op)
            if opdef.is_nonlinear:
                assert opdef.elementwise or node.op == "mul", node.op
                if node.op == "mul":
                    assert all(out[i].shape == node.shape for i in node.inputs)
                assert not all(out[i].op == "const" for i in node.inputs)


# -- the pass manager ---------------------------------------------------------------------------


def _inverse(A):
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T

    return spikec.integrate(lambda M: -50.0 * gradient(M), x0=np.zeros(A.shape))


def test_program_runs_default_pipeline_and_logs_it():
    A = np.random.RandomState(0).randn(3, 3)
    prog = spikec.compile(_inverse).trace(A)
    assert prog.graph_before is prog.traced_graph
    assert "matmul" in ops(prog.graph_before) and "matmul" not in ops(prog.graph)
    log = prog.pass_log
    assert isinstance(log, PassLog)
    assert [r.name for r in log] == list(DEFAULT_PIPELINE)
    assert log.graph_before is prog.graph_before and log[-1].graph is prog.graph and log.graph is prog.graph
    assert log[0].before == prog.graph_before.stats()
    for prev, rec in itertools.pairwise(log):
        assert rec.before == prev.after
    for rec in log:
        assert rec.after == rec.graph.stats() and rec.seconds >= 0
    assert len(log.graphs()) == len(log) + 1
    assert log.by_name("cse") == [r for r in log if r.name == "cse"] and len(log.by_name("cse")) == 2
    # The optimized program still computes the inverse's trajectory.
    assert_same_outputs(prog.graph_before, prog.graph, [A], steps=20)
    out = prog.run(t=0.02).output
    ref = spikec.compile(_inverse, passes=[]).trace(A).run(t=0.02).output
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)


def test_pass_table():
    A = np.random.RandomState(0).randn(3, 3)
    prog = spikec.compile(_inverse).trace(A)
    table = prog.pass_report(lowered=False)
    assert table == str(prog.pass_log) == prog.pass_log.table()
    lines = table.splitlines()
    for column in ("pass", "ops", "nonlinear units", "nodes", "edges", "neurons", "projections", "weights",
                   "time (ms)"):
        assert column in lines[0]
    assert lines[2].startswith("(initial)")
    assert [line.split()[0] for line in lines[3:3 + len(prog.pass_log)]] == list(DEFAULT_PIPELINE)
    assert lines[-1].startswith(f"{len(prog.pass_log)} passes")
    row = lines[2 + len(prog.pass_log)].split()  # after the last pass
    final = prog.graph.stats()
    assert row[1:5] == [str(final.nodes - final.kinds["source"]), str(final.nonlinear_units),
                        str(final.nodes), str(final.edges)]
    assert row[5:8] == ["-", "-", "-"]  # filled in only by lowering
    lowered = prog.pass_report().splitlines()[2 + len(prog.pass_log)].split()
    net = prog.netlist.stats()
    assert lowered[5:8] == [str(net.neurons), str(net.projections), str(net.nonzero_weights)]


def test_pass_log_lowering_columns():
    prog = spikec.compile(_inverse).trace(np.eye(2))

    def measure(graph):
        if any(n.op == "matmul" for n in graph):
            raise ValueError("not lowerable")
        return {"neurons": 2 * graph.stats().nonlinear_units, "projections": 7, "nonzero_weights": 99}

    log = prog.pass_log.annotate(measure)
    assert log.lowered_before == {}
    first = log.by_name("expand_bilinear")[0]  # the first pass after which the graph is lowerable
    assert first.lowered == {"neurons": 2 * first.after.nonlinear_units, "projections": 7,
                             "nonzero_weights": 99}
    last = log.table().splitlines()[2 + len(log)].split()
    assert last[5:8] == [str(2 * prog.graph.stats().nonlinear_units), "7", "99"]
    assert log.table().splitlines()[2].split()[5:8] == ["-", "-", "-"]


def test_compile_option_chooses_passes():
    def f(x, y):
        return x * y + y * x

    x, y = np.ones(3), np.arange(3.0)
    prog = spikec.compile(passes=["cse"])(f).trace(x, y)
    assert [r.name for r in prog.pass_log] == ["cse"]
    assert ops(prog.graph)["mul"] == 1
    none = spikec.compile(f, passes=[]).trace(x, y)
    assert none.graph is none.graph_before and len(none.pass_log) == 0
    assert "(initial)" in none.pass_report()
    custom = spikec.compile(f, passes=[eliminate_common_subexpressions, ("budget", {"accuracy": 0.1})]).trace(x, y)
    assert [r.name for r in custom.pass_log] == ["cse", "budget"]
    assert custom.pass_log[1].options == {"accuracy": 0.1}


def test_pass_manager_errors():
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        PassManager(["nope"])
    with pytest.raises(TypeError):
        PassManager([42])
    graph = traced(lambda x: np.exp(x), np.ones(2))
    with pytest.raises(TypeError, match="not a Graph"):
        PassManager([lambda g: None]).run(graph)
    broken = lambda g: g.replace(outputs=[999])
    with pytest.raises(RuntimeError, match="invalid graph"):
        PassManager([broken]).run(graph)
    assert PassManager(["eliminate_dead_code"]).names == ["dce"]
    assert PassManager("cse").names == ["cse"]


def test_pipelines():
    # hoist_gram rewrites matmul chains, so it comes before expand_bilinear turns them into mul units
    assert DEFAULT_PIPELINE[:2] == ("hoist_gram", "expand_bilinear") and LOWERING_PIPELINE[0] == "expand_bilinear"
    assert set(DEFAULT_PIPELINE) == set(PASSES) - {"budget", "factor_scales"}  # budget and factor_scales are opt-in
    for name, fn in PASSES.items():
        assert fn.__doc__ and "Preserves" in fn.__doc__, name


# -- common subexpressions ----------------------------------------------------------------------


def test_cse_merges_commutative_products():
    graph = traced(lambda x, y: (x * y, y * x, x + y, y + x, x - y, y - x), np.ones(3), np.ones(3))
    assert ops(graph)["mul"] == 2
    out = eliminate_common_subexpressions(graph)
    assert ops(out)["mul"] == 1 and ops(out)["add"] == 1 and ops(out)["sub"] == 2
    assert out.outputs[0] == out.outputs[1] and out.outputs[2] == out.outputs[3]
    assert out.outputs[4] != out.outputs[5]
    assert out.stats().nonlinear_units == 3


def test_cse_merges_chains_and_constants():
    def f(x):
        return np.exp(2.0 * x + 1.0), np.exp(2.0 * x + 1.0) * np.exp(2.0 * x + 1.0)

    graph = traced(f, np.ones(4))
    out = eliminate_common_subexpressions(graph)
    assert ops(out)["exp"] == 1 and ops(out)["scale"] == 1 and ops(out)["offset"] == 1
    assert_same_outputs(graph, out, [np.linspace(0, 1, 4)])


def test_cse_merges_identical_recurrences_only():
    def f(x):
        a = spikec.integrate(lambda s: -s + np.tanh(x), x0=np.zeros(3))
        b = spikec.integrate(lambda s: -s + np.tanh(x), x0=np.zeros(3))
        c = spikec.integrate(lambda s: -s + np.tanh(x), x0=np.ones(3))  # other start
        d = spikec.integrate(lambda s: -2 * s + np.tanh(x), x0=np.zeros(3))  # other dynamics
        return a, b, c, d

    x = np.array([0.5, -1.0, 2.0])
    graph = traced(f, x)
    out = eliminate_common_subexpressions(graph)
    assert ops(graph)["filter"] == 4 and ops(out)["filter"] == 3
    assert ops(out)["tanh"] == 1
    assert out.outputs[0] == out.outputs[1]
    assert len(set(out.outputs)) == 3
    assert_same_outputs(graph, out, [x], steps=20)


def test_cse_keeps_recurrences_driven_differently():
    def f(x, y):
        return (spikec.integrate(lambda s: -s + x, x0=np.zeros(2)),
                spikec.integrate(lambda s: -s + y, x0=np.zeros(2)))

    graph = traced(f, np.ones(2), np.ones(2))
    out = eliminate_common_subexpressions(graph)
    assert ops(out)["filter"] == 2 and out.outputs[0] != out.outputs[1]


# -- dead code ------------------------------------------------------------------------------------


def test_dce_removes_unused_branches():
    def f(x, unused):
        np.exp(x) * 3.0  # computed, never used
        spikec.integrate(lambda s: -s + x, x0=np.zeros(2))  # a dead recurrence
        kept = spikec.integrate(lambda s: -s + np.tanh(x), x0=np.zeros(2))
        return kept * 2.0

    graph = traced(f, np.ones(2), np.ones(2))
    out = eliminate_dead_code(graph)
    assert "exp" not in ops(out)
    assert ops(out)["filter"] == 1 and ops(out)["tanh"] == 1  # the state keeps its driver alive
    assert [out[i].name for i in out.inputs] == ["x", "unused"]  # the signature stays
    assert len(out) < len(graph)
    assert_same_outputs(graph, out, [np.ones(2), np.zeros(2)], steps=10)


# -- constants ----------------------------------------------------------------------------------------


def test_fold_constants():
    b = GraphBuilder("folds")
    x = input_node(b, (3,), 0)
    c = b.add("const", (), {"value": ConstArray(np.array([1.0, 2.0, 3.0]))}).id
    e = b.add("exp", [c]).id
    s = b.add("sum", [e], {"axis": None, "keepdims": False}).id
    prod = b.add("mul", [x, e]).id  # signal * constant: linear
    ratio = b.add("div", [x, c]).id
    one = b.add("scale", [x], {"c": ConstArray(np.ones(3))}).id
    zero = b.add("offset", [x], {"c": ConstArray(0.0)}).id
    keep = b.add("scale", [x], {"c": ConstArray(np.ones((2, 3)))}).id  # broadcasts: not an identity
    mm = b.add("matmul", [c, b.add("reshape", [x], {"shape": (3, 1)}).id]).id
    graph = b.build([x], [s, prod, ratio, one, zero, keep, mm])
    out = fold_constants(graph)
    assert not any(get_op(n.op).is_nonlinear for n in out)
    assert out[out.outputs[0]].op == "const"
    np.testing.assert_allclose(out[out.outputs[0]].attrs["value"].value, np.exp([1.0, 2.0, 3.0]).sum())
    assert out.outputs[3] == out.outputs[4] == out.inputs[0]
    assert out[out.outputs[5]].op == "scale"
    assert out[out.outputs[6]].op == "matmul_const"
    assert_same_outputs(graph, eliminate_dead_code(out), [np.array([0.5, -1.0, 2.0])])


def test_fold_constants_leaves_state_and_non_finite_values():
    b = GraphBuilder("g")
    x = input_node(b, (2,), 0)
    c = b.add("const", (), {"value": ConstArray(np.array([-1.0, 1.0]))}).id
    bad = b.add("log", [c]).id  # nan: left for the user to see
    state = b.add("filter", [c], {"synapse": spikec.Lowpass(0.01), "x0": None}).id
    graph = b.build([x], [bad, state])
    out = fold_constants(graph)
    assert ops(out)["log"] == 1 and ops(out)["filter"] == 1


# -- identities -------------------------------------------------------------------------------------


def test_remove_identities():
    b = GraphBuilder("ids")
    x = input_node(b, (2, 3), 0)
    r = b.add("reshape", [x], {"shape": (2, 3)}).id
    t = b.add("transpose", [r], {"axes": (0, 1)}).id
    g = b.add("getitem", [t], {"index": (("slice", None, None, None), ("slice", 0, 3, 1))}).id
    cat = b.add("concatenate", [g], {"axis": 0}).id
    bc = b.add("broadcast_to", [cat], {"shape": (2, 3)}).id
    tt = b.add("transpose", [b.add("transpose", [bc], {"axes": (1, 0)}).id], {"axes": (1, 0)}).id
    nn = b.add("neg", [b.add("neg", [tt]).id]).id
    sm = b.add("sum", [b.add("reshape", [nn], {"shape": (2, 1, 3)}).id], {"axis": (1,), "keepdims": False}).id
    expand = b.add("getitem", [sm], {"index": (("none",), ("ellipsis",))}).id  # x[None]: a reshape
    graph = b.build([x], [sm, expand])
    out = eliminate_dead_code(remove_identities(graph))  # bypassed nodes are left for dce
    assert out.outputs[0] == out.inputs[0]
    assert ops(out) == {"input": 1, "reshape": 1}
    assert_same_outputs(graph, out, [np.arange(6.0).reshape(2, 3)])


def test_remove_identities_composes_transposes():
    graph = traced(lambda x: np.exp(np.transpose(np.transpose(x, (1, 2, 0)), (1, 2, 0))), np.ones((2, 3, 4)))
    out = eliminate_dead_code(remove_identities(graph))
    assert ops(out)["transpose"] == 1
    assert_same_outputs(graph, out, [np.random.RandomState(0).randn(2, 3, 4)])


def test_identity_names_move_to_replacement():
    b = GraphBuilder("names")
    x = input_node(b, (2,), 0)
    e = b.add("exp", [x]).id
    r = b.add("reshape", [e], {"shape": (2,)}, name="probe").id
    graph = b.build([x], [r])
    out = remove_identities(graph)
    assert out[out.outputs[0]].op == "exp" and out[out.outputs[0]].name == "probe"


# -- linear fusion -----------------------------------------------------------------------------------


def test_fuse_linear_chain_of_five_becomes_one():
    def f(x):
        y = np.transpose(x.reshape(2, 3)) * 2.0   # reshape, transpose, scale
        return (y + 1.0)[::-1].sum(axis=0)         # offset, getitem, sum

    graph = traced(f, np.ones(6))
    linear_before = [n for n in graph if get_op(n.op).is_linear]
    assert len(linear_before) >= 5
    out = fuse_linear(graph)
    linear_after = [n for n in out if get_op(n.op).is_linear]
    assert len(linear_after) == 1 and linear_after[0].op == "affine"
    assert_same_outputs(graph, out, [np.linspace(-1, 1, 6)], rtol=1e-12, atol=1e-12)


def test_fuse_linear_trees_between_nonlinear_nodes():
    def f(x, y):
        a, b = np.tanh(x), np.exp(y)
        mixed = (a.reshape(2, 2) @ np.array([[1.0, 2.0], [3.0, 4.0]])).ravel() - 0.5 * b[::-1] + np.ones(4)
        return np.sin(mixed), a

    x, y = np.linspace(-1, 1, 4), np.linspace(0, 1, 4)
    graph = traced(f, x, y)
    out = fuse_linear(graph)
    sin = next(n for n in out if n.op == "sin")
    fused = out[sin.inputs[0]]
    assert fused.op == "affine" and {out[i].op for i in fused.inputs} == {"tanh", "exp"}
    assert fused.attrs["bias"] is not None
    assert_same_outputs(graph, out, [x, y])


def test_fuse_linear_keeps_shared_and_narrow_values():
    # A linear value read by two consumers stays one value.
    def f(x):
        s = (x * 2.0).sum()
        return np.exp(s + 1.0), np.sin(s - 1.0)

    out = fuse_linear(traced(f, np.ones(3)))
    assert sum(get_op(n.op).is_linear for n in out) == 3
    # A (3, 3) matmul result broadcast into the next product's (3, 3, 3) units is kept, not
    # multiplied into 27x27 weights.
    A = np.random.RandomState(1).randn(3, 3)
    graph, _ = run_passes(traced(_inverse, A))
    for node in graph:
        if node.op == "affine":
            assert all(w.nnz <= 27 for w in node.attrs["weights"]), node


def test_fuse_linear_identity_collapses():
    graph = traced(lambda x: np.exp(x.reshape(3, 2).T.T.reshape(6)), np.ones(6))
    out = fuse_linear(graph)
    exp = next(n for n in out if n.op == "exp")
    assert out[exp.inputs[0]].op == "input"


# -- bilinear expansion ------------------------------------------------------------------------------


@pytest.mark.parametrize("n,m,k", [(2, 3, 4), (3, 1, 2), (4, 4, 4)])
def test_expand_bilinear_matmul(n, m, k):
    rng = np.random.RandomState(0)
    graph = traced(lambda x, y: x @ y, rng.randn(n, m), rng.randn(m, k))
    out = expand_bilinear(graph)
    muls = [node for node in out if node.op == "mul"]
    assert "matmul" not in ops(out) and len(muls) == 1
    assert muls[0].shape == (n, m, k) and muls[0].size == n * m * k
    assert out.stats().nonlinear_units == graph.stats().nonlinear_units == n * m * k
    assert all(out[i].shape == (n, m, k) for i in muls[0].inputs)
    assert_same_outputs(graph, out, [rng.randn(n, m), rng.randn(m, k)])


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3, 4)),
                                    ((3,), (2, 3, 4)), ((1, 2, 3), (5, 3, 2))])
def test_expand_bilinear_matmul_shapes(shapes):
    rng = np.random.RandomState(1)
    xs = [rng.randn(*s) for s in shapes]
    graph = traced(lambda x, y: x @ y, *xs)
    out = expand_bilinear(graph)
    assert ops(out)["mul"] == 1 and "matmul" not in ops(out)
    assert out.stats().nonlinear_units == graph.stats().nonlinear_units
    assert_same_outputs(graph, out, xs)


@pytest.mark.parametrize("subscripts,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,kj", [(2, 3), (4, 3)]), ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]), ("ii,i->i", [(3, 3), (3,)]), ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("bij,bjk->bki", [(2, 2, 3), (2, 3, 2)]),
])
def test_expand_bilinear_einsum(subscripts, shapes):
    rng = np.random.RandomState(2)
    xs = [rng.randn(*s) for s in shapes]
    graph = traced(lambda x, y: np.einsum(subscripts, x, y), *xs)
    out = expand_bilinear(graph)
    assert "einsum_bilinear" not in ops(out) and ops(out)["mul"] == 1
    assert out.stats().nonlinear_units == graph.stats().nonlinear_units
    assert_same_outputs(graph, out, xs)


def test_expand_bilinear_einsum_with_constant_operand():
    rng = np.random.RandomState(3)
    C = rng.randn(3, 2)
    xs = [rng.randn(4, 3), rng.randn(2)]
    graph = traced(lambda x, y: np.einsum("ij,jk,k->i", x, C, y), *xs)
    out = expand_bilinear(graph)
    assert ops(out)["mul"] == 1 and ops(out)["scale"] == 1
    assert_same_outputs(graph, out, xs)


def test_expand_bilinear_div_square_and_broadcast():
    def f(x, y):
        return x / (1.0 + y * y), x[:, None] * y[None, :], x * x

    xs = [np.array([1.0, -2.0, 0.5]), np.array([0.3, 2.0, -1.0])]
    graph = traced(f, *xs)
    out = expand_bilinear(graph)
    assert "div" not in ops(out) and ops(out)["reciprocal"] == 1
    assert ops(out)["square"] == 2 and ops(out)["mul"] == 2
    for node in out:
        if node.op == "mul":
            assert all(out[i].shape == node.shape for i in node.inputs)
    assert_same_outputs(graph, out, xs, rtol=1e-12)


def test_expand_bilinear_constant_operand_is_linear():
    b = GraphBuilder("g")
    x = input_node(b, (2, 3), 0)
    c = b.add("const", (), {"value": ConstArray(np.arange(6.0).reshape(3, 2))}).id
    mm = b.add("matmul", [x, c]).id
    graph = b.build([x], [mm])
    out = expand_bilinear(graph)
    assert out[out.outputs[0]].op == "matmul_const" and out.stats().nonlinear_units == 0
    assert_same_outputs(graph, out, [np.arange(6.0).reshape(2, 3)])


# -- merging units ----------------------------------------------------------------------------------


def test_merge_units_merges_independent_nodes():
    def f(x, y):
        a = np.exp(x)              # depth 1
        b = np.exp(y.reshape(2, 2))  # depth 1, independent of a
        c = np.exp(a[:2] * 0.5)    # depth 2: depends on a, must stay apart
        return a, b, c

    xs = [np.linspace(-1, 1, 3), np.linspace(0, 1, 4)]
    graph = traced(f, *xs)
    out = merge_units(graph)
    exps = [n for n in out if n.op == "exp"]
    assert len(exps) == 2 and sorted(n.size for n in exps) == [2, 7]
    assert out.stats().nonlinear_units == graph.stats().nonlinear_units
    depth = nonlinear_depth(out)
    assert len({depth[n.id] for n in exps}) == 2
    assert_same_outputs(graph, out, xs, rtol=0, atol=0)


def test_merge_units_merges_products_and_respects_attributes():
    def f(x, y):
        return (x * y, (x + 1.0) * (y - 1.0), np.clip(x, -1, 1), np.clip(y, -1, 1), np.clip(x, 0, 1),
                spikec.integrate(lambda s: -s + np.tanh(s) * x, x0=np.ones(3)))

    xs = [np.array([0.5, 2.0, -3.0]), np.array([1.0, -0.5, 0.25])]
    graph = traced(f, *xs)
    out = merge_units(graph)
    # The two products of depth 1 merge; tanh(s) * x (depth 2) stays apart; clips differ in bounds.
    assert ops(out)["mul"] == 2 and ops(out)["clip"] == 2 and ops(out)["tanh"] == 1
    assert_same_outputs(graph, out, xs, steps=10, rtol=0, atol=0)


def test_merge_units_never_creates_algebraic_loops():
    # a feeds b's operand only through a state: merging them is allowed; the graph stays valid.
    def f(x):
        a = np.tanh(x)
        s = spikec.filter(a, 0.01)
        b = np.tanh(s * 2.0)
        return a, b

    graph = traced(f, np.ones(2))
    out = merge_units(graph)
    out.validate()
    assert ops(out)["tanh"] == 1
    assert_same_outputs(graph, out, [np.array([0.2, -0.4])], steps=10)


# -- budget -----------------------------------------------------------------------------------------------


def test_budget_tunes_nonlinear_units():
    graph, _ = run_passes(traced(lambda x, y: (np.exp(x), x * y), np.ones(3), np.ones(3)),
                          [p for p in DEFAULT_PIPELINE if p != "budget"])
    coarse, fine = budget(graph, accuracy=0.1), budget(graph, accuracy=0.01)
    for out in (coarse, fine):
        for node in out:
            assert ("tuning" in node.attrs) == get_op(node.op).is_nonlinear
    n = {node.op: node.attrs["tuning"]["n_neurons"] for node in coarse if "tuning" in node.attrs}
    n_fine = {node.op: node.attrs["tuning"]["n_neurons"] for node in fine if "tuning" in node.attrs}
    assert n["mul"] == 2 * n["exp"] and all(n_fine[k] > n[k] for k in n)
    for node in fine:
        if "tuning" in node.attrs:
            assert node.attrs["tuning"]["predicted_error"] <= 0.01
    assert_same_outputs(graph, fine, [np.ones(3), np.arange(3.0)])

    spikes = budget(graph, spikes=60_000.0, max_rate=100.0)
    total = sum(node.attrs["tuning"]["n_neurons"] * get_op(node.op).count_units(node, [spikes[i].shape for i in
                node.inputs]) for node in spikes if "tuning" in node.attrs)
    assert 0.9 * 60_000 / 50.0 <= total <= 60_000 / 50.0
    with pytest.raises(ValueError):
        budget(graph, accuracy=0.1, spikes=10.0)


# -- linear maps ----------------------------------------------------------------------------------------


def _linear_nodes_of(graph):
    for node in graph:
        if get_op(node.op).is_linear:
            yield node, [graph[i].shape for i in node.inputs]


@settings(max_examples=40)
@given(program=any_programs, seed=st.integers(0, 2**31 - 1))
def test_linear_map_matches_reference(program, seed):
    fn, inputs = program
    graph = expand_bilinear(traced(fn, *inputs))  # adds broadcast_to, reshape, einsum_linear, sum
    rng = np.random.RandomState(seed)
    for node, shapes in _linear_nodes_of(graph):
        weights, bias = linear_map(node, shapes)
        xs = [rng.randn(*s) for s in shapes]
        ref = np.ravel(get_op(node.op).reference(node.attrs, *xs))
        got = sum((w @ np.ravel(x) for w, x in zip(weights, xs)), bias)
        for w, s in zip(weights, shapes):
            assert isinstance(w, scipy.sparse.csr_array) and w.shape == (node.size, math.prod(s))
        if node.op in ("reshape", "transpose", "getitem", "broadcast_to", "flip", "concatenate", "stack",
                       "select"):
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_linear_map_of_each_kind():
    rng = np.random.RandomState(0)
    C = rng.randn(3, 4)
    cases = [
        ("matmul_const", {"c": ConstArray(C), "side": "left"}, [(4, 2)]),
        ("matmul_const", {"c": ConstArray(C), "side": "right"}, [(2, 3)]),
        ("matmul_const", {"c": ConstArray(C), "side": "left"}, [(4,)]),
        ("matmul_const", {"c": ConstArray(C[0]), "side": "right"}, [(5, 4)]),
        ("matmul_const", {"c": ConstArray(rng.randn(2, 3, 4)), "side": "left"}, [(4, 2)]),  # batched: probed
        ("einsum_linear", {"subscripts": "ij,jk->ki", "consts": (ConstArray(C), None)}, [(4, 2)]),
        ("mean", {"axis": (0, 2), "keepdims": True}, [(2, 3, 4)]),
        ("sum", {"axis": None, "keepdims": False}, [(2, 3)]),
        ("select", {"cond": ConstArray(np.array([True, False, True]))}, [(2, 3), (3,)]),
        ("stack", {"axis": 1}, [(2,), (2,), (2,)]),
        ("offset", {"c": ConstArray(rng.randn(2, 1))}, [(3,)]),
        ("scale", {"c": ConstArray(np.array([0.0, 2.0]))}, [(3, 1)]),
        ("sub", {}, [(2, 1), (3,)]),
        ("neg", {}, [()]),
    ]
    for op, attrs, shapes in cases:
        attrs = Attrs(attrs)
        shape = get_op(op).infer_shape(attrs, *shapes)
        node = Node(9, op, tuple(range(len(shapes))), shape, attrs)
        weights, bias = linear_map(node, shapes)
        xs = [rng.randn(*s) for s in shapes]
        got = sum((w @ np.ravel(x) for w, x in zip(weights, xs)), bias)
        np.testing.assert_allclose(got, np.ravel(get_op(op).reference(attrs, *xs)), rtol=1e-12, atol=1e-12,
                                   err_msg=op)
        for w in weights:
            assert not np.any(w.data == 0), f"{op}: explicit zeros"
    with pytest.raises(TypeError):
        linear_map(Node(1, "exp", (0,), (2,)), [(2,)])


def test_linear_map_is_fast_for_30x30():
    C = np.random.RandomState(0).randn(30, 30)
    cases = [
        ("matmul_const", {"c": ConstArray(C), "side": "left"}, [(30, 30)]),
        ("matmul_const", {"c": ConstArray(C), "side": "right"}, [(30, 30)]),
        ("transpose", {"axes": (1, 0)}, [(30, 30)]),
        ("getitem", {"index": (("slice", None, None, -1), ("int", 3))}, [(30, 30)]),
        ("broadcast_to", {"shape": (30, 30, 30)}, [(30, 1, 30)]),
        ("sum", {"axis": (1,), "keepdims": False}, [(30, 30, 30)]),
        ("scale", {"c": ConstArray(C)}, [(30, 30)]),
        ("add", {}, [(30, 30), (30,)]),
        ("concatenate", {"axis": 1}, [(30, 15), (30, 15)]),
    ]
    for op, attrs, shapes in cases:
        attrs = Attrs(attrs)
        node = Node(9, op, tuple(range(len(shapes))), get_op(op).infer_shape(attrs, *shapes), attrs)
        start = time.perf_counter()
        linear_map(node, shapes)
        assert time.perf_counter() - start < 0.05, op
    einsum = Node(9, "einsum_linear", (0,), (30, 30),
                  Attrs(subscripts="ij,jk->ik", consts=(ConstArray(C), None)))
    start = time.perf_counter()
    (w,), _ = linear_map(einsum, [(30, 30)])
    assert time.perf_counter() - start < 0.5 and w.nnz == 27000


# -- the affine op and its weights ------------------------------------------------------------------


def test_affine_op_and_sparse_weights():
    w0 = SparseConst(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    w1 = SparseConst(scipy.sparse.coo_array(([1.0, 0.0, 1.0], ([0, 1, 1], [0, 0, 0])), shape=(3, 1)))
    assert w1 == SparseConst(np.array([[1.0], [1.0], [0.0]])) and w1.nnz == 2 and w0 != w1
    assert hash(w1) == hash(SparseConst(np.array([[1.0], [1.0], [0.0]])))
    assert pickle.loads(pickle.dumps(w0)) == w0
    with pytest.raises(ValueError):
        w0.matrix.data[0] = 5.0
    attrs = Attrs(weights=(w0, w1), bias=ConstArray(np.array([0.5, 0.0, -1.0])), shape=(3,))
    out = get_op("affine").reference(attrs, np.array([1.0, 2.0]), np.array(10.0))
    np.testing.assert_array_equal(out, [11.5, 14.0, 2.0])
    assert get_op("affine").infer_shape(attrs, (2,), ()) == (3,)
    with pytest.raises(ValueError):
        get_op("affine").infer_shape(attrs, (3,), ())
    node = Node(2, "affine", (0, 1), (3,), attrs)
    weights, bias = linear_map(node, [(2,), ()])
    np.testing.assert_array_equal(weights[0].toarray(), w0.toarray())
    np.testing.assert_array_equal(bias, [0.5, 0.0, -1.0])


def test_fuse_linear_cancellation_drops_the_operand():
    graph = traced(lambda x, y: np.exp((x * 2.0 + y) - (y + x * 2.0) + 1.0), np.ones(2), np.ones(2))
    out = eliminate_dead_code(fuse_linear(eliminate_common_subexpressions(graph)))
    exp = next(n for n in out if n.op == "exp")
    assert out[exp.inputs[0]].op == "const"
    assert_same_outputs(graph, out, [np.array([0.3, -2.0]), np.array([1.0, 5.0])])
