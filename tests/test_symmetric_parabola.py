"""The symmetric parabola square: ``SymmetricParabola`` against NumPy and nengo, and
``parabola_pairs="symmetric"`` (one such neuron per square) against NumPy, across back ends and
against ``estimate``."""

import importlib.util
import sys
from pathlib import Path

import nengo
import numpy as np
import pytest

import spikec
from spikec.backends.nengo.neurons import NengoSymmetricParabola, nengo_adapter
from spikec.errors import SpikecError
from spikec.models.neurons import Parabola, RegularSpiking, SymmetricParabola, as_neuron_type
from tests.test_neurons import _parabola_ensemble_net

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from matrix_inversion import inverse

DT = 1e-3
J = np.array([-20.0, -7.5, -3.0, -0.5, 0.0, 0.5, 3.0, 7.5, 20.0])


def test_rates_are_amplitude_times_j_squared_for_either_sign():
    np.testing.assert_allclose(SymmetricParabola(1.5).rates(J), 1.5 * J**2, rtol=0)
    # rectified Parabola is unchanged: silent below 0
    np.testing.assert_allclose(Parabola(1.5).rates(J), 1.5 * np.maximum(J, 0) ** 2, rtol=0)
    gain, bias = SymmetricParabola().gain_bias([100.0, 400.0], [0.0, -0.5])
    np.testing.assert_allclose(SymmetricParabola().rates(gain + bias), [100.0, 400.0])
    np.testing.assert_allclose(SymmetricParabola().rates(gain * np.array([0.0, -0.5]) + bias), [0.0, 0.0], atol=1e-12)


def test_nengo_form_converts_both_ways():
    assert isinstance(nengo_adapter(SymmetricParabola(2.0)), NengoSymmetricParabola)
    assert as_neuron_type(NengoSymmetricParabola(2.0)) == SymmetricParabola(2.0)


def test_rates_and_regular_spikes_match_nengo_simulator():
    """Rates in a real ``nengo.Simulator`` equal the model's; ``RegularSpiking`` around it spikes step for
    step as spikec's own step does from the same (zero) voltages, within one spike of the rate."""
    ours = SymmetricParabola()
    gain = np.array([10.0, 12.0, 15.0, 20.0])
    bias = np.array([-15.0, 5.0, 0.0, -30.0])  # inputs of both signs at x = 0.6
    x = 0.6
    current = gain * x + bias
    assert np.any(current < 0) and np.any(current > 0)
    net, _, probe = _parabola_ensemble_net(nengo_adapter(ours), x, gain, bias)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(10)
    np.testing.assert_allclose(sim.data[probe][-1], current**2, rtol=1e-12)

    spiking = RegularSpiking(ours)
    theirs_type = nengo_adapter(spiking)
    assert isinstance(theirs_type, nengo.RegularSpiking) and isinstance(theirs_type.base_type, NengoSymmetricParabola)
    theirs_type = nengo.RegularSpiking(theirs_type.base_type, initial_state={"voltage": nengo.dists.Choice([0.0])})
    net, _, probe = _parabola_ensemble_net(theirs_type, x, gain, bias)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(1000)
    theirs = sim.data[probe] * DT
    state, mine = {"voltage": np.zeros(gain.size)}, []
    for _ in range(1000):
        state, out = spiking.step(state, current, DT)
        mine.append(out * DT)
    np.testing.assert_array_equal(np.array(mine), theirs)
    np.testing.assert_allclose(theirs.sum(axis=0), current**2, atol=1.0)


def _product_program():
    @spikec.compile
    def f(x, y):
        return x * y + x**2

    return f.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))


INPUTS = {
    "traced": (np.array([0.5, -0.3]), np.array([1.0, 2.0])),
    "inside": (np.array([0.2, 0.1]), np.array([1.5, 1.1])),
    "outside": (np.array([5.0, -4.0]), np.array([-7.0, 3.0])),
}
OPTIONS = {
    "ranges": {"parabola_pairs": "symmetric"},
    "radius": {"parabola_pairs": "symmetric", "product_radius": 1.5},
    "radius_balanced": {"parabola_pairs": "symmetric", "product_radius": 2.0, "balanced_products": True},
    "ranges_balanced": {"parabola_pairs": "symmetric", "balanced_products": True},
}


@pytest.mark.parametrize("backend", ["numpy", "jax", "nengo"])
@pytest.mark.parametrize("where", sorted(INPUTS))
@pytest.mark.parametrize("opts", sorted(OPTIONS))
def test_symmetric_squares_are_exact_in_rate_mode(backend, where, opts):
    """One symmetric neuron per square never saturates and is centred, so rate mode matches NumPy inside
    and far outside the traced range."""
    pytest.importorskip(backend)
    prog = _product_program()
    x, y = INPUTS[where]
    precision = {"dtype": "float64"} if backend == "jax" else {}
    out = prog.run(x, y, t=0.01, backend=backend, mode="rate", on_range="ignore", **precision, **OPTIONS[opts])
    np.testing.assert_allclose(out.final, x * y + x**2, rtol=1e-9, atol=1e-9)


def test_netlist_has_one_symmetric_neuron_per_square():
    prog = _product_program()
    pairs = prog.lower(product_radius=1.5)
    sym = prog.lower(product_radius=1.5, parabola_pairs="symmetric")
    assert sym.stats().neurons * 2 == pairs.stats().neurons
    types = {type(p.neuron_type.base) for p in sym.populations}
    assert types == {SymmetricParabola}
    text = str(sym)
    assert "symmetric at 0, radius 1.5" in text and "parabola square (symmetric)" in text
    # product_radius with one-sided units still takes pairs (a one-sided unit cannot centre at 0)
    assert prog.lower(product_radius=1.5, parabola_pairs=False).stats().neurons == pairs.stats().neurons


@pytest.mark.parametrize("opts", [{"parabola_pairs": "symmetric"},
                                  {"parabola_pairs": "symmetric", "product_radius": 1.0},
                                  {"parabola_pairs": "symmetric", "balanced_products": True}])
def test_estimate_equals_the_netlist(opts):
    rng = np.random.default_rng(3)
    for prog in (_product_program(), inverse.trace(rng.standard_normal((3, 3)) / np.sqrt(3) + np.eye(3))):
        est = prog.estimate(**opts)
        stats = prog.lower(**opts).stats()
        assert est.neurons == stats.neurons > 0
        assert est.populations == stats.populations
        assert est.nonzero_weights == stats.nonzero_weights


def test_spiking_numpy_and_jax_agree_spike_for_spike():
    pytest.importorskip("jax")
    prog = _product_program()
    opts = {"parabola_pairs": "symmetric", "product_radius": 1.0}
    x, y = np.array([0.7, -0.4]), np.array([-0.9, 0.8])
    ours = prog.run(x, y, t=0.3, backend="numpy", mode="spiking", on_range="ignore", **opts)
    theirs = prog.run(x, y, t=0.3, backend="jax", mode="spiking", on_range="ignore", dtype="float64", **opts)
    np.testing.assert_array_equal(ours.spikes, theirs.spikes)
    np.testing.assert_allclose(ours.output, theirs.output, atol=1e-9)
    # the symmetric squares are good product units: the spiking mean is near the product
    want = x * y + x**2
    assert np.all(np.abs(ours.output[100:].mean(axis=0) - want) < 0.1)


@pytest.mark.slow
@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("tensorflow", "nengo_dl")),
                    reason="nengo_dl is not installed")
def test_nengo_dl_runs_symmetric_squares_as_numpy_does():
    prog = _product_program()
    x, y = INPUTS["outside"]
    out = prog.run(x, y, t=0.05, backend="nengo_dl", mode="rate", on_range="ignore", parabola_pairs="symmetric")
    np.testing.assert_allclose(out.final, x * y + x**2, rtol=1e-5, atol=1e-5)  # NengoDL runs float32


def test_nir_export_refuses_symmetric_squares_naming_the_population():
    pytest.importorskip("nir")
    prog = _product_program()
    with pytest.raises(SpikecError, match=r"population \w+ .*symmetric about 0"):
        prog.to_nir(parabola_pairs="symmetric")


def test_parabola_pairs_takes_true_false_or_symmetric():
    for ok in (True, False, "symmetric"):
        spikec.lower.LowerOptions(parabola_pairs=ok)
    for bad in ("pairs", 2, None):
        with pytest.raises(SpikecError, match="parabola_pairs"):
            spikec.lower.LowerOptions(parabola_pairs=bad)
