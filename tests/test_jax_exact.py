"""float64 plans of the JAX back end give each batch element the same bits whatever block it is computed in.

XLA's CPU dots and reductions choose their summation order from the whole
shape, so a batch element summed in a block of 2 (a batch of 8 sharded over
4 devices) and in a block of 5 (the run on one device) would round
differently; float64 plans sum in a fixed order (:func:`plans.fixed_sum`).
Oracle: the same element computed alone and in blocks of 1, 2, 3 and 5 is
bit-equal, and all of them equal NumPy's ``x @ W.T`` to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal

jax = pytest.importorskip("jax")
import jax.numpy as jnp

from spikec.backends.jax import plans as jplans
from spikec.ir.attrs import ConstArray
from spikec.netlist import Dense, Sparse


def _transforms():
    rng = np.random.default_rng(3)
    blocks = scipy.sparse.kron(scipy.sparse.eye(64), np.ones((1, 32)) * 0.5).tocoo()  # rows read 32 neighbours
    blocks.data = rng.normal(size=blocks.nnz)
    uneven = np.zeros((50, 400))
    uneven[0] = rng.normal(size=400)
    uneven[1:, :3] = 1.0
    shuffled = scipy.sparse.random(300, 500, density=0.05, random_state=2).tocsr()
    U = rng.normal(size=(4, 60))
    rows = U[rng.integers(0, 4, 500)] * rng.uniform(0.5, 2.0, (500, 1))
    return {
        "dense": Dense(ConstArray(rng.normal(size=(150, 150)))),
        "dense_small": Dense(ConstArray(rng.normal(size=(3, 150)))),
        "strided": Sparse.from_scipy(blocks),
        "ell": Sparse.from_scipy(shuffled.tocoo()),
        "segment_sum": Sparse.from_scipy(scipy.sparse.coo_array(uneven)),
        "rows_factored": Sparse.from_scipy(scipy.sparse.coo_array(rows)),
    }


@pytest.mark.parametrize("name", list(_transforms()))
def test_float64_plans_do_not_depend_on_the_batch_block(name):
    transform = _transforms()[name]
    plan = jplans.choose_plan(transform, np.float64)
    assert plan.kind == name.removesuffix("_small")
    x = np.random.default_rng(0).normal(size=(5, transform.shape[1]))
    with jax.enable_x64(True):
        prepared = plan.prepare(jnp.asarray(plan.raw(), dtype=jnp.float64)) if not isinstance(plan.raw(), dict) \
            else plan.prepare(plan.raw())
        apply = jax.jit(plan.apply)
        whole = np.asarray(apply(prepared, jnp.asarray(x)))
        for block in (1, 2, 3):
            parts = np.concatenate([np.asarray(apply(prepared, jnp.asarray(x[i:i + block])))
                                    for i in range(0, 5, block)])
            assert_array_equal(parts, whole)
    W = transform.weights.value if isinstance(transform, Dense) else transform.to_scipy().toarray()
    assert_allclose(whole, x @ W.T, rtol=1e-12, atol=1e-12 * np.abs(x).max() * np.abs(W).sum(axis=1).max())


def test_fixed_sum_is_a_sum():
    a = np.random.default_rng(1).normal(size=(3, 7, 13))
    with jax.enable_x64(True):
        for axis in range(3):
            assert_allclose(np.asarray(jplans.fixed_sum(jnp.asarray(a), axis)), a.sum(axis), rtol=1e-13)
        assert jplans.fixed_sum(jnp.zeros((2, 0)), -1).shape == (2,)
