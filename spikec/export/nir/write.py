"""Export of spiking netlists to NIR (the Neuromorphic Intermediate Representation, ``nir`` package).

:func:`export_nir` writes the network spikec simulates, in the form NIR's
adopters (snnTorch, Norse, Spyx...) read:

* an input becomes ``nir.Input`` named ``"input"`` (``"input_1"``... for
  more), an output ``nir.Output`` named ``"output"`` (``"output_1"``...);
  images are ``(C, H, W)`` (spikec is channels last; arrays are permuted);
* a LIF population becomes ``nir.LIF`` (``tau = tau_rc``, threshold 1,
  reset 0).  Its gain and bias are folded into the incoming weights where
  that is exact (one incoming dense or convolution projection: ``Affine`` /
  ``Conv2d`` bias), leaving ``r = 1``, ``v_leak = 0``; otherwise they stay
  as ``r`` and ``v_leak``.  NIR's LIF has no voltage floor and no
  refractory period: a LIF with ``min_voltage > -inf`` or ``tau_ref > 0`` is
  refused, or converted by ``floor="drop"`` / ``refractory="drop"`` (the
  graph then describes that LIF without them);
* a spiking rectified linear population becomes ``nir.IF`` when asked
  (``relu="if"``: NIR's IF neither rectifies nor resets by subtraction);
* a LIF whose every input comes through the same ``Lowpass`` becomes
  ``nir.CubaLIF``; other lowpass synapses ``nir.LI``, integrators ``nir.I``;
* a spike is worth ``amplitude / dt`` for one step in spikec.  With
  ``spike="impulse"`` (NIR's definition: a spike is a unit impulse) the
  weights leaving a population are multiplied by ``amplitude``; with
  ``spike="per_step"`` (what simulators feed: 1 in the step of the spike) by
  ``amplitude / dt``;
* an average pooling becomes ``nir.SumPool2d`` (its ``1/k^2`` folded into
  the next weights; ``pool="avg"``: ``nir.AvgPool2d``), a dense or sparse matrix ``nir.Linear`` (after
  ``nir.Flatten`` when its source is an image), a convolution ``nir.Conv2d``;
  sum nodes without state disappear (NIR sums the edges into a node), one with
  an offset is an ``Affine``;
* a population that feeds itself through one weight node (the lif target's
  NEF integrators) is a nested graph ``input -> lif <-> w_rec -> output``,
  the form snnTorch writes and reads for its recurrent neurons.

Every node keeps ``metadata["spikec"]`` naming the netlist object it came
from (informational: nothing reads it back).  Rules are tables keyed by
neuron, synapse and transform type, so a new kind is one registration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikec.errors import SpikecError
from spikec.netlist import AvgPool, Convolution, Dense, Netlist, Population, Sparse

#: neuron type -> ``rule(pop, ctx, synapse) -> nir node`` (``synapse``: a Lowpass to fuse, or None)
NEURON_RULES: dict[type, Callable[..., Any]] = {}
#: neuron type (itself or wrapped, as ``RegularSpiking(base)``) -> why NIR cannot hold it
REFUSED_NEURONS: dict[type, str] = {}
#: synapse type -> ``rule(synapse, shape) -> nir node``
SYNAPSE_RULES: dict[type, Callable[..., Any]] = {}
#: transform type -> ``rule(transform, pre_shape, post_shape, factor, where, options)``
#: ``-> ([(suffix, nir node)], factor left for the next weights)``
TRANSFORM_RULES: dict[type, Callable[..., Any]] = {}

SPIKE_CONVENTIONS = ("impulse", "per_step")


class NIRExportError(SpikecError):
    """The netlist holds something NIR cannot express (a neuron floor, a refractory period, a synapse...)."""


def _register(table: dict, *types: type):
    def deco(fn):
        for t in types:
            table[t] = fn
        return fn
    return deco


@dataclass
class ExportOptions:
    """What :func:`export_nir` was asked for (see its docstring)."""

    spike: str = "impulse"
    dt: float | None = None
    floor: str = "refuse"
    refractory: str = "refuse"
    fold: bool = True
    pool: str = "sum"
    relu: str = "refuse"
    bias: str = "leak"
    membrane: str = "unit"

    def __post_init__(self):
        if self.spike not in SPIKE_CONVENTIONS:
            raise NIRExportError(f"to_nir(spike={self.spike!r}): choose one of {SPIKE_CONVENTIONS}")
        if self.spike == "per_step" and not self.dt:
            raise NIRExportError("to_nir(spike='per_step') needs the step it counts in: dt=...")
        if self.relu not in ("refuse", "if"):
            raise NIRExportError(f"to_nir(relu={self.relu!r}): choose 'refuse' or 'if'")
        if self.pool not in ("sum", "avg"):
            raise NIRExportError(f"to_nir(pool={self.pool!r}): choose 'sum' or 'avg'")
        if self.bias not in ("leak", "current"):
            raise NIRExportError(f"to_nir(bias={self.bias!r}): choose 'leak' or 'current'")
        if self.membrane not in ("unit", "per_step"):
            raise NIRExportError(f"to_nir(membrane={self.membrane!r}): choose 'unit' or 'per_step'")
        if self.membrane == "per_step" and not self.dt:
            raise NIRExportError("to_nir(membrane='per_step') needs the step it counts in: dt=...")
        for what in ("floor", "refractory"):
            if getattr(self, what) not in ("refuse", "drop"):
                raise NIRExportError(f"to_nir({what}={getattr(self, what)!r}): choose 'refuse' or 'drop'")

    def spike_unit(self, amplitude: float) -> float:
        """What one NIR spike of a population of this ``amplitude`` is worth downstream."""
        return amplitude if self.spike == "impulse" else amplitude / self.dt


@dataclass
class _Context:
    net: Netlist
    options: ExportOptions
    shapes: dict[str, tuple[int, ...]]
    nodes: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    #: for each netlist object, the NIR nodes whose summed output is its value, and the factor it is scaled by
    sources: dict[str, tuple[list[str], float]] = field(default_factory=dict)

    def flat(self, name: str, array: Any) -> np.ndarray:
        """A per-element array of object ``name`` in NIR order and shape."""
        shape = self.shapes[name]
        array = np.asarray(array, dtype=np.float64).ravel()
        return array[chw_perm(shape)].reshape(shape) if len(shape) == 3 else array.copy()


def chw_perm(shape: tuple[int, ...]) -> np.ndarray:
    """``perm`` with ``chw_flat = hwc_flat[perm]`` for a ``(C, H, W)`` NIR shape."""
    c, h, w = shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def _shapes(net: Netlist) -> dict[str, tuple[int, ...]]:
    """The NIR shape of every netlist object: ``(C, H, W)`` for images, else ``(size,)``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for src in net.inputs:
        shapes[src.name] = (src.shape[2], src.shape[0], src.shape[1]) if len(src.shape) == 3 else (src.size,)
    for name in net.order:
        if name in shapes:
            continue
        obj = net[name]
        shape = (obj.size,)
        for p in net.incoming(name):
            if isinstance(p.transform, (Convolution, AvgPool)):
                oh, ow, c = p.transform.output_shape
                shape = (c, oh, ow)
        shapes[name] = shape
    for out in net.outputs:
        if len(out.shape) == 3 and len(shapes[out.source]) == 1:
            shapes[out.source] = (out.shape[2], out.shape[0], out.shape[1])
    return shapes


# ----------------------------------------------------------------------------- neurons


def _lif_checks(pop: Population, options: ExportOptions) -> None:
    t = pop.neuron_type
    if t.min_voltage > -math.inf and options.floor == "refuse":
        raise NIRExportError(
            f"population {pop.name}: {t.label()} floors its voltage at min_voltage={t.min_voltage:g}; NIR's LIF "
            "has no floor. Use spikec.LIF(min_voltage=-np.inf), or to_nir(floor='drop') to export it without one")
    if t.tau_ref > 0 and options.refractory == "refuse":
        raise NIRExportError(
            f"population {pop.name}: {t.label()} has a refractory period tau_ref={t.tau_ref:g}; NIR's LIF has "
            "none. Use spikec.LIF(tau_ref=0), or to_nir(refractory='drop') to export it without one")


def _lif(pop: Population, ctx: _Context, synapse: Any, gain: np.ndarray, bias: np.ndarray) -> Any:
    import nir

    _lif_checks(pop, ctx.options)
    t, shape = pop.neuron_type, ctx.shapes[pop.name]
    meta = {"spikec": f"population:{pop.name}", "tau_ref": float(t.tau_ref), "min_voltage": float(t.min_voltage),
            "amplitude": float(t.amplitude)}
    common = dict(r=gain, v_leak=bias, v_threshold=np.ones(shape), v_reset=np.zeros(shape), metadata=meta)
    if synapse is None:
        return nir.LIF(tau=np.full(shape, t.tau_rc), **common)
    return nir.CubaLIF(tau_syn=np.full(shape, synapse.tau), tau_mem=np.full(shape, t.tau_rc),
                       w_in=np.ones(shape), **common)


_lif.fuses_lowpass = True  # a LIF behind a lowpass is one CubaLIF


def _if(pop: Population, ctx: _Context, synapse: Any, gain: np.ndarray, bias: np.ndarray) -> Any:
    """A spiking rectified linear unit as NIR's ``IF`` (``dv/dt = r I``, reset to 0), on request only: spikec's
    unit rectifies its input, resets by subtraction and may spike more than once a step."""
    import nir

    if ctx.options.relu == "refuse":
        raise NIRExportError(
            f"population {pop.name}: {pop.neuron_type.label()} rectifies its input and resets by subtraction; "
            "NIR's IF does neither. to_nir(relu='if') exports it as IF (rates agree while the input stays "
            "positive and well below 1/dt)")
    if np.any(bias):
        raise NIRExportError(f"population {pop.name}: NIR's IF has no bias and this one cannot move into its "
                             "incoming weights (one dense or convolution projection can take it)")
    shape = ctx.shapes[pop.name]
    return nir.IF(r=gain * 1.0, v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                  metadata={"spikec": f"population:{pop.name}", "amplitude": float(pop.neuron_type.amplitude)})


def _register_neurons() -> None:
    from spikec.models.neurons import LIF, SpikingRectifiedLinear, SymmetricParabola

    NEURON_RULES[LIF] = _lif
    NEURON_RULES[SpikingRectifiedLinear] = _if
    REFUSED_NEURONS[SymmetricParabola] = (
        "NIR has no neuron whose rate is symmetric about 0 (J**2 for either sign of its input)")


def _refusal(neuron_type: Any) -> str | None:
    """Why NIR cannot hold ``neuron_type`` or the type it wraps (:data:`REFUSED_NEURONS`), or None."""
    while neuron_type is not None:
        reason = REFUSED_NEURONS.get(type(neuron_type))
        if reason is not None:
            return reason
        neuron_type = getattr(neuron_type, "base", None)
    return None


# ----------------------------------------------------------------------------- synapses


def _register_synapses() -> None:
    import nir

    from spikec.models.synapses import Integrator, Lowpass

    SYNAPSE_RULES[Lowpass] = lambda s, shape: nir.LI(tau=np.full(shape, s.tau), r=np.ones(shape),
                                                     v_leak=np.zeros(shape))
    SYNAPSE_RULES[Integrator] = lambda s, shape: nir.I(r=np.ones(shape))


def _synapse_node(synapse: Any, shape: tuple[int, ...], where: str) -> Any:
    rule = SYNAPSE_RULES.get(type(synapse))
    if rule is None:
        raise NIRExportError(f"{where}: synapse {synapse.label()} has no NIR node "
                             f"({', '.join(t.__name__ for t in SYNAPSE_RULES)} do)")
    return rule(synapse, shape)


# ----------------------------------------------------------------------------- transforms


@_register(TRANSFORM_RULES, Dense, Sparse)
def _matrix(tr: Any, pre: tuple[int, ...], post: tuple[int, ...], factor: float, where: str, options: ExportOptions):
    import nir

    weight = tr.to_dense() * factor
    chain = []
    if len(pre) == 3:
        chain.append(("flatten", nir.Flatten(input_type={"input": np.array(pre)}, start_dim=0)))
        weight = weight[:, chw_perm(pre)]
    if len(post) == 3:
        raise NIRExportError(f"{where}: a matrix into an image of shape {post} is not exported")
    chain.append(("linear", nir.Linear(weight=weight)))
    return chain, 1.0


def _conv_padding(tr: Convolution) -> Any:
    """NIR padding: integers where spikec's padding is symmetric (what torch-based importers need)."""
    kh, kw = tr.kernel.shape[:2]
    if tr.padding == "valid":
        return (0, 0)
    if tuple(tr.strides) == (1, 1) and kh % 2 == 1 and kw % 2 == 1:
        return (kh // 2, kw // 2)
    return "same"


@_register(TRANSFORM_RULES, Convolution)
def _conv(tr: Convolution, pre: tuple[int, ...], post: tuple[int, ...], factor: float, where: str,
          options: ExportOptions):
    import nir

    if pre != (tr.input_shape[2], tr.input_shape[0], tr.input_shape[1]):
        raise NIRExportError(f"{where}: convolution of a {tr.input_shape} image reads a value of NIR shape {pre}")
    weight = np.transpose(tr.kernel.value, (3, 2, 0, 1)) * factor
    return [("conv", nir.Conv2d(input_shape=tr.input_shape[:2], weight=weight, stride=tuple(tr.strides),
                                padding=_conv_padding(tr), dilation=1, groups=1,
                                bias=np.zeros(weight.shape[0])))], 1.0


@_register(TRANSFORM_RULES, AvgPool)
def _pool(tr: AvgPool, pre: tuple[int, ...], post: tuple[int, ...], factor: float, where: str,
          options: ExportOptions):
    import nir

    geometry = dict(kernel_size=np.array(tr.pool), stride=np.array(tr.strides), padding=np.array([0, 0]))
    if options.pool == "avg":  # what snnTorch reads
        return [("pool", nir.AvgPool2d(**geometry))], factor
    # Norse and Spyx read SumPool2d; the average's 1/k^2 rides on to the next weights
    return [("pool", nir.SumPool2d(**geometry))], factor / (tr.pool[0] * tr.pool[1])


# ----------------------------------------------------------------------------- the graph


def _fused_synapse(net: Netlist, pop: Population) -> Any:
    """The Lowpass that every input of ``pop`` comes through (a CubaLIF's), or None."""
    from spikec.models.synapses import Lowpass

    incoming = net.incoming(pop.name)
    synapses = {p.synapse for p in incoming}
    if len(incoming) and len(synapses) == 1 and type(next(iter(synapses))) is Lowpass:
        return next(iter(synapses))
    return None


def _foldable(net: Netlist, pop: Population, ctx: _Context, fused: Any) -> bool:
    """Whether ``pop``'s gain and bias can move into its one incoming weight node exactly."""
    incoming = net.incoming(pop.name)
    if not ctx.options.fold or len(incoming) != 1 or fused is not None or incoming[0].synapse is not None:
        return False
    tr = incoming[0].transform
    if isinstance(tr, (Dense, Sparse)):
        return True
    if isinstance(tr, Convolution):
        gain, bias = ctx.flat(pop.name, pop.gain.value), ctx.flat(pop.name, pop.bias.value)
        return bool(np.all(gain == gain[:, :1, :1]) and np.all(bias == bias[:, :1, :1]))
    return False


def _fold(chain: list, pop: Population, ctx: _Context) -> None:
    """Move ``pop``'s gain and bias into the last weight node of ``chain`` (an ``Affine`` or a ``Conv2d``)."""
    import nir

    gain, bias = ctx.flat(pop.name, pop.gain.value), ctx.flat(pop.name, pop.bias.value)
    _, node = chain[-1]
    if type(node).__name__ == "Linear":
        weight = node.weight * gain[:, None]
        chain[-1] = ("affine", nir.Affine(weight=weight, bias=bias) if np.any(bias) else nir.Linear(weight=weight))
    else:
        node.weight = node.weight * gain[:, 0, 0][:, None, None, None]
        node.bias = bias[:, 0, 0].copy()


def _rewritten(pop: Population, ctx: _Context, gain: np.ndarray, bias: np.ndarray):
    """``(r, v_leak, row scale, bias current)`` of a LIF written with ``bias="current"`` or
    ``membrane="per_step"``: the gain moves into every incoming weight (``r`` becomes 1, or ``tau/dt``: a
    per-step simulator's membrane ``v <- beta v + I``), the bias into a constant input current (``bias / r``,
    an ``Affine`` bias on one incoming edge; behind a lowpass it rises from 0 with ``tau_syn``)."""
    o = ctx.options
    r = np.full(np.shape(gain), pop.neuron_type.tau_rc / o.dt) if o.membrane == "per_step" else gain
    current = bias / r if o.bias == "current" else None
    return r, (np.zeros_like(bias) if current is not None else bias), gain / r, current


def _rescale(chain: list, where: str, rows: np.ndarray, current: np.ndarray | None) -> None:
    """Scale the rows of ``chain``'s last weight node by ``rows`` and add ``current`` as its bias."""
    import nir

    name, node = chain[-1]
    if type(node).__name__ not in ("Linear", "Affine"):
        raise NIRExportError(f"{where}: to_nir(bias='current' or membrane='per_step') rewrites dense weights "
                             f"into a LIF with more than one input, not a {type(node).__name__}")
    weight = np.asarray(node.weight) * rows.ravel()[:, None]
    bias = np.asarray(getattr(node, "bias", 0.0)) + (0.0 if current is None else current.ravel())
    chain[-1] = (name, nir.Affine(weight=weight, bias=bias) if np.any(bias) else nir.Linear(weight=weight))


def _connect(ctx: _Context, srcs: list[str], dst: str) -> None:
    for s in srcs:
        ctx.edges.append((s, dst))


def export_nir(net: Netlist, *, spike: str = "impulse", dt: float | None = None, floor: str = "refuse",
               refractory: str = "refuse", fold: bool = True, pool: str = "sum", relu: str = "refuse",
               bias: str = "leak", membrane: str = "unit") -> Any:
    """``net`` as a ``nir.NIRGraph`` (see the module docstring for the mapping).

    ``spike``: ``"impulse"`` (NIR's unit-impulse spikes) or ``"per_step"``
    (a spike is 1 in its step; needs ``dt``).  ``floor`` / ``refractory``:
    ``"refuse"`` a LIF with a voltage floor / a refractory period (NIR's LIF
    has neither), or ``"drop"`` them.  ``fold``: move a LIF's gain and bias
    into its incoming weights where exact (``r = 1``, ``v_leak = 0``, the
    form snnTorch and Norse load).  ``pool``: average poolings as ``"sum"`` (``SumPool2d``, what Norse
    and Spyx read) or ``"avg"`` (``AvgPool2d``, what snnTorch reads).  ``relu``: ``"refuse"`` a spiking
    rectified linear population, or write it as ``"if"`` (NIR's ``IF``; see :func:`_if`).  ``bias``: a LIF's
    bias as ``"leak"`` (``v_leak``, exact) or as a constant input ``"current"`` (what snnTorch, which refuses
    ``v_leak``, reads: exact for a LIF, and for a ``CubaLIF`` once its synapse has settled, ``tau_syn``).
    ``membrane``: ``"unit"`` (the gain is ``r``) or ``"per_step"`` (``r = tau/dt``, the gain in the incoming
    weights: a per-step simulator's ``v <- beta v + I``; needs ``dt``).  Both apply to a LIF whose gain and
    bias ``fold`` did not move into its one incoming weight.
    """
    import nir

    if not NEURON_RULES:
        _register_neurons()
    if not SYNAPSE_RULES:
        _register_synapses()
    options = ExportOptions(spike, dt, floor, refractory, fold, pool, relu, bias, membrane)
    ctx = _Context(net, options, _shapes(net))
    objects = net.objects

    def key(kind: str, index: int) -> str:
        return kind if index == 0 else f"{kind}_{index}"

    # ---- nodes with state of their own: inputs, populations, stateful sum nodes
    fused: dict[str, Any] = {}
    folded: set[str] = set()
    rewritten: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}  # pop -> (row scale, bias current)
    for src in net.inputs:
        name = key("input", src.index)
        ctx.nodes[name] = nir.Input(input_type={"input": np.array(ctx.shapes[src.name])},
                                    metadata={"spikec": f"input:{src.name}"})
        ctx.sources[src.name] = ([name], 1.0)
    for pop in net.populations:
        rule = NEURON_RULES.get(type(pop.neuron_type))
        reason = _refusal(pop.neuron_type)
        if reason is not None:
            raise NIRExportError(f"population {pop.name} ({pop.neuron_type!r}): {reason}",
                                 hint="lower with target='lif' (LIF units, what NIR holds) to export")
        if rule is None:
            raise NIRExportError(f"population {pop.name}: NIR export covers "
                                 f"{', '.join(t.__name__ for t in NEURON_RULES)} neurons, not {pop.neuron_type!r}")
        fused[pop.name] = _fused_synapse(net, pop) if getattr(rule, "fuses_lowpass", False) else None
        if _foldable(net, pop, ctx, fused[pop.name]):
            folded.add(pop.name)
            shape = ctx.shapes[pop.name]
            gain, bias = np.ones(shape), np.zeros(shape)
        else:
            gain, bias = ctx.flat(pop.name, pop.gain.value), ctx.flat(pop.name, pop.bias.value)
            if getattr(rule, "fuses_lowpass", False) and (options.bias != "leak" or options.membrane != "unit"):
                gain, bias, rows, current = _rewritten(pop, ctx, gain, bias)
                rewritten[pop.name] = (rows, current)
        ctx.nodes[pop.name] = rule(pop, ctx, fused[pop.name], gain, bias)
        ctx.sources[pop.name] = ([pop.name], options.spike_unit(float(getattr(pop.neuron_type, "amplitude", 1.0))))
    for node in net.nodes:
        shape = ctx.shapes[node.name]
        if node.synapse is not None:
            if node.offset is not None:
                raise NIRExportError(f"sum node {node.name}: an offset into a synapse is not exported")
            if node.x0 is not None and np.any(node.x0.value):
                raise NIRExportError(f"sum node {node.name}: NIR has no initial state (x0 = {node.x0.value})")
            ctx.nodes[node.name] = _synapse_node(node.synapse, shape, f"sum node {node.name}")
            ctx.nodes[node.name].metadata = {"spikec": f"node:{node.name}"}
            ctx.sources[node.name] = ([node.name], 1.0)
        elif node.offset is not None:
            if len(shape) != 1:
                raise NIRExportError(f"sum node {node.name}: an offset on a value of shape {shape} is not exported")
            ctx.nodes[node.name] = nir.Affine(weight=np.eye(node.size), bias=np.asarray(node.offset.value, float),
                                              metadata={"spikec": f"node:{node.name}"})
            ctx.sources[node.name] = ([node.name], 1.0)

    # ---- projections, in evaluation order of their sources (an elided sum node's inputs come first)
    rank = {name: k for k, name in enumerate(net.order)}
    elided: dict[str, list[tuple[str, float]]] = {n.name: [] for n in net.nodes
                                                  if n.synapse is None and n.offset is None}
    projections = sorted(enumerate(net.projections), key=lambda ip: rank[ip[1].pre])
    for i, p in projections:
        where = f"projection {p.pre} -> {p.post}"
        if p.pre in elided and p.pre not in ctx.sources:
            ctx.sources[p.pre] = _settle(ctx, p.pre, elided[p.pre])
        srcs, factor = ctx.sources[p.pre]
        rule = TRANSFORM_RULES.get(type(p.transform))
        if rule is None:
            raise NIRExportError(f"{where}: transform {type(p.transform).__name__} has no NIR node")
        chain, left = rule(p.transform, ctx.shapes[p.pre], ctx.shapes[p.post], factor, where, options)
        post = objects[p.post]
        if p.post in folded:
            _fold(chain, post, ctx)
        if p.post in rewritten:
            rows, current = rewritten[p.post]
            _rescale(chain, where, rows, current)
            rewritten[p.post] = (rows, None)  # the bias current enters through one edge
        if p.synapse is not None and fused.get(p.post) is None:
            chain.append(("synapse", _synapse_node(p.synapse, ctx.shapes[p.post], where)))
        prev = srcs
        for suffix, node in chain:
            name = f"p{i}_{suffix}"
            node.metadata = {"spikec": f"projection:{i}", "pre": p.pre, "post": p.post}
            ctx.nodes[name] = node
            _connect(ctx, prev, name)
            prev = [name]
        if p.post in elided:
            elided[p.post].extend((s, left) for s in prev)
        else:
            if left != 1.0:
                prev = [_scale(ctx, prev, left, ctx.shapes[p.post], f"p{i}_scale")]
            _connect(ctx, prev, p.post)
    for out in net.outputs:
        name = key("output", out.index)
        if out.source in elided and out.source not in ctx.sources:
            ctx.sources[out.source] = _settle(ctx, out.source, elided[out.source])
        srcs, factor = ctx.sources[out.source]
        if factor != 1.0:
            srcs = [_scale(ctx, srcs, factor, ctx.shapes[out.source], f"{name}_scale")]
        ctx.nodes[name] = nir.Output(output_type={"output": np.array(ctx.shapes[out.source])},
                                     metadata={"spikec": f"output:{out.name}"})
        _connect(ctx, srcs, name)
    _nest_recurrences(ctx)
    return nir.NIRGraph(nodes=_in_flow_order(ctx.nodes, ctx.edges), edges=ctx.edges, type_check=False,
                        metadata={"name": net.name, "producer": "spikec", "spike": spike,
                                  **({"dt": float(dt)} if dt else {})})


def _in_flow_order(nodes: dict, edges: list) -> dict:
    """``nodes`` with every node after the ones feeding it (cycles kept together): nirtorch builds a nested
    graph once per visit and fails when it meets one before its inputs."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    dag = nx.condensation(g)
    rank = {name: i for i, name in enumerate(nodes)}
    order = [n for c in nx.topological_sort(dag) for n in sorted(dag.nodes[c]["members"], key=rank.get)]
    return {n: nodes[n] for n in order}


def _nest_recurrences(ctx: _Context) -> None:
    """Each neuron node that feeds itself through one weight node (``k -> w -> k``, ``w`` read by nothing else)
    becomes a nested graph ``k`` of ``input -> lif <-> w_rec``, ``lif -> output``: how snnTorch writes its
    ``RLeaky`` / ``RSynaptic`` and what it and nirtorch read back.  The edges into ``k`` enter through the
    nested ``input`` (NIR sums them there), the ones out of ``k`` leave through ``output``; same equations.
    A ``k`` that is also on a longer cycle (an integrator inside a program's loop) stays flat: nirtorch visits
    such a node twice and builds a nested graph once per visit, failing the second time; it runs the flat
    self-loop, like any cycle, from the previous step's spikes."""
    import networkx as nx
    import nir

    for k, node in list(ctx.nodes.items()):
        if type(node).__name__ not in ("LIF", "CubaLIF"):
            continue
        loops = [w for a, w in ctx.edges if a == k and (w, k) in ctx.edges
                 and type(ctx.nodes[w]).__name__ in ("Linear", "Affine")
                 and [e for e in ctx.edges if k != e[0] and e[1] == w] == []
                 and [e for e in ctx.edges if e[0] == w] == [(w, k)]]
        if len(loops) != 1:
            continue
        w = loops[0]
        rest = nx.DiGraph([e for e in ctx.edges if e not in ((k, w), (w, k))])
        if k in rest and any(k in c and len(c) > 1 for c in nx.strongly_connected_components(rest)):
            continue
        shape = np.array(np.shape(node.v_threshold))
        ctx.nodes[k] = nir.NIRGraph(
            nodes={"input": nir.Input(input_type={"input": shape}), "lif": node, "w_rec": ctx.nodes.pop(w),
                   "output": nir.Output(output_type={"output": shape})},
            edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
            type_check=False, metadata=dict(node.metadata))
        ctx.edges[:] = [e for e in ctx.edges if e not in ((k, w), (w, k))]


def _scale(ctx: _Context, srcs: list[str], factor: float, shape: tuple[int, ...], name: str) -> str:
    import nir

    ctx.nodes[name] = nir.Scale(scale=np.full(shape, factor))
    _connect(ctx, srcs, name)
    return name


def _settle(ctx: _Context, name: str, parts: list[tuple[str, float]]) -> tuple[list[str], float]:
    """An elided sum node's sources: the chain ends feeding it, scaled to one common factor."""
    if not parts:
        raise NIRExportError(f"sum node {name}: nothing flows into it")
    common = parts[0][1]
    srcs = []
    for k, (src, f) in enumerate(parts):
        srcs.append(src if f == common else _scale(ctx, [src], f / common, ctx.shapes[name], f"{name}_scale{k}"))
    return srcs, common

