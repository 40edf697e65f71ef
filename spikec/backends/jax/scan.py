"""The JAX back end's core: a netlist's step (:mod:`spikec.backends.netsim`) run over time in one
jit-compiled ``jax.lax.scan``, with loop-invariant input hoisting and a cache of compiled runs
(see :mod:`spikec.backends.jax.backend` for what it does and why)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spikec.backends.common import InputFeed, input_functions
from spikec.backends.jax import plans
from spikec.backends.jax.plans import fence
from spikec.backends.netsim import Simulator, make_simulator
from spikec.errors import RunError
from spikec.netlist import Netlist
from spikec.util.cache import LruCache

__all__ = [
    "DTYPES", "HOIST_BYTES", "MODES", "check_dtype", "clear_cache", "input_projections", "precision",
    "run_sampled", "sample_inputs", "scan", "simulate",
]

DTYPES = ("float32", "float64")
MODES = ("spiking", "rate")

# Evaluate a time-varying input's projections for all steps at once when the
# result takes at most this many bytes (else inside the scan, step by step).
HOIST_BYTES = 256 * 2**20


# ------------------------------------------------------------------------------ precision


def check_dtype(dtype: Any) -> str:
    """``dtype``'s name, checked against :data:`DTYPES`."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise RunError(f"backend 'jax': dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return name


@contextlib.contextmanager
def precision(dtype: str):
    """JAX's 64-bit mode on for ``"float64"`` and off for ``"float32"``, only inside the block."""
    with jax.enable_x64(check_dtype(dtype) == "float64"):
        yield


# --------------------------------------------------------------------------------- inputs


def sample_inputs(net: Netlist, inputs: Sequence[Any], steps: int, dt: float,
                  batch_size: int | None = None) -> list[np.ndarray]:
    """Each netlist input sampled at ``t = dt .. steps*dt``: ``(steps, batch, size)`` float64.

    ``inputs[i]`` is program input ``i``: a function of time, or a list of
    them (one per element) when ``batch_size`` is given.
    """
    table = input_functions(net, inputs, batch_size)
    arrays = []
    for i, src in enumerate(net.inputs):
        arrays.append(np.stack([InputFeed(src, row[i]).sample(steps, dt) for row in table], axis=1))
    return arrays


# --------------------------------------------------------------------------- the scan


def _cast_like(new, old):
    return jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype) if hasattr(b, "dtype") else a, new, old)


def input_projections(net: Netlist) -> dict[int, list[int]]:
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


def scan(net: Netlist, sim: Simulator, prepared, const_inputs: dict[int, Any], varying_inputs: dict[int, Any],
          hoist_const: set[int], hoist_varying: set[int], steps: int, key, dtype, *, counts: bool,
          unroll: int = 1):
    """Run ``sim`` for ``steps`` steps (traceable); returns the stacked per-step reports."""
    by_input = input_projections(net)
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
    by_input = input_projections(net)
    hoist_const = {i for i, c in enumerate(const_pattern) if c}
    hoisted = [p for i in (hoist_const | set(hoist_varying)) for p in by_input[i]]
    sim = make_simulator(net, mode, dt, batch=batch, xp=jnp, dtype=jdtype,
                         plan=lambda index, tr: plans.choose_plan(tr, jdtype, factor=optimize),
                         hoisted=hoisted, count_dtype=jnp.int32, guards=True)

    def run(raw, const_inputs, varying_inputs, seed, live):
        prepared = sim.prepare(raw)
        for index, w in prepared["weights"].items():
            if isinstance(w, dict):
                prepared["weights"][index] = {**w, "live": live}
        prepared["fence"] = lambda tree: fence(tree, live)
        final, ys = scan(net, sim, prepared, const_inputs, varying_inputs, hoist_const, set(hoist_varying), steps,
                         jax.random.PRNGKey(seed), jdtype, counts=True, unroll=unroll)
        return ys, final["guard"]

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
    ``compile_time``, ``run_time`` (seconds), ``plans`` and ``guard_state``
    (the run-time guards' records, :mod:`spikec.backends.guards`).
    """
    if mode not in MODES:
        raise RunError(f"backend 'jax' has modes {', '.join(MODES)}; got mode={mode!r}")
    dtype = check_dtype(dtype)
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
        if not np.all(np.isfinite(a)):
            k = int(np.argwhere(~np.isfinite(a))[0, 0])
            raise RunError(f"input {src.name} is not finite at t = {(k + 1) * dt:g} s (step {k + 1})")
    return run_sampled(net, arrays, steps, batch, mode=mode, dt=dt, dtype=dtype, seed=seed, optimize=optimize,
                     unroll=unroll)


def run_sampled(net, arrays, steps, batch, *, mode, dt, dtype, seed, optimize, unroll=1) -> dict:
    """:func:`simulate` on checked ``(steps, batch, size)`` float64 arrays; also returns ``fan_out`` and ``seed``."""
    start = time.perf_counter()
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    const_pattern = tuple(bool(np.all(a == a[:1])) for a in arrays)
    itemsize = np.dtype(dtype).itemsize
    by_input = input_projections(net)
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
        ys, guard_state = jax.device_get(compiled.compiled(raw, const_inputs, varying, seed_arr, live))
        run_time = time.perf_counter() - start
    return {
        "outputs": [np.asarray(o, dtype=np.float64) for o in ys["outputs"]],
        "population_spikes": {k: np.asarray(v, dtype=np.int64) for k, v in ys["spikes"].items()},
        "population_events": {k: np.asarray(v, dtype=np.int64) for k, v in ys["events"].items()},
        "fan_out": compiled.sim.fanout,
        "build_time": build_time, "compile_time": compile_time, "run_time": run_time,
        "plans": {f"{p.pre} -> {p.post}": compiled.sim.plans[i].kind for i, p in enumerate(net.projections)},
        "seed": seed, "guard_state": guard_state,
    }
