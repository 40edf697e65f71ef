"""RefractoryLIF: a LIF whose output is its refractory state (stochastic computing), against nengo's LIF."""

from __future__ import annotations

import nengo
import numpy as np
import pytest

import spikec
from spikec.backends.nengo.neurons import NengoRefractoryLIF, nengo_adapter
from spikec.models.neurons import LIF, RefractoryLIF, as_neuron_type

DT = 1e-3


def _nengo_lif_run(J, neuron_type, probe_state=True):
    """Run nengo with a per-step current table J (steps, n); output and refractory_time per step."""
    steps, n = J.shape
    with nengo.Network(seed=0) as net:
        node = nengo.Node(lambda t: J[min(int(round(t / DT)) - 1, steps - 1)])
        ens = nengo.Ensemble(n, 1, neuron_type=neuron_type, gain=np.ones(n), bias=np.zeros(n))
        nengo.Connection(node, ens.neurons, synapse=None)
        out = nengo.Probe(ens.neurons, synapse=None)
        ref = nengo.Probe(ens.neurons, "refractory_time", synapse=None)
        volt = nengo.Probe(ens.neurons, "voltage", synapse=None)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run_steps(steps)
    return sim.data[out], sim.data[ref], sim.data[volt]


def test_step_matches_nengo_lif_refractory_time():
    rng = np.random.RandomState(0)
    J = rng.uniform(0, 4, size=(400, 5))
    ntype = RefractoryLIF(tau_rc=0.01, tau_ref=0.01)
    spikes, refractory_time, voltage = _nengo_lif_run(J, nengo.LIF(tau_rc=0.01, tau_ref=0.01))
    # Start from nengo's state after its first step and step the same currents.
    state = {"voltage": voltage[0].copy(), "refractory_time": refractory_time[0].copy()}
    outs = []
    for k in range(1, len(J)):
        state, out = ntype.step(state, J[k], DT)
        outs.append(out)
    outs = np.array(outs)
    np.testing.assert_array_equal(outs, (refractory_time[1:] > DT).astype(float))
    # Each spike holds the state for exactly tau_ref / dt = 10 steps.
    s = spikes[1:, 0] > 0
    starts = np.flatnonzero(s)
    assert len(starts) > 5
    for t in starts[:-1]:
        assert outs[t:t + 10, 0].all() and not outs[t + 10, 0]
    assert outs[:, 0].sum() == pytest.approx(10 * s.sum(), abs=10)


def test_nengo_type_and_conversions():
    ntype = RefractoryLIF(tau_rc=0.01, tau_ref=0.01, amplitude=2.0)
    theirs = nengo_adapter(ntype)
    assert isinstance(theirs, NengoRefractoryLIF) and not theirs.spiking
    assert as_neuron_type(theirs) == ntype
    J = np.linspace(0, 5, 6)
    out, ref, _ = _nengo_lif_run(np.tile(J, (300, 1)), theirs)
    np.testing.assert_array_equal(out, (ref > DT) * 2.0)
    # The rate counterpart is the expected refractory fraction (times amplitude).
    expected = LIF(tau_rc=0.01, tau_ref=0.01).rates(J) * 0.01 * 2.0
    np.testing.assert_allclose(ntype.rates(J), expected)
    np.testing.assert_allclose(theirs.rates(J[:, None], np.ones(1), np.zeros(1))[:, 0], expected)
    assert ntype.as_spiking() is ntype and not ntype.spiking
    assert abs(out[50:, 4].mean() - expected[4]) < 0.05


@spikec.compile(static=("W",))
def _sampler(x, W):
    current = spikec.filter(W @ x, spikec.Lowpass(0.005))
    return spikec.neurons(current, spikec.RefractoryLIF(tau_rc=0.01, tau_ref=0.01), gain=1.0, bias=1.0)


def _spike_table(steps=300, h=20, seed=0):
    return (np.random.RandomState(seed).rand(steps, h) < 0.05).astype(float)


def test_backends_agree_on_refractory_outputs():
    table = _spike_table()
    W = np.random.RandomState(1).randn(4, 20) * 5
    prog = _sampler.trace(np.zeros(20), W)
    x = spikec.Input((20,), lambda t: table[min(int(round(t / DT)) - 1, len(table) - 1)])
    runs = {b: prog.run(x, t=0.3, backend=b, mode="spiking", **({"dtype": "float64"} if b == "jax" else {}))
            for b in ("numpy", "nengo", "jax")}
    ref = runs["numpy"].output
    assert set(np.unique(ref)) == {0.0, 1.0} and 0.05 < ref.mean() < 0.8
    for b in ("nengo", "jax"):
        np.testing.assert_array_equal(runs[b].output, ref, err_msg=b)
    # The refractory output is a state, not spikes: it is not counted.
    assert runs["numpy"].spikes[-1] == 0
    # Rate mode: the expected refractory fraction, as the ideal reference.
    const = prog.run(np.full(20, 0.05), t=0.05, backend="numpy", mode="rate").output[-1]
    ideal = prog.run(np.full(20, 0.05), t=0.05, backend="numpy", mode="ideal").output[-1]
    np.testing.assert_allclose(const, ideal, atol=1e-6)


def test_surrogate_forward_exact_and_gradient_flows():
    jax = pytest.importorskip("jax")
    from spikec.backends.jax.scan import simulate
    from spikec.train.loss import make_loss_fn

    table = _spike_table(200)
    W = np.random.RandomState(1).randn(4, 20) * 5
    net = _sampler.trace(np.zeros(20), W).netlist
    params, apply = make_loss_fn(net, "spiking", DT, 200)
    (out,) = apply(params, [table[None]])
    plain = simulate(net, [table[:, None, :]], mode="spiking")["outputs"][0][:, 0]
    np.testing.assert_array_equal(np.asarray(out)[0], plain)
    grad = jax.grad(lambda b: apply({"bias": b}, [table[None]])[0].mean())(params["bias"])
    g = np.asarray(next(iter(grad.values())))
    # More bias, more spikes, more time refractory: the surrogate says so.
    assert np.all(np.isfinite(g)) and np.all(g > 0)
