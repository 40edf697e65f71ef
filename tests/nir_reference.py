"""An independent NumPy simulator of NIR graphs: the oracle for spikec's NIR export and import.

It reads only the NIR nodes' parameters (never spikec, never node metadata)
and steps NIR's equations in discrete time:

* every node's inputs are the sum of its incoming edges;
* ``LIF``: ``tau dv/dt = (v_leak - v) + r I`` solved exactly for ``I`` held
  over the step (zero-order hold), a spike when ``v > v_threshold`` at the end
  of the step, then ``v = v_reset``; no floor, no refractory period;
  ``CubaLIF`` the same behind ``tau_syn dI/dt = -I + w_in x``; ``IF``:
  ``dv/dt = r I``;
* ``LI`` (``tau dv/dt = (v_leak - v) + r I``), ``I`` (``dv/dt = r I``) and a
  ``CubaLIF``'s current are state: they give the value they held after the
  previous step and then take this step's input (a one-step synaptic delay;
  recurrences close through them); every other node answers within the step;
* neurons start at their reset potential, synapses at 0;
* a spike is a unit impulse, ``1/dt`` for its step (``spike="impulse"``), or
  ``1`` (``spike="per_step"``);
* ``Linear``/``Affine``/``Scale``/``Flatten``/``Conv2d``/``SumPool2d``/
  ``AvgPool2d``/``Threshold`` as NIR defines them, channels first.
"""

from __future__ import annotations

import numpy as np

STATEFUL = ("LI", "I", "CubaLIF")


def _kind(node) -> str:
    return type(node).__name__


def _flatten(graph, prefix=""):
    """Nodes and edges of ``graph`` with nested graphs inlined (``sub.node`` names)."""
    nodes, edges, alias_in, alias_out = {}, [], {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if _kind(node) == "NIRGraph":
            sub_nodes, sub_edges = _flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            alias_in[full] = [f"{full}.{k}" for k, n in node.nodes.items() if _kind(n) == "Input"]
            alias_out[full] = [f"{full}.{k}" for k, n in node.nodes.items() if _kind(n) == "Output"]
        else:
            nodes[full] = node
    for a, b in graph.edges:
        for src in alias_out.get(prefix + a, [prefix + a]):
            for dst in alias_in.get(prefix + b, [prefix + b]):
                edges.append((src, dst))
    return nodes, edges


def _window_view(x, k, s):
    c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((c, oh, ow, k[0], k[1]))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
    return out


def _pad_amount(node, kh, kw, stride, h, w):
    padding = node.padding.decode() if isinstance(node.padding, bytes) else node.padding
    if isinstance(padding, str) or (isinstance(padding, np.ndarray) and padding.dtype.kind in "US"):
        padding = str(padding)
        if padding == "valid":
            return (0, 0), (0, 0)
        # TensorFlow's 'same': the extra row/column at the end
        ph = max((int(np.ceil(h / stride[0])) - 1) * stride[0] + kh - h, 0)
        pw = max((int(np.ceil(w / stride[1])) - 1) * stride[1] + kw - w, 0)
        return (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)
    p = np.broadcast_to(np.asarray(padding, dtype=int).ravel(), (2,))
    return (int(p[0]), int(p[0])), (int(p[1]), int(p[1]))


def _conv2d(node, x):
    wgt = np.asarray(node.weight, dtype=float)
    cout, _, kh, kw = wgt.shape
    stride = tuple(int(s) for s in np.broadcast_to(np.ravel(node.stride), (2,)))
    (pt, pb), (pl, pr) = _pad_amount(node, kh, kw, stride, x.shape[1], x.shape[2])
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    win = _window_view(xp, (kh, kw), stride)  # (cin, oh, ow, kh, kw)
    y = np.einsum("cijab,fcab->fij", win, wgt)
    bias = np.asarray(node.bias, dtype=float).ravel() if node.bias is not None else np.zeros(cout)
    return y + bias[:, None, None]


def _pool(node, x):
    k = tuple(int(v) for v in np.broadcast_to(np.ravel(node.kernel_size), (2,)))
    s = tuple(int(v) for v in np.broadcast_to(np.ravel(node.stride), (2,)))
    return _window_view(x, k, s).sum(axis=(3, 4))


def _shape_of_input(node):
    return tuple(int(d) for d in np.ravel(next(iter(node.input_type.values()))))


class NIRReference:
    """Steps a NIR graph (see the module docstring for the semantics)."""

    def __init__(self, graph, dt: float = 1e-3, spike: str = "impulse"):
        self.nodes, self.edges = _flatten(graph)
        self.dt, self.spike_value = dt, (1.0 / dt if spike == "impulse" else 1.0)
        self.incoming = {k: [a for a, b in self.edges if b == k] for k in self.nodes}
        self.order = self._order()
        self.inputs = [k for k, n in self.nodes.items() if _kind(n) == "Input"]
        self.outputs = [k for k, n in self.nodes.items() if _kind(n) == "Output"]

    def _order(self):
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((a, b) for a, b in self.edges if _kind(self.nodes[b]) not in STATEFUL)
        return list(nx.topological_sort(g))

    def run(self, inputs: dict, steps: int):
        """``inputs[name]``: an array ``(steps, *shape)`` or a constant; returns (outputs, spikes, values):
        ``outputs[name]`` and ``spikes[node]`` arrays ``(steps, *shape)`` (spikes as 0/1)."""
        state = {}
        for k, n in self.nodes.items():
            kind = _kind(n)
            if kind in ("LIF", "IF", "CubaLIF"):
                # NIR leaves the initial voltage open: here the reset potential (0 for spikec's exports)
                v0 = np.zeros(np.shape(n.v_threshold)) + (0.0 if n.v_reset is None else n.v_reset)
                state[k] = (v0, np.zeros(np.shape(v0))) if kind == "CubaLIF" else v0
            elif kind in ("LI", "I"):
                state[k] = np.zeros(np.shape(n.r))
        outputs = {k: [] for k in self.outputs}
        spikes = {k: [] for k, n in self.nodes.items() if _kind(n) in ("LIF", "CubaLIF", "IF")}
        for t in range(steps):
            values = {}
            # stateful nodes show their previous state
            for k, n in self.nodes.items():
                if _kind(n) in ("LI", "I"):
                    values[k] = state[k]
            for k in self.order:
                n, kind = self.nodes[k], _kind(self.nodes[k])
                if k in values:
                    continue
                if kind == "CubaLIF":  # fires from its current; takes its input after the step
                    values[k] = self._apply(k, n, kind, None, state, spikes)
                    continue
                if kind == "Input" and not self.incoming[k]:
                    v = inputs[k]
                    v = np.asarray(v[t] if np.ndim(v) > len(_shape_of_input(n)) else v, dtype=float)
                    values[k] = v.reshape(_shape_of_input(n))
                    continue
                ins = [values[a] for a in self.incoming[k]]
                x = sum(ins[1:], ins[0]) if ins else 0.0
                values[k] = self._apply(k, n, kind, x, state, spikes)
            for k in self.outputs:
                outputs[k].append(np.array(values[k], dtype=float))
            # then the stateful nodes take this step's input
            for k, n in self.nodes.items():
                kind = _kind(n)
                if kind in ("LI", "I", "CubaLIF"):
                    ins = [values[a] for a in self.incoming[k]]
                    x = sum(ins[1:], ins[0]) if ins else 0.0
                    if kind == "LI":
                        a = -np.expm1(-self.dt / np.asarray(n.tau, dtype=float))
                        state[k] = state[k] + a * (n.v_leak + n.r * x - state[k])
                    elif kind == "I":
                        state[k] = state[k] + self.dt * n.r * x
                    else:
                        v, cur = state[k]
                        a = -np.expm1(-self.dt / np.asarray(n.tau_syn, dtype=float))
                        state[k] = (v, cur + a * (n.w_in * np.reshape(x, np.shape(cur)) - cur))
        return ({k: np.array(v) for k, v in outputs.items()}, {k: np.array(v) for k, v in spikes.items()})

    def _lif(self, v, tau, r, v_leak, x, thr, reset):
        a = -np.expm1(-self.dt / np.asarray(tau, dtype=float))
        v = v + a * (v_leak + r * x - v)
        fired = v > thr
        return np.where(fired, reset if reset is not None else 0.0, v), fired

    def _apply(self, k, n, kind, x, state, spikes):
        if kind in ("Output", "Input"):  # an Input with edges into it: a nested graph's entry
            return x
        if kind == "Linear":
            return np.asarray(n.weight, dtype=float) @ np.ravel(x)
        if kind == "Affine":
            return np.asarray(n.weight, dtype=float) @ np.ravel(x) + np.asarray(n.bias, dtype=float)
        if kind == "Scale":
            return np.asarray(n.scale, dtype=float) * x
        if kind == "Flatten":
            return np.ravel(x)
        if kind == "Conv2d":
            return _conv2d(n, x)
        if kind == "SumPool2d":
            return _pool(n, x)
        if kind == "AvgPool2d":
            k2 = np.prod(np.broadcast_to(np.ravel(n.kernel_size), (2,)))
            return _pool(n, x) / k2
        if kind == "Threshold":
            return (x > n.threshold) * self.spike_value
        if kind == "LIF":
            state[k], fired = self._lif(state[k], n.tau, n.r, n.v_leak, np.reshape(x, np.shape(state[k])),
                                        n.v_threshold, n.v_reset)
        elif kind == "CubaLIF":
            v, cur = state[k]
            v, fired = self._lif(v, n.tau_mem, n.r, n.v_leak, cur, n.v_threshold, n.v_reset)
            state[k] = (v, cur)
        elif kind == "IF":
            v = state[k] + self.dt * n.r * np.reshape(x, np.shape(state[k]))
            fired = v > n.v_threshold
            state[k] = np.where(fired, n.v_reset if n.v_reset is not None else 0.0, v)
        else:
            raise NotImplementedError(f"NIRReference: node {k} of kind {kind}")
        spikes[k].append(fired.astype(float))
        return fired * self.spike_value
