"""hoist_gram: ``(s (M @ A) + C) @ R -> s M @ (A @ R) + C @ R`` when ``A`` and ``R`` read no state.

Oracle: the graph interpreter's NumPy reference of the traced graph (no passes), on inputs other than
the traced ones; and the count of product layers between the state and its update.
"""

from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.ir.interpret import simulate_graph
from spikec.passes import DEFAULT_PIPELINE, eliminate_dead_code, hoist_gram
from spikec.passes.rewrite import consumers_map

STEPS, DT = 40, 1e-3


def traced(fn, *args):
    return spikec.compile(fn, passes=[]).trace(*args).graph


def simulate(graph, inputs):
    arrays = [np.asarray(a, float) for a in inputs]
    return simulate_graph(graph, [lambda t, a=a: a for a in arrays], STEPS, DT)


def assert_same(before, after, inputs):
    for e, g in zip(simulate(before, inputs), simulate(after, inputs), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9 * (1 + np.abs(e).max()))


def products_in_loop(graph) -> int:
    """The most matmul/mul nodes on one path from the state to the state's update."""
    (state,) = [n for n in graph if n.op == "filter"]
    depth = {state.id: 0}
    for node_id in graph.order:
        node = graph[node_id]
        if node_id == state.id:
            continue
        reached = [depth[i] for i in node.inputs if i in depth]
        if reached:
            depth[node_id] = max(reached) + (node.op in ("matmul", "mul"))
    return depth[state.inputs[0]]


def inverse_adam(A, lr=0.03):
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T
    return spikec.integrate(lambda M: -gradient(M), x0=np.zeros(A.shape), synapse=spikec.Adam(lr=lr))


def euler(A):
    return spikec.integrate(lambda M: -50.0 * (0.5 * (M @ A) - np.ones(A.shape)) @ A.T, x0=np.zeros(A.shape))


@pytest.mark.parametrize("fn", [inverse_adam, euler])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_the_gradient_meets_one_product_layer_and_computes_the_same(fn, n):
    A0 = np.random.RandomState(0).randn(n, n)
    before = traced(fn, A0)
    after = hoist_gram(before)
    assert products_in_loop(before) == 2
    assert products_in_loop(after) == 1
    for seed in (1, 2):  # other inputs than the traced one: the rewrite holds for any A
        assert_same(before, after, [np.random.RandomState(seed).randn(n, n)])


def test_it_is_in_the_default_pipeline_and_keeps_the_neuron_count():
    A = np.random.RandomState(0).randn(4, 4)
    assert DEFAULT_PIPELINE[0] == "hoist_gram"
    prog = spikec.compile(inverse_adam).trace(A)
    plain = spikec.compile(inverse_adam, passes=[p for p in DEFAULT_PIPELINE if p != "hoist_gram"]).trace(A)
    assert products_in_loop(prog.graph) == 1 and products_in_loop(plain.graph) == 2
    assert prog.stats().neurons == plain.stats().neurons == 2 * 2 * 2 * 4**3  # n**3 products, 2 squares, 2 neurons each
    B = np.random.RandomState(3).randn(4, 4)
    np.testing.assert_allclose(prog.run(B, t=0.05).output, plain.run(B, t=0.05).output, rtol=1e-9, atol=1e-12)


def test_a_right_operand_that_reads_the_state_is_left_alone():
    def fn(A):
        return spikec.integrate(lambda M: -((M @ A - np.eye(2)) @ M), x0=np.eye(2))
    g = traced(fn, np.eye(2))
    assert hoist_gram(g) is g


def test_a_shared_inner_product_is_left_alone():
    """M @ A read elsewhere too: hoisting would compute it and M @ (A @ A.T) both."""
    def fn(A):
        M = spikec.integrate(lambda M: -((M @ A - np.eye(2)) @ A.T), x0=np.zeros((2, 2)))
        return M
    g = traced(fn, np.eye(2))
    cons = consumers_map(g)
    (inner,) = [n for n in g if n.op == "matmul" and g[n.inputs[0]].op == "filter"]
    assert len(cons[inner.id]) == 1  # the plain case is rewritten ...
    assert hoist_gram(g) is not g

    def shared(A):
        box = {}

        def step(M):
            box["MA"] = M @ A
            return -((box["MA"] - np.eye(2)) @ A.T) - 0.1 * box["MA"]
        return spikec.integrate(step, x0=np.zeros((2, 2)))
    g = traced(shared, np.eye(2))
    assert hoist_gram(g) is g  # ... one whose M @ A has a second reader is not


def test_products_of_inputs_only_are_left_alone():
    """No state on the left: nothing leaves a loop, so the graph is kept as written."""
    def fn(A, B):
        return (A @ B + 1.0) @ A.T
    g = traced(fn, np.eye(2), np.eye(2))
    assert hoist_gram(g) is g


def test_source_lines_and_configure_settings_survive():
    def fn(A):
        with spikec.configure(max_rate=500.0):
            return spikec.integrate(lambda M: -2 * (M @ A - np.eye(2)) @ A.T, x0=np.zeros((2, 2)))
    after = eliminate_dead_code(hoist_gram(traced(fn, np.eye(2))))
    new = [n for n in after if n.op in ("matmul", "matmul_const")]
    assert len(new) == 3  # A @ A.T, M @ (A @ A.T) and (-I) @ A.T
    assert all(n.loc is not None and "test_hoist_gram.py" in str(n.loc) for n in new)
    assert all(dict(n.config).get("max_rate") == 500.0 for n in new)


def test_a_one_element_scale_of_any_ndim_is_a_scalar():
    """A scale by a (1, 1) constant between the products (found by hypothesis): rewritten, same values."""
    def fn(A):
        return spikec.integrate(lambda M: -0.01 * ((np.ones((1, 1)) * (M @ A)) @ A.T), x0=np.eye(2))
    A = np.array([[1.0, 0.2], [0.1, 0.9]])
    g = traced(fn, A)
    out = hoist_gram(g)
    assert out is not g
    assert_same(g, out, [np.array([[0.7, -0.3], [0.4, 1.2]])])
