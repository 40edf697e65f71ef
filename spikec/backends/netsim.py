"""A netlist simulator written once against an array module ``xp``.

:func:`make_simulator` turns a :class:`~spikec.netlist.Netlist` into a pure
``step(state, inputs) -> (state, outputs)`` function plus an initial state.
With ``xp = numpy`` the NumPy back end loops over it; the JAX back end runs
the same step under ``jax.lax.scan``.  It implements the netlist semantics
documented in :mod:`spikec.netlist`, which are nengo's: synapses update at
the end of a step and are seen by consumers one step later; neurons and
projections without synapses act within the step.

Values carry a leading batch axis: ``(batch, size)``.

Parameters as data
------------------
Weights, gains and biases are not baked into the step: the step reads them
from a *prepared* parameter pytree, so that a JAX caller can pass them as
traced arguments (no constant folding of large weight matrices at compile
time) and differentiate with respect to them.  ``Simulator.params`` holds
the netlist's own values::

    {"weights": {i: array}, "gain": {population: (n,)}, "bias": {population: (n,)}}

(plus ``"neuron": {population: {name: value}}`` with ``neuron_params=True``)
where ``weights[i]`` belongs to ``net.projections[i]``: the dense
``(size_out, size_in)`` matrix, or the ``data`` vector of a sparse one (its
``rows``/``cols`` are structure and stay fixed).  ``Simulator.prepare(params)``
turns such a pytree into what ``step`` multiplies with (a transposed dense
matrix, a SciPy CSR matrix for NumPy, whatever a transform plan wants), once,
outside the time loop.  A caller may add ``prepared["fence"]``, a function
applied to each population's ``(new_state, output)`` right after its neuron
step (the JAX back end uses it to keep XLA from recomputing neuron steps
inside every consumer).  With ``prepared=None`` the step uses the netlist's
values, prepared at build time; that is what the NumPy back end does, and it
multiplies with NumPy and SciPy (``x @ W.T`` dense, ``csr(W) @ x`` row by row for sparse,
convolution and pooling matrices).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from spikec.backends.common import fan_out
from spikec.backends.guards import guard_bounds, guard_entry, initial_guard_state, settings
from spikec.models.neurons import bind_parameters, neuron_parameters
from spikec.netlist import AvgPool, Convolution, Dense, InputSource, Netlist, Population, Sparse, SumNode


class TransformPlan(Protocol):
    """How one projection's transform is stored and multiplied.

    ``raw()`` gives the netlist's values (the dense matrix or the sparse
    ``data``); ``prepare(raw)`` turns (possibly traced) raw values into what
    ``apply(prepared, x)`` needs to compute ``x @ W.T`` on the last axis.
    """

    def raw(self) -> np.ndarray: ...

    def prepare(self, raw) -> Any: ...

    def apply(self, prepared, x): ...


@dataclass
class Simulator:
    """A netlist prepared for stepping.

    ``step(state, inputs, noise=None, prepared=None, extra=None)`` takes the
    state pytree, a list of input arrays ``(batch, size)`` in program-input
    order, a dict of uniform noise per population that needs it, optionally
    prepared parameters (``prepare(params)``; default: the netlist's) and
    optionally ``extra``: currents to add to the summed input of objects
    (name -> ``(batch, size)``; used for projections a caller evaluated
    outside the step, listed in ``hoisted``).  It returns the new state and a
    dict with ``outputs`` (list of ``(batch, size)``), ``spikes`` and
    ``events`` (``(batch,)`` counts this step, per population in
    ``pop_spikes`` and ``pop_events``).
    """

    netlist: Netlist
    mode: str
    dt: float
    batch: int
    xp: Any
    init: dict
    step: Callable
    neuron_types: dict[str, Any] = field(default_factory=dict)
    noisy: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    prepare: Callable | None = None
    plans: dict[int, TransformPlan] = field(default_factory=dict)
    fanout: dict[str, np.ndarray] = field(default_factory=dict)


class DensePlan:
    """``x @ W.T`` with the transposed dense matrix (any ``xp``)."""

    def __init__(self, transform: Dense, xp, dtype=None):
        self.transform, self.xp, self.dtype = transform, xp, dtype

    def raw(self):
        return self.transform.weights.value

    def prepare(self, raw):
        return _asarray(self.xp, raw, self.dtype).T

    def apply(self, prepared, x):
        return x @ prepared


class _CsrPlan:
    """NumPy: a transform prepared as a SciPy CSR matrix ``W``, applied as ``W @ x`` (see :func:`_csr_times`)."""

    def __init__(self, transform):
        self.transform = transform

    def apply(self, prepared, x):
        return _csr_times(prepared, x)


class ScipySparsePlan(_CsrPlan):
    """NumPy: a :class:`~spikec.netlist.Sparse` as its CSR matrix (row by row, as nengo's sparse transforms sum)."""

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        import scipy.sparse

        tr = self.transform
        if raw is tr.data.value:
            return tr.to_scipy().tocsr()
        return scipy.sparse.csr_array((np.asarray(raw), (tr.rows.value, tr.cols.value)), shape=tr.shape)


def _csr_times(matrix, x):
    """``x @ matrix.T`` for a SciPy CSR ``matrix`` and ``x`` with leading batch axes.

    Computed as ``matrix @ x.T``: ``x @ matrix.T`` makes SciPy build a
    transposed matrix object on every call (half the NumPy simulator's step
    time on the 20x20 inverse), and row-by-row sums are what nengo's sparse
    transforms compute too.
    """
    if x.ndim == 2 and x.shape[0] == 1:
        return (matrix @ x[0])[None, :]
    flat = x.reshape(-1, x.shape[-1])
    return np.asarray(matrix @ flat.T).T.reshape(*x.shape[:-1], matrix.shape[0])


class SegmentSumPlan:
    """JAX (or any ``xp`` with ``jax.ops.segment_sum``): gather, scale, sum by row."""

    def __init__(self, transform: Sparse, xp, dtype=None):
        self.transform, self.xp, self.dtype = transform, xp, dtype
        self.rows = np.asarray(transform.rows.value, dtype=np.int32)
        self.cols = np.asarray(transform.cols.value, dtype=np.int32)

    def raw(self):
        return self.transform.data.value

    def prepare(self, raw):
        return _asarray(self.xp, raw, self.dtype)

    def apply(self, prepared, x):
        import jax

        contrib = x[..., self.cols] * prepared
        return jax.ops.segment_sum(contrib.T, self.rows, num_segments=self.transform.shape[0]).T


class ScipyConvolutionPlan(_CsrPlan):
    """NumPy: a :class:`~spikec.netlist.Convolution` as its sparse matrix (``raw`` is the kernel)."""

    def raw(self):
        return self.transform.kernel.value

    def prepare(self, raw):
        return self.transform.matrix(np.asarray(raw)).tocsr()


class LaxConvolutionPlan:
    """JAX: a :class:`~spikec.netlist.Convolution` by ``jax.lax.conv_general_dilated`` (NHWC, HWIO)."""

    kind = "conv"

    def __init__(self, transform: Convolution, xp, dtype=None):
        from spikec.ir.conv import conv_padding

        self.transform, self.xp, self.dtype = transform, xp, dtype
        self.padding = conv_padding(transform.input_shape, transform.kernel.shape, transform.strides,
                                    transform.padding)

    def cost(self) -> float:
        return float(math.prod(self.transform.output_shape) * math.prod(self.transform.kernel.shape[:3]))

    def raw(self):
        return self.transform.kernel.value

    def prepare(self, raw):
        return _asarray(self.xp, raw, self.dtype)

    def apply(self, prepared, x):
        lead = x.shape[:-1]
        images = x.reshape((-1, *self.transform.input_shape))
        y = _lax_conv(images, prepared.astype(images.dtype), tuple(self.transform.strides), self.padding)
        return y.reshape((*lead, self.transform.shape[0]))


_CONV_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _lax_conv_impl(x, k, strides, padding):
    import jax

    return jax.lax.conv_general_dilated(x, k, strides, padding, dimension_numbers=_CONV_DIMENSIONS)


def _make_lax_conv():
    """``lax.conv_general_dilated`` whose kernel gradient is one matrix product per kernel offset.

    XLA on a CPU computes the kernel gradient of a convolution (a
    convolution with the batch as the contracted axis) 5-20x slower than
    the forward pass, and inside ``lax.scan`` slower still.  Here it is
    ``dk[a, b] = x_shifted(a, b).T @ dy`` for each of the ``kh * kw``
    offsets: plain GEMMs on strided slices of the padded input (extracting
    image patches with ``conv_general_dilated_patches`` instead costs a
    one-hot convolution ``kh * kw * channels`` wide, a third of a training
    step of the MNIST network).  The input gradient is JAX's own.  Same
    values (summation order aside).
    """
    import functools

    import jax
    import jax.numpy as jnp

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
    def conv(x, k, strides, padding):
        return _lax_conv_impl(x, k, strides, padding)

    def fwd(x, k, strides, padding):
        return _lax_conv_impl(x, k, strides, padding), (x, k)

    def bwd(strides, padding, res, g):
        x, k = res
        _, vjp_x = jax.vjp(lambda v: _lax_conv_impl(v, k, strides, padding), x)
        (dx,) = vjp_x(g)
        kh, kw = k.shape[:2]
        (sy, sx), (oh, ow) = strides, g.shape[1:3]
        padded = jnp.pad(x, ((0, 0), *padding, (0, 0)))
        dk = jnp.stack([
            jnp.stack([jnp.einsum("nyxc,nyxf->cf",
                                  padded[:, a:a + (oh - 1) * sy + 1:sy, b:b + (ow - 1) * sx + 1:sx, :], g)
                       for b in range(kw)])
            for a in range(kh)])
        return dx, dk.astype(k.dtype)

    conv.defvjp(fwd, bwd)
    return conv


_LAX_CONV = None


def _lax_conv(x, k, strides, padding):
    global _LAX_CONV
    if _LAX_CONV is None:
        _LAX_CONV = _make_lax_conv()
    return _LAX_CONV(x, k, strides, padding)


class ScipyAvgPoolPlan(_CsrPlan):
    """NumPy: an :class:`~spikec.netlist.AvgPool` as its sparse matrix (no weights: ``raw`` is empty)."""

    def __init__(self, transform: AvgPool):
        super().__init__(transform)
        self.matrix = transform.matrix().tocsr()

    def raw(self):
        return np.zeros(0)

    def prepare(self, raw):
        return self.matrix


class LaxAvgPoolPlan:
    """JAX: an :class:`~spikec.netlist.AvgPool` as a reshape and mean (windows = strides) or ``reduce_window``."""

    kind = "avgpool"

    def __init__(self, transform: AvgPool, xp=None, dtype=None):
        self.transform = transform

    def cost(self) -> float:
        return float(self.transform.nnz)

    def raw(self):
        return np.zeros(0)

    def prepare(self, raw):
        return None

    def apply(self, prepared, x):
        import jax

        tr = self.transform
        (h, w, c), (ph, pw), (sy, sx) = tr.input_shape, tr.pool, tr.strides
        oh, ow, _ = tr.output_shape
        lead = x.shape[:-1]
        images = x.reshape((-1, h, w, c))
        if (ph, pw) == (sy, sx):
            # non-overlapping windows: crop, split each axis into (window, offset), average
            y = images[:, :oh * ph, :ow * pw].reshape(-1, oh, ph, ow, pw, c).mean(axis=(2, 4))
        else:
            y = jax.lax.reduce_window(images, 0.0, jax.lax.add, (1, ph, pw, 1), (1, sy, sx, 1), "VALID") / (ph * pw)
        return y.reshape((*lead, tr.shape[0]))


def default_plan(transform, xp, dtype=None) -> TransformPlan:
    """The plan :func:`make_simulator` uses unless told otherwise."""
    if isinstance(transform, AvgPool):
        return ScipyAvgPoolPlan(transform) if xp is np else LaxAvgPoolPlan(transform)
    if isinstance(transform, Convolution):
        return ScipyConvolutionPlan(transform) if xp is np else LaxConvolutionPlan(transform, xp, dtype)
    if isinstance(transform, Dense):
        return DensePlan(transform, xp, dtype)
    assert isinstance(transform, Sparse)
    if xp is np:
        return ScipySparsePlan(transform)
    return SegmentSumPlan(transform, xp, dtype)


def _asarray(xp, value, dtype=None):
    if dtype is not None and isinstance(value, (np.ndarray, np.generic, float, int)):
        value = np.asarray(value, dtype=dtype)  # cast on the host: JAX compiles an eager device cast on first use
    return xp.asarray(value) if dtype is None else xp.asarray(value, dtype=dtype)


def make_simulator(net: Netlist, mode: str, dt: float, batch: int = 1, xp=np, seed: int = 0, *,
                   dtype=None, plan: Callable[[int, Any], TransformPlan] | None = None,
                   neuron_map: Callable[[Any], Any] | None = None, hoisted=(),
                   count_dtype=None, neuron_params: bool = False, guards: bool = False,
                   guard_params: bool = False, init_xp=None) -> Simulator:
    """Prepare ``net`` for simulation in ``mode`` ("rate" or "spiking").

    Options for compiled back ends (the NumPy back end uses none of them):

    dtype
        Floating dtype of every constant and initial state (default: NumPy's
        float64, or the ``xp`` default).
    plan
        ``plan(index, transform) -> TransformPlan`` chooses how projection
        ``index`` multiplies (default :func:`default_plan`).
    neuron_map
        Applied to each population's (rate or spiking) neuron type, e.g. to
        swap in a surrogate-gradient step; the result must step like a
        neuron type.
    hoisted
        Indices of instantaneous projections the caller evaluates itself and
        passes to ``step`` as ``extra`` currents.
    count_dtype
        Spike and event counts are rounded per neuron and summed in this
        (integer) dtype; default: summed as floats, unrounded.
    neuron_params
        Also carry each population's neuron parameters as data:
        ``params["neuron"][population]`` maps the names of
        :func:`spikec.models.neurons.neuron_parameters` of the population's type
        (in this mode, before ``neuron_map``) to scalars; the step binds them
        with :func:`spikec.models.neurons.bind_parameters`, so they may be traced
        (differentiated) or per-neuron arrays.
    init_xp
        Array module of the initial state (default ``xp``): NumPy lets a
        compiled back end build it on the host, without eager device ops
        (each of which JAX compiles on first use).
    guard_params
        With ``guards``: the guards' per-neuron bounds are data too
        (``params["guard"]``), not constants of the step, so that a compiled
        step serves another network of the same structure (a new seed).
    """
    if mode not in ("rate", "spiking"):
        raise ValueError(f"mode must be 'rate' or 'spiking', got {mode!r}")
    objects = net.objects
    own_types = {p.name: (p.neuron_type.as_spiking() if mode == "spiking" else p.neuron_type.as_rate())
                 for p in net.populations}
    types = own_types if neuron_map is None else {name: neuron_map(t) for name, t in own_types.items()}
    hoisted = frozenset(hoisted)
    plans: dict[int, TransformPlan] = {}
    incoming: dict[str, list] = {name: [] for name in objects}
    delayed = []
    for index, proj in enumerate(net.projections):
        plans[index] = default_plan(proj.transform, xp, dtype) if plan is None else plan(index, proj.transform)
        entry = (index, proj)
        if proj.synapse is not None:
            delayed.append(entry)
        elif index in hoisted:
            continue
        incoming[proj.post].append(entry)
    stateful_nodes = [n for n in net.nodes if n.synapse is not None]
    order = [name for name in net.order
             if not isinstance(objects[name], InputSource)
             and not (isinstance(objects[name], SumNode) and objects[name].synapse is not None)]
    input_index = {inp.name: inp.index for inp in net.inputs}
    fanout = fan_out(net)  # nonzero outgoing weights per neuron: each spike is that many synaptic events
    asarr = lambda value: _asarray(xp, value, dtype)

    # ---- initial state
    float_dtype = np.float64 if dtype is None else dtype
    step_xp, xp = xp, (xp if init_xp is None else init_xp)
    init: dict[str, Any] = {"neurons": {}, "nodes": {}, "projections": {}}
    for pop in net.populations:
        defaults = types[pop.name].init_state(pop.n, rng=None)
        given = pop.state0()
        init["neurons"][pop.name] = {
            k: xp.asarray(np.broadcast_to(given.get(k, v), (batch, pop.n)).astype(float_dtype))
            for k, v in defaults.items()
        }
    for node in stateful_nodes:
        x0 = None if node.x0 is None else asarr(np.broadcast_to(node.x0.value, (batch, node.size)))
        init["nodes"][node.name] = node.synapse.init_state((batch, node.size), x0, xp=xp)
    for index, proj in delayed:
        init["projections"][index] = proj.synapse.init_state((batch, objects[proj.post].size), None, xp=xp)
    if guards:
        init["guard"] = initial_guard_state(net, batch, xp, float_dtype)
    xp = step_xp
    host_bounds = guard_bounds(net) if guards else {}
    bounds = host_bounds
    if guards and xp is not np:
        bounds = {name: (asarr(lo), asarr(hi)) for name, (lo, hi) in bounds.items()}
    alpha, bound_z = settings(mode, dt)

    params = {
        "weights": {index: plans[index].raw() for index in plans},
        "gain": {p.name: p.gain.value for p in net.populations},
        "bias": {p.name: p.bias.value for p in net.populations},
    }
    if guards and guard_params:
        params["guard"] = {name: {"mid": lo, "inv_half": hi} for name, (lo, hi) in host_bounds.items()}
    # Neuron parameters are named for the mode's own type; neuron_map may wrap it (a surrogate-gradient
    # stepper keeps it as .base), and then the names are the wrapper's "base." ones.
    prefixes: dict[str, str] = {}
    if neuron_params:
        params["neuron"] = {name: {k: np.float64(v) for k, v in neuron_parameters(own).items()}
                            for name, own in own_types.items()}
        prefixes = {name: "base." if getattr(types[name], "base", None) == own else ""
                    for name, own in own_types.items()}

    def prepare(raw_params):
        prepared = {
            "weights": {index: plans[index].prepare(w) for index, w in raw_params["weights"].items()},
            "gain": {name: asarr(g) for name, g in raw_params["gain"].items()},
            "bias": {name: asarr(b) for name, b in raw_params["bias"].items()},
        }
        if "neuron" in raw_params:
            prepared["neuron"] = {name: {k: asarr(v) for k, v in values.items()}
                                  for name, values in raw_params["neuron"].items()}
        if "guard" in raw_params:
            prepared["guard"] = {name: (asarr(b["mid"]), asarr(b["inv_half"]))
                                 for name, b in raw_params["guard"].items()}
        return prepared

    default_prepared = prepare(params) if xp is np else None
    offsets = {n.name: (None if n.offset is None else asarr(n.offset.value)) for n in net.nodes}
    amplitude = {p.name: float(getattr(types[p.name], "amplitude", 1.0)) for p in net.populations}
    spiking_pops = [p.name for p in net.populations if types[p.name].spiking]
    noisy = tuple(p.name for p in net.populations if getattr(types[p.name], "needs_noise", False))
    # Integer fan-outs stay host arrays (constants of a compiled step): JAX compiles an eager device copy.
    fan = {name: (asarr(f) if count_dtype is None else f.astype(np.int64).astype(count_dtype))
           for name, f in fanout.items()}

    def zeros(shape, dtype=None):
        return xp.zeros(shape) if dtype is None else xp.zeros(shape, dtype=dtype)

    def step(state, inputs, noise=None, prepared=None, extra=None):
        if prepared is None:
            prepared = default_prepared if default_prepared is not None else prepare(params)
        weights, gains, biases = prepared["weights"], prepared["gain"], prepared["bias"]
        fence = prepared.get("fence")
        bound = {name: bind_parameters(types[name], {prefixes[name] + k: v for k, v in values.items()})
                 for name, values in prepared.get("neuron", {}).items() if name in prefixes}

        def summed(name, values, size):
            total = offsets.get(name)
            total = zeros((batch, size), dtype) if total is None else xp.broadcast_to(total, (batch, size))
            for index, proj in incoming[name]:
                if proj.synapse is not None:
                    total = total + proj.synapse.output(state["projections"][index])
                else:
                    total = total + plans[index].apply(weights[index], values[proj.pre])
            if extra is not None and name in extra:
                total = total + extra[name]
            return total

        values: dict[str, Any] = {}
        for inp in net.inputs:
            values[inp.name] = inputs[input_index[inp.name]]
        for node in stateful_nodes:
            values[node.name] = node.synapse.output(state["nodes"][node.name])
        new_neurons = {}
        spikes = {}
        checked: dict[str, Any] = {}  # name -> its guard records after this step
        for name in order:
            obj = objects[name]
            if isinstance(obj, Population):
                current = gains[name] * summed(name, values, obj.n) + biases[name]
                if guards and fence is not None:
                    # computed once: XLA would otherwise repeat the summed projections inside the guard's loop
                    current = fence(current)
                kwargs = {"noise": noise[name]} if noise is not None and name in noise else {}
                neuron = bound.get(name, types[name])
                new_neurons[name], activity = neuron.step(state["neurons"][name], current, dt, xp=xp, **kwargs)
                if guards:
                    checked[name] = guard_entry(state["guard"]["objects"][name], current,
                                                prepared.get("guard", bounds).get(name),
                                                state["guard"]["k"], xp, alpha, bound_z)
                if fence is not None and guards:
                    new_neurons[name], activity, checked[name] = fence((new_neurons[name], activity, checked[name]))
                elif fence is not None:
                    new_neurons[name], activity = fence((new_neurons[name], activity))
                values[name] = activity
                if name in spiking_pops:
                    spikes[name] = activity * (dt / amplitude[name])
                    if count_dtype is not None:
                        spikes[name] = xp.round(spikes[name]).astype(count_dtype)
            else:
                values[name] = summed(name, values, obj.size)
        new_nodes = {}
        for node in stateful_nodes:
            u = summed(node.name, values, node.size)
            new_nodes[node.name], _ = node.synapse.step(state["nodes"][node.name], u, dt, xp=xp)
            if guards:
                checked[node.name] = guard_entry(state["guard"]["objects"][node.name], values[node.name], None,
                                                 state["guard"]["k"], xp, alpha)
        new_projections = {}
        for index, proj in delayed:
            new_projections[index], _ = proj.synapse.step(
                state["projections"][index], plans[index].apply(weights[index], values[proj.pre]), dt, xp=xp)
        pop_spikes = {name: xp.sum(s, axis=-1) for name, s in spikes.items()}
        pop_events = {name: xp.sum(s * fan[name], axis=-1) for name, s in spikes.items()}
        events = sum(pop_events.values(), zeros((batch,), count_dtype))
        total = sum(pop_spikes.values(), zeros((batch,), count_dtype))
        new_state = {"neurons": new_neurons, "nodes": new_nodes, "projections": new_projections}
        if guards:
            new_state["guard"] = {"k": state["guard"]["k"] + 1, "objects": checked}
        report = {"outputs": [values[out.source] for out in net.outputs], "spikes": total, "events": events,
                  "pop_spikes": pop_spikes, "pop_events": pop_events}
        return new_state, report

    return Simulator(net, mode, dt, batch, xp, init, step, types, noisy, params, prepare, plans, fanout)
