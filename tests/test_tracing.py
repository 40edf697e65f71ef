"""Tracing mechanics: arguments, outputs, graph structure, source locations."""

from __future__ import annotations

import os

import networkx as nx
import numpy as np
import pytest
from conftest import op_counts, run_reference

import spikec
from spikec.errors import ShapeError, TraceError
from spikec.ir import Attrs, Graph, GraphBuilder
from spikec.trace import Tracer

HERE = os.path.basename(__file__)


def trace(fn, *args, **kwargs):
    return spikec.compile(fn).trace(*args, **kwargs)


# =================================================================== arguments


def test_arrays_become_named_inputs_in_order():
    def fn(first, k, second, scale=2.0):
        return first * scale + second * k

    prog = trace(fn, np.ones((2, 3)), 3.0, np.zeros(3))
    assert prog.input_names == ["first", "second"]
    assert [s.shape for s in prog.inputs] == [(2, 3), (3,)]
    graph = prog.traced_graph
    assert [graph[i].name for i in graph.inputs] == ["first", "second"]
    assert [graph[i].attrs["index"] for i in graph.inputs] == [0, 1]
    assert op_counts(prog)["input"] == 2


def test_keyword_and_variadic_arguments():
    def fn(a, *rest, b=None, **extra):
        return a + sum(rest) + b + extra["c"]

    prog = trace(fn, np.ones(2), np.ones(2), np.ones(2), b=np.ones(2), c=np.ones(2))
    assert prog.input_names == ["a", "rest[0]", "rest[1]", "b", "c"]
    res = prog.run(t=0.002)
    np.testing.assert_array_equal(res.final, 5 * np.ones(2))


def test_zero_d_arrays_are_signals_scalars_are_static():
    prog = trace(lambda a, b, c: a * b * c, np.array(2.0), 3.0, np.float64(4.0))
    assert prog.input_names == ["a"]
    assert prog.inputs[0].shape == ()
    assert op_counts(prog) == {"input": 1, "scale": 2}
    np.testing.assert_allclose(prog.run(t=0.002).final, 24.0)


def test_lists_and_other_objects_pass_through():
    seen = {}

    def fn(a, weights, label):
        seen.update(weights=weights, label=label)
        return a @ np.asarray(weights)

    prog = trace(fn, np.ones(2), [[1.0, 2.0], [3.0, 4.0]], "hello")
    assert prog.input_names == ["a"]
    assert seen == {"weights": [[1.0, 2.0], [3.0, 4.0]], "label": "hello"}
    np.testing.assert_allclose(prog.run(t=0.002).final, [4.0, 6.0])


def test_const_marker_and_static_names():
    W = np.arange(6.0).reshape(2, 3)
    prog = trace(lambda x, w: x @ w, np.ones(2), spikec.const(W))
    assert prog.input_names == ["x"]
    assert op_counts(prog) == {"input": 1, "matmul_const": 1}
    f = spikec.compile(lambda x, w: x @ w, static=("w",))
    assert f.trace(np.ones(2), W).input_names == ["x"]
    with pytest.raises(TypeError, match="static"):
        spikec.compile(lambda x: x, static=("nope",))


def test_input_objects_become_inputs():
    prog = trace(lambda x: x * 2, spikec.Input((2, 2), lambda t: np.full((2, 2), t)))
    assert prog.inputs[0].shape == (2, 2)
    res = prog.run(t=0.003)
    np.testing.assert_allclose(res.output[:, 0, 0], 2 * res.t)
    assert "Input(shape=(2, 2)" in repr(prog.inputs[0].example)


def test_bad_call_signature():
    with pytest.raises(TypeError, match="missing"):
        trace(lambda a, b: a, np.ones(1))


def test_compiled_function_api():
    @spikec.compile
    def double(x):
        """Double it."""
        return 2 * x

    assert double.__doc__ == "Double it."
    assert double.__name__ == "double"
    assert "double" in repr(double)
    prog = double(np.ones(3))  # calling traces
    assert isinstance(prog, spikec.Program)
    assert "double(x[3])" in repr(prog)
    np.testing.assert_array_equal(double.run(np.ones(3), t=0.002).final, 2 * np.ones(3))

    @spikec.compile(name="renamed")
    def other(x):
        return x

    assert other.trace(np.ones(1)).traced_graph.name == "renamed"


# ===================================================================== outputs


def test_single_and_tuple_outputs():
    prog = trace(lambda a: a * 2, np.ones(2))
    assert prog.structure == "single" and len(prog.traced_graph.outputs) == 1
    prog = trace(lambda a: (a * 2, a + 1), np.ones(2))
    assert prog.structure == "tuple" and len(prog.traced_graph.outputs) == 2
    prog = trace(lambda a: [a, a], np.ones(2))
    assert prog.traced_graph.outputs == (prog.traced_graph.inputs[0],) * 2


def test_outputs_can_be_inputs_or_constants():
    res = run_reference(lambda a: (a, np.arange(3.0)), np.full(2, 5.0), steps=3)
    np.testing.assert_array_equal(res.outputs[0], np.full((3, 2), 5.0))
    np.testing.assert_array_equal(res.outputs[1], np.tile(np.arange(3.0), (3, 1)))


# =============================================================== graph structure


def test_ids_follow_creation_order_and_evaluation_order_is_topological():
    def fn(a, b):
        c = a * b
        d = np.tanh(c) + a
        return spikec.integrate(lambda x: d - x, x0=np.zeros(2))

    graph = trace(fn, np.ones(2), np.ones(2)).traced_graph
    ids = list(graph.nodes)
    assert ids == sorted(ids)
    order = graph.order
    assert sorted(order) == ids
    position = {n: i for i, n in enumerate(order)}
    for node in graph:
        if node.op != "filter":
            assert all(position[i] < position[node.id] for i in node.inputs)
    g = graph.nx
    assert isinstance(g, nx.MultiDiGraph)
    delayed = [(u, v) for u, v, d in g.edges(data=True) if d["delayed"]]
    assert len(delayed) == 1 and graph[delayed[0][1]].op == "filter"
    filt = graph[delayed[0][1]]
    assert graph.operands(filt)[0].op == "sub"
    assert [n.op for n in graph.consumers(filt.id)] == ["sub"]


def test_linear_no_ops_add_no_nodes():
    for fn in (lambda a: a * 1, lambda a: a + 0, lambda a: a - 0.0, lambda a: a / 1, lambda a: a.reshape(2, 3),
               lambda a: a.transpose(0, 1), lambda a: a[...], lambda a: +a, lambda a: np.copy(a), lambda a: a**1,
               lambda a: np.concatenate([a]), lambda a: a.astype(float), lambda a: np.flip(a, ())):
        assert op_counts(trace(fn, np.ones((2, 3)))) == {"input": 1}


def test_scaling_that_broadcasts_keeps_a_node():
    prog = trace(lambda a: a * np.ones((2, 3)), np.ones(3))
    assert prog.traced_graph[prog.traced_graph.outputs[0]].shape == (2, 3)


def test_source_locations_point_at_user_lines():
    def fn(a, b):
        c = np.dot(a, b)  # dispatched through NumPy's __array_function__
        d = np.exp(c)  # through __array_ufunc__
        return d @ b.T

    prog = trace(fn, np.ones((2, 2)), np.ones((2, 2)))
    first = fn.__code__.co_firstlineno
    locs = {node.op: node.loc for node in prog.traced_graph if node.op != "input"}
    assert locs["matmul"].lineno in (first + 1, first + 3)
    assert locs["exp"].lineno == first + 2
    assert locs["exp"].function == "fn"
    assert locs["exp"].line == "d = np.exp(c)  # through __array_ufunc__"
    assert os.path.basename(locs["exp"].filename) == HERE
    assert locs["exp"].short == f"{HERE}:{first + 2}"
    assert 'File "' in locs["exp"].describe() and "line" in locs["exp"].describe()


def test_loc_is_not_part_of_node_identity():
    def fn(a):
        x = a * 2
        y = a * 2
        return x, y

    graph = trace(fn, np.ones(2)).traced_graph
    n1, n2 = [n for n in graph if n.op == "scale"]
    assert n1.loc != n2.loc
    assert n1.key()[0:1] == n2.key()[0:1] and n1.key()[2:] == n2.key()[2:]


def test_validate_rejects_wrong_shapes_and_missing_nodes():
    b = GraphBuilder("g")
    x = b.add("input", attrs={"shape": (2,), "name": "x", "index": 0})
    y = b.add("neg", [x.id])
    graph = b.build([x.id], [y.id])
    bad = graph.replace(nodes=[x, y.replace(shape=(3,))])
    with pytest.raises(ShapeError, match="neg"):
        bad.validate()
    with pytest.raises(TraceError, match="missing"):
        graph.replace(nodes=[y]).validate()
    with pytest.raises(TraceError, match="missing"):
        graph.replace(outputs=[42]).validate()


def test_algebraic_loops_are_rejected():
    b = GraphBuilder("loop")
    x = b.add("input", attrs={"shape": (2,), "name": "x", "index": 0})
    n = b.add("neg", [x.id])
    m = b.add("add", [x.id, n.id])
    b.set_inputs(n.id, [m.id])  # neg reads add, add reads neg: no delay on the cycle
    with pytest.raises(TraceError, match="algebraic loop"):
        b.build([x.id], [m.id])


def test_graph_builder_infers_shapes_and_reports_errors():
    b = GraphBuilder()
    x = b.add("input", attrs={"shape": (2, 3), "name": "x", "index": 0})
    y = b.add("matmul_const", [x.id], {"c": np.ones((3, 4)), "side": "right"})
    assert y.shape == (2, 4)
    with pytest.raises(ShapeError) as info:
        b.add("matmul_const", [x.id], {"c": np.ones((4, 4)), "side": "right"}, display_op="matmul")
    assert info.value.op == "matmul" and info.value.shapes == [(2, 3)]
    with pytest.raises(TypeError, match="operands"):
        b.add("add", [x.id])
    assert isinstance(y.attrs, Attrs)


def test_graph_container_protocol():
    graph = trace(lambda a: a * 2, np.ones(2)).traced_graph
    assert isinstance(graph, Graph)
    assert len(graph) == 2 and graph.inputs[0] in graph
    assert [n.id for n in graph] == [0, 1]
    assert graph.input_nodes[0].op == "input" and graph.output_nodes[0].op == "scale"
    assert "2 nodes" in repr(graph)
    assert graph.replace(name="other").name == "other"


# ============================================================== trace contexts


def test_no_context_leaks_after_a_trace_or_an_error():
    assert spikec.trace.current() is None
    trace(lambda a: a, np.ones(1))
    assert spikec.trace.current() is None
    with pytest.raises(spikec.TracedControlFlowError):
        trace(lambda a: bool(a), np.ones(1))
    assert spikec.trace.current() is None


def test_a_trace_inside_a_trace_is_independent():
    inner = spikec.compile(lambda y: y * 3)

    def outer(x):
        prog = inner.trace(np.ones(2))  # traced on its own while the outer trace runs
        assert len(prog.traced_graph) == 2
        return x + 1

    prog = trace(outer, np.ones(2))
    assert op_counts(prog) == {"input": 1, "offset": 1}


def test_outer_tracer_inside_inner_trace_is_rejected():
    def outer(x):
        with pytest.raises(TraceError, match="escaped"):
            spikec.compile(lambda y: y + x).trace(np.ones(2))
        return x

    trace(outer, np.ones(2))


def test_tracer_basics():
    def fn(a):
        assert isinstance(a, Tracer)
        assert repr(a) == "Tracer(op=input, shape=(2, 3))"
        assert a.dtype == np.float64 and a.size == 6
        assert np.shape(a) == (2, 3) and np.ndim(a) == 2 and np.size(a) == 6
        assert hash(a) == hash(a)
        return a

    trace(fn, np.ones((2, 3)))


def test_tracing_is_deterministic():
    def fn(a, b):
        return np.tanh(a @ b) + spikec.integrate(lambda x: -x, x0=np.ones((2, 2)))

    t1 = str(trace(fn, np.ones((2, 2)), np.ones((2, 2))).traced_graph)
    t2 = str(trace(fn, np.ones((2, 2)), np.ones((2, 2))).traced_graph)
    assert t1 == t2
