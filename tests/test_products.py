"""Products by default: accurate on time-varying signals, and ``n_neurons`` never silently ignored.

Oracle: NumPy's product of the same input functions, both through the same lowpass."""

from __future__ import annotations

import nengo
import numpy as np
import pytest

import spikec
from spikec.tools.metrics import nrmse


def x_of(t):
    return np.array([np.sin(2 * np.pi * 2 * t), 0.8 * np.sin(2 * np.pi * 0.7 * t + 1)])


def y_of(t):
    return np.array([np.cos(2 * np.pi * 2 * t), 0.6 * np.cos(2 * np.pi * 1.3 * t)])


def sine_product_error(**options) -> tuple[float, int]:
    """NRMSE (20 ms lowpass, after 200 ms) of ``x * y`` on sines, spiking, and the run's spikes."""
    prog = spikec.compile(lambda x, y: x * y).trace(spikec.Input(2, value=[0.5, 0.2], range=(-1, 1)),
                                                    spikec.Input(2, value=[0.3, 0.1], range=(-1, 1)))
    result = prog.run(x_of, y_of, t=2.0, mode="spiking", **options)
    lowpass = nengo.Lowpass(0.02)
    ideal = np.array([x_of(t) * y_of(t) for t in result.t])
    got, want = (lowpass.filt(v, dt=result.dt, y0=0)[200:] for v in (result.output, ideal))
    return nrmse(got, want), result.info["total_spikes"]


def test_default_products_follow_time_varying_signals():
    """Measured (benchmarks/products.py): 7.0% with the default pairs, 29.7% with one neuron per square,
    which also spends more spikes."""
    default, default_spikes = sine_product_error()
    single, single_spikes = sine_product_error(parabola_pairs=False)
    assert default < 0.09
    assert single > 3 * default and single_spikes > default_spikes


def test_n_neurons_without_an_nef_ensemble_is_refused():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.ones(2))
    with pytest.raises(spikec.SpikecError, match=r"n_neurons=200 sizes NEF ensembles, and this program has none"):
        prog.run(t=0.01, mode="rate", n_neurons=200)
    assert prog.lower(n_neurons=20, products="nef").stats().neurons == 2 * 20  # NEF products: n_neurons each


def test_n_neurons_sizes_the_nef_ensembles_beside_parabola_products():
    prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.ones(2), np.ones(2))
    stats = prog.lower(n_neurons=20).stats()
    # tanh: 20 LIF per element; the product: 2 squares per element, a pair each
    assert stats.neuron_types == {"LIF(tau_rc=0.02)": 2 * 20, "RegularSpiking(Parabola)": 2 * 2 * 2}


def test_n_neurons_in_a_configure_scope_is_refused_for_a_parabola_product():
    def f(x, y):
        with spikec.configure(n_neurons=100):
            return x * y

    with pytest.raises(spikec.SpikecError, match="n_neurons=100 has no meaning for a parabola product"):
        spikec.compile(f).trace(np.ones(2), np.ones(2)).lower()
