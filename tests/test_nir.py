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
from spikec.nir_export import NIRExportError, import_nir

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
    from spikec.backends.netlist_runner import run_netlist

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
    prog = spikec.compile(lambda x: spikec.filter(x, 0.01) * 2)(np.ones(3))
    with pytest.raises(NIRExportError, match="synapse|state"):
        prog.to_nir()
