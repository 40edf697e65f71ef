"""Strided views instead of gathers (spikec.backends.jax.strided) and the JAX plan built on them.

Oracle: NumPy fancy indexing ``x[..., index]`` and ``(x[..., cols] * data).sum(-1)``; for the
back end, the NumPy netlist simulator and the same run with plain ELL gathers.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose

jax = pytest.importorskip("jax")
import jax.numpy as jnp

from spikec.backends.jax import plans as jplans
from spikec.backends.jax import scan as jscan
from spikec.backends.jax.strided import StridedRowSum, strided_layout, strided_view
from spikec.ir.attrs import ConstArray
from spikec.models.neurons import LIF
from spikec.models.synapses import Lowpass
from spikec.netlist import InputSource, Netlist, Output, Population, Projection, Sparse, SumNode
from spikec.train import loss as tloss


def _index(base, dims, strides):
    """The index array ``base + sum_j strides[j] * i_j`` of shape ``dims``."""
    index = np.full(dims, base)
    for axis, (d, s) in enumerate(zip(dims, strides)):
        index = index + s * np.arange(d).reshape([-1 if k == axis else 1 for k in range(len(dims))])
    return index


def _strided_index(rng, ndim):
    """A random strided index array (strides may be 0) and a source size it fits in."""
    dims = tuple(int(d) for d in rng.integers(1, 5, ndim))
    index = _index(int(rng.integers(0, 5)), dims, [int(s) for s in rng.integers(0, 30, ndim)])
    return index, int(index.max()) + 1 + int(rng.integers(0, 3))


def _cases(seed, count):
    """``count`` random strided index arrays ``(rng, index, source size)`` of 1 to 4 axes."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield (rng, *_strided_index(rng, int(rng.integers(1, 5))))


@pytest.mark.parametrize("seed", range(4))
def test_layout_describes_every_strided_index_and_views_read_it(seed):
    viewed = 0
    for rng, index, n in _cases(seed, 400):
        layout = strided_layout(index)
        assert layout is not None
        np.testing.assert_array_equal(_index(layout.base, layout.dims, layout.strides).reshape(index.shape), index)
        if layout.viewable(n):
            x = rng.random((2, 3, n))
            np.testing.assert_array_equal(strided_view(x, layout, np), x[..., index])
            viewed += 1
    assert viewed > 120


def test_irregular_indices_are_not_strided():
    assert strided_layout(np.random.default_rng(0).permutation(50)) is None
    assert strided_layout(np.array([0, 1, 2, 4])) is None
    layout = strided_layout(np.array([[3, 1], [4, 2]]))  # negative strides exist but cannot be viewed
    assert layout is not None and not layout.viewable(5)
    assert not strided_layout(np.array([0, 5, 10])).viewable(10)  # reads past the end


@pytest.mark.parametrize("seed", range(4))
def test_row_sums_equal_gather_multiply_sum(seed):
    checked = 0
    for rng, index, n in _cases(seed, 600):
        split = int(rng.integers(0, index.ndim + 1))
        m, K = int(np.prod(index.shape[:split])), int(np.prod(index.shape[split:]))
        cols = index.reshape(m, K)
        layout = strided_layout(cols)
        if not (layout.viewable(n) and StridedRowSum.applies(layout)):
            continue
        row_sum = StridedRowSum(layout)
        data, x = rng.normal(size=(m, K)), rng.normal(size=(3, n))
        assert_allclose(row_sum.apply(x, row_sum.prepare(data, np), np), (x[:, cols] * data).sum(-1),
                        rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 150


def _product_like_netlist(n=12, seed=3):
    """The read patterns of a lowered matrix product: an input broadcast to n*n LIF units (x[a] read by
    every b), unit sums over a (rows b, slots a: a strided row sum) and a node whose rows all read the
    whole input (x broadcast along rows: an einsum)."""
    rng = np.random.default_rng(seed)
    units = n * n
    a, b = np.divmod(np.arange(units), n)
    spread = scipy.sparse.coo_array((rng.uniform(0.5, 1.5, units), (np.arange(units), a)), shape=(units, n))
    gather = scipy.sparse.coo_array((rng.normal(size=units) / n, (b, np.arange(units))), shape=(n, units))
    rows, slots = np.divmod(np.arange(units * n), n)
    full = scipy.sparse.coo_array((rng.normal(size=units * n) / n, (rows, slots)), shape=(units, n))
    C = lambda v: ConstArray(np.asarray(v, dtype=np.float64))
    return Netlist(
        "strided", inputs=(InputSource("x", 0, (n,)),),
        populations=(Population("p", units, LIF(), C(rng.uniform(0.8, 1.2, units)), C(rng.uniform(1.0, 2.0, units)),
                                initial_state=(("voltage", C(rng.uniform(0, 1, units))),)),),
        nodes=(SumNode("y", n, synapse=Lowpass(0.01)), SumNode("z", units)),
        projections=(Projection("x", "p", Sparse.from_scipy(spread)),
                     Projection("p", "y", Sparse.from_scipy(gather)),
                     Projection("y", "z", Sparse.from_scipy(full.tocsr()[:, :n].tocoo()))),
        outputs=(Output("y", 0, "y", (n,)), Output("z", 1, "z", (units,))),
    )


@pytest.fixture
def small_sums(monkeypatch):
    """Strided row sums for these small test netlists too (by default they start at 1,024 elements)."""
    monkeypatch.setattr(jplans, "STRIDED_MIN_SUM", 0)


def test_tiny_row_sums_stay_gathers():
    net = _product_like_netlist()
    # 12 rows of 12 stay gathers; 144 rows of 12 (1,728 elements) do not
    assert [jplans.choose_plan(p.transform, np.float64).kind for p in net.projections] == ["strided", "ell", "strided"]
    big = _product_like_netlist(n=32)
    assert [jplans.choose_plan(p.transform, np.float64).kind for p in big.projections] == ["strided"] * 3


def _gathers_instead(monkeypatch) -> list[str]:
    """Make the JAX planner pick ELL gathers where it would pick strided views; returns the kinds it would
    have picked (filled as plans are chosen).  Compiled simulators are forgotten, now and after the test."""
    original, kinds = jplans.choose_plan, []

    def ell_only(transform, dtype, *, factor=True):
        plan = original(transform, dtype, factor=factor)
        kinds.append(plan.kind)
        return jplans.EllPlan(transform, dtype) if plan.kind == "strided" else plan

    monkeypatch.setattr(jplans, "choose_plan", ell_only)
    monkeypatch.setattr(jscan, "_CACHE", type(jscan._CACHE)())
    return kinds


def test_strided_plans_run_like_the_numpy_simulator(small_sums):
    net = _product_like_netlist()
    x = [np.sin(np.arange(12) + 20 * np.arange(1, 301)[:, None] * 1e-3)[:, None, :]]
    ref_net = jscan.simulate(net, x, dtype="float64", optimize=False)
    assert list(ref_net["plans"].values()) == ["strided", "strided", "strided"]
    from spikec.backends.netsim import make_simulator

    sim = make_simulator(net, "spiking", 1e-3)
    state, ys = sim.init, []
    for k in range(300):
        state, report = sim.step(state, {0: x[0][k]})
        ys.append(report["outputs"])
    for i in range(2):
        assert_allclose(ref_net["outputs"][i], np.stack([y[i] for y in ys]), rtol=0, atol=1e-9)
    assert ref_net["population_spikes"]["p"].sum() > 1000


def test_strided_plans_differentiate_like_gathers(monkeypatch, small_sums):
    net = _product_like_netlist(n=6)
    xs = np.sin(np.arange(6) + 20 * np.arange(1, 41)[:, None] * 1e-3)[None]  # (batch, steps, size)

    def grads():
        with jax.enable_x64(True):
            params, apply = tloss.make_loss_fn(net, "rate", 1e-3, 40, dtype="float64")
            loss = lambda p: sum(jnp.mean(o ** 2) for o in apply(p, [jnp.asarray(xs)]))
            return jax.tree_util.tree_map(np.asarray, jax.grad(loss)(params))

    strided = grads()
    kinds = _gathers_instead(monkeypatch)
    gathered = grads()
    assert kinds and set(kinds) == {"strided"}
    for index in range(3):
        assert np.abs(gathered["weights"][index]).max() > 0
        assert_allclose(strided["weights"][index], gathered["weights"][index], rtol=1e-10, atol=1e-14)


def test_batched_strided_runs_equal_gathered_runs(monkeypatch, small_sums):
    """Three batch elements with different inputs: the strided plans give the ELL plans' outputs and spikes."""
    net = _product_like_netlist()
    t = np.arange(1, 201)[:, None] * 1e-3
    x = [np.stack([np.sin(np.arange(12) * (b + 1) + 20 * t) for b in range(3)], axis=1)]  # (steps, batch, size)
    strided = jscan.simulate(net, x, dtype="float64")
    assert set(strided["plans"].values()) == {"strided"}
    _gathers_instead(monkeypatch)
    gathered = jscan.simulate(net, x, dtype="float64")
    assert set(gathered["plans"].values()) == {"ell"}
    for a, b in zip(strided["outputs"], gathered["outputs"]):
        assert a.shape[1] == 3 and np.abs(a[:, 0] - a[:, 2]).max() > 1e-3  # the elements differ
        assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(strided["population_spikes"]["p"], gathered["population_spikes"]["p"])
