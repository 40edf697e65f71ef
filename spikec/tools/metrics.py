"""Accuracy and cost measures: NRMSE, spikes, synaptic operations."""

from __future__ import annotations

from typing import Any

import numpy as np

# The accuracy measures live below the pipeline's layers, shared with the compiler's own search for options.
from spikec.util.metrics import nrmse as nrmse
from spikec.util.metrics import spikes_to_reach as spikes_to_reach


def spike_rate(result: Any) -> float:
    """Mean spikes per second over a run (all populations together)."""
    if result.spikes is None or result.spikes.size == 0:
        return 0.0
    total = result.spikes[..., -1]
    return float(np.mean(total)) / (result.t[-1])


def synaptic_events(result: Any) -> float:
    """Total synaptic events (spikes times fan-out) of a run, the energy proxy."""
    events = result.info.get("synaptic_events")
    if events is None:
        return 0.0
    return float(np.asarray(events)[..., -1].mean())


# ------------------------------------------------------------------- spike-train losses


def kl_divergence(p_target, p, floor: float = 1e-7, pseudocount: float = 0.0):
    """``sum p_target * (log p_target - log max(p, floor))`` over the last axis (0 log 0 = 0).

    The direction of ``torch.nn.functional.kl_div(log p, p_target)``: the
    sampled ``p`` is the model, ``p_target`` the data.  JAX arrays (differentiable).

    ``pseudocount`` changes the gradient only (the value stays the one
    above): it becomes the gradient of ``KL(p_target || p + pseudocount)``.
    Where a sampled ``p`` is a frequency over ``T`` samples, ``1/T`` is the
    add-one estimate of a state that was never sampled.  Without it the
    floor passes no gradient to a state with ``p = 0``: when the samples
    never show a state the target has (a silent neuron whose "on" states
    never occur), the only gradient left comes from the states that do
    occur, and it pushes their probability up, i.e. the silent neuron
    further down.  With it, each missing state pulls with about
    ``p_target / pseudocount``.
    """
    import jax
    import jax.numpy as jnp

    p_target = jnp.asarray(p_target)
    safe = jnp.where(p_target > 0, p_target, 1.0)

    def kl(q):
        return jnp.sum(jnp.where(p_target > 0, p_target * (jnp.log(safe) - jnp.log(jnp.maximum(q, floor))), 0.0),
                       axis=-1)

    value = kl(p)
    if pseudocount:
        smooth = kl(p + pseudocount)
        value = jax.lax.stop_gradient(value) + (smooth - jax.lax.stop_gradient(smooth))
    return value


def van_rossum_kernel(steps: int, dt: float, tau_rise: float, tau_decay: float) -> np.ndarray:
    """Double-exponential kernel ``exp(-t/tau_decay) - exp(-t/tau_rise)`` (t = 0, dt, ...), peak 1."""
    t = np.arange(steps) * dt
    k = np.exp(-t / tau_decay) - np.exp(-t / tau_rise)
    return k / k.max()


def van_rossum(spikes, target, dt: float, tau_rise: float = 0.005, tau_decay: float = 0.010):
    """van Rossum distance of spike trains (last axis is time): the squared
    difference of the trains filtered by a double-exponential kernel, summed
    over time times ``dt`` (a causal convolution, differentiable with JAX)."""
    import jax
    import jax.numpy as jnp

    steps = spikes.shape[-1]
    kernel = jnp.asarray(van_rossum_kernel(steps, dt, tau_rise, tau_decay), dtype=spikes.dtype)
    diff = spikes - jnp.asarray(target, dtype=spikes.dtype)
    filtered = jax.vmap(lambda d: jnp.convolve(d, kernel)[:steps])(diff.reshape(-1, steps))
    return 0.5 * dt * jnp.sum(filtered**2, axis=-1).reshape(diff.shape[:-1])


def spike_times_match(times, target_times, tolerance: float) -> bool:
    """True when there are as many spikes as target spikes and each (in order) is within ``tolerance``."""
    times, target_times = np.sort(np.asarray(times, float)), np.sort(np.asarray(target_times, float))
    return times.size == target_times.size and bool(np.all(np.abs(times - target_times) <= tolerance))
