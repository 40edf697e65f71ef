"""The graph listing, DOT export, statistics, and value identity of IR objects."""

from __future__ import annotations

import itertools
import os
import re

import numpy as np
import pytest

import spikec
from spikec.ir import Attrs, ConstArray, GraphBuilder, IndexArray, Node, get_op
from spikec.ir.attrs import freeze
from spikec.ir.printer import fresh_names, node_names

HERE = os.path.basename(__file__)

with open(__file__) as _f:
    _SOURCE = _f.read().splitlines()


def line_of(tag: str) -> int:
    """Line number of the line ending in ``# LINE:tag`` in this file."""
    (line,) = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(f"# LINE:{tag}")]
    return line


def settle(A, b):
    x = spikec.integrate(lambda x: b - A @ x, x0=np.zeros(2))  # LINE:integrate
    return np.tanh(x) * 2.0  # LINE:return


@pytest.fixture(scope="module")
def prog():
    return spikec.compile(settle).trace(np.eye(2), np.ones(2))


# ======================================================================= listing

LINE = re.compile(r"^  (?P<name>[a-z]+):\[(?P<shape>[\d,]*)\] = (?P<op>\w+)(?P<attrs>\[.*\])?"
                  r"(?P<operands>(?: [A-Za-z]+\^?)*)\s+# (?P<loc>\S+)$")


def test_listing_header_and_one_line_per_op(prog):
    text = str(prog.traced_graph)
    lines = text.splitlines()
    assert lines[0] == "program settle(A:[2,2], b:[2]) -> (f)"
    body = [line for line in lines[1:] if not line.startswith("  (^")]
    assert len(body) == len(prog.traced_graph) - len(prog.traced_graph.inputs)
    assert text == prog.traced_graph.pretty()
    # the optimized graph, then one line saying which values the inputs may take
    assert str(prog) == f"{prog.graph}\ndomain: A, b: the traced example's neighbourhood (no domain declared; " \
        "units are tuned to the example and may be wrong on other inputs)"


def test_listing_lines(prog):
    lines = str(prog.traced_graph).splitlines()[1:-1]
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    ops = [m["op"] for m in parsed]
    assert ops == ["filter", "matmul", "sub", "tanh", "scale"]
    # Fresh names: unique, never an argument name, in creation order a, c, d, ... (b is taken).
    names = [m["name"] for m in parsed]
    assert names == ["a", "c", "d", "e", "f"]
    assert [m["shape"] for m in parsed] == ["2"] * 5
    assert parsed[0]["attrs"] == "[synapse=Integrator, x0=[0.,0.]]"
    assert parsed[1]["operands"] == " A a"
    assert parsed[4]["attrs"] == "[c=2.]"
    locs = [m["loc"] for m in parsed]
    assert locs == [f"{HERE}:{line_of('integrate')}"] * 3 + [f"{HERE}:{line_of('return')}"] * 2
    # Locations line up in one column.
    assert len({line.index("#") for line in lines}) == 1


def test_recurrence_marker(prog):
    lines = str(prog.traced_graph).splitlines()
    assert lines[1].split("#")[0].rstrip().endswith(" d^")  # filter reads d from the previous step
    assert lines[-1] == "  (^ = operand from the previous time step: a recurrence)"
    plain = str(spikec.compile(lambda x: x * 2).trace(np.ones(2)).traced_graph)
    assert "^" not in plain and "recurrence" not in plain


def test_filter_of_an_earlier_node_has_no_marker():
    text = str(spikec.compile(lambda x: spikec.filter(x, 0.01)).trace(np.ones(2)).traced_graph)
    assert "^" not in text
    assert "filter[synapse=Lowpass(tau=0.01)] x" in text  # an unset x0 is not shown


def test_listing_without_locations(prog):
    text = prog.traced_graph.pretty(show_loc=False)
    assert "#" not in text
    assert len(text.splitlines()) == len(str(prog.traced_graph).splitlines())


def test_shapes_in_listing():
    prog = spikec.compile(lambda x: (x.sum(), x[None], x.reshape(3, 2, 1))).trace(np.ones((2, 3)))
    text = str(prog.traced_graph)
    assert "program <lambda>(x:[2,3])" in text
    for shape in ("[]", "[1,2,3]", "[3,2,1]"):
        assert re.search(r"^  \w+:" + re.escape(shape) + " = ", text, re.M), (shape, text)


def test_constants_are_shown_compactly():
    big = np.eye(8)
    prog = spikec.compile(lambda x: (x @ big, x * np.full(8, 3.0), x + np.arange(8.0))).trace(np.ones(8))
    text = str(prog.traced_graph)
    assert "c=eye(8)" in text
    assert "c=full((8,), 3)" in text
    assert "c=<float64[8]>" in text


def test_fresh_names():
    assert list(itertools.islice(fresh_names(set()), 28))[-3:] == ["z", "ba", "bb"]
    names = list(itertools.islice(fresh_names({"a", "c", "ba"}), 30))
    assert names[:3] == ["b", "d", "e"]
    assert "ba" not in names and "aa" not in names
    assert len(set(names)) == len(names)


def test_many_nodes_get_unique_names():
    def chain(x):
        for _ in range(60):
            x = np.tanh(x)
        return x

    prog = spikec.compile(chain).trace(np.ones(1))
    names = node_names(prog.traced_graph)
    assert len(set(names.values())) == len(prog.traced_graph)
    assert names[prog.traced_graph.inputs[0]] == "x"


def test_unusable_argument_names_get_fresh_names():
    prog = spikec.compile(lambda *xs: xs[0] + xs[1]).trace(np.ones(2), np.ones(2))
    assert prog.input_names == ["xs[0]", "xs[1]"]
    header = str(prog.traced_graph).splitlines()[0]
    assert header == "program <lambda>(a:[2], b:[2]) -> (c)"


# =========================================================================== DOT

NODE_STMT = re.compile(r'^  n(\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE_STMT = re.compile(r"^  n(\d+) -> n(\d+)(?: \[(.*)\])?;$")


def _parse_dot(text):
    lines = text.splitlines()
    assert re.fullmatch(r'digraph "(?:[^"\\]|\\.)*" \{', lines[0])
    assert lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if m := NODE_STMT.match(line):
            nodes[int(m[1])] = (m[2], m[3])
        elif m := EDGE_STMT.match(line):
            edges.append((int(m[1]), int(m[2]), m[3] or ""))
        else:
            assert re.fullmatch(r"  \w+(?: \[.*\])?=?.*;", line), line  # graph attributes
    return nodes, edges


def test_dot_structure(prog):
    graph = prog.traced_graph
    nodes, edges = _parse_dot(prog.traced_graph.to_dot())
    assert set(nodes) == set(graph.nodes)
    # One edge per operand (a multigraph: x * x has two).
    expected = sorted((src, node.id) for node in graph for src in node.inputs)
    assert sorted((u, v) for u, v, _ in edges) == expected
    for _u, v, attrs in edges:
        delayed = get_op(graph[v].op).is_stateful
        assert ("style=dashed" in attrs) == delayed
    label, style = nodes[graph.outputs[0]]
    assert "penwidth=2" in style
    assert label.endswith(f"\\n{HERE}:{line_of('return')}")
    assert nodes[graph.inputs[0]][0].startswith("A[2,2]")


def test_dot_colours_by_kind(prog):
    nodes, _ = _parse_dot(prog.traced_graph.to_dot())
    fills = {get_op(prog.traced_graph[i].op).kind.value: re.search(r'fillcolor="(#\w+)"', style)
             for i, (_, style) in nodes.items()}
    assert fills["linear"] is None
    colours = {k: m[1] for k, m in fills.items() if m}
    assert len(set(colours.values())) == 3  # source, nonlinear, stateful differ


def test_dot_multi_edges_and_ports():
    prog = spikec.compile(lambda x: x * x).trace(np.ones(2))
    _, edges = _parse_dot(prog.traced_graph.to_dot())
    assert sorted(attrs for _, _, attrs in edges) == ['label="0"', 'label="1"']


def test_dot_escapes_quotes_and_newlines():
    builder = GraphBuilder('we"ird\\name')
    x = builder.add("input", attrs={"shape": (1,), "name": 'q"x', "index": 0}, name='q"x')
    builder.add("neg", [x.id])
    graph = builder.build([x.id], [x.id + 1])
    text = graph.to_dot()
    assert text.splitlines()[0] == 'digraph "we\\"ird\\\\name" {'
    _parse_dot(text)


def test_dot_parses_with_pydot_if_available(prog):
    pydot = pytest.importorskip("pydot")
    (parsed,) = pydot.graph_from_dot_data(prog.traced_graph.to_dot())
    assert len(parsed.get_edges()) == prog.traced_graph.stats().edges


# ========================================================================= stats


def test_stats_of_a_hand_checked_program(prog):
    stats = prog.traced_graph.stats()
    assert stats.nodes == 7  # A, b, filter, matmul, sub, tanh, scale
    assert stats.edges == 7  # matmul<-A,x; sub<-b,matmul; filter<-sub; tanh<-x; scale<-tanh
    assert stats.inputs == 2 and stats.outputs == 1
    assert stats.ops == {"filter": 1, "input": 2, "matmul": 1, "scale": 1, "sub": 1, "tanh": 1}
    assert stats.kinds == {"source": 2, "linear": 2, "nonlinear": 2, "stateful": 1}
    assert stats.nonlinear_units == 2 * 2 + 2  # (2,2)@(2,): 4 products; tanh: 2 elements
    assert stats.state_elements == 2
    d = stats.as_dict()
    assert d["nodes"] == 7 and d["kind.nonlinear"] == 2 and d["op.matmul"] == 1
    text = str(stats)
    assert re.search(r"^nonlinear units\s+6$", text, re.M)
    assert re.search(r"^  matmul\s+1$", text, re.M)


def test_stats_count_matmul_products():
    prog = spikec.compile(lambda a, b: (a @ b, a @ np.ones((3, 5)))).trace(np.ones((2, 3)), np.ones((3, 4)))
    stats = prog.traced_graph.stats()
    assert stats.nonlinear_units == 2 * 3 * 4  # only the signal x signal product costs
    assert stats.kinds["nonlinear"] == 1 and stats.kinds["linear"] == 1


def test_stats_of_state():
    def fn(x):
        return spikec.lti(x, (np.eye(3) * -1, np.ones(3))), spikec.filter(x, 0.01)

    stats = spikec.compile(fn).trace(np.ones(1)).traced_graph.stats()
    assert stats.state_elements == 3 + 1
    assert stats.kinds["stateful"] == 2


# =============================================================== value identity


def test_const_array_equality_and_hash():
    a = ConstArray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    b = ConstArray([[1, 2], [3, 4]])  # ints become float64
    assert a == b and hash(a) == hash(b)
    assert a != ConstArray(np.array([1.0, 2.0, 3.0, 4.0]))  # same bytes, other shape
    assert a != ConstArray(np.array([[1.0, 2.0], [3.0, 5.0]]))
    assert a != IndexArray(np.array([[1, 2], [3, 4]]))
    assert len({a, b, ConstArray(a.value.copy())}) == 1
    assert a.shape == (2, 2)


def test_const_array_is_a_frozen_copy():
    source = np.array([1.0, 2.0])
    c = ConstArray(source)
    source[0] = 99.0
    assert c.value[0] == 1.0
    with pytest.raises(ValueError):
        c.value[0] = 5.0


def test_attrs_equality_hash_and_immutability():
    a = Attrs(axis=(0, 1), c=np.array([1.0, 2.0]), keepdims=False)
    b = Attrs({"keepdims": False, "c": np.array([1.0, 2.0]), "axis": [0, 1]})  # order and list vs tuple
    assert a == b and hash(a) == hash(b)
    assert a != a.replace(keepdims=True)
    assert a.replace(keepdims=True)["keepdims"] is True and a["keepdims"] is False
    assert dict(a)["axis"] == (0, 1)
    assert len(a) == 3 and set(a) == {"axis", "c", "keepdims"}
    with pytest.raises(TypeError):
        a["axis"] = 2  # type: ignore[index]
    with pytest.raises(KeyError):
        a["missing"]


def test_freeze():
    assert freeze([1, [2, 3]]) == (1, (2, 3))
    assert freeze(slice(1, None, 2)) == ("slice", 1, None, 2)
    assert isinstance(freeze(np.array([1, 2])), IndexArray)
    assert isinstance(freeze(np.array([1.0])), ConstArray)
    assert freeze(np.float64(2.5)) == 2.5
    assert isinstance(freeze({"k": 1}), Attrs)
    with pytest.raises(TypeError):
        freeze(bytearray(b"unhashable"))
    hash(freeze(spikec.Lowpass(0.01)))


def test_nodes_compare_by_value_not_location():
    n1 = Node(3, "scale", (1,), (2,), Attrs(c=np.array(2.0)), loc=None, name=None)
    n2 = Node(3, "scale", (1,), (2,), Attrs(c=np.array(2.0)), name="other")
    assert n1 == n2 and hash(n1) == hash(n2)
    n3 = n1.replace(id=7)
    assert n3 != n1 and n3.key() == n1.key()
    assert n1.replace(attrs=Attrs(c=np.array(3.0))).key() != n1.key()
    assert len({n1, n2}) == 1


def test_tracing_twice_gives_equal_graphs():
    fn = settle
    g1 = spikec.compile(fn).trace(np.eye(2), np.ones(2)).traced_graph
    g2 = spikec.compile(fn).trace(2 * np.eye(2), np.zeros(2)).traced_graph
    assert list(g1) == list(g2)  # same ops, operands, shapes and attributes, node by node
    assert {n.key() for n in g1} == {n.key() for n in g2}


def test_equal_constants_share_one_node():
    def fn(x):
        return np.where(np.eye(2, dtype=bool), x, 1.0) + np.where(np.eye(2, dtype=bool)[::-1], x, 1.0)

    prog = spikec.compile(fn).trace(np.ones((2, 2)))
    assert prog.traced_graph.stats().ops["const"] == 1
