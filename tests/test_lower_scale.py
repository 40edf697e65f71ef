"""Lowering large programs without building broadcasts: :class:`spikec.lower.affine.Gathered`, the vectorised
:func:`spikec.lower.affine.distinct_rows`, and range measurement that watches a broadcast's source; each against
the plain (eager, row by row, every node watched) computation."""

import numpy as np
import scipy.sparse as sp
from test_estimate import _inverse

from spikec.ir.interpret import simulate_graph
from spikec.ir.registry import get_op
from spikec.lower.affine import Affine, Gathered, broadcast_matrix, distinct_rows, selection
from spikec.lower.ranges import measure_ranges, wanted_operands


def _affine_with_repeats(rng, rows=40, cols=7):
    base = sp.random_array((rows // 4, cols), density=0.4, random_state=rng, format="csr")
    pick = rng.integers(0, rows // 4, rows)
    m = sp.csr_array(base[pick])
    const = rng.choice([0.0, 1.5], rows // 4)[pick]
    return Affine(rows, {"a": m, "b": sp.csr_array(2 * m)}, const)


def _distinct_reference(expr: Affine):
    """distinct_rows, one row at a time over dense rows (the definition)."""
    dense = np.hstack([expr.const[:, None]] + [m.toarray() for _, m in sorted(expr.terms.items())])
    first: dict[bytes, int] = {}
    owner = [first.setdefault(row.tobytes(), len(first)) for row in dense]
    keep = [owner.index(k) for k in range(len(first))]
    return keep, owner


def test_distinct_rows_matches_the_row_by_row_definition():
    rng = np.random.default_rng(0)
    expr = _affine_with_repeats(rng)
    keep, owner = _distinct_reference(expr)
    unique, select = distinct_rows(expr)
    assert unique.size == len(keep) < expr.size
    assert np.array_equal(select.toarray(), selection(np.array(owner), len(keep)).toarray())
    for name, m in expr.terms.items():
        assert np.array_equal(unique.terms[name].toarray(), m.toarray()[keep])
    assert np.array_equal(unique.const, expr.const[keep])


def test_gathered_is_the_eager_broadcast():
    rng = np.random.default_rng(1)
    expr = _affine_with_repeats(rng, rows=12)
    matrix = broadcast_matrix((3, 4, 1), (3, 4, 5))
    lazy = expr.map(matrix)
    assert isinstance(lazy, Gathered)
    eager = expr.mapped(matrix)
    for name in expr.terms:
        assert np.array_equal(lazy.terms[name].toarray(), eager.terms[name].toarray())
    again = lazy.map(broadcast_matrix((3, 4, 5), (2, 3, 4, 5)))  # a broadcast of a broadcast composes
    assert isinstance(again, Gathered) and again.base is expr
    twice = eager.mapped(broadcast_matrix((3, 4, 5), (2, 3, 4, 5)))
    assert np.array_equal(again.terms["a"].toarray(), twice.terms["a"].toarray())
    u1, s1 = distinct_rows(again)
    u2, s2 = distinct_rows(twice)
    assert np.array_equal(s1.toarray(), s2.toarray())
    assert np.array_equal(u1.terms["b"].toarray(), u2.terms["b"].toarray())
    assert np.array_equal(u1.const, u2.const)


def _watched_extremes(graph, inputs, steps, wanted, **simulate_options):
    """Elementwise minimum and maximum of every wanted node over a plain interpreter run of ``steps`` steps."""
    lows = {i: np.inf for i in wanted}
    highs = {i: -np.inf for i in wanted}

    def observe(values):
        for i in wanted:
            lows[i] = np.minimum(lows[i], values[i])
            highs[i] = np.maximum(highs[i], values[i])

    simulate_graph(graph, inputs, steps, 0.001, progress=False, observe=observe, **simulate_options)
    return lows, highs


def test_measured_ranges_equal_every_node_watched():
    prog, _ = _inverse(4)
    graph = prog.lowering_graph
    graph = graph() if callable(graph) else graph
    wanted = wanted_operands(graph)
    assert any(graph[i].op in ("affine", "broadcast_to") for i in wanted)  # broadcasts are measured via source
    a = np.random.default_rng(4).standard_normal((4, 4)) / 2 + np.eye(4)
    inputs = [lambda t: a]
    measured = measure_ranges(graph, inputs, 0.2, 0.001, wanted=wanted)
    lows, highs = _watched_extremes(graph, inputs, 200, wanted, only=wanted)
    for i in wanted:
        lo, hi = measured[i]
        assert np.array_equal(np.ravel(lo), np.ravel(lows[i])) and np.array_equal(np.ravel(hi), np.ravel(highs[i]))


def test_affine_selections_and_sums_give_the_sparse_products_bits():
    from spikec.ir.attrs import Attrs, ConstArray
    from spikec.ir.ops.linear import _affine
    from spikec.ir.sparse import SparseConst

    rng = np.random.default_rng(2)
    x = rng.standard_normal(60)
    x[::7], x[3], x[11] = -0.0, np.inf, np.nan
    picks = sp.csr_array(selection(rng.integers(0, 60, 200), 60))
    summed = np.argsort(rng.random((20, 60)), axis=1)[:, :5]
    sums = sp.csr_array((np.ones(100), (np.repeat(np.arange(20), 5), summed.ravel())), shape=(20, 60))
    mixed = sp.csr_array(sums * rng.standard_normal(sums.shape))  # neither: the sparse product itself
    for matrix in (picks, sums, mixed):
        w = SparseConst(matrix)
        assert (w.picks is not None, w.sums is not None) == (matrix is picks, matrix is sums)
        for bias in (None, np.where(rng.random(matrix.shape[0]) < 0.5, -0.0, 1.0)):
            attrs = Attrs(weights=(w,), bias=None if bias is None else ConstArray(bias), shape=(matrix.shape[0],))
            expected = (np.zeros(matrix.shape[0]) if bias is None else bias) + w.matrix @ x
            assert np.array_equal(_affine(attrs, x).view(np.uint64), expected.view(np.uint64))


def _constant(value):
    fn = lambda t: value
    fn.constant = True
    return fn


def test_folded_measurement_is_the_plain_one_to_rounding():
    """With a constant input the inverse is affine in its state: measuring composes it into one sparse product per
    step, and the ranges are the plain interpreter's (every op's reference, nothing folded) to rounding."""
    prog, _ = _inverse(6)
    graph = prog.lowering_graph
    graph = graph() if callable(graph) else graph
    a = np.random.default_rng(6).standard_normal((6, 6)) / 3 + np.eye(6)
    folded = measure_ranges(graph, [_constant(a)], 0.3, 0.001)
    wanted = wanted_operands(graph)
    lows, highs = _watched_extremes(graph, [lambda t: a], 300, wanted)
    for i in wanted:
        scale = max(1.0, np.abs(highs[i]).max(), np.abs(lows[i]).max())
        assert np.allclose(folded[i][0], lows[i], rtol=0, atol=1e-12 * scale)
        assert np.allclose(folded[i][1], highs[i], rtol=0, atol=1e-12 * scale)
    # and the folding happened: no product of the state is evaluated elementwise any more
    def reads_state(i):
        return get_op(graph[i].op).is_stateful or any(reads_state(j) for j in graph[i].inputs)

    products = [n.id for n in graph if n.op == "mul" and reads_state(n.id)]
    assert products
    seen = set()
    simulate_graph(graph, [_constant(a)], 2, 0.001, progress=False, observe=seen.update, only=wanted, fold=True)
    assert not seen & set(products)
