"""The JAX back end's core: a netlist's step (:mod:`spikec.backends.netsim`) run over time in one
jit-compiled ``jax.lax.scan``, with loop-invariant input hoisting and a cache of compiled runs
(see :mod:`spikec.backends.jax.backend` for what it does and why)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spikec.backends.common import InputFeed, input_functions
from spikec.backends.jax import plans
from spikec.backends.jax.cache import cache_dir, load_export, run_key, save_export
from spikec.backends.jax.cache import setup as setup_cache
from spikec.backends.jax.plans import fence
from spikec.backends.jax.sharding import Placement, placement
from spikec.backends.netsim import Simulator, make_simulator
from spikec.errors import RunError
from spikec.netlist import Netlist
from spikec.util.cache import LruCache

__all__ = [
    "CHUNK", "COMPILATIONS", "DTYPES", "HOIST_BYTES", "MODES", "check_dtype", "chunk_steps", "clear_cache",
    "input_projections", "precision",
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
          unroll: int = 1, init=None, k0=0, end=None):
    """Run ``sim`` for ``steps`` steps (traceable); returns the final state and the stacked per-step reports.

    For a run in chunks: ``init`` is the state carried from the previous
    chunk (default: the simulator's initial state), ``k0`` the global index of
    this chunk's first step (noise is drawn per global step, so chunking does
    not change it) and ``end`` the run's number of steps: steps at or past it
    pad the last chunk, and leave the guards' records (the only state a run
    returns) as they were.
    """
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
        if end is not None and "guard" in state:
            live_step = k < end
            new_state["guard"] = jax.tree_util.tree_map(lambda a, b: jnp.where(live_step, a, b),
                                                        new_state["guard"], state["guard"])
        ys = {"outputs": report["outputs"], "spikes": report["pop_spikes"]}
        if counts:
            ys["events"] = report["pop_events"]
        return new_state, ys

    xs = (k0 + jnp.arange(steps), {i: v for i, v in varying_inputs.items()}, varying_extra)
    if init is None:
        init = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), sim.init)
    return jax.lax.scan(body, init, xs, length=steps, unroll=unroll)


# ---------------------------------------------------------------------------- simulate

# A run is stepped in chunks of this many steps: one compiled chunk, called
# repeatedly with the carried state, serves every run length (the last chunk
# is padded and its extra steps masked), so a new ``t`` compiles nothing.
# 500 divides the usual run lengths (1 s, 2.5 s, 0.5 s at dt = 1 ms) without
# padding; each call between chunks costs a few microseconds, which a 5x5
# inverse (4 us per step) notices at 250 steps a chunk (10% slower), less at 500.
CHUNK = 500
# Runs shorter than a chunk use the smallest power of two (at least this) that
# holds them, so that a 20-step test run does not step 500 times.
MIN_CHUNK = 16


def chunk_steps(steps: int) -> int:
    """The compiled chunk's length for a run of ``steps`` steps (see :data:`CHUNK`)."""
    if steps >= CHUNK:
        return CHUNK
    return min(CHUNK, max(MIN_CHUNK, 1 << max(0, steps - 1).bit_length()))


@dataclasses.dataclass
class _Compiled:
    sim: Simulator
    run: Callable  # jitted chunk
    raw: dict  # the weights, gains and biases, as host arrays of the run's dtype
    init: dict  # the initial state, host arrays of the run's dtype
    compile_time: float = 0.0
    compiled: Any = None
    placed: Any = None  # raw, put on the devices


_CACHE = LruCache(8)
# Compiled chunks built in this process (a test's count of compilations; JAX's own
# events, jax.monitoring's "/jax/core/compile/backend_compile_duration", count all of them).
COMPILATIONS = [0]


# Compiled chunks by their program text (StableHLO) and devices: weights are arguments, so a netlist
# lowered again with another seed or new values but the same structure reuses the executable.
_EXECUTABLES = LruCache(16)


def _count(executable):
    COMPILATIONS[0] += 1
    return executable


def clear_cache() -> None:
    """Forget the compiled simulators (they hold their weights) and executables."""
    _CACHE.clear()
    _EXECUTABLES.clear()


def _build(net: Netlist, mode: str, dt: float, where: Placement, chunk: int, dtype: str, optimize: bool,
           const_pattern: tuple[bool, ...], hoist_varying: frozenset[int], unroll: int) -> _Compiled:
    key = (net, mode, float(dt), where.key, chunk, dtype, optimize, const_pattern, hoist_varying, unroll)
    return _CACHE.get(key, lambda: _compile(net, mode, dt, where, chunk, dtype, optimize, const_pattern,
                                            hoist_varying, unroll))


def _compile(net: Netlist, mode: str, dt: float, where: Placement, chunk: int, dtype: str, optimize: bool,
             const_pattern: tuple[bool, ...], hoist_varying: frozenset[int], unroll: int) -> _Compiled:
    jdtype = jnp.dtype(dtype)
    by_input = input_projections(net)
    hoist_const = {i for i, c in enumerate(const_pattern) if c}
    hoisted = [p for i in (hoist_const | set(hoist_varying)) for p in by_input[i]]
    sim = make_simulator(net, mode, dt, batch=where.padded, xp=jnp, dtype=jdtype,
                         plan=lambda index, tr: plans.choose_plan(tr, jdtype, factor=optimize),
                         hoisted=hoisted, count_dtype=jnp.int32, guards=True, guard_params=True, init_xp=np)

    def run(raw, const_inputs, varying_inputs, seed, live, state, k0, end):
        prepared = sim.prepare(raw)
        for index, w in prepared["weights"].items():
            if isinstance(w, dict):
                prepared["weights"][index] = {**w, "live": live}
        prepared["fence"] = lambda tree: fence(tree, live)
        final, ys = scan(net, sim, prepared, const_inputs, varying_inputs, hoist_const, set(hoist_varying), chunk,
                         jax.random.PRNGKey(seed), jdtype, counts=True, unroll=unroll, init=state, k0=k0, end=end)
        return where.constrain(final, batch_axis=0), ys

    host = lambda a: np.asarray(a, dtype=dtype)
    return _Compiled(sim, jax.jit(run), jax.tree_util.tree_map(host, sim.params),
                     jax.tree_util.tree_map(host, sim.init))


def simulate(net: Netlist, inputs: Sequence[np.ndarray], *, mode: str = "spiking", dt: float = 1e-3,
             dtype: str = "float32", seed: int | None = 0, optimize: bool = True, unroll: int = 1,
             steps: int | None = None, batch: int | None = None, devices: Any = None,
             shard: bool = False) -> dict:
    """Simulate ``net`` on sampled inputs; the back end's core, for benchmarks and tests.

    ``inputs[i]`` is netlist input ``i`` (``net.inputs`` order) sampled as
    ``(steps, batch, size)`` (a netlist without inputs needs ``steps`` and
    ``batch``, default 1).  Returns a dict of NumPy arrays: ``outputs``
    (one ``(steps, batch, size)`` per netlist output), ``population_spikes``
    and ``population_events`` (population -> per-step ``(steps, batch)``
    int64 counts, spiking populations only), ``build_time``,
    ``compile_time``, ``run_time`` (seconds), ``plans`` and ``guard_state``
    (the run-time guards' records, :mod:`spikec.backends.guards`).  With
    ``shard=True`` the batch axis is spread over ``devices``
    (:mod:`spikec.backends.jax.sharding`).
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
                       unroll=unroll, devices=devices, shard=shard)


def _lower(compiled: _Compiled, net: Netlist, where: Placement, options: tuple, args: tuple):
    """The chunk lowered for ``args``: from a :mod:`jax.export` module an earlier process stored, when there is
    one (no tracing), else traced, and stored (see :mod:`spikec.backends.jax.cache`).  A run sharded over
    several devices is traced every time (its shardings are not part of the stored module)."""
    if where.mesh is not None or cache_dir() is None:
        return compiled.run.lower(*args)
    key = run_key(net, options, args)
    stored = load_export(key)
    leaves, in_tree = jax.tree_util.tree_flatten(args)
    exported = out_tree = None
    if stored is not None:
        try:
            exported, out_tree = jax.export.deserialize(bytearray(stored[0])), stored[1]
        except Exception:  # a damaged or incompatible entry: trace again
            exported = None
    if exported is None:
        trees = []

        def flat(*leaves):  # jax.export stores flat arguments and results (its pytrees take string keys only)
            out = compiled.run(*jax.tree_util.tree_unflatten(in_tree, leaves))
            flat_out, tree = jax.tree_util.tree_flatten(out)
            trees.append(tree)
            return flat_out

        exported = jax.export.export(jax.jit(flat))(*leaves)
        out_tree = trees[0]
        save_export(key, (exported.serialize(), out_tree))

    def call(*args):
        return jax.tree_util.tree_unflatten(out_tree, exported.call(*jax.tree_util.tree_leaves(args)))

    return jax.jit(call).lower(*args)


def _pad_steps(a: np.ndarray, chunk: int) -> np.ndarray:
    """``(n, batch, size)`` with ``n <= chunk`` padded to ``chunk`` steps by repeating the last step."""
    return a if len(a) == chunk else np.concatenate([a, np.repeat(a[-1:], chunk - len(a), axis=0)])


def run_sampled(net, arrays, steps, batch, *, mode, dt, dtype, seed, optimize, unroll=1, devices=None,
                shard=False) -> dict:
    """:func:`simulate` on checked ``(steps, batch, size)`` float64 arrays; also returns ``fan_out`` and ``seed``.

    With ``shard=True`` the batch axis is spread over ``devices``
    (:mod:`spikec.backends.jax.sharding`).
    """
    start = time.perf_counter()
    setup_cache()
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    chunk = chunk_steps(steps)
    where = placement(batch, devices, shard)
    const_pattern = tuple(bool(np.all(a == a[:1])) for a in arrays)
    itemsize = np.dtype(dtype).itemsize
    by_input = input_projections(net)
    hoist_varying = frozenset(
        i for i, c in enumerate(const_pattern)
        if not c and by_input[i]
        and chunk * where.padded * sum(net[net.projections[p].post].size for p in by_input[i]) * itemsize
        <= HOIST_BYTES
    )
    with precision(dtype):
        compiled = _build(net, mode, dt, where, chunk, dtype, optimize, const_pattern, hoist_varying, unroll)
        if compiled.placed is None:
            compiled.placed = where.put(compiled.raw)
        raw = compiled.placed
        arrays = [where.pad(a.astype(dtype), axis=1) for a in arrays]
        const_inputs = where.put({i: a[0] for i, a in enumerate(arrays) if const_pattern[i]}, batch_axis=0)
        state = where.put(compiled.init, batch_axis=0)
        seed_arr, live, end = np.uint32(seed % 2**32), np.bool_(True), np.int32(steps)  # live: see _gather

        def varying(k0):
            return where.put({i: _pad_steps(a[k0:k0 + chunk], chunk)
                              for i, a in enumerate(arrays) if not const_pattern[i]}, batch_axis=1)

        compile_time = 0.0
        if compiled.compiled is None:
            t0 = time.perf_counter()
            args = (raw, const_inputs, varying(0), seed_arr, live, state, np.int32(0), end)
            options = (mode, float(dt), chunk, dtype, optimize, const_pattern, tuple(sorted(hoist_varying)), unroll)
            lowered = _lower(compiled, net, where, options, args)
            compiled.compiled = _EXECUTABLES.get((hashlib.sha256(lowered.as_text().encode()).hexdigest(), where.key),
                                                 lambda: _count(lowered.compile()))
            compiled.compile_time = compile_time = time.perf_counter() - t0
        build_time = time.perf_counter() - start
        start = time.perf_counter()
        pieces = []
        for k0 in range(0, steps, chunk):  # dispatched asynchronously: the host samples while a chunk runs
            state, ys = compiled.compiled(raw, const_inputs, varying(k0), seed_arr, live, state, np.int32(k0), end)
            pieces.append(ys)
        pieces, guard_state = jax.device_get((pieces, state["guard"]))
        run_time = time.perf_counter() - start
    ys = jax.tree_util.tree_map(lambda *a: np.concatenate(a)[:steps], *pieces)
    ys, guard_state = where.trim(ys, batch_axis=1), where.trim(guard_state, batch_axis=0)
    return {
        "outputs": [np.asarray(o, dtype=np.float64) for o in ys["outputs"]],
        "population_spikes": {k: np.asarray(v, dtype=np.int64) for k, v in ys["spikes"].items()},
        "population_events": {k: np.asarray(v, dtype=np.int64) for k, v in ys["events"].items()},
        "fan_out": compiled.sim.fanout,
        "build_time": build_time, "compile_time": compile_time, "run_time": run_time,
        "plans": {f"{p.pre} -> {p.post}": compiled.sim.plans[i].kind for i, p in enumerate(net.projections)},
        "seed": seed, "guard_state": guard_state, "chunk": chunk,
        "devices": 1 if where.mesh is None else where.mesh.devices.size,
    }
