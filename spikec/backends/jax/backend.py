"""The JAX back end: a netlist simulated by ``jax.lax.scan`` under ``jax.jit``.

``prog.run(..., backend="jax", mode="spiking"|"rate")`` runs the step of
:mod:`spikec.backends.netsim` (the same code as the NumPy back end, with
``xp = jax.numpy``) over time in one compiled ``lax.scan``, on the CPU or on
a GPU when JAX has one.  A batch of inputs (``batch=True``) runs in one scan
with a leading batch axis.

What it does
------------
* **Inputs** are functions of time; they are sampled on the host at
  ``t = dt, 2 dt, ... steps*dt`` into ``(steps, batch, size)`` arrays before
  the scan.  An input that is the same at every step is passed once, and the
  projections leaving it (without synapse) are evaluated once, before the
  scan (loop-invariant hoisting); a time-varying input's projections are
  evaluated for all steps at once when that fits in memory
  (:data:`HOIST_BYTES`).  Both are exact.
* **Weights** are arguments of the compiled function (never constants, so
  XLA does not constant-fold big matrices), multiplied by a *plan* chosen
  per projection (:func:`choose_plan`): dense ``x @ W.T``; sparse as ELL
  (rows padded to the longest row: one gather, a multiply and a sum, no
  scatter), as a segment sum for very irregular rows, or dense when small;
  and, when the ELL columns are a *strided view* of the source (a lowered
  matrix product reads its operands that way: each ``(i, k)`` entry by every
  ``j``, sums over every 40th unit), without any gather: slices, reshapes
  and broadcasts that XLA fuses into the consumer, rows summed as one
  ``einsum`` (:mod:`spikec.backends.jax.strided`; the 20x20 inverse runs 1.7x
  faster than with gathers).
  With ``optimize=True`` (the default for runs) a sparse matrix whose rows
  (or columns) are scaled copies of a few distinct rows (columns) is
  factored into the distinct rows and a per-row scale: the same product,
  summed in another order (rounding-level differences), often 10-20x less
  work (product networks whose linear sums were folded into one matrix,
  before lowering learned to relay them through sum nodes, were like that).
* **XLA on a CPU** needs two kinds of help, both exact: gathers from a
  single batch element run on the 1-D vector (3x faster), and each
  population's step result, and each vector that a gather reads several
  times over, goes through a *fence*, ``lax.cond`` on a run-time ``True``,
  so that XLA computes it once instead of fusing it into every consumer
  (it would otherwise recompute a neuron step for every synapse reading
  it: 5x slower for a random LIF network; see :func:`_gather`).
* **Noise** for :class:`~spikec.models.neurons.PoissonSpiking` comes from
  ``jax.random`` inside the scan: ``fold_in(PRNGKey(seed), step)`` per step,
  then one key per noisy population, uniform on [0, 1).  So Poisson spike
  trains are reproducible per seed but are not the NumPy back end's (nor
  nengo's) sample paths; their statistics are.
* **Precision**: ``dtype="float32"`` (default, fast) or ``"float64"``.  The
  back end switches JAX's 64-bit mode on or off only around its own work
  (``jax.enable_x64`` as a context manager), so it neither needs nor
  changes the global ``jax_enable_x64`` setting.  float64 agrees with the
  NumPy netlist simulator and nengo to rounding, spike trains of
  deterministic neurons included; float32 rounds differently, which can
  move a spike by a step now and then (tests bound how much).
* **Spike accounting**: per step and population, spikes are
  ``round(output * dt / amplitude)`` per neuron summed in int32, and
  synaptic events are spikes times the neuron's fan-out (nonzero outgoing
  weights).  ``RunResult.info`` has the nengo back end's keys:
  ``population_spikes``, ``population_synaptic_events``,
  ``synaptic_events`` (cumulative per step), ``total_spikes``,
  ``total_synaptic_events``, ``fan_out``, ``build_time`` (building the
  simulator and compiling; near zero when the compiled function is cached),
  ``run_time`` (the scan and copying results back) plus ``compile_time``,
  ``dtype``, ``seed`` and ``plans`` (the plan chosen per projection).
* ``progress`` is accepted and ignored: the scan runs as one call.

Differentiation
---------------
:func:`make_loss_fn` pulls a parameter pytree out of a netlist (weights per
projection, gain and bias per population) and returns a pure
``apply(params, inputs)`` that runs the network and returns its outputs;
``jax.grad`` goes through it.  Rate mode is differentiable as it is
(optionally with LIF rates smoothed into soft-LIF); spiking mode uses
surrogate gradients (:mod:`spikec.train.surrogate`).  :func:`with_params` writes
trained parameters back into a netlist that every back end runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spikec.backends.jax.strided import StridedRowSum, strided_layout, strided_view
from spikec.backends.netsim import DensePlan, LaxAvgPoolPlan, LaxConvolutionPlan, Simulator, make_simulator
from spikec.backends.result import RunResult
from spikec.errors import BackendError, RunError
from spikec.ir.attrs import ConstArray
from spikec.netlist import AvgPool, Convolution, Dense, Netlist, Sparse
from spikec.util.cache import LruCache

__all__ = [
    "DTYPES",
    "JaxBackend",
    "choose_plan",
    "make_loss_fn",
    "precision",
    "sample_inputs",
    "simulate",
    "with_params",
]

DTYPES = ("float32", "float64")
MODES = ("spiking", "rate")

# Evaluate a time-varying input's projections for all steps at once when the
# result takes at most this many bytes (else inside the scan, step by step).
HOIST_BYTES = 256 * 2**20
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


# ------------------------------------------------------------------------------ precision


def _check_dtype(dtype: Any) -> str:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise RunError(f"backend 'jax': dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return name


@contextlib.contextmanager
def precision(dtype: str):
    """JAX's 64-bit mode on for ``"float64"`` and off for ``"float32"``, only inside the block."""
    with jax.enable_x64(_check_dtype(dtype) == "float64"):
        yield


# ---------------------------------------------------------------------------------- plans


class JaxDensePlan(DensePlan):
    """Dense ``x @ W.T``."""

    kind = "dense"

    def __init__(self, transform: Dense, dtype):
        super().__init__(transform, jnp, dtype)

    def cost(self) -> float:
        return DENSE_COST * math.prod(self.transform.shape)


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
    """``x`` behind a fence (:func:`_fence`) when its consumer reads it ``FENCE_RATIO`` times over or more."""
    return _fence(x, live) if live is not None and reads >= FENCE_RATIO * x.shape[-1] else x


def _fence(tree, live):
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
        self.transform, self.dtype = transform, dtype
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
        return (_gather(x, prepared["cols"], prepared.get("live")) * prepared["data"]).sum(axis=-1)


class StridedPlan:
    """Sparse ``x @ W.T`` whose ELL columns form a strided view of ``x``: no gather at all.

    The view (slices, reshapes, a transpose, broadcasts; see
    :mod:`spikec.backends.jax.strided`) fuses into the multiply and row sum.
    """

    kind = "strided"

    def __init__(self, ell: EllPlan, layout):
        self.transform, self.dtype, self.layout = ell.transform, ell.dtype, layout
        self.cols, self.src = ell.cols, ell.src
        self.row_sum = StridedRowSum(layout) if self.cols.shape[1] > 1 else None

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
        self.transform, self.dtype = transform, dtype
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
        return x @ prepared


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
        self.transform, self.dtype = transform, dtype
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
        distinct = (_gather(x, prepared["u_cols"], prepared.get("live")) * prepared["u"]).sum(axis=-1)
        return _gather(distinct, prepared["g"], prepared.get("live")) * prepared["s"]


class ColumnFactoredPlan:
    """``W = V diag(s)`` grouped by columns: ``z_j = sum of s_c x_c over columns c in group j``,
    then ``y = z @ V.T`` with the distinct columns ``V`` (both as ELL gathers).

    Built from constant weights (not differentiable with respect to them).
    """

    kind = "columns_factored"

    def __init__(self, transform: Sparse, dtype, factors):
        self.transform, self.dtype = transform, dtype
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
        z = (_gather(x, prepared["z_cols"], prepared.get("live")) * prepared["s"]).sum(axis=-1)
        return (_gather(z, prepared["v_cols"], prepared.get("live")) * prepared["v"]).sum(axis=-1)


def choose_plan(transform, dtype, *, factor: bool = True):
    """The cheapest plan for a transform (estimated gathered elements; see :data:`DENSE_COST`).

    ``factor`` allows the factored plans, which fix the weights at build time.
    """
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


# --------------------------------------------------------------------------------- inputs


def sample_inputs(net: Netlist, inputs: Sequence[Any], steps: int, dt: float,
                  batch_size: int | None = None) -> list[np.ndarray]:
    """Each netlist input sampled at ``t = dt .. steps*dt``: ``(steps, batch, size)`` float64.

    ``inputs[i]`` is program input ``i``: a function of time, or a list of
    them (one per element) when ``batch_size`` is given.
    """
    from spikec.backends.nengo.build import InputFeed, input_functions

    table = input_functions(net, inputs, batch_size)
    arrays = []
    for i, src in enumerate(net.inputs):
        arrays.append(np.stack([InputFeed(src, row[i]).sample(steps, dt) for row in table], axis=1))
    return arrays


# --------------------------------------------------------------------------- the scan


def _cast_like(new, old):
    return jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype) if hasattr(b, "dtype") else a, new, old)


def _input_projections(net: Netlist) -> dict[int, list[int]]:
    """Instantaneous projections leaving each netlist input (by input position)."""
    position = {src.name: i for i, src in enumerate(net.inputs)}
    out: dict[int, list[int]] = {i: [] for i in range(len(net.inputs))}
    for index, proj in enumerate(net.projections):
        if proj.pre in position and proj.synapse is None:
            out[position[proj.pre]].append(index)
    return out


def _hoisted_currents(net: Netlist, sim: Simulator, prepared, values: dict[int, Any],
                      by_input: dict[int, list[int]]) -> dict[str, Any]:
    """Summed currents of the hoisted projections from the given input values, per post object."""
    extra: dict[str, Any] = {}
    for position, value in values.items():
        for index in by_input[position]:
            proj = net.projections[index]
            contribution = sim.plans[index].apply(prepared["weights"][index], value)
            extra[proj.post] = contribution if proj.post not in extra else extra[proj.post] + contribution
    return extra


def _add_currents(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = v if k not in out else out[k] + v
    return out


def _scan(net: Netlist, sim: Simulator, prepared, const_inputs: dict[int, Any], varying_inputs: dict[int, Any],
          hoist_const: set[int], hoist_varying: set[int], steps: int, key, dtype, *, counts: bool,
          unroll: int = 1):
    """Run ``sim`` for ``steps`` steps (traceable); returns the stacked per-step reports."""
    by_input = _input_projections(net)
    const_extra = _hoisted_currents(net, sim, prepared, {i: const_inputs[i] for i in hoist_const}, by_input)
    varying_extra = _hoisted_currents(net, sim, prepared, {i: varying_inputs[i] for i in hoist_varying}, by_input)
    noisy = [(name, net[name].n) for name in sim.noisy]
    batch = sim.batch

    def body(state, xs):
        k, varying, extra_k = xs
        # netsim reads inputs by program-input index.
        program_order = {src.index: const_inputs[i] if i in const_inputs else varying[i]
                         for i, src in enumerate(net.inputs)}
        noise = None
        if noisy:
            step_key = jax.random.fold_in(key, k)
            noise = {name: jax.random.uniform(sub, (batch, n), dtype=dtype)
                     for (name, n), sub in zip(noisy, jax.random.split(step_key, len(noisy)))}
        extra = _add_currents(const_extra, extra_k)
        new_state, report = sim.step(state, program_order, noise, prepared, extra or None)
        new_state = _cast_like(new_state, state)
        ys = {"outputs": report["outputs"], "spikes": report["pop_spikes"]}
        if counts:
            ys["events"] = report["pop_events"]
        return new_state, ys

    xs = (jnp.arange(steps), {i: v for i, v in varying_inputs.items()}, varying_extra)
    init = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), sim.init)
    return jax.lax.scan(body, init, xs, length=steps, unroll=unroll)


# ---------------------------------------------------------------------------- simulate


@dataclasses.dataclass
class _Compiled:
    sim: Simulator
    run: Callable  # jitted
    raw: dict  # the weights, gains and biases, on the device
    compile_time: float = 0.0
    compiled: Any = None


_CACHE = LruCache(8)


def clear_cache() -> None:
    """Forget the compiled simulators (they hold their weights)."""
    _CACHE.clear()


def _build(net: Netlist, mode: str, dt: float, batch: int, steps: int, dtype: str, optimize: bool,
           const_pattern: tuple[bool, ...], hoist_varying: frozenset[int], unroll: int) -> _Compiled:
    key = (net, mode, float(dt), batch, steps, dtype, optimize, const_pattern, hoist_varying, unroll)
    return _CACHE.get(key, lambda: _compile(net, mode, dt, batch, steps, dtype, optimize, const_pattern,
                                            hoist_varying, unroll))


def _compile(net: Netlist, mode: str, dt: float, batch: int, steps: int, dtype: str, optimize: bool,
             const_pattern: tuple[bool, ...], hoist_varying: frozenset[int], unroll: int) -> _Compiled:
    jdtype = jnp.dtype(dtype)
    by_input = _input_projections(net)
    hoist_const = {i for i, c in enumerate(const_pattern) if c}
    hoisted = [p for i in (hoist_const | set(hoist_varying)) for p in by_input[i]]
    sim = make_simulator(net, mode, dt, batch=batch, xp=jnp, dtype=jdtype,
                         plan=lambda index, tr: choose_plan(tr, jdtype, factor=optimize),
                         hoisted=hoisted, count_dtype=jnp.int32)

    def run(raw, const_inputs, varying_inputs, seed, live):
        prepared = sim.prepare(raw)
        for index, w in prepared["weights"].items():
            if isinstance(w, dict):
                prepared["weights"][index] = {**w, "live": live}
        prepared["fence"] = lambda tree: _fence(tree, live)
        _, ys = _scan(net, sim, prepared, const_inputs, varying_inputs, hoist_const, set(hoist_varying), steps,
                      jax.random.PRNGKey(seed), jdtype, counts=True, unroll=unroll)
        return ys

    raw = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jdtype), sim.params)
    return _Compiled(sim, jax.jit(run), raw)


def simulate(net: Netlist, inputs: Sequence[np.ndarray], *, mode: str = "spiking", dt: float = 1e-3,
             dtype: str = "float32", seed: int | None = 0, optimize: bool = True, unroll: int = 1,
             steps: int | None = None, batch: int | None = None) -> dict:
    """Simulate ``net`` on sampled inputs; the back end's core, for benchmarks and tests.

    ``inputs[i]`` is netlist input ``i`` (``net.inputs`` order) sampled as
    ``(steps, batch, size)`` (a netlist without inputs needs ``steps`` and
    ``batch``, default 1).  Returns a dict of NumPy arrays: ``outputs``
    (one ``(steps, batch, size)`` per netlist output), ``population_spikes``
    and ``population_events`` (population -> per-step ``(steps, batch)``
    int64 counts, spiking populations only), ``build_time``,
    ``compile_time``, ``run_time`` (seconds) and ``plans``.
    """
    if mode not in MODES:
        raise RunError(f"backend 'jax' has modes {', '.join(MODES)}; got mode={mode!r}")
    dtype = _check_dtype(dtype)
    if len(inputs) != len(net.inputs):
        raise RunError(f"netlist {net.name} has {len(net.inputs)} inputs, got {len(inputs)} arrays")
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    if arrays:
        steps, batch = arrays[0].shape[:2]
    elif steps is None:
        raise RunError(f"netlist {net.name} has no inputs: give simulate() the number of steps")
    batch = 1 if batch is None else batch
    for a, src in zip(arrays, net.inputs):
        if a.shape != (steps, batch, src.size):
            raise RunError(f"input {src.name}: expected shape {(steps, batch, src.size)}, got {a.shape}")
    return _simulate(net, arrays, steps, batch, mode=mode, dt=dt, dtype=dtype, seed=seed, optimize=optimize,
                     unroll=unroll)


def _simulate(net, arrays, steps, batch, *, mode, dt, dtype, seed, optimize, unroll=1) -> dict:
    start = time.perf_counter()
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    const_pattern = tuple(bool(np.all(a == a[:1])) for a in arrays)
    itemsize = np.dtype(dtype).itemsize
    by_input = _input_projections(net)
    hoist_varying = frozenset(
        i for i, c in enumerate(const_pattern)
        if not c and by_input[i]
        and steps * batch * sum(net[net.projections[p].post].size for p in by_input[i]) * itemsize <= HOIST_BYTES
    )
    with precision(dtype):
        compiled = _build(net, mode, dt, batch, steps, dtype, optimize, const_pattern, hoist_varying, unroll)
        jdtype = jnp.dtype(dtype)
        raw = compiled.raw
        const_inputs = {i: jnp.asarray(a[0], dtype=jdtype) for i, a in enumerate(arrays) if const_pattern[i]}
        varying = {i: jnp.asarray(a, dtype=jdtype) for i, a in enumerate(arrays) if not const_pattern[i]}
        seed_arr = np.uint32(seed % 2**32)
        live = np.bool_(True)  # see _gather
        if compiled.compiled is None:
            t0 = time.perf_counter()
            compiled.compiled = compiled.run.lower(raw, const_inputs, varying, seed_arr, live).compile()
            compiled.compile_time = time.perf_counter() - t0
            compile_time = compiled.compile_time
        else:
            compile_time = 0.0
        build_time = time.perf_counter() - start
        start = time.perf_counter()
        ys = compiled.compiled(raw, const_inputs, varying, seed_arr, live)
        ys = jax.device_get(ys)
        run_time = time.perf_counter() - start
    return {
        "outputs": [np.asarray(o, dtype=np.float64) for o in ys["outputs"]],
        "population_spikes": {k: np.asarray(v, dtype=np.int64) for k, v in ys["spikes"].items()},
        "population_events": {k: np.asarray(v, dtype=np.int64) for k, v in ys["events"].items()},
        "fan_out": compiled.sim.fanout,
        "build_time": build_time, "compile_time": compile_time, "run_time": run_time,
        "plans": {f"{p.pre} -> {p.post}": compiled.sim.plans[i].kind for i, p in enumerate(net.projections)},
        "seed": seed,
    }


class JaxBackend:
    """``backend="jax"``: the netlist as one jit-compiled ``lax.scan`` (CPU or GPU).

    Modes ``"spiking"`` (default) and ``"rate"``.  Options: ``dtype``
    (``"float32"``, the default, or ``"float64"``), ``optimize`` (factored
    sparse plans, default True), ``unroll`` (``lax.scan`` unrolling, default
    1).  Any other option is a lowering option, as for the other back ends.
    ``RunResult.info`` has the nengo back end's keys (see the module
    docstring).
    """

    name = "jax"
    modes = MODES
    default_mode = "spiking"

    def run(self, program, inputs, *, t: float, dt: float, mode: str, seed: int | None,
            progress: bool | None, batch_size: int | None = None, dtype: str = "float32", optimize: bool = True,
            unroll: int = 1, **options) -> RunResult:
        from spikec.backends.nengo.build import netlist_of, steps_of

        if mode not in self.modes:
            raise RunError(f"backend 'jax' has modes {', '.join(self.modes)}; got mode={mode!r}")
        dtype = _check_dtype(dtype)
        netlist = netlist_of(program, dt=dt, seed=seed, lower_options=options, backend=self.name)
        steps = steps_of(t, dt)
        start = time.perf_counter()
        arrays = sample_inputs(netlist, inputs, steps, dt, batch_size)
        sample_time = time.perf_counter() - start
        batch = 1 if batch_size is None else batch_size
        res = _simulate(netlist, arrays, steps, batch, mode=mode, dt=dt, dtype=dtype, seed=seed,
                        optimize=optimize, unroll=unroll)
        return _result(netlist, res, steps=steps, dt=dt, mode=mode, batch_size=batch_size, dtype=dtype,
                       sample_time=sample_time)


def _result(net: Netlist, res: dict, *, steps: int, dt: float, mode: str, batch_size: int | None, dtype: str,
            sample_time: float) -> RunResult:
    lead = () if batch_size is None else (batch_size,)
    pick = (lambda a: a[:, 0]) if batch_size is None else (lambda a: np.swapaxes(a, 0, 1))  # -> (*lead, steps)
    outputs = tuple(pick(o).reshape(*lead, steps, *out.shape) for o, out in zip(res["outputs"], net.outputs))
    zeros = np.zeros((*lead, steps), dtype=np.int64)
    pop_spikes = {name: np.cumsum(pick(v), axis=-1) for name, v in res["population_spikes"].items()}
    pop_events = {name: np.cumsum(pick(v), axis=-1) for name, v in res["population_events"].items()}
    for pop in net.populations:
        pop_spikes.setdefault(pop.name, zeros)
        pop_events.setdefault(pop.name, zeros)
    total = sum(pop_spikes.values(), zeros)
    events = sum(pop_events.values(), zeros)
    last = (lambda a: int(a[-1])) if batch_size is None else (lambda a: a[:, -1].copy())
    info = {
        "population_spikes": pop_spikes, "population_synaptic_events": pop_events,
        "synaptic_events": events, "total_spikes": last(total), "total_synaptic_events": last(events),
        "fan_out": res["fan_out"], "build_time": res["build_time"] + sample_time, "run_time": res["run_time"],
        "compile_time": res["compile_time"], "sample_time": sample_time, "dtype": dtype, "seed": res["seed"],
        "plans": res["plans"], "device": str(jax.devices()[0]),
    }
    return RunResult(t=dt * np.arange(1, steps + 1), outputs=outputs, backend="jax", mode=mode, dt=dt,
                     spikes=total, batched=batch_size is not None, info=info)


# -------------------------------------------------------------------------- gradients


def make_loss_fn(net: Netlist, mode: str = "rate", dt: float = 1e-3, steps: int = 100, *,
                 dtype: str | None = None, surrogate: Any = None, soft_lif: float | None = None,
                 seed: int = 0, neuron_params: bool = False) -> tuple[dict, Callable]:
    """Parameters of ``net`` and a pure, differentiable function that runs it.

    Returns ``(params, apply)``:

    ``params``
        ``{"weights": {i: array}, "gain": {population: (n,)}, "bias":
        {population: (n,)}}`` as JAX arrays of ``dtype``, where
        ``weights[i]`` belongs to ``net.projections[i]`` (the dense
        ``(size_out, size_in)`` matrix, or a sparse matrix's ``data`` vector;
        its sparsity pattern stays fixed).  Any sub-tree may be left out of
        the ``params`` given to ``apply``: missing entries take the
        netlist's values (so ``{"weights": {...}}`` alone trains weights
        only).  With ``neuron_params=True`` it also holds ``"neuron":
        {population: {name: scalar}}``, the neuron types' parameters
        (:func:`spikec.models.neurons.neuron_parameters`: ``tau_rc``, ``tau_ref``,
        AdEx's ``a``, ``b``...), which may be given per neuron as ``(n,)``
        arrays too; a population's missing names keep their values.
    ``apply(params, inputs, key=None, return_spikes=False)``
        Runs ``steps`` steps and returns one array per netlist output,
        ``(batch, steps, *shape)``.  ``inputs[i]`` (netlist input order) is
        ``(batch, steps, *shape)`` or, held constant, ``(batch, *shape)``;
        constant inputs' projections are evaluated once.  ``key`` (a
        ``jax.random`` key; default ``PRNGKey(seed)``) drives Poisson
        neurons.  With ``return_spikes`` it returns ``(outputs, spikes)``,
        ``spikes`` mapping each spiking population to its per-step spike
        count ``(batch, steps)``, differentiable through the surrogate (for
        spike-count penalties).  ``apply`` is pure and already jitted (one
        compilation per input shape); ``jax.grad`` and further ``jax.jit``
        compose with it.

    ``mode="rate"`` runs rate neurons (``soft_lif=sigma`` replaces LIF rates
    by :class:`~spikec.models.neurons.SoftLIFRate` for smooth gradients near
    threshold); ``mode="spiking"`` runs spiking neurons whose spikes have
    surrogate gradients (``surrogate``: a :class:`spikec.train.surrogate.Surrogate`
    or its name; default SuperSpike with scale 10).  Forward values equal
    :func:`simulate`'s (without ``soft_lif``).

    ``dtype`` defaults to float64 when JAX's 64-bit mode is on, else
    float32; float64 needs 64-bit mode on while you trace (e.g. inside
    ``with jax.enable_x64(True):``) and raises otherwise.
    """
    from spikec.train.surrogate import soft_lif as _soft
    from spikec.train.surrogate import surrogate_neuron

    if mode not in MODES:
        raise RunError(f"make_loss_fn: mode must be one of {', '.join(MODES)}, got {mode!r}")
    x64 = bool(jax.config.jax_enable_x64)
    dtype = ("float64" if x64 else "float32") if dtype is None else _check_dtype(dtype)
    if dtype == "float64" and not x64:
        raise BackendError("make_loss_fn(dtype='float64') needs JAX's 64-bit mode",
                           hint="call it (and trace apply) inside `with jax.enable_x64(True):`, or set "
                                "jax.config.update('jax_enable_x64', True)")
    jdtype = jnp.dtype(dtype)
    if soft_lif is not None and mode == "rate":
        sigma = float(soft_lif)
        neuron_map = lambda t: _soft(t, sigma)
    elif mode == "spiking":
        neuron_map = lambda t: surrogate_neuron(t, surrogate)
    else:
        neuron_map = None
    plan = lambda index, tr: choose_plan(tr, jdtype, factor=False)
    template = make_simulator(net, mode, dt, batch=1, xp=jnp, dtype=jdtype, plan=plan, neuron_map=neuron_map,
                              neuron_params=neuron_params)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jdtype), template.params)
    by_input = _input_projections(net)
    sims: dict[tuple, Simulator] = {}

    def hoistable(batch: int, const: tuple[bool, ...]) -> frozenset[int]:
        # Time-varying inputs whose projections fit in HOIST_BYTES are multiplied for all
        # steps at once, outside the scan (as simulate() does; exact): one large matmul
        # forward and backward instead of one per step.
        itemsize = jdtype.itemsize
        return frozenset(i for i, c in enumerate(const) if not c and by_input[i]
                         and steps * batch * sum(net[net.projections[p].post].size for p in by_input[i])
                         * itemsize <= HOIST_BYTES)

    def simulator(batch: int, const: tuple[bool, ...]) -> Simulator:
        key = (batch, const)
        if key not in sims:
            hoist = hoistable(batch, const)
            hoisted = [p for i, c in enumerate(const) if c or i in hoist for p in by_input[i]]
            # Built while apply is traced, but cached across traces: its arrays must be concrete.
            with jax.ensure_compile_time_eval():
                sims[key] = make_simulator(net, mode, dt, batch=batch, xp=jnp, dtype=jdtype, plan=plan,
                                           neuron_map=neuron_map, hoisted=hoisted, neuron_params=neuron_params)
        return sims[key]

    def apply(p, inputs, key=None, return_spikes=False):
        if len(inputs) != len(net.inputs):
            raise RunError(f"netlist {net.name} has {len(net.inputs)} inputs, got {len(inputs)}")
        unknown = set(p) - set(params)
        if unknown:
            raise RunError(f"make_loss_fn: unknown parameter groups {', '.join(map(str, sorted(unknown)))}; "
                           f"the groups are {', '.join(params)}"
                           + ("" if "neuron" in params else " (neuron parameters need neuron_params=True)"))
        full = {part: {**params[part], **dict(p.get(part, {}))} for part in params}
        if "neuron" in full:
            given = p.get("neuron", {})
            full["neuron"] = {pop: {**values, **dict(given.get(pop, {}))} for pop, values in params["neuron"].items()}
        const, values, batch = [], [], None
        for src, value in zip(net.inputs, inputs):
            value = jnp.asarray(value, dtype=jdtype)
            b = value.shape[0]
            if value.shape == (b, *src.shape):
                const.append(True)
                values.append(value.reshape(b, src.size))
            elif value.shape == (b, steps, *src.shape):
                const.append(False)
                values.append(jnp.swapaxes(value.reshape(b, steps, src.size), 0, 1))
            else:
                raise RunError(f"input {src.name}: expected (batch, {steps}, *{src.shape}) or (batch, *{src.shape}), "
                               f"got {value.shape}")
            if batch is not None and b != batch:
                raise RunError("every input needs the same batch size")
            batch = b
        batch = 1 if batch is None else batch
        sim = simulator(batch, tuple(const))
        prepared = sim.prepare(full)
        const_inputs = {i: v for i, (v, c) in enumerate(zip(values, const)) if c}
        varying = {i: v for i, (v, c) in enumerate(zip(values, const)) if not c}
        rng = jax.random.PRNGKey(seed) if key is None else key
        _, ys = _scan(net, sim, prepared, const_inputs, varying, set(const_inputs),
                      set(hoistable(batch, tuple(const))), steps, rng, jdtype,
                      counts=False)
        outputs = tuple(jnp.swapaxes(o, 0, 1).reshape(batch, steps, *out.shape)
                        for o, out in zip(ys["outputs"], net.outputs))
        if return_spikes:
            return outputs, {name: jnp.swapaxes(s, 0, 1) for name, s in ys["spikes"].items()}
        return outputs

    return params, jax.jit(apply, static_argnames=("return_spikes",))


def _with_neuron_values(neuron_type, values: dict):
    """A population's neuron type with trained parameter values (scalars, validated).

    ``values`` are named for the type in the mode it was trained in; rate
    and spiking counterparts (LIF and LIFRate) share parameter names, and a
    spiking wrapper's (``RegularSpiking``) ``base.`` names apply to the type it wraps.
    """
    from spikec.models.neurons import bind_parameters, neuron_parameters

    own = neuron_parameters(neuron_type)
    mapped = {}
    for name, value in values.items():
        if name in own:
            mapped[name] = value
        elif name.startswith("base.") and name[5:] in own:
            mapped[name[5:]] = value
        else:
            raise RunError(f"with_params: {neuron_type.label()} has no parameter {name!r}")
    return bind_parameters(neuron_type, {k: np.asarray(v, dtype=np.float64) for k, v in mapped.items()},
                           check=True)


def with_params(net: Netlist, params: dict) -> Netlist:
    """``net`` with weights, gains, biases (and neuron parameters) from a (trained) ``params`` pytree.

    ``params`` is shaped like :func:`make_loss_fn`'s.  Entries missing from
    it keep the netlist's values; sparsity patterns are kept (a sparse
    projection's new ``data`` may contain zeros); neuron parameters must be
    one scalar per population (a netlist neuron type is shared by all its
    neurons).
    """
    weights = params.get("weights", {})
    projections = []
    for i, proj in enumerate(net.projections):
        if i in weights and not isinstance(proj.transform, AvgPool):  # pooling has no weights
            w = np.asarray(weights[i], dtype=np.float64)
            tr = proj.transform
            if isinstance(tr, Dense):
                new = Dense(ConstArray(w.reshape(tr.shape)))
            elif isinstance(tr, Convolution):
                new = dataclasses.replace(tr, kernel=ConstArray(w.reshape(tr.kernel.shape)))
            else:
                new = Sparse(tr.shape, tr.rows, tr.cols, ConstArray(w.reshape(tr.data.shape)))
            proj = dataclasses.replace(proj, transform=new)
        projections.append(proj)
    populations = []
    for pop in net.populations:
        changes = {}
        for part in ("gain", "bias"):
            if pop.name in params.get(part, {}):
                changes[part] = ConstArray(np.asarray(params[part][pop.name], dtype=np.float64).reshape(pop.n))
        if pop.name in params.get("neuron", {}):
            changes["neuron_type"] = _with_neuron_values(pop.neuron_type, params["neuron"][pop.name])
        populations.append(dataclasses.replace(pop, **changes) if changes else pop)
    return dataclasses.replace(net, populations=tuple(populations), projections=tuple(projections))
