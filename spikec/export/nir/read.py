"""NIR graphs from any tool (snnTorch, Norse, Spyx, nir's own examples...) as spikec functions.

:func:`nir_function` turns a ``nir.NIRGraph`` into a Python function written
with spikec's layers (``dense``, ``conv2d``, ``avg_pool2d``, ``neurons``,
``filter``, ``spikec.param``); ``spikec.from_nir`` compiles it into a
:class:`~spikec.program.Program` that runs on every back end and trains with
``fit``.  It reads only NIR's parameters (no spikec metadata).

Mapping (one rule per NIR node kind, :data:`NODE_RULES`):

* ``LIF`` / ``CubaLIF``: ``spikec.LIF(tau_rc=tau, tau_ref=0,
  min_voltage=-inf)`` with ``gain = r / (v_threshold - v_reset)`` and
  ``bias = (v_leak - v_reset) / (v_threshold - v_reset)`` (the same voltage,
  rescaled to spikec's threshold 1 and reset 0); a ``CubaLIF``'s current is
  ``spikec.filter(w_in * x, Lowpass(tau_syn))``; ``IF`` is a LIF whose leak
  is too slow to matter (``tau_rc = 1e6`` s);
* ``LI``: ``filter(r * x + v_leak, Lowpass(tau))``; ``I``: ``filter(r * x,
  Integrator())``;
* ``Linear`` / ``Affine``: ``dense`` (+ bias); ``Scale``: a product with a
  constant; ``Conv1d`` / ``Conv2d``: ``conv2d`` (``(C, N)`` signals as
  ``(N, 1, C)`` images); ``SumPool2d`` / ``AvgPool2d``: ``avg_pool2d``;
  ``Flatten``: channels-first order kept in the next weights; ``Threshold``:
  ``np.greater`` (a step function spikec computes with NEF units);
* nested graphs are inlined.

A NIR spike is a unit impulse (``spike="impulse"``: spikec's LIF amplitude
1) or 1 in its step (``spike="per_step"``: amplitude ``dt``).  Recurrences
(cycles, nested or flat: snnTorch's ``RSynaptic``, spikec's NEF integrators)
close through the synaptic state of a ``CubaLIF``, ``LI`` or ``I`` node
(:data:`STATE_RULES`), read like ``spikec.integrate``'s state; a cycle
without one (a plain ``LIF`` loop, snnTorch's ``RLeaky``: an algebraic loop
in NIR's equations) and ``Delay`` are refused with the nodes named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikec.errors import SpikecError

#: NIR node class name -> ``rule(key, node, x, ctx) -> value``
NODE_RULES: dict[str, Callable[..., Any]] = {}


class NIRImportError(SpikecError):
    """A NIR graph holds a node spikec cannot read (named in the message)."""


def node_rule(*kinds: str):
    """Register the import rule of NIR node kinds (class names)."""
    def deco(fn):
        for kind in kinds:
            NODE_RULES[kind] = fn
        return fn
    return deco


@dataclass(frozen=True)
class Value:
    """A signal while the graph is read: ``image`` (H, W, C), ``vector`` (N,), or ``flat`` (an image read
    in NIR's flattened channels-first order)."""

    x: Any
    layout: str


@dataclass
class _Ctx:
    spike: str
    dt: float


def _kind(node: Any) -> str:
    return type(node).__name__


def _arr(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _hwc(a: Any, v: Value) -> Any:
    """A per-element NIR parameter (``(C, H, W)``, ``(C, N)``, or a scalar) in spikec's layout for ``v``."""
    a = _arr(a)
    if v.layout == "image" and a.ndim == 3:
        return np.transpose(a, (1, 2, 0))
    if v.layout == "image" and a.ndim == 2:
        return np.transpose(a, (1, 0))[:, None, :]
    if v.layout == "flat" and a.ndim == 1 and a.size > 1:
        h, w, c = v.x.shape
        out = np.empty(a.size)
        out[_chw_perm((c, h, w))] = a
        return out.reshape(h, w, c)
    return a


def _chw_perm(shape: tuple[int, ...]) -> np.ndarray:
    c, h, w = shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def _uniform(a: Any, what: str, key: str) -> float:
    a = _arr(a)
    if a.size and not np.all(a == a.ravel()[0]):
        raise NIRImportError(f"NIR node {key}: {what} differs between neurons ({a.min():g}..{a.max():g}); "
                             "spikec's LIF has one per population")
    return float(a.ravel()[0])


def _elementwise(v: Value) -> Value:
    """An image read in flattened order stays an image for elementwise work (its parameters are permuted)."""
    return Value(v.x, "image") if v.layout == "flat" else v


def _lif_layer(key: str, v: Value, tau: Any, r: Any, v_leak: Any, thr: Any, reset: Any, ctx: _Ctx) -> Value:
    from spikec.models.neurons import LIF
    from spikec.trace.layers import neurons
    from spikec.trace.params import param

    thr = _arr(thr)
    reset = np.zeros_like(thr) if reset is None else _arr(reset)
    span = thr - reset
    if np.any(span <= 0):
        raise NIRImportError(f"NIR node {key}: v_threshold must be above v_reset")
    amplitude = 1.0 if ctx.spike == "impulse" else ctx.dt
    lif = LIF(tau_rc=_uniform(tau, "tau", key), tau_ref=0.0, min_voltage=-np.inf, amplitude=amplitude)
    gain = np.broadcast_to(_hwc(_arr(r) / span, v), v.x.shape).copy()
    bias = np.broadcast_to(_hwc((_arr(v_leak) - reset) / span, v), v.x.shape).copy()
    # the bias trains; the gain stays a constant (spikec folds constant input offsets into the bias)
    out = neurons(v.x, lif, gain=gain, bias=param(f"{key}.bias", bias))
    return Value(out, "image" if v.layout == "flat" else v.layout)


@node_rule("LIF")
def _lif(key, node, v, ctx):
    return _lif_layer(key, _elementwise(v), node.tau, node.r, node.v_leak, node.v_threshold, node.v_reset, ctx)


@dataclass(frozen=True)
class StateRule:
    """How a NIR node with a synaptic state is read: ``synapse(key, node)`` holds the state, fed by
    ``drive(node, v)`` (the node's input, weighted); ``after(key, node, state, ctx)`` is what the node gives from
    the state (a ``CubaLIF``'s neurons, or the state itself).  Recurrences close through these nodes."""

    synapse: Callable[[str, Any], Any]
    drive: Callable[[Any, Value], Any]
    after: Callable[[str, Any, Value, _Ctx], Value]
    shape: Callable[[Any], tuple[int, ...]]


def _scaled(x: Any, factor: Any) -> Any:
    return x if np.all(factor == 1) else x * factor


def _lowpass(attr: str) -> Callable[[str, Any], Any]:
    def synapse(key, node):
        from spikec.models.synapses import Lowpass

        return Lowpass(_uniform(getattr(node, attr), attr, key))
    return synapse


def _li_drive(node, v):
    x = _scaled(v.x, _hwc(node.r, v))
    leak = _hwc(node.v_leak, v)
    return x if not np.any(leak) else x + leak


def _integrator_synapse(key, node):
    from spikec.models.synapses import Integrator

    return Integrator()


def _cuba_after(key, node, v, ctx):
    return _lif_layer(key, v, node.tau_mem, node.r, node.v_leak, node.v_threshold, node.v_reset, ctx)


#: NIR node kind -> :class:`StateRule`, for the kinds whose output is a synaptic state (or reads one).
STATE_RULES: dict[str, StateRule] = {
    "CubaLIF": StateRule(_lowpass("tau_syn"), lambda node, v: _scaled(v.x, _hwc(node.w_in, v)), _cuba_after,
                         lambda node: np.shape(node.v_threshold)),
    "LI": StateRule(_lowpass("tau"), _li_drive, lambda key, node, v, ctx: v, lambda node: np.shape(node.r)),
    "I": StateRule(_integrator_synapse, lambda node, v: _scaled(v.x, _hwc(node.r, v)), lambda key, node, v, ctx: v,
                   lambda node: np.shape(node.r)),
}


@node_rule(*STATE_RULES)
def _stateful(key, node, v, ctx):
    """A stateful node on no cycle: ``after(filter(drive(x), synapse))``."""
    from spikec.trace.time import filter as filter_

    rule = STATE_RULES[_kind(node)]
    v = _elementwise(v)
    return rule.after(key, node, Value(filter_(rule.drive(node, v), rule.synapse(key, node)), v.layout), ctx)


def _open_state(key: str, node: Any, ctx: _Ctx) -> tuple[Any, Value]:
    """A stateful node on a cycle, before its input exists: ``(state, value)``, the state a ``filter`` node
    whose input :func:`_close_state` sets once the rest of the cycle is read (a stateful node's value during a
    step is its state after the previous one, so the cycle is traced once, as ``spikec.integrate`` does)."""
    from spikec.ir.attrs import ConstArray
    from spikec.trace.context import require

    rule = STATE_RULES[_kind(node)]
    shape = tuple(int(d) for d in rule.shape(node))
    if len(shape) != 1:
        raise NIRImportError(f"NIR node {key} ({_kind(node)}) is on a cycle with shape {shape}; spikec imports "
                             "recurrences of vectors")
    trace = require("spikec.from_nir")
    state = trace.emit("filter", [], {"synapse": rule.synapse(key, node), "x0": ConstArray(np.zeros(shape))},
                       shape=shape, display_op="filter")
    return state, rule.after(key, node, Value(state, "vector"), ctx)


def _close_state(state: Any, node: Any, v: Value) -> None:
    trace = state._ctx
    driver = STATE_RULES[_kind(node)].drive(node, _elementwise(v))
    trace.builder.set_inputs(state._node.id, [trace.node_id(driver)])
    state._node = trace.builder.nodes[state._node.id]


@node_rule("IF")
def _if(key, node, v, ctx):
    tau = 1e6  # dv/dt = r I is the LIF's limit tau -> inf with r scaled by tau
    return _lif_layer(key, _elementwise(v), tau, _arr(node.r) * tau, 0.0, node.v_threshold, node.v_reset, ctx)


def _matrix_weights(key: str, weight: np.ndarray, v: Value) -> np.ndarray:
    """NIR's ``(out, in)`` weights as spikec's ``dense`` ``(x.size, out)`` for the layout of ``v``."""
    if weight.shape[1] != v.x.size:
        raise NIRImportError(f"NIR node {key}: weight {weight.shape} on a value of {v.x.size} elements")
    if v.layout == "flat":
        h, w, c = v.x.shape
        hwc = np.empty_like(weight)
        hwc[:, _chw_perm((c, h, w))] = weight
        weight = hwc
    elif v.layout == "image" and sum(d > 1 for d in v.x.shape) > 1:
        raise NIRImportError(f"NIR node {key}: a matrix on an image needs a Flatten before it")
    return weight.T.copy()


@node_rule("Linear", "Affine")
def _linear(key, node, v, ctx):
    from spikec.trace.params import dense, param

    y = dense(v.x, param(key, _matrix_weights(key, _arr(node.weight), v)))
    bias = getattr(node, "bias", None)
    if bias is not None and np.any(bias):
        y = y + _arr(bias)
    return Value(y, "vector")


@node_rule("Scale")
def _scale(key, node, v, ctx):
    v = _elementwise(v)
    return Value(v.x * _hwc(node.scale, v), v.layout)


@node_rule("Flatten")
def _flatten(key, node, v, ctx):
    return Value(v.x, "flat") if v.layout == "image" else v


def _conv_padding(key: str, padding: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> str:
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "US":
        padding = str(padding)
    if isinstance(padding, str):
        return padding
    p = tuple(int(d) for d in np.broadcast_to(np.ravel(padding), (2,)))
    if p == (0, 0):
        return "valid"
    if stride == (1, 1) and all(k % 2 == 1 and q == k // 2 for k, q in zip(kernel, p)):
        return "same"
    raise NIRImportError(f"NIR node {key}: padding {p} for a {kernel} kernel with stride {stride}; spikec's "
                         "conv2d pads 'valid' or 'same'")


@node_rule("Conv2d", "Conv1d")
def _conv(key, node, v, ctx):
    from spikec.trace.params import conv2d, param

    weight = _arr(node.weight)
    pair = lambda a: tuple(int(d) for d in np.broadcast_to(np.ravel(a), (2,)))
    if weight.ndim == 3:  # Conv1d: (C_out, C_in, N) on (C, N) signals, held as (N, 1, C) images
        weight = weight[..., None]
        stride = (int(np.ravel(node.stride)[0]), 1)
    else:
        stride = pair(node.stride)
    if int(np.max(node.dilation)) != 1 or int(node.groups) != 1:
        raise NIRImportError(f"NIR node {key}: dilation {node.dilation} / groups {node.groups} (spikec's conv2d "
                             "has neither)")
    if v.layout != "image":
        raise NIRImportError(f"NIR node {key}: a convolution needs an image, got a {v.layout} value")
    kernel = np.transpose(weight, (2, 3, 1, 0))
    padding = node.padding
    if _kind(node) == "Conv1d" and not isinstance(padding, (str, bytes)):
        padding = (int(np.ravel(padding)[0]), 0)
    y = conv2d(v.x, param(key, kernel), strides=stride, padding=_conv_padding(key, padding, kernel.shape[:2], stride))
    if node.bias is not None and np.any(node.bias):
        y = y + _arr(node.bias).ravel()
    return Value(y, "image")


@node_rule("SumPool2d", "AvgPool2d")
def _pool(key, node, v, ctx):
    from spikec.trace.params import avg_pool2d

    pair = lambda a: tuple(int(d) for d in np.broadcast_to(np.ravel(a), (2,)))
    if np.any(_arr(node.padding)):
        raise NIRImportError(f"NIR node {key}: pooling with padding {node.padding} (spikec pools 'valid')")
    k = pair(node.kernel_size)
    y = avg_pool2d(_elementwise(v).x, k, pair(node.stride))
    return Value(y * (k[0] * k[1]) if _kind(node) == "SumPool2d" else y, "image")


@node_rule("Threshold")
def _threshold(key, node, v, ctx):
    # a step function of a signal: spikec computes it with NEF units (approximate near the threshold)
    v = _elementwise(v)
    return Value(np.greater(v.x, _hwc(node.threshold, v)) * 1.0, v.layout)


@node_rule("Output")
def _output(key, node, v, ctx):
    return v


def _flatten_graph(graph: Any, prefix: str = "") -> tuple[dict, list]:
    """``graph``'s nodes and edges with nested graphs inlined (``sub.node`` keys)."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if _kind(node) == "NIRGraph":
            sub_nodes, sub_edges = _flatten_graph(node, full + ".")
            # the subgraph's own Input/Output nodes become pass-throughs
            for k, n in sub_nodes.items():
                nodes[k] = n
            edges.extend(sub_edges)
            ins[full] = [full + "." + k for k, n in node.nodes.items() if _kind(n) == "Input"]
            outs[full] = [full + "." + k for k, n in node.nodes.items() if _kind(n) == "Output"]
        else:
            nodes[full] = _as_numpy(node)
    for a, b in graph.edges:
        for s in outs.get(prefix + a, [prefix + a]):
            for d in ins.get(prefix + b, [prefix + b]):
                edges.append((s, d))
    return nodes, edges


def _as_numpy(node: Any) -> Any:
    """``node`` with array-like parameters (torch tensors, as Norse writes them) as NumPy arrays."""
    import copy
    import dataclasses

    changes = {f.name: np.asarray(getattr(node, f.name).detach().cpu().numpy())
               for f in dataclasses.fields(node) if hasattr(getattr(node, f.name, None), "detach")}
    if not changes:
        return node
    node = copy.copy(node)  # the caller's graph stays as it was
    for name, value in changes.items():
        setattr(node, name, value)
    return node


def _input_shape(node: Any) -> tuple[int, ...]:
    shape = tuple(int(d) for d in np.ravel(next(iter(node.input_type.values()))))
    if len(shape) == 3:
        return (shape[1], shape[2], shape[0])
    if len(shape) == 2:
        return (shape[1], 1, shape[0])
    return shape


def nir_function(graph: Any, *, spike: str = "impulse", dt: float = 1e-3) -> tuple[Callable, list[np.ndarray]]:
    """``(fn, examples)``: ``fn(*inputs)`` computes ``graph`` with spikec's layers; ``examples`` are zero
    inputs of the right shapes (images ``(H, W, C)``, channels last), in the order of the graph's
    top-level ``Input`` nodes.  Outputs: one value, or a tuple in the order of the ``Output`` nodes."""
    import networkx as nx

    if spike not in ("impulse", "per_step"):
        raise NIRImportError(f"from_nir(spike={spike!r}): choose 'impulse' or 'per_step'")
    nodes, edges = _flatten_graph(graph)
    top_inputs = [k for k, n in graph.nodes.items() if _kind(n) == "Input"]
    top_outputs = [k for k, n in graph.nodes.items() if _kind(n) == "Output"]
    for key, node in nodes.items():
        if _kind(node) not in NODE_RULES and _kind(node) != "Input":
            raise NIRImportError(f"NIR node {key} of kind {_kind(node)} is not imported; spikec reads "
                                 f"{', '.join(sorted(NODE_RULES))}")
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    # recurrences close through stateful nodes: their input is read after the rest of the cycle
    looped = {k for c in nx.strongly_connected_components(g) for k in c if len(c) > 1 or g.has_edge(k, k)}
    cuts = [k for k in nodes if k in looped and _kind(nodes[k]) in STATE_RULES]
    g.remove_edges_from([(a, b) for a, b in edges if b in cuts])
    try:
        order = list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        cycle = " -> ".join(a for a, _ in nx.find_cycle(g))
        raise NIRImportError(f"NIR graph is recurrent without a synaptic state on the cycle ({cycle}); spikec closes "
                             f"recurrences through {', '.join(STATE_RULES)} nodes (a LIF loop has no delay "
                             "in NIR's equations)") from None
    incoming = {k: [a for a, b in edges if b == k] for k in nodes}
    ctx = _Ctx(spike, dt)
    examples = [np.zeros(_input_shape(graph.nodes[k])) for k in top_inputs]

    def summed(key: str, values: dict[str, Value]) -> Value:
        parts = [values[a] for a in incoming[key]]
        if not parts:
            raise NIRImportError(f"NIR node {key} has no input")
        if len({p.layout for p in parts}) > 1:
            parts = [_elementwise(p) for p in parts]
        x = parts[0].x
        for p in parts[1:]:
            x = x + p.x
        return Value(x, parts[0].layout)

    def fn(*inputs):
        values: dict[str, Value] = {}
        for key, x in zip(top_inputs, inputs):
            values[key] = Value(x, "image" if len(np.shape(x)) == 3 else "vector")
        states = {}
        for key in cuts:
            states[key], values[key] = _open_state(key, nodes[key], ctx)
        for key in order:
            if key in values:
                continue
            v = summed(key, values)
            node = nodes[key]
            if _kind(node) == "Input":  # a nested graph's input: a pass-through
                values[key] = v
                continue
            values[key] = NODE_RULES[_kind(node)](key, node, v, ctx)
        for key in cuts:
            _close_state(states[key], nodes[key], summed(key, values))
        results = [values[k].x for k in top_outputs]
        return results[0] if len(results) == 1 else tuple(results)

    return fn, examples


def read_graph(graph_or_path: Any) -> Any:
    """A ``nir.NIRGraph`` as given, or read from a file path."""
    import os

    if isinstance(graph_or_path, (str, os.PathLike)):
        import nir

        return nir.read(graph_or_path)
    return graph_or_path
