"""Silent neurons under surrogate-gradient training (issue #8, stochastic computing).

Two ways a silent neuron loses its gradient, and the options that give it back:

* the KL loss: a state the samples never show has ``p = 0``, where the floor of
  :func:`spikec.tools.metrics.kl_divergence` passes no gradient, so only the states
  that do occur pull, and they pull the silent neuron further down;
  ``pseudocount`` gives the missing states their pull (the value stays the same);
* the LIF voltage floor ``max(v, min_voltage)``: no gradient from one step's
  voltage to the next while the voltage sits below it;
  ``Surrogate(floor_gradient=...)`` lets a fraction through (forward values stay
  exactly the neuron's own).

Oracles: the neuron types' own steps (forward), the sign and zero pattern of the
gradients, and a few Adam steps on one silent neuron (it comes back, or not).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

jax = pytest.importorskip("jax")
import jax.numpy as jnp
import optax

import spikec.train.surrogate as sg
from spikec.errors import ConstantError
from spikec.models.neurons import LIF, RefractoryLIF
from spikec.tools.metrics import kl_divergence

DT = 1e-3


@pytest.mark.parametrize("neuron", [LIF(), LIF(tau_rc=0.05, min_voltage=-0.5), RefractoryLIF(0.01, 0.01)],
                         ids=lambda n: n.label())
def test_leaky_floor_keeps_forward_values_exact(neuron):
    """With ``floor_gradient`` the surrogate step's outputs and states equal the neuron's own step bit
    for bit (float64, 100 steps, currents well below the floor and above threshold)."""
    rng = np.random.default_rng(0)
    n, steps = 40, 100
    J = rng.uniform(-3, 4, (steps, n))
    wrapped = sg.surrogate_neuron(neuron, sg.SuperSpike(10.0, floor_gradient=0.2))
    with jax.enable_x64(True):
        state = {k: jnp.asarray(v) for k, v in neuron.init_state(n, np.random.RandomState(1)).items()}
        ours = wrapped.init_state(n, np.random.RandomState(1))
        ours = {k: jnp.asarray(v) for k, v in ours.items()}
        total = 0.0
        for k in range(steps):
            state, out = neuron.step(state, jnp.asarray(J[k]), DT, jnp)
            ours, our_out = wrapped.step(ours, jnp.asarray(J[k]), DT, jnp)
            assert_array_equal(np.asarray(our_out), np.asarray(out))
            for name in state:
                assert_array_equal(np.asarray(ours[name]), np.asarray(state[name]), err_msg=name)
            total += float(np.asarray(out).sum())
    assert total > 0


def _spikes_after_silence(floor_gradient):
    """Gradient of the spikes of an LIF neuron in steps 20-49 (held at its floor by J = -2 for 20
    steps, then driven by J = 1.5) with respect to the current of each step."""
    stepper = sg.surrogate_neuron(LIF(tau_rc=0.01, tau_ref=0.002), sg.SuperSpike(10.0, floor_gradient=floor_gradient))
    J0 = jnp.concatenate([jnp.full(20, -2.0), jnp.full(30, 1.5)])

    def spikes(J):
        def body(state, j):
            state, out = stepper.step(state, j[None], DT)
            return state, out[0] * DT

        state = {k: jnp.asarray(v) for k, v in stepper.init_state(1).items()}
        return jax.lax.scan(body, state, J)[1][20:].sum()

    return float(spikes(J0)), np.asarray(jax.grad(spikes)(J0))


def test_leaky_floor_passes_gradient_through_silent_steps():
    count, plain = _spikes_after_silence(0.0)
    count_leaky, leaky = _spikes_after_silence(0.1)
    assert count == count_leaky > 0
    # Plain floor: a current that held the voltage below the floor at step 18 does not reach the
    # voltage of step 19, so the spikes after step 20 see it not at all; the leak lets a fraction through.
    assert plain[18] == 0.0
    assert leaky[18] > 0.0
    # Where the voltage is above the floor, both are the same gradient path.
    np.testing.assert_allclose(leaky[25:], plain[25:], rtol=1e-5)
    with pytest.raises(ConstantError, match="floor_gradient"):
        sg.SuperSpike(10.0, floor_gradient=1.5)
    assert sg.SuperSpike(10.0).label() == "SuperSpike(scale=10)"


def test_kl_pseudocount_changes_the_gradient_not_the_value():
    p_target = jnp.asarray([0.5, 0.3, 0.2])
    p = jnp.asarray([[0.6, 0.4, 0.0], [0.2, 0.3, 0.5]])
    assert_array_equal(np.asarray(kl_divergence(p_target, p, pseudocount=1e-3)),
                       np.asarray(kl_divergence(p_target, p)))
    plain = np.asarray(jax.grad(lambda q: kl_divergence(p_target, q).sum())(p))
    smooth = np.asarray(jax.grad(lambda q: kl_divergence(p_target, q, pseudocount=1e-3).sum())(p))
    assert plain[0, 2] == 0.0                              # the floor: an empty state does not pull
    np.testing.assert_allclose(smooth[0, 2], -0.2 / 1e-3, rtol=1e-4)   # -p_target / (0 + pseudocount)
    np.testing.assert_allclose(smooth[1], -np.asarray(p_target) / (np.asarray(p[1]) + 1e-3), rtol=1e-4)


def _train_silent_readout(pseudocount, epochs=25, steps=300, batch=8):
    """Adam on the bias of one refractory LIF neuron that starts silent (bias -1, input noise in
    [-0.5, 0.5]), towards being refractory 30% of the time (KL over its two states).

    Returns (initial gradient of the bias, final bias, final refractory fraction)."""
    neuron = RefractoryLIF(tau_rc=0.01, tau_ref=0.01)
    stepper = sg.surrogate_neuron(neuron, sg.SuperSpike(10.0))
    p_target = jnp.asarray([0.7, 0.3])
    noise = jax.random.uniform(jax.random.PRNGKey(0), (steps, batch), minval=-0.5, maxval=0.5)

    def fraction(bias):
        def body(state, u):
            state, out = stepper.step(state, bias + u, DT)
            return state, out

        state = {k: jnp.broadcast_to(jnp.asarray(v), (batch,)) for k, v in stepper.init_state(1).items()}
        return jax.lax.scan(body, state, noise)[1].mean(axis=0)     # per batch element

    def loss(bias):
        z = fraction(bias)
        return kl_divergence(p_target, jnp.stack([1 - z, z], axis=-1), pseudocount=pseudocount).mean()

    opt = optax.adam(0.2)

    @jax.jit
    def train(bias):
        def epoch(carry, _):
            bias, state = carry
            g = jax.grad(loss)(bias)
            updates, state = opt.update(g, state)
            return (optax.apply_updates(bias, updates), state), g

        (bias, _), grads = jax.lax.scan(epoch, (bias, opt.init(bias)), None, length=epochs)
        return grads[0], bias, fraction(bias).mean()

    return tuple(float(v) for v in train(jnp.asarray(-1.0)))


def test_silent_readout_comes_back_with_pseudocount_not_without():
    first, bias, frac = _train_silent_readout(0.0)
    assert first > 0 and bias < -1.0 and frac == 0.0     # pushed further down, stays silent
    first, bias, frac = _train_silent_readout(1 / 300)
    assert first < 0 and 0.05 < frac < 0.6, (bias, frac)  # pulled up: it fires again
