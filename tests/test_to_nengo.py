"""``prog.to_nengo()`` inside a user's nengo model: handles, numbers, probes, seeds, labels, guards, nengo-gui.

Oracles: NumPy for what the program computes, spikec's own nengo run
(``prog.run(backend="nengo")``, built from the same netlist) for exact
agreement, and nengo's own ``nengo.Probe`` for the readout.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

nengo = pytest.importorskip("nengo")

import spikec
from spikec.backends.guards import RangeWarning
from spikec.backends.nengo import SpikecNetwork
from spikec.errors import RunError

DT = 1e-3
A = np.array([[0.5, -0.2], [0.1, 0.4]])


def x_of_t(t):
    return np.array([0.6 * np.sin(6 * t), 0.5 * np.cos(4 * t)])


@pytest.fixture(scope="module")
def prog():
    @spikec.compile
    def model(x, A):
        return np.exp(x) + A @ x, spikec.integrate(lambda s: -5 * s + 5 * x, np.zeros(2))

    program = model.trace(np.array([0.1, 0.2]), A)
    return program.set_domain(x=(-1.0, 1.0), A=(-1.0, 1.0))


def numpy_reference(steps: int):
    """The program's two outputs in plain NumPy, stepped as nengo steps (step k ends at (k+1) dt)."""
    t = DT * np.arange(1, steps + 1)
    xs = np.array([x_of_t(ti) for ti in t])
    out0 = np.exp(xs) + xs @ A.T
    s, out1 = np.zeros(2), []
    for x in xs:  # a state shows its value after the previous step
        out1.append(s.copy())
        s = s + DT * (-5 * s + 5 * x)
    return out0, np.array(out1)


def user_model(prog, mode="rate", seed=1, **kwargs):
    """A user's model around the spikec network: inputs and outputs through .inputs / .outputs only."""
    with nengo.Network(seed=seed) as model:
        stim_x = nengo.Node(x_of_t, label="stim x")
        stim_A = nengo.Node(A.reshape(-1), label="stim A")
        net = prog.to_nengo(mode=mode, **kwargs)
        nengo.Connection(stim_x, net.inputs["x"], synapse=None)
        nengo.Connection(stim_A, net.inputs["A"], synapse=None)
        probes = {name: nengo.Probe(node, synapse=None) for name, node in net.outputs.items()}
        filtered = {name: nengo.Probe(node, synapse=0.02) for name, node in net.outputs.items()}
    return model, net, probes, filtered


def test_handles_are_keyed_by_the_users_names_and_shaped_as_the_arrays(prog):
    _, net, _, _ = user_model(prog)
    assert isinstance(net, SpikecNetwork) and isinstance(net, nengo.Network)
    assert list(net.inputs) == ["x", "A"] and list(net.outputs) == ["out0", "out1"]
    assert dict(net.input_shapes) == {"x": (2,), "A": (2, 2)}
    assert dict(net.output_shapes) == {"out0": (2,), "out1": (2,)}
    assert net.inputs["x"].size_in == 2 and net.inputs["A"].size_in == 4
    assert all(node.size_out == 2 for node in net.outputs.values())
    assert [node.label for node in net.outputs.values()] == ["out0", "out1"]
    with pytest.raises(AttributeError, match="2 inputs"):
        _ = net.input


def test_one_input_one_output_and_unread_arguments():
    prog = spikec.compile(lambda x, unused: np.tanh(x)).trace(np.zeros((2, 3)), np.zeros(4))
    net = prog.to_nengo(mode="rate")
    assert net.output is net.outputs["out0"] and net.output_shapes["out0"] == (2, 3)
    assert net.inputs["unused"].size_in == 4  # connectable, though nothing reads it
    with pytest.raises(AttributeError, match="2 inputs"):
        _ = net.input
    single = spikec.compile(np.tanh).trace(np.zeros(3)).to_nengo(mode="rate")
    assert single.input is single.inputs["x"]


def test_user_model_matches_numpy_and_spikecs_own_nengo_run(prog):
    model, net, probes, _ = user_model(prog)
    steps = 300
    with nengo.Simulator(model, dt=DT, progress_bar=False) as sim:
        sim.run_steps(steps)
    own = prog.run(x_of_t, A, t=steps * DT, backend="nengo", mode="rate")
    for i, name in enumerate(net.outputs):  # the very same network
        assert_allclose(sim.data[probes[name]], own.outputs[i], rtol=0, atol=1e-12)
    out0, out1 = numpy_reference(steps)
    assert_allclose(sim.data[probes["out0"]], out0, atol=0.05)  # NEF exp over the domain
    assert_allclose(sim.data[probes["out1"]], out1, atol=1e-9)  # linear: exact


def test_spiking_embedding_is_spike_for_spike_spikecs_nengo_run(prog):
    model, net, probes, _ = user_model(prog, mode="spiking", seed=0)
    with nengo.Simulator(model, dt=DT, progress_bar=False, seed=0) as sim:
        sim.run_steps(100)
    own = prog.run(x_of_t, A, t=0.1, backend="nengo")
    for i, name in enumerate(net.outputs):
        assert_allclose(sim.data[probes[name]], own.outputs[i], rtol=0, atol=1e-12)


def test_a_probe_synapse_reads_run_synapse_one_step_later(prog):
    """nengo updates a probe's filter after recording: probe[k + 1] == run(synapse=s)[k], probe[0] == 0."""
    model, net, _, filtered = user_model(prog, probe=0.02)
    with nengo.Simulator(model, dt=DT, progress_bar=False) as sim:
        sim.run_steps(200)
    own = prog.run(x_of_t, A, t=0.2, backend="nengo", mode="rate", synapse=0.02)
    for i, name in enumerate(net.outputs):
        data = sim.data[filtered[name]]
        assert_array_equal(data[0], 0.0)
        assert_allclose(data[1:], own.outputs[i][:-1], rtol=0, atol=1e-12)
        # probe=0.02 made the same probes, nengo's own
        assert_allclose(sim.data[net.output_probes[name]], data, rtol=0, atol=0)


def test_probes_only_when_asked(prog):
    assert prog.to_nengo(mode="rate").all_probes == []
    net = prog.to_nengo(mode="rate", probe=True)
    assert list(net.output_probes) == ["out0", "out1"]
    assert all(p.synapse is None for p in net.output_probes.values())
    assert len(net.all_probes) == 2
    later = prog.to_nengo(mode="rate")
    made = later.probe_outputs(spikec.Lowpass(0.01))
    assert isinstance(made["out0"].synapse, nengo.Lowpass) and made["out0"].synapse.tau == 0.01


def test_every_object_and_connection_has_a_label(prog):
    for mode in ("rate", "spiking"):
        net = prog.to_nengo(mode=mode, probe=True)
        unlabelled = [o for o in [*net.all_objects] if not o.label]
        assert unlabelled == []


def test_seed_is_inherited_from_the_parent_model(prog):
    def network_seed(parent_seed, **kwargs):
        with nengo.Network(seed=parent_seed) as model:
            net = prog.to_nengo(mode="rate", **kwargs)
        with nengo.Simulator(model, dt=DT, progress_bar=False) as sim:
            return sim.model.seeds[net]

    assert prog.to_nengo(mode="rate").seed is None
    assert network_seed(5) == network_seed(5)
    assert network_seed(5) != network_seed(6)
    assert network_seed(5, seed=11) == network_seed(6, seed=11) == 11


def test_a_decoded_probe_on_a_spikec_population_is_refused(prog):
    with nengo.Network():
        net = prog.to_nengo(mode="rate")
        ens = net.all_ensembles[0]
        with pytest.raises(nengo.exceptions.ValidationError, match=r"no decoded value.*ens\.neurons"):
            nengo.Probe(ens)
        with pytest.raises(nengo.exceptions.ValidationError, match="no decoded value"):
            nengo.Probe(ens, "decoded_output")
        probe = nengo.Probe(ens.neurons)  # what to probe instead
    assert probe.attr == "output"


def test_a_decoded_connection_out_of_a_spikec_population_is_refused(prog):
    """Decoders solved for a placeholder representation would read nothing the network computes: refused at the
    user's line, for the ensemble and for a slice of it; its neurons and the outputs still connect and run."""
    with nengo.Network(seed=1) as model:
        net = prog.to_nengo(mode="rate")
        ens = net.all_ensembles[0]
        sink = nengo.Node(size_in=1, label="sink")
        with pytest.raises(nengo.exceptions.ValidationError, match=r"no decoded value.*ens\.neurons.*\.outputs"):
            nengo.Connection(ens, sink)
        with pytest.raises(nengo.exceptions.ValidationError, match="no decoded value"):
            nengo.Connection(ens[0], sink)
        stim_x = nengo.Node(x_of_t, label="stim x")
        stim_A = nengo.Node(A.reshape(-1), label="stim A")
        nengo.Connection(stim_x, net.inputs["x"], synapse=None)
        nengo.Connection(stim_A, net.inputs["A"], synapse=None)
        # what to connect from instead: the neurons (summed rates here) and the outputs
        nengo.Connection(ens.neurons, sink, transform=np.ones((1, ens.n_neurons)), synapse=None)
        rates = nengo.Probe(sink, synapse=None)
        neuron_probe = nengo.Probe(ens.neurons, synapse=None)
        out = nengo.Probe(net.outputs["out0"], synapse=None)
    assert len(model.all_connections) == len(net.all_connections) + 3  # none of the refused ones was added
    with nengo.Simulator(model, dt=DT, progress_bar=False) as sim:
        sim.run_steps(50)
    # the connection from the neurons carries what they emit (synapse=None: the same step)
    assert_allclose(sim.data[rates][:, 0], sim.data[neuron_probe].sum(axis=1))
    assert_allclose(sim.data[out], numpy_reference(50)[0], atol=0.05)  # NEF exp over the domain, as above


def test_range_guards_on_the_embedded_network(prog):
    model, net, _, _ = user_model(prog)
    with nengo.Simulator(model, dt=DT, progress_bar=False) as sim:
        with pytest.raises(RunError, match=r"net\.watch"):
            net.range_violations()
        net.watch(sim)
        sim.run_steps(100)
        assert net.check_ranges(on_range="error") == []
    # the same network driven outside its domain (x up to 3, tuned for [-1, 1])
    with nengo.Network(seed=1) as far:
        net = prog.to_nengo(mode="rate")
        nengo.Connection(nengo.Node(lambda t: [3.0, -3.0], label="far x"), net.inputs["x"], synapse=None)
        nengo.Connection(nengo.Node(A.reshape(-1), label="A"), net.inputs["A"], synapse=None)
    with nengo.Simulator(far, dt=DT, progress_bar=False) as sim:
        net.watch(sim)
        sim.run_steps(100)
        with pytest.warns(RangeWarning, match="exp"):
            violations = net.check_ranges()
    assert violations and violations[0]["op"] == "exp"
    with pytest.raises(RunError, match="guards=False"):
        prog.to_nengo(mode="rate", guards=False).watch(sim)


def test_objects_are_attributes_named_by_label(prog):
    net = prog.to_nengo(mode="rate")
    assert net.in_x is net.inputs["x"] and net.out1 is net.outputs["out1"]
    assert "in_x" in dir(net)
    with pytest.raises(AttributeError):
        _ = net.no_such_object


def test_nengo_gui_layout_refers_to_spikec_objects_by_label(prog, tmp_path, monkeypatch):
    """nengo-gui's server, in-process: load a model holding a spikec network and save its layout."""
    pytest.importorskip("nengo_gui")
    import nengo_gui.components
    import nengo_gui.guibackend
    import nengo_gui.page

    monkeypatch.chdir(tmp_path)
    script = tmp_path / "model.py"
    script.write_text("# built by the test\n")
    model, net, _, _ = user_model(prog)
    context = nengo_gui.guibackend.ModelContext(model=model, locals={"model": model, "net": net},
                                                filename=str(script))
    server = nengo_gui.guibackend.GuiServer(
        context, nengo_gui.guibackend.GuiServerSettings(("localhost", 0), auto_shutdown=0),
        nengo_gui.page.PageSettings(filename_cfg=str(tmp_path / "model.py.cfg")))
    try:
        page = server.create_page(str(script))
        uids = {page.get_uid(obj) for obj in [*net.all_nodes, *net.all_ensembles]}
        assert {"net.in_x", "net.in_A", "net.out0", "net.out1"} <= uids
        assert not [u for u in uids if "[" in u]  # no position (net.nodes[3]) anywhere
        js = page.net_graph.javascript()  # what the browser would receive
        assert "NetGraph" in js
        page.build()  # what the server does before running (its own seeds, its own simulator)
        page.get_component(nengo_gui.components.SimControl).paused = False  # the play button
        sim = page.sim
        assert page.error is None and sim is not None
        deadline = time.monotonic() + 30
        while sim.n_steps < 10 and page.error is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the page's own thread steps the simulator
        assert page.error is None and sim.n_steps >= 10
        page.config[net.inputs["x"]].pos = (0.2, 0.3)
        page.save_config(force=True)
        saved = (tmp_path / "model.py.cfg").read_text()
        assert "_viz_config[net.in_x].pos=(0.2, 0.3)" in saved
        page.finished = True
    finally:
        server.shutdown()


def test_the_nengo_guide_runs(tmp_path, monkeypatch):
    """docs/guide/nengo.md's ```python blocks, in order, in one namespace (```py blocks are fragments)."""
    import re
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "nengo.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 3
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RangeWarning)  # the guide's inputs stay in the declared domain
        for block in blocks:
            exec(compile(block.replace("sim.run(1.0)", "sim.run(0.1)").replace("t=1.0", "t=0.1"),
                         "nengo.md", "exec"), namespace)
    assert namespace["violations"] == []
    assert isinstance(namespace["net"], SpikecNetwork)
    assert namespace["sim"].data[namespace["p"]].shape == (100, 2)
