"""NIR export of LIF networks: the round trip through ``nir.write``/``nir.read`` and the meaning of the exported nodes.

Oracles: the exported graph read back (``import_nir``) simulates exactly like
the original netlist (NumPy netlist simulator, rate and spiking); the NIR
``Conv2d`` weights applied in NIR's channels-first convention to the image
give spikec's convolution; the LIF parameters are nengo's LIF equation.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from numpy.testing import assert_allclose, assert_array_equal

import spikec
from spikec.export.nir import NIRExportError, import_nir

nir = pytest.importorskip("nir")


def _classifier(rng):
    lif = spikec.LIF(amplitude=0.01)
    k1, k2 = rng.normal(0, 0.5, (3, 3, 2, 4)), rng.normal(0, 0.3, (3, 3, 4, 3))
    w = rng.normal(0, 0.5, (2 * 2 * 3, 5))

    def net(img):
        h = spikec.neurons(spikec.conv2d(img, spikec.param("k1", k1), padding="same"), lif, gain=2.0,
                           bias=spikec.param("b1", rng.uniform(0.5, 1.5, 4)))
        h = spikec.avg_pool2d(h, 2)
        h = spikec.neurons(spikec.conv2d(h, spikec.param("k2", k2), strides=1), lif, 3.0, 1.0)
        return spikec.dense(spikec.avg_pool2d(h, 1), spikec.param("w", w))

    return net


@pytest.fixture(scope="module")
def program():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 8, 2))
    return spikec.compile(_classifier(rng))(x), x


def test_round_trip_through_a_file_simulates_the_same(program, tmp_path):
    prog, x = program
    graph = prog.to_nir()
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    back = import_nir(nir.read(path))
    net = prog.netlist
    assert [p.name for p in back.populations] == [p.name for p in net.populations]
    for a, b in zip(net.projections, back.projections):
        assert (a.pre, a.post, type(a.transform)) == (b.pre, b.post, type(b.transform))
        assert_allclose(b.transform.to_dense(), a.transform.to_dense(), atol=1e-12)
    from spikec.backends.numpy.runner import run_netlist

    for mode in ("rate", "spiking"):
        ref = prog.run(x, t=0.05, backend="numpy", mode=mode)
        got = run_netlist(back, [lambda t: x], steps=50, dt=1e-3, mode=mode)
        assert_allclose(got.outputs[0], ref.outputs[0], atol=1e-9)
        if mode == "spiking":
            assert ref.spikes[-1] > 20
            assert_array_equal(got.spikes, ref.spikes)


def test_exported_nodes_mean_what_nir_says(program):
    prog, x = program
    graph = prog.to_nir()
    net = prog.netlist
    kinds = sorted(type(n).__name__ for n in graph.nodes.values())
    assert kinds.count("Conv2d") == 2 and kinds.count("LIF") == 2 and kinds.count("AvgPool2d") == 2
    assert "Flatten" in kinds and "Linear" in kinds
    # the first convolution in NIR's layout (C_out, C_in, kh, kw) on a (C, H, W) image gives spikec's values
    conv = next(n for n in graph.nodes.values() if type(n).__name__ == "Conv2d")
    image = np.transpose(x, (2, 0, 1))
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    chw = np.stack([sum(scipy.signal.correlate2d(padded[c], conv.weight[f, c], mode="valid")
                        for c in range(image.shape[0])) for f in range(conv.weight.shape[0])])
    k1 = prog.params["k1"]
    assert_allclose(np.transpose(chw, (1, 2, 0)), spikec.conv2d(x, k1, padding="same"), atol=1e-12)
    # LIF: tau dv/dt = (v_leak - v) + r I with nengo's gain and bias; the spike amplitude scales the next weights
    lif = next(n for n in graph.nodes.values() if type(n).__name__ == "LIF")
    pop = net.populations[0]
    assert lif.tau.shape == (4, 8, 8) and np.all(lif.tau == 0.02) and np.all(lif.v_threshold == 1)
    assert_allclose(np.sort(lif.r.ravel()), np.sort(pop.gain.value))
    assert_allclose(lif.v_leak[:, 0, 0], prog.params["b1"])
    assert float(lif.metadata["tau_ref"]) == 0.002


def test_export_refuses_what_it_cannot_express():
    with pytest.raises(NIRExportError, match="synapse Alpha"):
        spikec.compile(lambda x: spikec.filter(x, spikec.Alpha(0.01)) * 2)(np.ones(3)).to_nir()
    with pytest.raises(NIRExportError, match="covers LIF neurons"):
        spikec.compile(lambda x, y: x * y)(np.ones(2), np.ones(2)).to_nir()


def _synaptic_netlist(seed=3):
    """Input -> LIF a (dense) -> LIF b (sparse, 5 ms lowpass) -> a summed readout with an offset ->
    a lowpass state with an initial value -> an integrator."""
    import scipy.sparse

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

    C = lambda a: ConstArray(np.asarray(a, dtype=np.float64))
    rng = np.random.default_rng(seed)
    na, nb = 30, 20
    a = spikec.neurons.LIF(tau_rc=0.02, tau_ref=0.002, amplitude=0.5)
    b = spikec.neurons.LIF(tau_rc=0.03, tau_ref=0.001)
    recurrent = scipy.sparse.random(nb, na, density=0.2, random_state=seed) * 0.02
    return Netlist(
        "synaptic", inputs=(InputSource("x", 0, (2,)),),
        populations=(Population("a", na, a, C(rng.uniform(0.5, 2, na)), C(rng.uniform(0.5, 1.5, na)),
                                initial_state=(("voltage", C(rng.uniform(0, 1, na))),)),
                     Population("b", nb, b, C(rng.uniform(0.5, 2, nb)), C(rng.uniform(-0.5, 1, nb)))),
        nodes=(SumNode("y", 3, offset=C([0.1, 0.0, -0.1])),
               SumNode("s", 3, synapse=spikec.Lowpass(0.02), x0=C([0.2, 0, 0])),
               SumNode("acc", 3, synapse=spikec.Integrator())),
        projections=(Projection("x", "a", Dense(C(rng.normal(size=(na, 2))))),
                     Projection("a", "b", Sparse.from_scipy(recurrent), synapse=spikec.Lowpass(0.005)),
                     Projection("b", "y", Dense(C(rng.normal(size=(3, nb)) / 50))),
                     Projection("y", "s", Dense(C(np.eye(3)))),
                     Projection("s", "acc", Dense(C(np.eye(3))))),
        outputs=(Output("out_s", 0, "s", (3,)), Output("out_acc", 1, "acc", (3,))),
    ).validate()


def test_synapses_and_states_round_trip(tmp_path):
    """Lowpass synapses become NIR LI nodes, an integrator an I node; read back, the network spikes the same."""
    from spikec.backends.numpy.runner import run_netlist
    from spikec.export.nir import export_nir

    net = _synaptic_netlist()
    graph = export_nir(net)
    assert type(graph.nodes["s"]).__name__ == "LI" and type(graph.nodes["acc"]).__name__ == "I"
    assert type(graph.nodes["p1_synapse"]).__name__ == "LI"
    nir.write(tmp_path / "synaptic.nir", graph)
    back = import_nir(nir.read(tmp_path / "synaptic.nir"))
    assert back.projections == net.projections
    for ours in net.nodes:
        theirs = back.objects[ours.name]
        assert (theirs.synapse, theirs.x0, theirs.offset) == (ours.synapse, ours.x0, ours.offset), ours.name

    def run(n):
        return run_netlist(n, [lambda t: np.array([np.sin(6 * t), np.cos(4 * t)])], steps=300, dt=1e-3,
                           mode="spiking")

    ours, theirs = run(net), run(back)
    assert ours.spikes[-1] > 100
    assert_array_equal(ours.spikes, theirs.spikes)
    for o, t in zip(ours.outputs, theirs.outputs):
        assert_array_equal(o, t)
