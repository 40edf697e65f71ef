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
  float64 plans sum in a fixed order
  (:func:`~spikec.backends.jax.plans.fixed_sum`), so a batch element's bits
  do not depend on the batch block it is computed in: a batch sharded over
  devices equals the run on one device bit for bit.
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

The pieces: :mod:`~spikec.backends.jax.plans` (how each projection multiplies),
:mod:`~spikec.backends.jax.strided` (gather-free strided views),
:mod:`~spikec.backends.jax.scan` (the compiled scan, :func:`~spikec.backends.jax.scan.simulate`)
and this module's :class:`JaxBackend`; training runs the same scan through
:func:`spikec.train.loss.make_loss_fn`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import jax
import numpy as np

from spikec.backends.common import NetlistBackend, RunSpec, assemble_result
from spikec.backends.jax.scan import MODES, check_dtype, run_sampled, sample_inputs
from spikec.backends.result import RunResult
from spikec.netlist import Netlist

__all__ = ["JaxBackend"]


class JaxBackend(NetlistBackend):
    """``backend="jax"``: the netlist as one jit-compiled ``lax.scan`` (CPU or GPU).

    Modes ``"spiking"`` (default) and ``"rate"``.  Options: ``dtype``
    (``"float32"``, the default, or ``"float64"``), ``optimize`` (factored
    sparse plans, default True), ``unroll`` (``lax.scan`` unrolling, default
    1), ``devices`` (where a batched run's batch axis is spread: None for
    every local device, a count, or a list of ``jax.Device``; see
    :mod:`spikec.backends.jax.sharding`, which also says how to span several
    hosts with ``jax.distributed``).  ``RunResult.info`` has the nengo back end's keys (see the module
    docstring).
    """

    name = "jax"
    modes = MODES
    default_mode = "spiking"
    options = MappingProxyType({"dtype": "float32", "optimize": True, "unroll": 1, "devices": None})

    def execute(self, netlist: Netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult:
        netlist = self.check_netlist(netlist)
        dtype = check_dtype(spec.options["dtype"])
        start = time.perf_counter()
        arrays = sample_inputs(netlist, inputs, spec.steps, spec.dt, spec.batch_size)
        sample_time = time.perf_counter() - start
        res = run_sampled(netlist, arrays, spec.steps, spec.elements, mode=spec.mode, dt=spec.dt, dtype=dtype,
                          seed=spec.seed, optimize=spec.options["optimize"], unroll=spec.options["unroll"],
                          devices=spec.options["devices"], shard=spec.batched)
        # res holds (steps, batch) per-step counts and (steps, batch, size) outputs: batch first, or dropped.
        pick = (lambda a: a[:, 0]) if spec.batch_size is None else (lambda a: np.swapaxes(a, 0, 1))
        info = {
            "build_time": res["build_time"] + sample_time, "run_time": res["run_time"],
            "compile_time": res["compile_time"], "sample_time": sample_time, "dtype": dtype, "seed": res["seed"],
            "plans": res["plans"], "device": str(jax.devices()[0]), "chunk": res["chunk"],
            "devices": res["devices"],
        }
        return assemble_result(
            netlist, spec, [pick(o) for o in res["outputs"]], backend=self.name,
            spikes={name: pick(v) for name, v in res["population_spikes"].items()},
            events={name: pick(v) for name, v in res["population_events"].items()},
            fans=res["fan_out"], info=info, guard_state=res["guard_state"],
        )
