"""``spikec.models.neurons.Tanh`` against ``nengo.Tanh`` as the oracle: rates, tuning, conversions,
and a spikec network using it agreeing on the NumPy and nengo back ends."""

from __future__ import annotations

import nengo
import numpy as np
import pytest

import spikec
from spikec.backends.nengo.neurons import nengo_adapter
from spikec.errors import ConstantError
from spikec.models.neurons import RegularSpiking, Tanh, as_neuron_type, neuron_parameters

DT = 1e-3


@pytest.mark.parametrize("tau_ref", [0.0025, 0.01])
def test_rates_and_step_equal_nengo(tau_ref):
    ours, theirs = Tanh(tau_ref), nengo.Tanh(tau_ref)
    x = np.linspace(-2, 2, 41)
    gain, bias = np.array([0.5, 1.0, 3.0]), np.array([-0.2, 0.0, 0.4])
    expected = theirs.rates(x, gain, bias)
    J = gain * x[:, None] + bias
    np.testing.assert_array_equal(ours.rates(J), expected)
    state, out = ours.step({}, J, DT)
    assert state == {}
    np.testing.assert_array_equal(out, expected)
    assert ours.negative and not ours.spiking and ours.state_names == ()


def test_tuning_equals_nengo():
    ours, theirs = Tanh(0.004), nengo.Tanh(0.004)
    max_rates, intercepts = np.array([50.0, 120.0, 240.0]), np.array([-0.5, 0.0, 0.7])
    gain, bias = ours.gain_bias(max_rates, intercepts)
    ref_gain, ref_bias = theirs.gain_bias(max_rates, intercepts)
    np.testing.assert_array_equal(gain, ref_gain)
    np.testing.assert_array_equal(bias, ref_bias)
    for a, b in zip(ours.max_rates_intercepts(gain, bias), theirs.max_rates_intercepts(gain, bias)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConstantError, match="inverse refractory period"):
        ours.gain_bias([250.0], [0.0])


def test_conversions_and_parameters():
    assert as_neuron_type(nengo.Tanh(tau_ref=0.01)) == Tanh(0.01)
    assert as_neuron_type(nengo.RegularSpiking(nengo.Tanh())) == RegularSpiking(Tanh())
    back = nengo_adapter(Tanh(0.01))
    assert type(back) is nengo.Tanh and back.tau_ref == 0.01
    spiking = nengo_adapter(Tanh().as_spiking())
    assert isinstance(spiking, nengo.RegularSpiking) and isinstance(spiking.base_type, nengo.Tanh)
    assert Tanh().label() == "Tanh" and Tanh(0.01).label() == "Tanh(tau_ref=0.01)"
    assert neuron_parameters(Tanh(0.01)) == {"tau_ref": 0.01}
    assert spikec.neurons.Tanh is Tanh
    with pytest.raises(ConstantError, match="tau_ref"):
        Tanh(0.0)


GAIN, BIAS = np.array([0.5, 1.0, 2.0, 4.0]), np.array([-0.3, 0.0, 0.2, 0.1])


def _layer(x):
    return spikec.neurons(x, Tanh(0.004), gain=GAIN, bias=BIAS)


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_numpy_and_nengo_back_ends_agree(mode):
    prog = spikec.compile(_layer).trace(np.zeros(4))
    x = np.array([-0.8, 0.1, 0.4, 0.9])
    numpy_run = prog.run(x, t=0.2, backend="numpy", mode=mode)
    nengo_run = prog.run(x, t=0.2, backend="nengo", mode=mode)
    np.testing.assert_allclose(nengo_run.output, numpy_run.output, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(nengo_run.spikes, numpy_run.spikes)
    # The oracle: nengo.Tanh's rates for J = gain * x + bias.
    expected = nengo.Tanh(0.004).rates(x[None, :], GAIN, BIAS)[0]
    if mode == "rate":
        np.testing.assert_allclose(numpy_run.output[-1], expected, rtol=1e-12)
    else:
        np.testing.assert_allclose(numpy_run.output.mean(axis=0), expected, atol=1.0 / 0.2 + 1e-9)
