"""Differentiable runs of a netlist on the JAX back end's scan, and trained values written back.

:func:`make_loss_fn` pulls a parameter pytree out of a netlist (weights per
projection, gain and bias per population) and returns a pure
``apply(params, inputs)`` that runs the network and returns its outputs;
``jax.grad`` goes through it.  Rate mode is differentiable as it is
(optionally with LIF rates smoothed into soft-LIF); spiking mode uses
surrogate gradients (:mod:`spikec.train.surrogate`).  :func:`with_params` writes
trained parameters back into a netlist that every back end runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spikec.backends.jax import plans
from spikec.backends.jax.scan import HOIST_BYTES, MODES, check_dtype, input_projections, scan
from spikec.backends.netsim import Simulator, make_simulator
from spikec.errors import BackendError, RunError
from spikec.ir.attrs import ConstArray
from spikec.netlist import AvgPool, Convolution, Dense, Netlist, Sparse

__all__ = ["make_loss_fn", "with_params"]


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
    :func:`spikec.backends.jax.scan.simulate`'s (without ``soft_lif``).

    ``dtype`` defaults to float64 when JAX's 64-bit mode is on, else
    float32; float64 needs 64-bit mode on while you trace (e.g. inside
    ``with jax.enable_x64(True):``) and raises otherwise.
    """
    from spikec.train.surrogate import soft_lif as _soft
    from spikec.train.surrogate import surrogate_neuron

    if mode not in MODES:
        raise RunError(f"make_loss_fn: mode must be one of {', '.join(MODES)}, got {mode!r}")
    x64 = bool(jax.config.jax_enable_x64)
    dtype = ("float64" if x64 else "float32") if dtype is None else check_dtype(dtype)
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
    plan = lambda index, tr: plans.choose_plan(tr, jdtype, factor=False)
    template = make_simulator(net, mode, dt, batch=1, xp=jnp, dtype=jdtype, plan=plan, neuron_map=neuron_map,
                              neuron_params=neuron_params)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jdtype), template.params)
    by_input = input_projections(net)
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
        _, ys = scan(net, sim, prepared, const_inputs, varying, set(const_inputs),
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
