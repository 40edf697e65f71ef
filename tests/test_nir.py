"""NIR export and import (spikec.nir_io): round trips simulate the same on spikec's back ends."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

nir = pytest.importorskip("nir")

import spikec
from spikec.backends import get_backend
from spikec.ir.attrs import ConstArray
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
from spikec.neurons import LIF
from spikec.nir_io import NIRError, from_nir, to_nir
from spikec.synapses import Integrator, Lowpass

DT = 1e-3
STEPS = 300
C = lambda a: ConstArray(np.asarray(a, dtype=np.float64))


class _Lowered:
    def __init__(self, net):
        self.netlist = net

    def lower(self, **options):
        return self.netlist


def _net(seed=3):
    """Input -> LIF a (dense) -> LIF b (sparse, 5 ms lowpass) -> filtered readout and an integrator."""
    rng = np.random.default_rng(seed)
    na, nb = 30, 20
    a = Population("a", na, LIF(tau_rc=0.02, tau_ref=0.002, amplitude=0.5), C(rng.uniform(0.5, 2, na)),
                   C(rng.uniform(0.5, 1.5, na)), initial_state=(("voltage", C(rng.uniform(0, 1, na))),))
    b = Population("b", nb, LIF(tau_rc=0.03, tau_ref=0.001), C(rng.uniform(0.5, 2, nb)), C(rng.uniform(-0.5, 1, nb)))
    recurrent = scipy.sparse.random(nb, na, density=0.2, random_state=seed) * 0.02
    return Netlist(
        "nirtest", inputs=(InputSource("x", 0, (2,)),), populations=(a, b),
        nodes=(SumNode("y", 3, offset=C([0.1, 0.0, -0.1])), SumNode("s", 3, synapse=Lowpass(0.02), x0=C([0.2, 0, 0])),
               SumNode("acc", 3, synapse=Integrator())),
        projections=(Projection("x", "a", Dense(C(rng.normal(size=(na, 2))))),
                     Projection("a", "b", Sparse.from_scipy(recurrent), synapse=Lowpass(0.005)),
                     Projection("b", "y", Dense(C(rng.normal(size=(3, nb)) / 50))),
                     Projection("y", "s", Dense(C(np.eye(3)))),
                     Projection("s", "acc", Dense(C(np.eye(3))))),
        outputs=(Output("out_s", 0, "s", (3,)), Output("out_acc", 1, "acc", (3,))),
    )


def _run(net):
    fn = lambda t: np.array([np.sin(6 * t), np.cos(4 * t)])
    return get_backend("numpy").run(_Lowered(net), [fn], t=STEPS * DT, dt=DT, mode="spiking", seed=0,
                                    progress=False)


def test_round_trip_through_a_nir_file_simulates_the_same(tmp_path):
    net = _net()
    with pytest.warns(UserWarning, match="no refractory period"):
        graph = to_nir(net, dt=DT)
    assert isinstance(graph.nodes["a"], nir.LIF) and isinstance(graph.nodes["s"], nir.LI)
    np.testing.assert_allclose(graph.nodes["a"].r, net.objects["a"].gain.value)
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    back = from_nir(nir.read(path))
    assert back.objects["a"].neuron_type == LIF(tau_rc=0.02, tau_ref=0.002)  # amplitude moved into the weights
    ours, theirs = _run(net), _run(back)
    assert ours.spikes.sum() > 100
    np.testing.assert_array_equal(ours.spikes, theirs.spikes)
    for o, t in zip(ours.outputs, theirs.outputs):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-12)


def test_compiled_lif_program_exports():
    """A traced program with a LIF layer lowers to a netlist that exports and re-imports."""
    w = np.random.default_rng(0).normal(size=(8, 3))

    @spikec.compile
    def layer(x):
        return spikec.filter(w.T @ spikec.neurons(w @ x, spikec.LIF(), gain=2.0, bias=1.0), 0.01)

    prog = layer.trace(np.array([0.5, -0.3, 0.1]))
    net = prog.lower()
    with pytest.warns(UserWarning):
        back = from_nir(to_nir(net))
    with pytest.warns(UserWarning):
        assert set(prog.to_nir().nodes) == set(to_nir(net).nodes)
    ours = prog.run(t=0.2, backend="numpy", mode="spiking").output
    theirs = _run_program_netlist(back, np.array([0.5, -0.3, 0.1]))
    np.testing.assert_allclose(theirs, ours, rtol=1e-9, atol=1e-12)


def _run_program_netlist(net, x):
    res = get_backend("numpy").run(_Lowered(net), [lambda t: x], t=0.2, dt=DT, mode="spiking", seed=0,
                                   progress=False)
    return res.outputs[0].reshape(res.outputs[0].shape[0], -1)


def test_foreign_graph_imports():
    """A NIR graph written by hand (no spikec metadata): Input -> Linear -> LIF -> Linear -> LI -> Output."""
    n = 10
    rng = np.random.default_rng(1)
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([1])}),
               "w1": nir.Linear(weight=rng.uniform(1, 3, (n, 1))),
               "lif": nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 2.0), v_leak=np.full(n, 0.5),
                              v_threshold=np.full(n, 2.0), v_reset=np.zeros(n)),
               "w2": nir.Linear(weight=np.ones((1, n)) / n),
               "li": nir.LI(tau=np.array([0.05]), r=np.ones(1), v_leak=np.zeros(1)),
               "out": nir.Output(output_type={"output": np.array([1])})},
        edges=[("in", "w1"), ("w1", "lif"), ("lif", "w2"), ("w2", "li"), ("li", "out")], type_check=False)
    net = from_nir(graph)
    pop = net.objects["lif"]
    assert pop.neuron_type == LIF(tau_rc=0.02, tau_ref=0.0, min_voltage=float("-inf"))
    np.testing.assert_allclose(pop.gain.value, 1.0) and np.testing.assert_allclose(pop.bias.value, 0.25)
    res = get_backend("numpy").run(_Lowered(net), [lambda t: np.array([1.0])], t=1.0, dt=DT, mode="spiking",
                                   seed=0, progress=False)
    # Oracle: nengo's own LIF (tau_ref 0, no voltage floor) driven by J = r/theta * w1 + v_leak/theta.
    import nengo

    J = graph.nodes["w1"].weight[:, 0] + 0.25
    lif = nengo.LIF(tau_rc=0.02, tau_ref=0.0, min_voltage=-np.inf)
    voltage, refractory, out = np.zeros(n), np.zeros(n), np.zeros(n)
    counts = np.zeros(n)
    for step in range(1000):
        lif.step(DT, J, out, voltage, refractory)
        counts += out * DT if step >= 500 else 0
    expected = counts.mean() / 0.5
    assert res.outputs[0][-500:].mean() == pytest.approx(expected, rel=0.02)


def test_unsupported_neurons_and_nodes_are_clear_errors():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.ones(2))
    with pytest.raises(NIRError, match="supports LIF populations"):
        to_nir(prog.netlist)
    graph = nir.NIRGraph(nodes={"in": nir.Input(input_type={"input": np.array([1])}),
                                "th": nir.Threshold(threshold=np.ones(1)),
                                "out": nir.Output(output_type={"output": np.array([1])})},
                         edges=[("in", "th"), ("th", "out")], type_check=False)
    with pytest.raises(NIRError, match="Threshold"):
        from_nir(graph)
