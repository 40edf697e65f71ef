"""NIR export and import, against an independent NIR simulator (tests/nir_reference.py).

Oracles: ``NIRReference`` steps NIR's equations reading only the graph's
parameters; the network spikec exports must match it spike for spike (every
neuron, every step) on the dense LIF net, a classifier with trained gains and
biases, a conv net, a lowpass chain and an integrator recurrence.  The NIR
``Conv2d`` applied in NIR's channels-first convention gives spikec's
convolution (scipy).  Graphs spikec did not write (built with ``nir``
directly) import with ``spikec.from_nir`` and run like the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from numpy.testing import assert_allclose, assert_array_equal

import spikec
from spikec.export.nir import NIRExportError, NIRImportError
from tests.nir_networks import as_exported, classifier, compile_rest, conv_net, dense_net, lif0, lowpass_chain
from tests.nir_networks import spikec_trains as _trains
from tests.nir_reference import NIRReference

nir = pytest.importorskip("nir")

DT = 1e-3


# ----------------------------------------------------------------------------- helpers


def spikec_trains(net, x, steps):
    return _trains(net, x, steps, DT)


def reference_trains(graph, x, steps, spike="impulse"):
    ref = NIRReference(graph, dt=DT, spike=spike)
    x = np.transpose(x, (2, 0, 1)) if np.ndim(x) == 3 else np.ravel(x)  # NIR images are channels first
    outputs, spikes = ref.run({"input": x}, steps)
    return spikes, outputs


def assert_same_spikes(net, graph, x, steps, spike="impulse", least=50):
    ours, res = spikec_trains(net, x, steps)
    theirs, outputs = reference_trains(graph, x, steps, spike)
    # a recurrent population is a nested graph, its neurons the node "lif" in it
    theirs = {k.removesuffix(".lif"): v for k, v in theirs.items()}
    graph = nir.NIRGraph(nodes={k: n.nodes["lif"] if type(n).__name__ == "NIRGraph" else n
                                for k, n in graph.nodes.items()}, edges=[], type_check=False)
    assert set(ours) == set(theirs)
    for name in ours:
        theirs_n = theirs[name].reshape(steps, -1)
        ours_n = np.rint(ours[name]).astype(int)
        # NIR images are (C, H, W); spikec's (H, W, C)
        node = graph.nodes[name]
        shape = np.shape(node.v_threshold)
        if len(shape) == 3:
            theirs_n = theirs[name].transpose(0, 2, 3, 1).reshape(steps, -1)
        assert ours_n.sum() >= least, (name, ours_n.sum())
        assert_array_equal(ours_n, theirs_n, err_msg=name)
    return res, outputs


# ----------------------------------------------------------------------------- export vs the reference


@pytest.mark.parametrize("make", [dense_net, classifier, conv_net, lowpass_chain])
def test_export_matches_the_reference_simulator_spike_for_spike(make):
    rng = np.random.default_rng(1)
    f, x = make(rng, lif0(amplitude=0.01) if make is classifier else lif0())
    prog = compile_rest(f, x)
    graph = prog.to_nir()
    assert_same_spikes(prog.netlist, graph, x, 300)


def test_per_step_convention_scales_weights_by_one_over_dt():
    rng = np.random.default_rng(2)
    f, x = dense_net(rng, lif0())
    prog = compile_rest(f, x)
    impulse, per_step = prog.to_nir(), prog.to_nir(spike="per_step", dt=DT)
    assert_allclose(per_step.nodes["p1_affine"].weight, impulse.nodes["p1_affine"].weight / DT)
    assert_allclose(per_step.nodes["p0_affine"].weight, impulse.nodes["p0_affine"].weight)  # inputs are values
    assert_same_spikes(prog.netlist, per_step, x, 200, spike="per_step")


def test_refractory_and_floor_are_refused_or_dropped_on_request():
    rng = np.random.default_rng(3)
    f, x = dense_net(rng, spikec.LIF())
    prog = spikec.compile(f)(x)
    with pytest.raises(NIRExportError, match=r"population neurons\d+: .*min_voltage=0.*floor='drop'"):
        prog.to_nir()
    with pytest.raises(NIRExportError, match=r"population neurons\d+: .*tau_ref=0.002.*refractory='drop'"):
        prog.to_nir(floor="drop")
    graph = prog.to_nir(floor="drop", refractory="drop")
    lif = graph.nodes["neurons2"]
    assert float(lif.metadata["tau_ref"]) == 0.002 and float(lif.metadata["min_voltage"]) == 0
    # the converted graph is exactly the LIF without floor and refractory period, starting at rest
    assert_same_spikes(as_exported(prog.netlist), graph, x, 300)


def test_an_integrator_recurrence_matches_the_reference():
    """x' = -x + u held in an integrator (NIR ``I``) with a linear recurrence, read out by LIF neurons."""
    w = np.random.default_rng(4).normal(0, 1, (3, 12))

    def f(u):
        x = spikec.integrate(lambda x: -x + u, np.zeros(3))
        return spikec.neurons(spikec.dense(x, w), lif0(), 2.0, 1.0)

    u = np.array([0.5, -0.3, 0.8])
    prog = compile_rest(f, u)
    graph = prog.to_nir()
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert "I" in kinds and "LIF" in kinds, kinds
    assert_same_spikes(prog.netlist, graph, u, 300, least=20)


def test_spiking_rectified_linear_is_an_if_node_on_request():
    """NIR's IF resets to 0 where spikec's unit subtracts the threshold: refused unless asked; then it fires as
    the reference's IF, a little slower (it loses each spike's overshoot)."""
    rng = np.random.default_rng(14)
    w = rng.uniform(0, 1, (4, 16)) * 30

    def f(x):
        return spikec.neurons(spikec.dense(x, w), spikec.SpikingRectifiedLinear(), 1.0, 20.0)

    x = rng.uniform(0, 1, 4)
    prog = compile_rest(f, x)
    with pytest.raises(NIRExportError, match=r"population neurons\d+: .*relu='if'"):
        prog.to_nir()
    graph = prog.to_nir(relu="if")
    assert type(graph.nodes["neurons2"]).__name__ == "IF"
    ours, _ = spikec_trains(prog.netlist, x, 500)
    theirs, _ = reference_trains(graph, x, 500)
    a, b = next(iter(ours.values())).sum(axis=0), theirs["neurons2"].sum(axis=0)
    assert a.sum() > 300 and np.all(b <= a + 1)
    assert np.corrcoef(a, b)[0, 1] > 0.95 and b.sum() > 0.8 * a.sum()


def test_exported_nodes_mean_what_nir_says():
    rng = np.random.default_rng(0)
    f, x = classifier(rng, lif0(amplitude=0.01))
    prog = compile_rest(f, x)
    graph = prog.to_nir()
    kinds = sorted(type(n).__name__ for n in graph.nodes.values())
    assert kinds.count("Conv2d") == 2 and kinds.count("LIF") == 2 and kinds.count("SumPool2d") == 1
    assert "Flatten" in kinds and "Linear" in kinds and "Scale" not in kinds and "AvgPool2d" not in kinds
    assert {"input", "output"} <= set(graph.nodes)
    # the first convolution in NIR's layout (C_out, C_in, kh, kw) on a (C, H, W) image gives spikec's values,
    # times the layer's gain (folded into the weights; its bias is the Conv2d's)
    conv = graph.nodes["p0_conv"]
    image = np.transpose(x, (2, 0, 1))
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    chw = np.stack([sum(scipy.signal.correlate2d(padded[c], conv.weight[f, c], mode="valid")
                        for c in range(image.shape[0])) for f in range(conv.weight.shape[0])])
    params = prog.params
    want = spikec.conv2d(x, params["k1"], padding="same") * params["g1"]
    assert_allclose(np.transpose(chw, (1, 2, 0)), want, atol=1e-12)
    assert_allclose(conv.bias, params["b1"][0, 0])
    lif = next(n for n in graph.nodes.values() if type(n).__name__ == "LIF")
    assert lif.tau.shape == (4, 8, 8) and np.all(lif.tau == 0.02) and np.all(lif.v_threshold == 1)
    assert np.all(lif.r == 1) and np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)


def test_graph_survives_nir_write_and_read(tmp_path):
    rng = np.random.default_rng(5)
    f, x = classifier(rng, lif0(amplitude=0.01))
    prog = compile_rest(f, x)
    nir.write(tmp_path / "net.nir", prog.to_nir())
    assert_same_spikes(prog.netlist, nir.read(tmp_path / "net.nir"), x, 200)


def test_export_refuses_what_it_cannot_express():
    with pytest.raises(NIRExportError, match="synapse Alpha"):
        spikec.compile(lambda x: spikec.filter(x, spikec.Alpha(0.01)) * 2)(np.ones(3)).to_nir()
    with pytest.raises(NIRExportError, match="covers LIF, SpikingRectifiedLinear neurons"):
        spikec.compile(lambda x, y: x * y)(np.ones(2), np.ones(2)).to_nir()
    with pytest.raises(NIRExportError, match=r"per_step.*dt="):
        spikec.compile(lambda x: x * 2)(np.ones(2)).to_nir(spike="per_step")


# ----------------------------------------------------------------------------- import


def _two_layer_graph(rng, spike_scale=1.0):
    """A 2-layer LIF graph as another tool writes it: no spikec metadata, its own names and parameters."""
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([5])),
        nir.Affine(weight=rng.normal(0, 1.5, (12, 5)), bias=rng.uniform(0.5, 1.2, 12)),
        nir.LIF(tau=np.full(12, 0.01), r=np.full(12, 1.5), v_leak=np.full(12, 0.2),
                v_threshold=np.full(12, 0.8), v_reset=np.full(12, -0.1)),
        nir.Linear(weight=rng.normal(0, 0.02, (7, 12)) * spike_scale),
        nir.CubaLIF(tau_syn=np.full(7, 0.005), tau_mem=np.full(7, 0.02), r=np.ones(7), v_leak=np.full(7, 0.7),
                    v_threshold=np.ones(7), v_reset=np.zeros(7), w_in=np.full(7, 2.0)),
        nir.Output(output_type=np.array([7])),
    )


def test_from_nir_runs_a_foreign_graph_like_the_reference(tmp_path):
    graph = _two_layer_graph(np.random.default_rng(6))
    nir.write(tmp_path / "g.nir", graph)
    prog = spikec.from_nir(tmp_path / "g.nir")
    x = np.random.default_rng(7).uniform(0, 1, 5)
    ours, _ = spikec_trains(prog.netlist, x, 300)
    ref = NIRReference(nir.read(tmp_path / "g.nir"), dt=DT)
    _, theirs = ref.run({"input": x}, 300)
    names = ["lif", "cubalif"]  # the graph's layers, in the order spikec's populations are
    for (n, o) in zip(names, ours.values()):
        assert theirs[n].sum() > 20
        assert_array_equal(np.rint(o), theirs[n], err_msg=n)


def test_from_nir_reads_the_per_step_convention_and_nested_graphs():
    rng = np.random.default_rng(8)
    inner = _two_layer_graph(rng, spike_scale=1 / DT)
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([5])), "block": inner,
                                "output": nir.Output(output_type=np.array([7]))},
                         edges=[("input", "block"), ("block", "output")], type_check=False)
    prog = spikec.from_nir(graph, spike="per_step")
    x = rng.uniform(0, 1, 5)
    ours, _ = spikec_trains(prog.netlist, x, 200)
    _, theirs = NIRReference(graph, dt=DT, spike="per_step").run({"input": x}, 200)
    assert sorted(int(v.sum()) for v in theirs.values()) == sorted(int(np.rint(o).sum()) for o in ours.values())


def test_from_nir_round_trips_spikec_exports_and_runs_on_every_backend():
    rng = np.random.default_rng(9)
    f, x = classifier(rng, lif0(amplitude=0.01))
    prog = compile_rest(f, x)
    back = spikec.from_nir(prog.to_nir())
    ref = prog.run(x, t=0.1, backend="numpy", mode="spiking")
    got = back.run(x, t=0.1, backend="numpy", mode="spiking")
    assert ref.info["total_spikes"] > 50
    assert got.info["total_spikes"] == ref.info["total_spikes"]
    assert_allclose(got.outputs[0], ref.outputs[0] / 0.01 * 0.01, atol=1e-9)
    for backend in ("jax", "nengo"):
        other = back.run(x, t=0.1, backend=backend, mode="spiking")
        assert abs(other.info["total_spikes"] - ref.info["total_spikes"]) <= 0.02 * ref.info["total_spikes"]


def test_from_nir_fits():
    rng = np.random.default_rng(10)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([5])),
        nir.Affine(weight=rng.normal(0, 1.5, (12, 5)), bias=rng.uniform(0.5, 1.2, 12)),
        nir.LIF(tau=np.full(12, 0.01), r=np.ones(12), v_leak=np.zeros(12), v_threshold=np.ones(12),
                v_reset=np.zeros(12)),
        nir.Linear(weight=rng.normal(0, 0.1, (7, 12))),
        nir.Output(output_type=np.array([7])))
    prog = spikec.from_nir(graph)
    xs = rng.uniform(0, 1, (64, 5))

    def rates():
        return prog.predict(xs, mode="rate", n_steps=20)[0][:, -1]

    start = rates()
    ys = start * np.linspace(0.3, 1.5, 7)  # some outputs slower, some faster
    before = np.mean((start - ys) ** 2)
    prog.fit(xs, ys, loss="mse", epochs=30, batch_size=16)
    assert np.mean((rates() - ys) ** 2) < 0.5 * before


def test_from_nir_reads_a_threshold_as_a_step_function():
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])), nir.Threshold(threshold=np.full(4, 0.5)),
                                   nir.Output(output_type=np.array([4])))
    prog = spikec.from_nir(graph)
    x = np.array([0.1, 0.4, 0.6, 0.9])
    assert_array_equal(prog.run(x, t=0.01, mode="ideal").outputs[0][-1], [0, 0, 1, 1])


def test_from_nir_names_what_it_cannot_read():
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([3])), nir.Delay(delay=np.ones(3)),
                                   nir.Output(output_type=np.array([3])))
    with pytest.raises(NIRImportError, match="NIR node delay of kind Delay is not imported"):
        spikec.from_nir(graph)
    w = np.eye(3)
    loop = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "w": nir.Linear(weight=w),
                               "lif": nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.ones(3),
                                              v_threshold=np.ones(3), v_reset=np.zeros(3)),
                               "output": nir.Output(output_type=np.array([3]))},
                        edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")], type_check=False)
    with pytest.raises(NIRImportError, match="recurrent"):
        spikec.from_nir(loop)


# ----------------------------------------------------------------------------- recurrent networks of the lif target


def _filter_bank(u):
    fast = spikec.filter(u, 0.02)
    resonator = spikec.lti(u[0], (np.array([[0.0, 1.0], [-100.0, -10.0]]), np.array([0.0, 100.0])))
    return fast, resonator


def _inverse(A):
    return spikec.integrate(lambda M: -0.1 * (M @ A - np.eye(2)) @ A.T, x0=np.zeros((2, 2)))


@pytest.mark.parametrize("fn, x, nests", [(_filter_bank, np.array([0.5, -0.3]), True),
                                          (_inverse, np.random.RandomState(0).randn(2, 2), False)],
                         ids=["filters", "inverse"])
def test_lif_target_recurrences_export_exactly_without_refractory_period(fn, x, nests):
    """The lif target's NEF integrators are recurrent populations (a ``CubaLIF`` feeding itself through a
    ``Linear``): nested as snnTorch writes its recurrent layers, or flat when the integrator is also on the
    program's loop (the inverse: nirtorch cannot build a nested graph on a longer cycle).  Every population reads
    all its inputs through one lowpass, so no ``LI`` node is written.  With refractory-free units
    (``LIF(tau_ref=0, min_voltage=-inf)``) the export is exact under the default ``refractory="refuse"``: the
    reference steps the cycles and matches spike for spike (from rest: NIR has no initial voltages, spikec's NEF
    units start at random ones)."""
    import math

    nt = spikec.LIF(tau_ref=0, min_voltage=-math.inf)
    prog = spikec.compile(fn, target="lif", neuron_type=nt, n_neurons=30).trace(x)
    graph = prog.to_nir()
    assert "LI" not in {type(n).__name__ for n in graph.nodes.values()}
    integrators = [p.name for p in prog.netlist.populations if dict(p.info)["rule"] == "nef integrator"]
    nested = [n for n in graph.nodes.values() if type(n).__name__ == "NIRGraph"]
    assert len(nested) == (len(integrators) if nests else 0)
    for sub in nested:  # each integrator as snnTorch writes a recurrent layer: input -> lif <-> w_rec -> output
        assert {k: type(n).__name__ for k, n in sub.nodes.items()} == {
            "input": "Input", "lif": "CubaLIF", "w_rec": "Linear", "output": "Output"}
        assert sorted(sub.edges) == [("input", "lif"), ("lif", "output"), ("lif", "w_rec"), ("w_rec", "lif")]
    if not nests:  # flat: the CubaLIF feeds itself through one weight node
        for k in integrators:
            assert type(graph.nodes[k]).__name__ == "CubaLIF"
            assert [w for a, w in graph.edges if a == k and (w, k) in graph.edges], k
    assert_same_spikes(as_exported(prog.netlist), graph, x, 300, least=20)


def _same_trains(prog, graph, x, steps, least=20):
    """Every spiking node of the reference run of ``graph`` has a population of ``prog`` with the same trains."""
    ours, _ = spikec_trains(prog.netlist, x, steps)
    theirs, _ = reference_trains(graph, x, steps)
    assert len(ours) == len(theirs)
    ours = [np.rint(o).astype(int).reshape(steps, -1) for o in ours.values()]
    for name, t in theirs.items():
        t = t.reshape(steps, -1)
        assert t.sum() >= least, (name, t.sum())
        assert any(o.shape == t.shape and np.array_equal(o, t) for o in ours), name


@pytest.mark.parametrize("fn, x", [(_filter_bank, np.array([0.5, -0.3])),
                                   (_inverse, np.random.RandomState(0).randn(2, 2))], ids=["filters", "inverse"])
def test_from_nir_reads_spikecs_recurrent_exports_spike_for_spike(fn, x):
    """spikec -> NIR -> spikec on the lif target's NEF integrators (nested recurrent layers for the filter bank, a
    flat self-loop on the program's loop for the inverse): the imported program closes each cycle through the
    CubaLIF's synapse and fires spike for spike as the reference simulator of the graph does."""
    import math

    nt = spikec.LIF(tau_ref=0, min_voltage=-math.inf)
    graph = spikec.compile(fn, target="lif", neuron_type=nt, n_neurons=30).trace(x).to_nir()
    back = spikec.from_nir(graph)
    _same_trains(back, graph, x, 300)
    if fn is _filter_bank:  # the imported recurrences run on the other back ends too (measured: the same spikes)
        ref = back.run(x, t=0.3, backend="numpy", mode="spiking").info["total_spikes"]
        for backend in ("jax", "nengo"):
            other = back.run(x, t=0.3, backend=backend, mode="spiking").info["total_spikes"]
            assert abs(other - ref) <= 0.02 * ref, backend


def test_from_nir_closes_recurrences_through_li_and_i_nodes():
    """A flat cycle through an ``LI`` node and one through an ``I`` node import like the reference runs them."""
    rng = np.random.default_rng(3)
    n = 6

    def lif():
        return nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                       v_reset=np.zeros(n))

    nodes = {"input": nir.Input(input_type=np.array([n])), "w_in": nir.Linear(weight=rng.normal(0, 1, (n, n))),
             "lif": lif(), "w_rec": nir.Linear(weight=rng.normal(0, 0.5, (n, n))),
             "syn": nir.LI(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n)),
             "acc": nir.I(r=np.full(n, 0.2)), "w_acc": nir.Linear(weight=-np.eye(n)),
             "output": nir.Output(output_type=np.array([n]))}
    edges = [("input", "w_in"), ("w_in", "syn"), ("syn", "lif"), ("lif", "w_rec"), ("w_rec", "syn"),
             ("lif", "acc"), ("acc", "w_acc"), ("w_acc", "syn"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = rng.uniform(2, 3, n)
    _same_trains(spikec.from_nir(graph), graph, x, 300)

