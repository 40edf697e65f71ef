"""Export of LIF netlists to NIR (the Neuromorphic Intermediate Representation, ``nir`` package), and back.

:func:`export_nir` turns a netlist of LIF populations, sum nodes and
dense / sparse / convolution / average-pooling projections, lowpass and
integrator synapses (a spiking classifier such as ``examples/mnist.py``'s,
or a recurrent network) into a
``nir.NIRGraph`` that other neuromorphic tools can load; :func:`import_nir`
reads such a graph back into a netlist (the round trip is exact).

Mapping (NIR's conventions: channels first, unit spikes):

* an input becomes ``nir.Input``; a ``(H, W, C)`` value is ``(C, H, W)`` in
  NIR (spikec flattens channels last; every array is permuted accordingly);
* a LIF population becomes ``nir.LIF`` with ``tau = tau_rc``, ``r = gain``,
  ``v_leak = bias``, ``v_threshold = 1``, ``v_reset = 0``
  (``tau dv/dt = (bias - v) + gain * x``, nengo's LIF).  NIR's LIF has no
  refractory period: ``tau_ref`` and the spike ``amplitude`` are kept in the
  node's metadata (a consumer that ignores ``tau_ref`` fires a little faster
  near saturation);
* a spike counts ``amplitude`` in spikec (``amplitude / dt`` for one step);
  NIR spikes are unit events, so the weights leaving a population are scaled
  by its amplitude (an ``nir.Scale`` before a pooling);
* a convolution becomes ``nir.Conv2d`` (weight ``(C_out, C_in, kh, kw)``), an
  average pooling ``nir.AvgPool2d``, a dense or sparse matrix ``nir.Linear``
  (after ``nir.Flatten`` when its source is an image), a sum node
  ``nir.Scale`` of ones (``nir.Affine`` when it has an offset), an output
  ``nir.Output``;
* a ``Lowpass(tau)`` synapse becomes ``nir.LI(tau, r=1, v_leak=0)`` (after
  the projection's weights, or as the sum node itself when the node holds
  it; its initial value ``x0`` goes to metadata), an ``Integrator``
  ``nir.I(r=1)``.

Every node carries ``metadata["spikec"]`` (its role and netlist name or
projection index), which :func:`import_nir` uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikec.errors import SpikecError
from spikec.ir.attrs import ConstArray
from spikec.netlist import (
    AvgPool,
    Convolution,
    InputSource,
    Netlist,
    Output,
    Population,
    Projection,
    SumNode,
    make_transform,
)


class NIRExportError(SpikecError):
    """The netlist holds something NIR export does not cover (a synapse, a non-LIF neuron...)."""


def _chw_perm(shape: tuple[int, ...]) -> np.ndarray:
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
    return shapes


def _lif_params(pop: Population) -> tuple[float, float, float]:
    t = pop.neuron_type
    if type(t).__name__ not in ("LIF", "LIFRate") or not hasattr(t, "tau_rc"):
        raise NIRExportError(f"population {pop.name}: NIR export covers LIF neurons, not {t!r}")
    return float(t.tau_rc), float(t.tau_ref), float(getattr(t, "amplitude", 1.0))


def _synapse_node(nir, synapse: Any, shape: tuple[int, ...], metadata: dict, where: str) -> Any:
    """``Lowpass(tau)`` as ``LI(tau, r=1, v_leak=0)``, ``Integrator`` as ``I(r=1)``."""
    from spikec.models.synapses import Integrator, Lowpass

    if type(synapse) is Lowpass:
        return nir.LI(tau=np.full(shape, synapse.tau), r=np.ones(shape), v_leak=np.zeros(shape), metadata=metadata)
    if type(synapse) is Integrator:
        return nir.I(r=np.ones(shape), metadata=metadata)
    raise NIRExportError(f"{where}: synapse {synapse.label()} has no NIR node (Lowpass and Integrator do)")


def _synapse_of(node: Any) -> Any:
    """Inverse of :func:`_synapse_node`."""
    from spikec.models.synapses import Integrator, Lowpass

    if type(node).__name__ == "LI":
        return Lowpass(float(np.ravel(node.tau)[0]))
    return Integrator()


def export_nir(net: Netlist) -> Any:
    """``net`` as a ``nir.NIRGraph`` (see the module docstring for the mapping)."""
    import nir

    shapes = _shapes(net)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    amplitude = {}

    def tag(role: str, name: Any) -> dict:
        return {"spikec": f"{role}:{name}"}

    def flat(name: str, array: np.ndarray) -> np.ndarray:
        """A per-element array of object ``name`` in NIR order and shape."""
        shape = shapes[name]
        array = np.asarray(array, dtype=np.float64).ravel()
        return array[_chw_perm(shape)].reshape(shape) if len(shape) == 3 else array

    for src in net.inputs:
        nodes[src.name] = nir.Input(input_type={"input": np.array(shapes[src.name])},
                                    metadata={**tag("input", src.name), "index": src.index,
                                              "shape": np.array(src.shape)})
    for pop in net.populations:
        tau_rc, tau_ref, amp = _lif_params(pop)
        amplitude[pop.name] = amp
        shape = shapes[pop.name]
        nodes[pop.name] = nir.LIF(tau=np.full(shape, tau_rc), r=flat(pop.name, pop.gain.value),
                                  v_leak=flat(pop.name, pop.bias.value), v_threshold=np.ones(shape),
                                  v_reset=np.zeros(shape),
                                  metadata={**tag("population", pop.name), "tau_ref": tau_ref, "amplitude": amp,
                                            # spikec's initial neuron states (what makes spike trains reproducible)
                                            **{f"state0_{k}": flat(pop.name, v.value) for k, v in pop.initial_state}})
    for node in net.nodes:
        shape = shapes[node.name]
        if node.synapse is not None:
            if node.offset is not None:
                raise NIRExportError(f"sum node {node.name}: an offset into a synapse is not exported")
            meta = {**tag("node", node.name)}
            if node.x0 is not None:
                meta["x0"] = flat(node.name, node.x0.value)
            nodes[node.name] = _synapse_node(nir, node.synapse, shape, meta, f"sum node {node.name}")
        elif node.offset is None:
            nodes[node.name] = nir.Scale(scale=np.ones(shape), metadata=tag("node", node.name))
        elif len(shape) == 1 and node.size <= 4096:
            nodes[node.name] = nir.Affine(weight=np.eye(node.size), bias=np.asarray(node.offset.value, dtype=float),
                                          metadata=tag("node", node.name))
        else:
            raise NIRExportError(f"sum node {node.name}: an offset on a value of shape {shape} is not exported")
    for i, p in enumerate(net.projections):
        amp = amplitude.get(p.pre, 1.0)
        tr, pre_shape, post_shape = p.transform, shapes[p.pre], shapes[p.post]
        chain: list[tuple[str, Any]] = []
        if isinstance(tr, Convolution):
            if pre_shape != (tr.input_shape[2], tr.input_shape[0], tr.input_shape[1]):
                raise NIRExportError(f"projection {p.pre} -> {p.post}: convolution of a {tr.input_shape} image "
                                     f"reads {p.pre} of NIR shape {pre_shape}")
            weight = np.transpose(tr.kernel.value, (3, 2, 0, 1)) * amp
            chain.append((f"p{i}_conv", nir.Conv2d(input_shape=tr.input_shape[:2], weight=weight,
                                                  stride=tuple(tr.strides), padding=tr.padding, dilation=1,
                                                  groups=1, bias=np.zeros(weight.shape[0]))))
        elif isinstance(tr, AvgPool):
            if amp != 1.0:
                chain.append((f"p{i}_scale", nir.Scale(scale=np.full(pre_shape, amp))))
            chain.append((f"p{i}_pool", nir.AvgPool2d(kernel_size=np.array(tr.pool), stride=np.array(tr.strides),
                                                     padding=np.array([0, 0]))))
        else:
            weight = tr.to_dense() * amp
            if len(pre_shape) == 3:
                chain.append((f"p{i}_flatten", nir.Flatten(input_type={"input": np.array(pre_shape)}, start_dim=0)))
                weight = weight[:, _chw_perm(pre_shape)]
            if len(post_shape) == 3:
                raise NIRExportError(f"projection {p.pre} -> {p.post}: a matrix into an image is not exported")
            chain.append((f"p{i}_linear", nir.Linear(weight=weight)))
        if p.synapse is not None:
            chain.append((f"p{i}_synapse", _synapse_node(nir, p.synapse, post_shape, {},
                                                         f"projection {p.pre} -> {p.post}")))
        prev = p.pre
        for name, node in chain:
            node.metadata = {**tag("projection", i), "pre": p.pre, "post": p.post}
            nodes[name] = node
            edges.append((prev, name))
            prev = name
        edges.append((prev, p.post))
    for out in net.outputs:
        name = f"output_{out.index}"
        nodes[name] = nir.Output(output_type={"output": np.array(shapes[out.source])},
                                 metadata={**tag("output", out.name), "index": out.index,
                                           "shape": np.array(out.shape), "source": out.source})
        edges.append((out.source, name))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"name": net.name, "producer": "spikec",
                                                            "layout": "channels first (C, H, W)"},
                        type_check=False)


def _role(node: Any) -> tuple[str, str]:
    meta = getattr(node, "metadata", {}) or {}
    text = meta.get("spikec")
    if isinstance(text, bytes):
        text = text.decode()
    if not isinstance(text, str) or ":" not in text:
        raise SpikecError(f"NIR node {node!r:.80} was not written by spikec.export_nir (no spikec metadata)")
    role, _, name = str(text).partition(":")
    return role, name


def _meta(node: Any, key: str) -> Any:
    value = node.metadata[key]
    if isinstance(value, bytes):
        return value.decode()
    return value


def import_nir(graph: Any) -> Netlist:
    """The netlist of a graph written by :func:`export_nir` (also after ``nir.write``/``nir.read``)."""
    from spikec.models.neurons import LIF

    inputs, pops, sums, outputs = [], [], [], []
    chains: dict[int, list[tuple[str, Any]]] = {}
    order = {name: k for k, name in enumerate(graph.nodes)}
    for key, node in graph.nodes.items():
        role, name = _role(node)
        if role == "input":
            shape = tuple(int(d) for d in np.ravel(_meta(node, "shape")))
            inputs.append(InputSource(name, int(_meta(node, "index")), shape))
        elif role == "population":
            amp, tau_ref = float(_meta(node, "amplitude")), float(_meta(node, "tau_ref"))
            tau_rc = float(np.ravel(node.tau)[0])
            pops.append((name, LIF(tau_rc=tau_rc, tau_ref=tau_ref, amplitude=amp), node))
        elif role == "node":
            sums.append((name, node))
        elif role == "output":
            outputs.append(Output(name, int(_meta(node, "index")), _meta(node, "source"),
                                  tuple(int(d) for d in np.ravel(_meta(node, "shape")))))
        elif role == "projection":
            chains.setdefault(int(name), []).append((key, node))
    shapes: dict[str, tuple[int, ...]] = {}

    def hwc(name: str, array: np.ndarray) -> np.ndarray:
        """Inverse of export's per-element permutation."""
        array = np.asarray(array, dtype=np.float64)
        if array.ndim == 3:
            shapes[name] = array.shape
            out = np.empty(array.size)
            out[_chw_perm(array.shape)] = array.ravel()
            return out
        return array.ravel()

    populations = []
    for name, ntype, node in pops:
        gain, bias = hwc(name, node.r), hwc(name, node.v_leak)
        state0 = tuple((k[len("state0_"):], ConstArray(hwc(name, v))) for k, v in sorted(node.metadata.items())
                       if k.startswith("state0_"))
        populations.append(Population(name, gain.size, ntype, ConstArray(gain), ConstArray(bias),
                                      computes=("nir",), initial_state=state0))
    amplitude = {p.name: p.neuron_type.amplitude for p in populations}
    nodes = []
    for name, node in sums:
        if type(node).__name__ in ("LI", "I"):
            size = int(np.asarray(node.r).size)
            x0 = node.metadata.get("x0")
            nodes.append(SumNode(name, size, _synapse_of(node), None if x0 is None else ConstArray(hwc(name, x0))))
        elif type(node).__name__ == "Affine":
            nodes.append(SumNode(name, int(np.asarray(node.bias).size), None, None,
                                 ConstArray(np.asarray(node.bias, dtype=np.float64))))
        else:
            scale = np.asarray(node.scale)
            if scale.ndim == 3:
                shapes[name] = scale.shape
            nodes.append(SumNode(name, int(scale.size)))
    projections = []
    for i in sorted(chains):
        parts = sorted(chains[i], key=lambda kv: order[kv[0]])
        first = parts[0][1]
        pre, post = _meta(first, "pre"), _meta(first, "post")
        amp = amplitude.get(pre, 1.0)
        kinds = {type(n).__name__: n for _, n in parts}
        if "Conv2d" in kinds:
            conv = kinds["Conv2d"]
            kernel = np.transpose(np.asarray(conv.weight, dtype=np.float64), (2, 3, 1, 0)) / amp
            h, w = (int(d) for d in np.ravel(conv.input_shape))
            padding = conv.padding.decode() if isinstance(conv.padding, bytes) else conv.padding
            transform = Convolution((h, w, kernel.shape[2]), ConstArray(kernel),
                                    tuple(int(s) for s in np.ravel(conv.stride)), str(padding))
        elif "AvgPool2d" in kinds:
            pool = kinds["AvgPool2d"]
            c, h, w = shapes.get(pre) or _input_chw(inputs, pre)
            transform = AvgPool((h, w, c), tuple(int(k) for k in np.ravel(pool.kernel_size)),
                                tuple(int(s) for s in np.ravel(pool.stride)))
        else:
            weight = np.asarray(kinds["Linear"].weight, dtype=np.float64) / amp
            if "Flatten" in kinds:
                shape = tuple(int(d) for d in np.ravel(kinds["Flatten"].input_type["input"]))
                unpermuted = np.empty_like(weight)
                unpermuted[:, _chw_perm(shape)] = weight
                weight = unpermuted
            transform = make_transform(weight)
        synapse = next((_synapse_of(n) for kind, n in kinds.items() if kind in ("LI", "I")), None)
        projections.append(Projection(pre, post, transform, synapse))
    name = graph.metadata.get("name", "nir") if isinstance(graph.metadata, dict) else "nir"
    name = name.decode() if isinstance(name, bytes) else str(name)
    return Netlist(name, tuple(sorted(inputs, key=lambda s: s.index)), tuple(populations), tuple(nodes),
                   tuple(projections), tuple(sorted(outputs, key=lambda o: o.index))).validate()


def _input_chw(inputs: list[InputSource], name: str) -> tuple[int, int, int]:
    for src in inputs:
        if src.name == name and len(src.shape) == 3:
            return (src.shape[2], src.shape[0], src.shape[1])
    raise SpikecError(f"NIR import: cannot tell the image shape of {name!r}")


__all__ = ["NIRExportError", "export_nir", "import_nir"]
