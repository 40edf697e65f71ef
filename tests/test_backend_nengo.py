"""The nengo and nengo_dl back ends, on hand-built netlists.

Every expected sequence is computed here in NumPy from the netlist's
documented semantics (``spikec/netlist/core.py``): during step ``k``
(``t = (k + 1) dt``) an input shows its value at ``t``, a population maps
``J = gain * sum + bias`` through its neuron type, a projection with a
synapse shows that synapse's output *before* step ``k``'s update (one step
late), and a sum node with a synapse shows its synapse's output before this
step's update, starting at ``x0`` (its input ``u`` is its offset plus its
incoming projections).

NengoDL: it builds the same network with nengo's own builder and runs
nengo's operators as TensorFlow ops, so with ``dtype="float64"`` (this back
end's default) outputs agree with nengo to rounding and the spike trains of
deterministic neurons are identical (nothing more is promised by NengoDL;
identical spike counts are what was measured, and what is asserted).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal

nengo = pytest.importorskip("nengo")

from spikec.backends import get_backend
from spikec.backends.nengo.build import (
    NengoModel,
    SpikecSynapse,
    build_network,
)
from spikec.backends.nengo.network import to_nengo
from spikec.backends.nengo.neurons import NengoParabola
from spikec.errors import BackendError, RunError
from spikec.ir.attrs import ConstArray
from spikec.models.neurons import (
    LIF,
    AdaptiveLIFRate,
    Izhikevich,
    LIFRate,
    Parabola,
    RectifiedLinear,
    RegularSpiking,
)
from spikec.models.synapses import Adam, Alpha, DoubleExp, Integrator, LinearFilter, Lowpass
from spikec.netlist import (
    Dense,
    InputSource,
    Netlist,
    Output,
    Population,
    Projection,
    Sparse,
    SumNode,
)

DT = 1e-3


# ----------------------------------------------------------------------------- helpers


def C(a) -> ConstArray:
    return ConstArray(np.asarray(a, dtype=np.float64))


def dense(W) -> Dense:
    return Dense(C(np.atleast_2d(W)))


def sparse(W) -> Sparse:
    return Sparse.from_scipy(scipy.sparse.coo_array(np.atleast_2d(W)))


def run(net, inputs=(), *, backend="nengo", mode="rate", t=0.02, **options):
    return get_backend(backend).run(net, list(inputs), t=t, dt=DT, mode=mode, seed=0, progress=False,
                                    **options)


def times(steps):
    return DT * np.arange(1, steps + 1)


def wave(t):
    return np.array([np.sin(20 * t), 0.5 * np.cos(13 * t) + t])


def delayed(synapse, us, x0=None):
    """What a sum node holding ``synapse`` shows at each step, given its inputs ``us``."""
    state = synapse.init_state(np.shape(us[0]), None if x0 is None else np.asarray(x0, dtype=float))
    shown = []
    for u in us:
        shown.append(np.array(synapse.output(state)))
        state, _ = synapse.step(state, u, DT)
    return np.array(shown)


def encoder_decoder_net(neuron, transform=dense, rng_seed=1, n=20):
    """input[2] -> population (n neurons) -> sum node y[3]."""
    rng = np.random.default_rng(rng_seed)
    W_enc = rng.normal(size=(n, 2))
    W_enc[rng.random(W_enc.shape) < 0.4] = 0.0
    W_dec = rng.normal(size=(3, n)) / n
    W_dec[rng.random(W_dec.shape) < 0.6] = 0.0
    gain, bias = rng.uniform(1.0, 3.0, n), rng.uniform(-1.0, 2.0, n)
    net = Netlist(
        "encdec", inputs=(InputSource("x", 0, (2,)),),
        populations=(Population("p", n, neuron, C(gain), C(bias)),),
        nodes=(SumNode("y", 3),),
        projections=(Projection("x", "p", transform(W_enc)), Projection("p", "y", transform(W_dec))),
        outputs=(Output("y", 0, "y", (3,)),),
    )
    return net, (W_enc, W_dec, gain, bias)


def mixed_net():
    """Every kind of object, small: LIF and Parabola (RegularSpiking when spiking)
    populations with initial states, sparse and filtered projections, an integrator
    with x0 (a nengo synapse) and an Adam node with x0 (a Python process)."""
    rng = np.random.default_rng(5)
    n1, n2 = 12, 4
    pops = (
        Population("lif", n1, LIF(), C(rng.uniform(1, 3, n1)), C(rng.uniform(0, 2, n1)),
                   initial_state=(("voltage", C(rng.uniform(0, 1, n1))), ("refractory_time", C(np.zeros(n1))))),
        Population("sq", n2, Parabola(amplitude=2.0), C(rng.uniform(1, 2, n2)), C(rng.uniform(3, 6, n2)),
                   initial_state=(("voltage", C(rng.uniform(0, 1, n2))),)),
    )
    nodes = (SumNode("y", 2), SumNode("i", 2, synapse=Integrator(), x0=C([0.2, -0.1])),
             SumNode("a", 2, synapse=Adam(lr=0.02), x0=C([1.0, 0.0]), offset=C([0.3, 0.3])))
    projections = (
        Projection("x", "lif", dense(rng.normal(size=(n1, 2)))),
        Projection("x", "sq", sparse(np.where(rng.random((n2, 2)) < 0.5, rng.normal(size=(n2, 2)), 0.0))),
        Projection("lif", "y", dense(rng.normal(size=(2, n1)) / 100), synapse=Lowpass(0.005)),
        Projection("sq", "y", dense(rng.normal(size=(2, n2)) / 100)),
        Projection("y", "i", dense(np.eye(2))),
        Projection("i", "sq", dense(rng.normal(size=(n2, 2)) * 0.5)),
        Projection("y", "a", dense(np.eye(2) * 0.1)),
        Projection("a", "a", dense(-np.eye(2))),
    )
    return Netlist("mixed", inputs=(InputSource("x", 0, (2,)),), populations=pops, nodes=nodes,
                   projections=projections,
                   outputs=(Output("y", 0, "y", (2,)), Output("i", 1, "i", (2,)), Output("a", 2, "a", (2,))))


# ------------------------------------------------------------------------ rate mode math


@pytest.mark.parametrize("neuron", [LIFRate(), Parabola(amplitude=0.05), LIF()], ids=["LIFRate", "Parabola", "LIF"])
def test_rate_mode_is_the_analytic_rate_network(neuron):
    net, (W_enc, W_dec, gain, bias) = encoder_decoder_net(neuron)
    res = run(net, [wave], t=0.05)
    rate = neuron.as_rate()
    expected = np.stack([W_dec @ rate.rates(gain * (W_enc @ wave(t)) + bias) for t in times(50)])
    assert res.output.shape == (50, 3)
    assert_allclose(res.t, times(50))
    assert np.abs(expected).max() > 0.04  # a meaningful comparison
    assert_allclose(res.output, expected, rtol=0, atol=1e-9)
    assert res.backend == "nengo" and res.mode == "rate"
    assert_array_equal(res.spikes, 0)
    assert res.info["total_spikes"] == 0


def test_synapse_projection_is_filtered_and_one_step_late():
    rng = np.random.default_rng(2)
    W, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    offset = np.array([0.5, -1.0])
    syn = Lowpass(0.01)
    net = Netlist(
        "delay", inputs=(InputSource("x", 0, (2,)),), populations=(),
        nodes=(SumNode("y", 2, offset=C(offset)),),
        projections=(Projection("x", "y", dense(W), synapse=syn), Projection("x", "y", dense(V))),
        outputs=(Output("y", 0, "y", (2,)),),
    )
    res = run(net, [wave], t=0.03)
    xs = np.array([wave(t) for t in times(30)])
    expected = offset + xs @ V.T + delayed(syn, xs @ W.T)
    assert_allclose(expected[0], offset + V @ wave(DT))  # nothing filtered has arrived yet
    assert_allclose(res.output, expected, rtol=0, atol=1e-12)


X0 = np.array([0.3, -0.2])
STATEFUL_CASES = {
    "lowpass": (Lowpass(0.005), None),
    "lowpass-x0": (Lowpass(0.005), X0),
    "alpha-x0": (Alpha(0.004), X0),
    "doubleexp-x0": (DoubleExp(0.002, 0.01), X0),
    "integrator-x0": (Integrator(), X0),
    "highpass-x0": (LinearFilter((0.01, 0.0), (0.01, 1.0)), X0),  # no equilibrium: runs the spikec step
    "adam-x0": (Adam(lr=0.01), X0),
}


@pytest.mark.parametrize("case", list(STATEFUL_CASES))
def test_stateful_sum_node_shows_its_synapse_before_the_update(case):
    synapse, x0 = STATEFUL_CASES[case]
    rng = np.random.default_rng(3)
    W, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    offset = np.array([0.1, 0.2])
    proj_syn = Lowpass(0.003)
    net = Netlist(
        "state", inputs=(InputSource("x", 0, (2,)),), populations=(),
        nodes=(SumNode("s", 2, synapse=synapse, x0=None if x0 is None else C(x0), offset=C(offset)),),
        projections=(Projection("x", "s", dense(W)), Projection("x", "s", dense(V), synapse=proj_syn)),
        outputs=(Output("s", 0, "s", (2,)),),
    )
    res = run(net, [wave], t=0.04)
    xs = np.array([wave(t) for t in times(40)])
    # The node's input: offset, the instantaneous projection, and the
    # projection's own (one step late) synapse; then one more step of delay.
    us = offset + xs @ W.T + delayed(proj_syn, xs @ V.T)
    expected = delayed(synapse, us, x0)
    assert_allclose(res.output[0], 0.0 if x0 is None else x0, atol=1e-15)
    assert_allclose(res.output, expected, rtol=0, atol=1e-12)


def test_stateful_nodes_use_nengo_synapses_where_nengo_has_them():
    def synapse_of(synapse, x0):
        net = Netlist("plan", inputs=(InputSource("x", 0, (1,)),), populations=(),
                      nodes=(SumNode("s", 1, synapse=synapse, x0=None if x0 is None else C([x0])),),
                      projections=(Projection("x", "s", dense([[1.0]])),), outputs=(Output("s", 0, "s", (1,)),))
        model = build_network(net, "rate", inputs=[lambda t: 0.0])
        (conn,) = [c for c in model.network.all_connections if c.label == "s.synapse"]
        return conn.synapse

    assert type(synapse_of(Lowpass(0.01), 0.5)) is nengo.Lowpass
    assert isinstance(synapse_of(Integrator(), 0.5), nengo.LinearFilter)
    assert isinstance(synapse_of(Alpha(0.01), None), nengo.Alpha)
    assert isinstance(synapse_of(Adam(), None), SpikecSynapse)
    assert isinstance(synapse_of(LinearFilter((0.01, 0.0), (0.01, 1.0)), 0.5), SpikecSynapse)


def test_integrator_with_x0_counts_steps_exactly():
    x0, u = 0.25, 2.0
    net = Netlist(
        "integrate", inputs=(InputSource("u", 0, ()),), populations=(),
        nodes=(SumNode("x", 1, synapse=Integrator(), x0=C([x0])),),
        projections=(Projection("u", "x", dense([[1.0]])),), outputs=(Output("x", 0, "x", ()),),
    )
    res = run(net, [lambda t: u], t=0.1)
    k = np.arange(100)
    assert res.output.shape == (100,)
    assert res.output[0] == x0  # step 0 shows x0: the update comes after
    assert_allclose(res.output, x0 + k * DT * u, rtol=0, atol=1e-12)


def test_recurrent_integrator_through_neurons():
    """dx/dt = u - relu(x), the loop closed through a (rate) population."""
    x0, u = 0.5, 2.0
    net = Netlist(
        "loop", inputs=(InputSource("u", 0, (1,)),),
        populations=(Population("relu", 1, RectifiedLinear(), C([1.0]), C([0.0])),),
        nodes=(SumNode("x", 1, synapse=Integrator(), x0=C([x0])),),
        projections=(Projection("u", "x", dense([[1.0]])), Projection("x", "relu", dense([[1.0]])),
                     Projection("relu", "x", dense([[-1.0]]))),
        outputs=(Output("x", 0, "x", (1,)),),
    )
    res = run(net, [lambda t: [u]], t=0.2)
    expected, x = [], x0
    for _ in range(200):
        expected.append(x)
        x = x + DT * (u - max(x, 0.0))
    assert_allclose(res.output[:, 0], expected, rtol=0, atol=1e-12)


def test_adam_sum_node_descends_like_numpy():
    target, x0 = np.array([0.5, 0.5]), np.array([1.0, -2.0])
    adam = Adam(lr=0.01)
    net = Netlist(
        "adam", inputs=(), populations=(),
        nodes=(SumNode("x", 2, synapse=adam, x0=C(x0), offset=C(target)),),
        projections=(Projection("x", "x", dense(-np.eye(2))),), outputs=(Output("x", 0, "x", (2,)),),
    )
    res = run(net, [], t=0.3)
    state, expected = adam.init_state((2,), x0), []
    for _ in range(300):
        x = adam.output(state)
        expected.append(x)
        state, _ = adam.step(state, target - x, DT)
    assert_allclose(res.output, expected, rtol=0, atol=1e-12)
    assert np.abs(res.output[-1] - target).max() < np.abs(x0 - target).max() / 2


# ----------------------------------------------------------------------- transforms


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_sparse_and_dense_transforms_agree(mode):
    a, _ = encoder_decoder_net(LIFRate(), dense)
    b, _ = encoder_decoder_net(LIFRate(), sparse)
    assert all(isinstance(p.transform, Sparse) for p in b.projections)
    ra, rb = run(a, [wave], mode=mode, t=0.1), run(b, [wave], mode=mode, t=0.1)
    assert_allclose(ra.output, rb.output, rtol=0, atol=1e-12)
    assert_array_equal(ra.spikes, rb.spikes)
    assert_array_equal(ra.info["synaptic_events"], rb.info["synaptic_events"])
    if mode == "spiking":
        assert ra.spikes[-1] > 0


# --------------------------------------------------------------------------- spikes


def regular_spiking_net(amplitude=1.0):
    # rate * dt is exact in binary, so the counts are exactly rate * 1 s (rounded down).
    rates = np.array([250.0, 125.0, 0.0, 62.5])
    # Fan-out per neuron over both projections: [3, 0, 1, 4].
    W1 = np.array([[1.0, 0.0, 0.0, 2.0], [0.5, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 3.0]])
    W2 = np.array([[1.0, 0.0, 0.0, 1.0]])
    net = Netlist(
        "regular", inputs=(),
        populations=(Population("p", 4, RegularSpiking(RectifiedLinear(), amplitude=amplitude),
                                C(np.ones(4)), C(rates)),),
        nodes=(SumNode("y", 3), SumNode("z", 1)),
        projections=(Projection("p", "y", sparse(W1)), Projection("p", "z", dense(W2))),
        outputs=(Output("y", 0, "y", (3,)),),
    )
    return net, rates, np.array([3, 0, 1, 4])


@pytest.mark.parametrize("amplitude", [1.0, 0.5])
def test_regular_spiking_counts_and_synaptic_events(amplitude):
    net, rates, fan_out = regular_spiking_net(amplitude)
    res = run(net, [], mode="spiking", t=1.0)
    # nengo.RegularSpiking's rule, from the initial voltage 0.
    voltage, per_step = np.zeros(4), []
    for _ in range(1000):
        voltage = voltage + rates * DT
        n = np.floor(voltage)
        voltage -= n
        per_step.append(n)
    per_step = np.array(per_step)
    spikes = per_step.sum(axis=0)
    assert_array_equal(spikes, [250, 125, 0, 62])
    assert res.spikes.shape == (1000,) and res.spikes.dtype == np.int64
    assert_array_equal(res.spikes, np.cumsum(per_step.sum(axis=1)))
    assert_array_equal(res.info["population_spikes"]["p"], res.spikes)
    assert_array_equal(res.info["fan_out"]["p"], fan_out)
    events = np.cumsum(per_step @ fan_out)
    assert res.info["total_spikes"] == 437 and isinstance(res.info["total_spikes"], int)
    assert res.info["total_synaptic_events"] == spikes @ fan_out == events[-1]
    assert_array_equal(res.info["synaptic_events"], events)
    assert_array_equal(res.info["population_synaptic_events"]["p"], events)
    # The output is the weighted spike trains (amplitude / dt per spike).
    W1 = net.projections[0].transform.to_dense()
    assert_allclose(res.output, per_step @ W1.T * amplitude / DT, rtol=1e-12)
    assert res.info["build_time"] > 0 and res.info["run_time"] > 0


def test_rate_mode_reports_no_spikes():
    net, _, _ = regular_spiking_net()
    res = run(net, [], mode="rate", t=0.05)
    assert_array_equal(res.spikes, np.zeros(50))
    assert_array_equal(res.info["population_spikes"]["p"], 0)
    assert_allclose(res.output[-1], net.projections[0].transform.to_dense() @ [250, 125, 0, 62.5])


INITIAL_STATE_CASES = {
    "LIF-given": (LIF(), lambda rng, n: {"voltage": rng.uniform(0, 1, n), "refractory_time": np.zeros(n)}),
    "LIF-default": (LIF(), None),
    "RegularSpiking-given": (RegularSpiking(LIFRate()), lambda rng, n: {"voltage": rng.uniform(0, 1, n)}),
    "RegularSpiking(AdaptiveLIFRate)-given": (
        RegularSpiking(AdaptiveLIFRate()),
        lambda rng, n: {"voltage": rng.uniform(0, 1, n), "adaptation": rng.uniform(0, 0.5, n)}),
}


@pytest.mark.parametrize("case", list(INITIAL_STATE_CASES))
def test_spike_trains_follow_the_initial_state(case):
    """nengo's spikes equal spikec's own neuron step from the population's initial state."""
    neuron, make_state = INITIAL_STATE_CASES[case]
    n, rng = 30, np.random.default_rng(4)
    gain, bias = rng.uniform(0.5, 2.0, n), rng.uniform(1.0, 4.0, n)
    state0 = {} if make_state is None else make_state(rng, n)
    pop = Population("p", n, neuron, C(gain), C(bias),
                     initial_state=tuple((k, C(v)) for k, v in state0.items()))
    net = Netlist("init", inputs=(InputSource("x", 0, (1,)),), populations=(pop,), nodes=(SumNode("y", 1),),
                  projections=(Projection("x", "p", dense(np.ones((n, 1)))),
                               Projection("p", "y", dense(np.ones((1, n))))),
                  outputs=(Output("y", 0, "y", (1,)),))
    res = run(net, [lambda t: [np.sin(10 * t)]], mode="spiking", t=0.2)
    state = neuron.init_state(n)
    state.update(state0)
    expected = []
    for t in times(200):
        state, out = neuron.step(state, gain * np.sin(10 * t) + bias, DT)
        expected.append(np.sum(out) * DT / neuron.amplitude)
    per_step = np.diff(res.info["population_spikes"]["p"], prepend=0)
    assert np.sum(expected) > 100
    assert_array_equal(per_step, np.rint(expected))


# ------------------------------------------------------------------------ the API


def test_registry_and_modes():
    for name in ("nengo", "nengo_dl"):
        backend = get_backend(name)
        assert backend.name == name
        assert backend.modes == ("spiking", "rate") and backend.default_mode == "spiking"


def test_batched_nengo_runs_each_element():
    net, _ = encoder_decoder_net(LIFRate())
    consts = [np.array([0.1, 0.2]), np.array([-0.5, 0.3]), np.array([0.9, -0.9])]
    batched = run(net, [[(lambda t, c=c: c) for c in consts]], mode="spiking", t=0.05, batch_size=3)
    assert batched.batched and batched.output.shape == (3, 50, 3) and batched.spikes.shape == (3, 50)
    for b, c in enumerate(consts):
        single = run(net, [lambda t, c=c: c], mode="spiking", t=0.05)
        assert_allclose(batched.output[b], single.output, rtol=0, atol=1e-12)
        assert_array_equal(batched.spikes[b], single.spikes)
        assert_array_equal(batched.info["population_spikes"]["p"][b], single.info["population_spikes"]["p"])


def test_to_nengo_embeds_in_a_user_model():
    net, _ = encoder_decoder_net(Parabola(amplitude=0.05))
    sub = to_nengo(net, mode="rate")
    assert isinstance(sub, nengo.Network)
    assert len(sub.all_ensembles) == 1 and sub.all_ensembles[0].neuron_type == NengoParabola(0.05)
    (x_node,) = [n for n in sub.all_nodes if n.label == "x"]
    (y_node,) = [n for n in sub.all_nodes if n.label == "y"]
    with nengo.Network() as outer:
        stim = nengo.Node(wave)
        nengo.Connection(stim, x_node, synapse=None)
        probe = nengo.Probe(y_node, synapse=None)
    outer.networks.append(sub)
    with nengo.Simulator(outer, dt=DT, progress_bar=False) as sim:
        sim.run_steps(30)
    assert_allclose(sim.data[probe], run(net, [wave], t=0.03).output, rtol=0, atol=1e-12)


def test_build_network_handles():
    net, _, _ = regular_spiking_net()
    model = build_network(net, "spiking", seed=0, inputs=[])
    assert isinstance(model, NengoModel)
    assert list(model.ensembles) == ["p"] and model.objects["p"] == model.ensembles["p"].neurons
    assert len(model.connections) == len(net.projections)
    assert model.counted == ("p",) and model.counter_probe is not None
    assert len(model.output_probes) == 1
    # Nothing is decoded: every connection leaves from neurons or nodes.
    assert not any(isinstance(c.pre_obj, nengo.Ensemble) for c in model.network.all_connections)


def test_program_run_on_nengo_matches_the_reference():
    import spikec

    # one neuron per square: a symmetric pair is silent at the traced example, the centre of its range
    prog = spikec.compile(lambda x, y: x * y + 2 * x, parabola_pairs=False).trace(np.array([0.5, -0.3]),
                                                                                   np.array([0.2, 0.4]))
    ref = prog.run(t=0.01)
    rate = prog.run(t=0.01, backend="nengo", mode="rate")
    assert_allclose(rate.output, ref.output, atol=1e-9)
    spiking = prog.run(t=0.2, backend="nengo")
    assert spiking.mode == "spiking" and spiking.spikes[-1] > 0
    assert_allclose(spiking.output[-100:].mean(axis=0), ref.output[-1], atol=0.05)
    # Options the back end does not take are lowering options, as on the numpy back end.
    slower = prog.run(t=0.2, backend="nengo", max_rate=250.0)
    assert slower.spikes[-1] < spiking.spikes[-1] / 2
    numpy_spiking = prog.run(t=0.2, backend="numpy", mode="spiking", max_rate=250.0)
    assert_array_equal(slower.spikes, numpy_spiking.spikes)
    assert_allclose(slower.output, numpy_spiking.output, rtol=0, atol=1e-9)
    with pytest.raises(Exception, match="unknown lowering options: colour"):
        prog.run(t=0.01, backend="nengo", colour="red")


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_nengo_and_the_numpy_netlist_simulator_agree(mode):
    """The same netlist gives the same answer on nengo and on spikec's own NumPy simulator."""
    net = mixed_net()
    ref = get_backend("numpy").run(net, [wave], t=0.3, dt=DT, mode=mode, seed=0, progress=False)
    res = run(net, [wave], mode=mode, t=0.3)
    for a, b in zip(ref.outputs, res.outputs):
        assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    assert_array_equal(res.spikes, ref.spikes)
    assert_array_equal(res.info["synaptic_events"], ref.info["synaptic_events"])
    if mode == "spiking":
        assert res.spikes[-1] > 100


class _NotANeuron:
    def label(self):
        return "NotANeuron"


def test_clear_errors():
    def one_pop(neuron):
        return Netlist("bad", inputs=(), populations=(Population("p", 1, neuron, C([1.0]), C([0.0])),),
                       nodes=(), projections=(), outputs=())

    with pytest.raises(BackendError, match="population p: neuron type NotANeuron"):
        build_network(one_pop(_NotANeuron()))
    with pytest.raises(BackendError, match="cannot run in rate mode"):
        build_network(one_pop(Izhikevich()), "rate")
    with pytest.raises(BackendError, match="unknown mode"):
        build_network(one_pop(LIF()), "ideal")
    wrong = Netlist("wrong", inputs=(InputSource("x", 0, (2,)),), populations=(), nodes=(SumNode("y", 1),),
                    projections=(Projection("x", "y", dense(np.ones((1, 3)))),), outputs=())
    with pytest.raises(BackendError, match="invalid netlist"):
        build_network(wrong)
    with pytest.raises(BackendError, match="no netlist"):
        run(object())
    with pytest.raises(RunError, match="unknown options: colour"):
        run(one_pop(LIF()), colour="red")
    bad_state = Netlist("bad", inputs=(), nodes=(), projections=(), outputs=(), populations=(
        Population("p", 1, LIF(), C([1.0]), C([0.0]), initial_state=(("volts", C([0.0])),)),))
    with pytest.raises(BackendError, match="'volts' is not a state of LIF"):
        build_network(bad_state)
    nan = Netlist("nan", inputs=(), populations=(), projections=(), outputs=(),
                  nodes=(SumNode("s", 2, synapse=Integrator(), x0=C([0.0, np.nan])),))
    with pytest.raises(BackendError, match="sum node s: x0 contains NaN or inf"):
        build_network(nan)


def test_nengo_dl_unavailable_is_a_backend_error(monkeypatch):
    import spikec.backends.nengo_dl.compat as compat

    def unavailable():
        raise BackendError("The nengo_dl back end needs NengoDL, which is not installed.")

    monkeypatch.setattr(compat, "import_nengo_dl", unavailable)
    net, _, _ = regular_spiking_net()
    with pytest.raises(BackendError, match="needs NengoDL"):
        run(net, [], backend="nengo_dl")


def test_importing_the_back_ends_does_not_import_tensorflow():
    code = ("import sys, spikec.backends.nengo.build, spikec.backends.nengo_dl.backend, spikec.backends as b; "
            "b.get_backend('nengo_dl'); assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------- nengo_dl

_missing = [m for m in ("tensorflow", "nengo_dl") if importlib.util.find_spec(m) is None]
needs_nengo_dl = pytest.mark.skipif(bool(_missing) and not os.environ.get("CI"),
                                    reason=f"not installed: {', '.join(_missing)}")


@pytest.fixture(scope="module")
def dl():
    from spikec.backends.nengo_dl.compat import import_nengo_dl

    return import_nengo_dl()


@needs_nengo_dl
def test_nengo_dl_matches_nengo_in_rate_mode_batched(dl):
    net = mixed_net()
    inputs = [[wave, lambda t: np.array([0.4, -0.2]), lambda t: wave(2 * t)]]
    ref = run(net, inputs, mode="rate", t=0.05, batch_size=3)
    # minibatch 2: two chunks, the second padded.
    res = run(net, inputs, backend="nengo_dl", mode="rate", t=0.05, batch_size=3, minibatch_size=2, threads=1)
    assert res.backend == "nengo_dl" and res.batched and res.info["minibatch_size"] == 2
    for a, b in zip(ref.outputs, res.outputs):
        assert a.shape == b.shape == (3, 50, 2)
        assert_allclose(b, a, rtol=1e-10, atol=1e-10)
    assert_array_equal(res.spikes, 0)


@needs_nengo_dl
def test_nengo_dl_matches_nengo_in_spiking_mode(dl):
    from nengo_dl.neuron_builders import SimNeuronsBuilder

    net = mixed_net()
    ref = run(net, [wave], mode="spiking", t=0.3)
    with warnings.catch_warnings():
        # A Python fallback for NengoParabola would warn; the registered TF builder must be used.
        warnings.filterwarnings("error", message=".*native TensorFlow implementation")
        res = run(net, [wave], backend="nengo_dl", mode="spiking", t=0.3, threads=1)
    assert NengoParabola in SimNeuronsBuilder.TF_NEURON_IMPL
    assert res.spikes[-1] > 100
    for name in ("lif", "sq"):
        assert res.info["population_spikes"][name][-1] > 0
        assert_array_equal(res.info["population_spikes"][name], ref.info["population_spikes"][name])
    assert_array_equal(res.info["synaptic_events"], ref.info["synaptic_events"])
    for a, b in zip(ref.outputs, res.outputs):
        assert_allclose(b, a, rtol=1e-9, atol=1e-9)


@needs_nengo_dl
def test_nengo_dl_parabola_builder(dl):
    """NengoParabola and RegularSpiking(NengoParabola) on their own, in nengo_dl and nengo."""
    J = np.linspace(-2, 3, 11)
    with nengo.Network(seed=0) as net:
        dl.configure_settings(dtype="float64", inference_only=True)
        stim = nengo.Node(lambda t: J)
        rate = nengo.Ensemble(11, 1, neuron_type=NengoParabola(amplitude=3.0), gain=np.ones(11), bias=np.zeros(11))
        spk = nengo.Ensemble(11, 1, neuron_type=nengo.RegularSpiking(NengoParabola(amplitude=3.0)),
                             gain=np.ones(11), bias=np.zeros(11))
        for ens in (rate, spk):
            nengo.Connection(stim, ens.neurons, synapse=None)
        p_rate, p_spk = nengo.Probe(rate.neurons), nengo.Probe(spk.neurons)
    with nengo.Simulator(net, progress_bar=False) as ref:
        ref.run_steps(100)
    from spikec.backends.nengo_dl.backend import register_spikec_builders

    register_spikec_builders(dl)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No GPU support detected")
        warnings.filterwarnings("error", message=".*native TensorFlow implementation")
        with dl.Simulator(net, progress_bar=False) as sim:
            sim.run_steps(100)
    assert_allclose(sim.data[p_rate], ref.data[p_rate], rtol=1e-12)
    assert_allclose(sim.data[p_rate][0], 3.0 * np.maximum(J, 0) ** 2, rtol=1e-12)
    assert_array_equal(sim.data[p_spk], ref.data[p_spk])
    assert sim.data[p_spk].sum() > 0
