"""Transform plans of the JAX back end: how each projection's ``x @ W.T`` is computed.

:func:`choose_plan` picks the cheapest plan per projection (dense, ELL,
strided view, segment sum, dense-from-sparse, or a factored matrix; see
:mod:`spikec.backends.jax.backend` for the reasons), and :func:`fence` /
:func:`gather` hold the XLA-on-a-CPU workarounds the plans and the scan share.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from spikec.backends.jax.cache import cached_plan
from spikec.backends.jax.strided import StridedRowSum, strided_layout, strided_view
from spikec.backends.netsim import DensePlan, LaxAvgPoolPlan, LaxConvolutionPlan
from spikec.netlist import AvgPool, Convolution, Dense, Sparse

__all__ = [
    "ColumnFactoredPlan", "EllPlan", "JaxDensePlan", "RowFactoredPlan", "SegmentSumPlan", "SparseAsDensePlan",
    "StridedPlan", "choose_plan", "fence", "fixed_sum", "is_exact",
]

# Dense storage for a sparse matrix only below this many bytes.
DENSE_BYTES = 64 * 2**20
# Relative cost of one dense multiply-add against one gathered element (XLA
# on a CPU: a gather costs several times a streamed multiply-add).
DENSE_COST = 0.2
# Relative cost of one element read through a strided view (fused, no gather).
STRIDED_COST = 0.05
# Strided row sums only from this many summed elements (5x5 inverse, batch 32: 1.8x slower than gathers).
STRIDED_MIN_SUM = 1024
# A factorization must at least halve the work to be used.
FACTOR_GAIN = 2.0
# Rows (columns) count as scaled copies when they agree to this relative tolerance.
FACTOR_RTOL = 1e-12


def is_exact(dtype) -> bool:
    """Whether plans of ``dtype`` sum in a fixed order (:func:`fixed_sum`): float64, where results are
    promised bit for bit whatever the batch block (a sharded batch equals the run on one device)."""
    return jnp.dtype(dtype) == jnp.float64


def fixed_sum(a, axis: int = -1):
    """``a.sum(axis)`` by a fixed pairwise tree of slices (zero-padded to a power of two).

    XLA's CPU dots and reductions pick their blocking, vector width and so
    their summation order from the whole shape, batch axis included: the
    same batch element summed in a block of 2 and of 5 rounds differently
    (up to 1e-12 in float64).  Here each output element is the same tree of
    elementwise adds whatever the other axes are, so the bits of a batch
    element do not depend on the block it is computed in (a batch sharded
    over devices equals the run on one device).  The adds fuse into one loop.
    """
    axis = axis % a.ndim
    n = a.shape[axis]
    if n == 0:
        return jnp.zeros(a.shape[:axis] + a.shape[axis + 1:], dtype=a.dtype)
    size = 1 << (n - 1).bit_length()
    if size != n:
        pad = [(0, 0)] * a.ndim
        pad[axis] = (0, size - n)
        a = jnp.pad(a, pad)
    while size > 1:
        size //= 2
        a = jax.lax.slice_in_dim(a, 0, size, axis=axis) + jax.lax.slice_in_dim(a, size, 2 * size, axis=axis)
    return jnp.squeeze(a, axis)


# Fixed-order row sums up to this length add the slots one after another (one fused loop; a random
# 10k LIF network's ELL rows of ~100: 1.8x XLA's reduce, where the pairwise tree costs 3.3x); longer: the tree.
CHAIN_SUM = 128


def _row_sum(a, exact: bool):
    """``a.sum(-1)``, in a fixed order when ``exact`` (a chain of adds for short rows, else :func:`fixed_sum`)."""
    if not exact:
        return a.sum(axis=-1)
    if a.shape[-1] == 0 or a.shape[-1] > CHAIN_SUM:
        return fixed_sum(a, -1)
    total = a[..., 0]
    for k in range(1, a.shape[-1]):
        total = total + a[..., k]
    return total


def _matmul(x, wt, exact: bool):
    """``x @ wt``, in a fixed order (per output element, independent of the batch) when ``exact``."""
    return fixed_sum(x[..., :, None] * wt, -2) if exact else x @ wt


class JaxDensePlan(DensePlan):
    """Dense ``x @ W.T`` (float64: summed in a fixed order, :func:`fixed_sum`)."""

    kind = "dense"

    def __init__(self, transform: Dense, dtype):
        super().__init__(transform, jnp, dtype)
        self.exact = is_exact(dtype)

    def cost(self) -> float:
        return DENSE_COST * math.prod(self.transform.shape)

    def apply(self, prepared, x):
        return _matmul(x, prepared, self.exact)


def _ell(rows: np.ndarray, cols: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ELL layout of a COO pattern: ``(cols (m, K), source index (m, K), mask)``.

    Row ``r`` lists its entries sorted by column; padding points at column 0
    and at source index ``nnz`` (a zero appended to the data).
    """
    nnz = rows.size
    order = np.lexsort((cols, rows))
    counts = np.bincount(rows, minlength=m)
    K = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_rows = rows[order]
    slot = np.arange(nnz) - starts[sorted_rows]
    ell_cols = np.zeros((m, K), dtype=np.int32)
    ell_src = np.full((m, K), nnz, dtype=np.int32)
    ell_cols[sorted_rows, slot] = cols[order]
    ell_src[sorted_rows, slot] = order
    return ell_cols, ell_src, ell_src < nnz


# A gather that reads each source element this many times or more gets a fence (see _gather).
FENCE_RATIO = 2


def _gather(x, index, live=None):
    """``x[..., index]`` (any index shape), without bounds handling (the indices are valid).

    With a single batch element the gather runs on the 1-D vector: XLA's CPU
    gather is about 3x faster from a 1-D operand than with a leading axis
    of size 1 (1.5 ms instead of 4-5 ms for a million elements).

    ``live`` is a run-time ``True`` (an argument of the compiled function, so
    XLA cannot fold it).  When the gather reads each element of ``x`` several
    times, ``x`` passes through ``lax.cond(live, identity, zeros)``: a fence
    that stops XLA from fusing the computation of ``x`` (a neuron step, say)
    into the gather, where it would be repeated for every gathered element
    (10,000 LIF neurons with fan-out 100: 5 ms instead of 1.5 ms per step on
    a CPU).  ``lax.optimization_barrier`` does not do this: XLA's CPU
    pipeline removes it before fusion.
    """
    x = _fence_reread(x, index.size, live)
    lead = x.shape[:-1]
    if math.prod(lead) == 1:
        return jnp.take(x.reshape(-1), index, mode="clip").reshape(*lead, *index.shape)
    return jnp.take(x, index, axis=-1, mode="clip")


def _fence_reread(x, reads: int, live):
    """``x`` behind a fence (:func:`fence`) when its consumer reads it ``FENCE_RATIO`` times over or more."""
    return fence(x, live) if live is not None and reads >= FENCE_RATIO * x.shape[-1] else x


def fence(tree, live):
    """``tree`` computed once and stored: ``lax.cond(live, identity, zeros)``, see :func:`_gather`.

    Applied to each population's new state and output, it keeps XLA from
    fusing the neuron step into each of its consumers (state update, spike
    counts, projections), which would compute it several times per step
    (about 30% of the 20x20 inverse's step time on a CPU).
    """
    return jax.lax.cond(live, lambda t: t, lambda t: jax.tree_util.tree_map(jnp.zeros_like, t), tree)


class EllPlan:
    """Sparse ``x @ W.T`` as ELL: rows padded to the longest one; a gather, a multiply, a row sum."""

    kind = "ell"

    def __init__(self, transform: Sparse, dtype):
        self.transform, self.dtype, self.exact = transform, dtype, is_exact(dtype)
        m = transform.shape[0]
        self.cols, self.src, _ = _ell(transform.rows.value, transform.cols.value, m)

    def cost(self) -> float:
        return float(self.cols.size)

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        data = jnp.concatenate([jnp.asarray(raw, dtype=self.dtype), jnp.zeros((1,), dtype=self.dtype)])
        return {"cols": jnp.asarray(self.cols), "data": data[jnp.asarray(self.src)]}

    def apply(self, prepared, x):
        if self.cols.shape[1] == 1:  # one entry per row: a plain gather (much faster than gather + sum)
            return _gather(x, prepared["cols"][:, 0], prepared.get("live")) * prepared["data"][:, 0]
        return _row_sum(_gather(x, prepared["cols"], prepared.get("live")) * prepared["data"], self.exact)


class StridedPlan:
    """Sparse ``x @ W.T`` whose ELL columns form a strided view of ``x``: no gather at all.

    The view (slices, reshapes, a transpose, broadcasts; see
    :mod:`spikec.backends.jax.strided`) fuses into the multiply and row sum.
    """

    kind = "strided"

    def __init__(self, ell: EllPlan, layout):
        self.transform, self.dtype, self.layout, self.exact = ell.transform, ell.dtype, layout, ell.exact
        self.cols, self.src = ell.cols, ell.src
        # float64 sums the view in a fixed order (fixed_sum) instead of the einsum, whose order depends on the batch
        self.row_sum = StridedRowSum(layout) if self.cols.shape[1] > 1 and not self.exact else None

    @classmethod
    def from_ell(cls, ell: EllPlan) -> StridedPlan | None:
        """The strided plan for an ELL plan's columns, or None (ragged rows, irregular columns, tiny sums)."""
        cols = ell.cols
        if not (ell.src < ell.transform.nnz).all():
            return None
        layout = strided_layout(cols)
        if layout is None or not layout.viewable(ell.transform.shape[1]):
            return None
        if cols.shape[1] > 1 and not (cols.size >= STRIDED_MIN_SUM and StridedRowSum.applies(layout)):
            # Rows of several entries are summed in x's memory order (a transposed view reduces slower than a
            # gather).  Tiny row sums stay gathers: with a batch, XLA's small einsums cost more than they save.
            return None
        return cls(ell, layout)

    def cost(self) -> float:
        return STRIDED_COST * self.cols.size

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        data = jnp.asarray(raw, dtype=self.dtype)[jnp.asarray(self.src)]
        return {"data": data if self.row_sum is None else self.row_sum.prepare(data, jnp)}

    def apply(self, prepared, x):
        x = _fence_reread(x, self.cols.size, prepared.get("live"))
        if self.row_sum is not None:
            return self.row_sum.apply(x, prepared["data"], jnp)
        if self.cols.shape[1] > 1:
            return fixed_sum(strided_view(x, self.layout, jnp) * prepared["data"], -1)
        return strided_view(x, self.layout, jnp)[..., 0] * prepared["data"][:, 0]


class SegmentSumPlan:
    """Sparse ``x @ W.T`` as gather, scale and a sorted segment sum (for very uneven rows)."""

    kind = "segment_sum"

    def __init__(self, transform: Sparse, dtype):
        self.transform, self.dtype = transform, dtype
        order = np.lexsort((transform.cols.value, transform.rows.value))
        self.order = order.astype(np.int32)
        self.rows = transform.rows.value[order].astype(np.int32)
        self.cols = transform.cols.value[order].astype(np.int32)

    def cost(self) -> float:
        return 3.0 * self.transform.nnz + self.transform.shape[0]

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        data = jnp.asarray(raw, dtype=self.dtype)[jnp.asarray(self.order)]
        return {"rows": jnp.asarray(self.rows), "cols": jnp.asarray(self.cols), "data": data}

    def apply(self, prepared, x):
        contrib = _gather(x, prepared["cols"], prepared.get("live")) * prepared["data"]
        lead = contrib.shape[:-1]
        flat = jnp.moveaxis(contrib.reshape(-1, contrib.shape[-1]), -1, 0)
        out = jax.ops.segment_sum(flat, prepared["rows"], num_segments=self.transform.shape[0],
                                  indices_are_sorted=True)
        return jnp.moveaxis(out, 0, -1).reshape(*lead, self.transform.shape[0])


class SparseAsDensePlan:
    """A small sparse matrix multiplied densely (the dense matrix is built from the data once per run)."""

    kind = "dense"

    def __init__(self, transform: Sparse, dtype):
        self.transform, self.dtype, self.exact = transform, dtype, is_exact(dtype)
        self.rows = transform.rows.value.astype(np.int32)
        self.cols = transform.cols.value.astype(np.int32)

    def cost(self) -> float:
        return DENSE_COST * math.prod(self.transform.shape)

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        m, n = self.transform.shape
        dense_t = jnp.zeros((n, m), dtype=self.dtype)
        return dense_t.at[jnp.asarray(self.cols), jnp.asarray(self.rows)].add(jnp.asarray(raw, dtype=self.dtype))

    def apply(self, prepared, x):
        return _matmul(x, prepared, self.exact)


def _row_factors(rows, cols, data, shape):
    """Rows that are scaled copies of a few distinct rows: ``W[r] = s[r] * U[g[r]]``.

    Returns ``(g, s, U as (rows, cols, data) of shape (G, n))`` or None when
    the rows are not (to ``FACTOR_RTOL``) scaled copies of fewer rows.
    """
    m = shape[0]
    ell_cols, ell_src, mask = _ell(rows, cols, m)
    values = np.where(mask, np.append(data, 0.0)[ell_src], 0.0)
    peak = np.abs(values).argmax(axis=1)
    s = values[np.arange(m), peak]
    safe = np.where(s == 0, 1.0, s)
    normal = values / safe[:, None]
    key = np.concatenate([np.where(mask, ell_cols, -1).astype(np.float64), np.round(normal, 12)], axis=1)
    _, first, g = np.unique(key, axis=0, return_index=True, return_inverse=True)
    g = g.reshape(-1)
    G = first.size
    if G * 2 > m:
        return None
    U = normal[first]
    if np.any(np.abs(s[:, None] * U[g] - values) > FACTOR_RTOL * np.abs(s)[:, None] + 1e-300):
        return None
    u_mask = mask[first]
    r_idx, k_idx = np.nonzero(u_mask)
    U_coo = (r_idx, ell_cols[first][r_idx, k_idx], U[r_idx, k_idx])
    return g.astype(np.int32), s, U_coo, G


class RowFactoredPlan:
    """``W = diag(s) P U``: distinct rows ``U`` (ELL), then ``y = s * (x @ U.T)[g]``.

    Built from constant weights (not differentiable with respect to them).
    """

    kind = "rows_factored"

    def __init__(self, transform: Sparse, dtype, factors):
        self.transform, self.dtype, self.exact = transform, dtype, is_exact(dtype)
        g, s, (ur, uc, ud), G = factors
        self.g, self.s = g, s
        self.u_cols, u_src, u_mask = _ell(ur, uc, G)
        self.u_data = np.where(u_mask, np.append(ud, 0.0)[u_src], 0.0)

    def cost(self) -> float:
        return float(self.u_cols.size + self.g.size)

    def raw(self):
        return {"s": self.s, "u": self.u_data}

    def prepare(self, raw):
        return {"s": jnp.asarray(raw["s"], dtype=self.dtype), "u": jnp.asarray(raw["u"], dtype=self.dtype),
                "u_cols": jnp.asarray(self.u_cols), "g": jnp.asarray(self.g)}

    def apply(self, prepared, x):
        distinct = _row_sum(_gather(x, prepared["u_cols"], prepared.get("live")) * prepared["u"], self.exact)
        return _gather(distinct, prepared["g"], prepared.get("live")) * prepared["s"]


class ColumnFactoredPlan:
    """``W = V diag(s)`` grouped by columns: ``z_j = sum of s_c x_c over columns c in group j``,
    then ``y = z @ V.T`` with the distinct columns ``V`` (both as ELL gathers).

    Built from constant weights (not differentiable with respect to them).
    """

    kind = "columns_factored"

    def __init__(self, transform: Sparse, dtype, factors):
        self.transform, self.dtype, self.exact = transform, dtype, is_exact(dtype)
        g, s, (ur, uc, ud), G = factors  # factors of W.T: W.T[c] = s[c] * U[g[c]]; U is (G, m)
        n = transform.shape[1]
        members = np.arange(n)
        self.z_cols, z_src, z_mask = _ell(g, members, G)
        self.z_scale = np.where(z_mask, np.append(s, 0.0)[z_src], 0.0)
        # y = sum_j z_j U[j]: rows of V = U.T (m, G)
        self.v_cols, v_src, v_mask = _ell(uc, ur, transform.shape[0])
        self.v_data = np.where(v_mask, np.append(ud, 0.0)[v_src], 0.0)

    def cost(self) -> float:
        return float(self.z_cols.size + self.v_cols.size)

    def raw(self):
        return {"s": self.z_scale, "v": self.v_data}

    def prepare(self, raw):
        return {"s": jnp.asarray(raw["s"], dtype=self.dtype), "v": jnp.asarray(raw["v"], dtype=self.dtype),
                "z_cols": jnp.asarray(self.z_cols), "v_cols": jnp.asarray(self.v_cols)}

    def apply(self, prepared, x):
        z = _row_sum(_gather(x, prepared["z_cols"], prepared.get("live")) * prepared["s"], self.exact)
        return _row_sum(_gather(z, prepared["v_cols"], prepared.get("live")) * prepared["v"], self.exact)


def choose_plan(transform, dtype, *, factor: bool = True):
    """The cheapest plan for a transform (estimated gathered elements; see :data:`DENSE_COST`).

    ``factor`` allows the factored plans, which fix the weights at build time.
    Large sparse matrices' plans are kept on disk between processes
    (:func:`spikec.backends.jax.cache.cached_plan`).
    """
    if isinstance(transform, Sparse):
        return cached_plan(transform, dtype, (factor,), lambda: _choose_plan(transform, dtype, factor))
    return _choose_plan(transform, dtype, factor)


def _choose_plan(transform, dtype, factor: bool):
    if isinstance(transform, Dense):
        return JaxDensePlan(transform, dtype)
    if isinstance(transform, Convolution):
        return LaxConvolutionPlan(transform, jnp, dtype)
    if isinstance(transform, AvgPool):
        return LaxAvgPoolPlan(transform)
    m, n = transform.shape
    candidates = [EllPlan(transform, dtype)]
    strided = StridedPlan.from_ell(candidates[0])
    if strided is not None:
        candidates.append(strided)
    if candidates[0].cost() > 2 * transform.nnz:
        candidates.append(SegmentSumPlan(transform, dtype))
    if m * n * np.dtype(dtype).itemsize <= DENSE_BYTES:
        candidates.append(SparseAsDensePlan(transform, dtype))
    best = min(candidates, key=lambda p: p.cost())
    if factor and transform.nnz >= 64:
        rows, cols, data = transform.rows.value, transform.cols.value, transform.data.value
        row_f = _row_factors(rows, cols, data, (m, n))
        if row_f is not None:
            candidates.append(RowFactoredPlan(transform, dtype, row_f))
        col_f = _row_factors(cols, rows, data, (n, m))
        if col_f is not None:
            candidates.append(ColumnFactoredPlan(transform, dtype, col_f))
        factored = [p for p in candidates if p.kind.endswith("factored")]
        if factored:
            cheapest = min(factored, key=lambda p: p.cost())
            if cheapest.cost() * FACTOR_GAIN <= best.cost():
                best = cheapest
    return best
