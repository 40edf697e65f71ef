"""Running NIR graphs in snnTorch and Norse, and writing graphs from them, as a user would (their own loaders and
exporters, unmodified).  Shared by tests/test_interop.py and benchmarks/interop.py.

Conventions these frameworks use, which the comparisons follow rather than bend the export to:

* both feed a spike as 1 in its step: graphs go to them with ``to_nir(spike="per_step", dt=dt)``;
* snnTorch 1.0.0 reads and writes every time constant for a step of 1e-4 s (``beta = 1 - 1e-4/tau``), so
  spikec runs at ``dt = 1e-4`` when compared with it; Norse takes ``dt`` as an argument;
* both step Euler (``beta = 1 - dt/tau``), spikec integrates exactly (``exp(-dt/tau)``): rates differ by
  about ``dt / (2 tau)``;
* snnTorch loads ``AvgPool2d`` (not ``SumPool2d``), Norse ``SumPool2d`` (not ``AvgPool2d``);
* snnTorch's default neuron resets by subtraction and one step late (``reset_delay``); NIR's LIF resets to
  ``v_reset`` at once, which is what its ``reset_mechanism="zero", reset_delay=False`` does;
* snnTorch 1.0.0's exporter needs an unbatched sample and per-neuron ``beta``/``threshold`` to pass nir 1.0.8's
  type check;
* nirtorch 2 (snnTorch's loader) returns one tensor per edge into the Output node (NIR sums them) and the
  state, which must be passed back in for recurrences to work; it does not finish building a graph with more
  than one Output node (programs compared with it return one array);
* snnTorch refuses ``v_leak`` and reads a ``CubaLIF``'s ``r`` only as ``tau_mem/dt``: graphs of the lif target go
  to it with ``to_nir(bias="current", membrane="per_step")``; it has no ``LI`` node;
* Norse 1.1.0's exporter writes ``tau = dt / tau_mem_inv`` (the time constant times ``dt``):
  :func:`norse_tau_fix` divides it back before spikec reads the graph.
"""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np

SNNTORCH_DT = 1e-4


def _record(module, kinds):
    """Forward hooks on the spiking modules of ``module``: name -> list of per-step spike tensors."""
    rec, hooks = {}, []
    for name, m in module.named_modules():
        if isinstance(m, kinds):
            rec[name] = []

            def hook(mod, inp, out, name=name):
                z = out[0] if isinstance(out, tuple) else out
                rec[name].append(z.detach().numpy().copy())

            hooks.append(m.register_forward_hook(hook))
    return rec, hooks


def _step(module, x, steps, stateful, kinds, outputs=None):
    """Run ``module`` for ``steps`` steps; spikes per recorded module, and each step's output in ``outputs``.

    A nirtorch module returns ``(*one tensor per edge into the Output node, state)``: the edges are summed (NIR's
    rule) and the state is passed back in (it carries the recurrences)."""
    import torch

    rec, hooks = _record(module, kinds)
    xt = torch.tensor(np.asarray(x), dtype=torch.float32)
    state = None
    with torch.no_grad():
        for _ in range(steps):
            if stateful:
                out, state = module(xt, state)
            else:
                out = module(xt, state=state) if state is not None else module(xt)
                if isinstance(out, tuple) and isinstance(out[-1], dict):
                    out, state = sum(out[:-1]), out[-1]
            if outputs is not None:
                outputs.append(np.asarray(out, dtype=float).ravel().copy())
    for h in hooks:
        h.remove()
    return {k: np.array(v) for k, v in rec.items()}


def chw(x):
    """A spikec image ``(H, W, C)`` as frameworks take it, ``(C, H, W)``."""
    return np.transpose(x, (2, 0, 1)) if np.ndim(x) == 3 else x


def per_neuron(counts):
    """Spike counts of a layer in spikec's order (images ``(C, H, W)`` -> ``(H, W, C)``), flat."""
    counts = np.asarray(counts)
    return (np.transpose(counts, (1, 2, 0)) if counts.ndim == 3 else counts).ravel()


def run_snntorch(graph, x, steps, outputs=None):
    """Per-layer spike counts per neuron (NIR node name -> array) of ``graph`` loaded with
    ``snntorch.import_nir.import_from_nir`` and run for ``steps`` steps on input ``x`` (unbatched); each step's
    output (the Output node's edges summed) is appended to ``outputs`` when given."""
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # its loader prints warnings about weight scaling
        module = import_from_nir(graph)
    for m in module.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_hidden() if hasattr(m, "reset_hidden") else None
    rec = _step(module, chw(x), steps, False, (snn.Leaky, snn.Synaptic), outputs)
    return {k.replace("_", ".") if k not in graph.nodes else k: per_neuron(v.sum(axis=0)) for k, v in rec.items()}


def run_norse(graph, x, steps, dt):
    """As :func:`run_snntorch`, loaded with ``norse.torch.from_nir(graph, dt=dt)``."""
    import norse.torch as nt
    from norse.torch.utils.import_nir import from_nir

    logging.getLogger().setLevel(logging.ERROR)
    module = from_nir(graph, dt=dt)
    rec = _step(module, chw(x), steps, True, (nt.LIFBoxCell, nt.IAFCell))
    return {k: per_neuron(v.sum(axis=0)) for k, v in rec.items()}


def compare(ours: dict, theirs: dict) -> dict:
    """Per layer (matched by name): spikes in each, the correlation of per-neuron counts, relative difference
    of the totals."""
    rows = {}
    for name, a in ours.items():
        b = theirs[name]
        a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
        corr = 1.0 if np.array_equal(a, b) else float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else 0.0
        rows[name] = {"spikec": int(a.sum()), "theirs": int(b.sum()), "corr": corr,
                      "total_diff": abs(a.sum() - b.sum()) / max(a.sum(), 1)}
    return rows


def matches(rows: dict, corr: float = 0.95, total: float = 0.05) -> bool:
    """The acceptance criteria: correlation >= ``corr`` per layer and totals within ``total``."""
    return all(r["corr"] >= corr and r["total_diff"] <= total for r in rows.values())


# ----------------------------------------------------------------------------- graphs the frameworks write


def snntorch_two_layer(seed=0, n_in=8, n_hidden=24, n_out=6):
    """A 2-layer snnTorch LIF net (NIR-conformant reset) and its NIR export (snnTorch's ``export_to_nir``)."""
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(seed)
    # per-neuron beta and threshold: with scalars snnTorch writes shapeless LIF nodes that nir's type check refuses
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, n_hidden),
        snn.Leaky(beta=torch.full((n_hidden,), 0.995), threshold=torch.ones(n_hidden), init_hidden=True,
                  reset_mechanism="zero", reset_delay=False),
        torch.nn.Linear(n_hidden, n_out),
        snn.Leaky(beta=torch.full((n_out,), 0.99), threshold=torch.ones(n_out), init_hidden=True, output=True,
                  reset_mechanism="zero", reset_delay=False),
    )
    with torch.no_grad():
        net[0].weight.mul_(0.3)
        net[0].bias.uniform_(0.01, 0.025)
        net[2].weight.mul_(2.0)
        net[2].bias.fill_(0.01)
    with contextlib.redirect_stdout(io.StringIO()):
        graph = export_to_nir(net, torch.zeros(n_in))  # unbatched: a batched sample fails nir's type check
    return net, graph


def snntorch_recurrent(seed=0, n_in=8, n_hidden=16, n_out=6):
    """snnTorch ``Linear -> RSynaptic -> Linear -> Leaky`` (all-to-all recurrence) and its NIR export: the
    ``RSynaptic`` as a nested ``CubaLIF`` <-> ``Linear`` graph.  snnTorch 1.0.0's ``RSynaptic`` has no form of
    NIR's reset: ``reset_mechanism="zero"`` zeroes the synaptic current as well as the membrane, and
    ``reset_delay=False`` fails (it reads an unset spike); its default, a subtractive reset one step late, is
    closest (at a 1e-4 s step the overshoot and the step are small)."""
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, n_hidden),
        snn.RSynaptic(alpha=torch.full((n_hidden,), 0.99), beta=torch.full((n_hidden,), 0.995), all_to_all=True,
                      linear_features=n_hidden, threshold=torch.ones(n_hidden), init_hidden=True,
                      reset_mechanism="subtract"),  # see the docstring
        torch.nn.Linear(n_hidden, n_out),
        snn.Leaky(beta=torch.full((n_out,), 0.99), threshold=torch.ones(n_out), init_hidden=True, output=True,
                  reset_mechanism="zero", reset_delay=False),
    )
    with torch.no_grad():
        net[0].weight.mul_(0.001)
        net[0].bias.uniform_(0.00003, 0.00008)
        net[1].recurrent.weight.mul_(0.01)
        net[1].recurrent.bias.zero_()
        net[2].weight.mul_(2.0)
        net[2].bias.fill_(0.01)
    with contextlib.redirect_stdout(io.StringIO()):
        graph = export_to_nir(net, torch.zeros(n_in))
    return net, graph


def run_snntorch_module(net, x, steps):
    """Per-layer spike counts of an snnTorch ``Sequential`` (its spiking layers by index)."""
    import snntorch as snn
    import torch

    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_hidden()
    rec = {}
    xt = torch.tensor(np.asarray(x)[None], dtype=torch.float32)
    with torch.no_grad():
        for _ in range(steps):
            h = xt
            for i, m in enumerate(net):
                h = m(h)
                if isinstance(m, snn.SpikingNeuron):
                    z = h[0] if isinstance(h, tuple) else h
                    rec.setdefault(str(i), []).append(z.numpy()[0].copy())
                    h = z
    return {k: np.array(v).sum(axis=0) for k, v in rec.items()}


def norse_two_layer(seed=0, n_in=8, n_hidden=24, n_out=6, dt=1e-3):
    """A 2-layer Norse LIF net and its NIR export (Norse's ``to_nir``)."""
    import norse.torch as nt
    import torch
    from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(seed)
    p1 = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(50.0), v_leak=torch.tensor(0.0), v_th=torch.tensor(1.0))
    p2 = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(40.0), v_leak=torch.tensor(0.0), v_th=torch.tensor(1.0))
    net = nt.SequentialState(torch.nn.Linear(n_in, n_hidden), nt.LIFBoxCell(p1, dt=dt),
                             torch.nn.Linear(n_hidden, n_out), nt.LIFBoxCell(p2, dt=dt))
    with torch.no_grad():
        net[0].weight.mul_(8.0)
        net[0].bias.uniform_(0.5, 1.5)
        net[2].weight.mul_(6.0)
        net[2].bias.fill_(0.8)
    graph = to_nir(net, torch.zeros(1, n_in), dt=dt)
    return net, graph


def run_norse_module(net, x, steps):
    """Per-layer spike counts of a Norse ``SequentialState`` (LIF cells by index)."""
    import norse.torch as nt
    import torch

    rec, hooks = {}, []
    for i, m in enumerate(net):
        if isinstance(m, nt.LIFBoxCell):
            rec[str(i)] = []
            hooks.append(m.register_forward_hook(lambda mod, inp, out, i=i: rec[str(i)].append(
                out[0].detach().numpy()[0].copy())))
    xt = torch.tensor(np.asarray(x)[None], dtype=torch.float32)
    state = None
    with torch.no_grad():
        for _ in range(steps):
            _, state = net(xt, state)
    for h in hooks:
        h.remove()
    return {k: np.array(v).sum(axis=0) for k, v in rec.items()}


def norse_tau_fix(graph, dt):
    """Norse 1.1.0 writes ``tau`` as the time constant times ``dt``: divide it back (a documented deviation)."""
    for node in graph.nodes.values():
        for name in ("tau", "tau_mem", "tau_syn"):
            if hasattr(node, name) and getattr(node, name) is not None:
                setattr(node, name, np.asarray(getattr(node, name), dtype=float) / dt)
    return graph


# ----------------------------------------------------------------------------- programs on the lif target


def filter_bank(u):
    """Two lowpass filters and a resonator of ``u``, one output array (nirtorch builds one Output node only)."""
    import spikec

    resonator = spikec.lti(u[0], (np.array([[0.0, 1.0], [-100.0, -10.0]]), np.array([0.0, 100.0])))
    return np.concatenate([spikec.filter(u, 0.02), spikec.filter(u, 0.05), resonator])


def lif_program_in_snntorch(prog, x, steps, readout=0.02):
    """A program compiled with ``target="lif"`` and refractory-free units, exported as snnTorch reads it
    (``spike="per_step", bias="current", membrane="per_step"``, step :data:`SNNTORCH_DT`) and run in snnTorch,
    in spikec and in the reference NIR simulator.  Returns ``(rows, errors)``: per population, snnTorch's spike
    counts against the reference's (:func:`compare`); and the NRMSE of the decoded output (``readout`` lowpass)
    over the last half of the run: snnTorch's and the reference's against spikec's own run."""
    import nengo

    from spikec.tools.metrics import nrmse
    from tests.nir_reference import NIRReference

    dt = SNNTORCH_DT
    graph = prog.to_nir(spike="per_step", dt=dt, bias="current", membrane="per_step")
    outputs = []
    theirs = run_snntorch(graph, np.ravel(x), steps, outputs)  # dense programs: their Linear reads a flat input
    ref_out, spikes = NIRReference(graph, dt=dt, spike="per_step").run({"input": np.ravel(x)}, steps)
    rows = compare({k: v.sum(axis=0) for k, v in spikes.items()}, theirs)
    ours = prog.run(x, t=steps * dt, dt=dt, mode="spiking").outputs[0].reshape(steps, -1)
    late = slice(steps // 2, None)
    filt = [nengo.Lowpass(readout).filt(np.asarray(y).reshape(steps, -1), dt=dt, y0=0)[late]
            for y in (ours, outputs, ref_out["output"])]
    return rows, {"snntorch": nrmse(filt[1], filt[0]), "reference": nrmse(filt[2], filt[0])}
