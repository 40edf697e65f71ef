"""Small training helpers shared by the seed programs (plain JAX + optax).

The examples train networks through
:func:`spikec.backends.jax_backend.make_loss_fn`; what they share lives
here, and nothing else: an epoch loop with a progress bar, the losses they
use (KL divergence of distributions, van Rossum distance of spike trains)
and a spike-train comparison.  This is deliberately not a parameter API
(that is ``spikec.param`` / ``prog.fit``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from spikec.progress import progress_bar

__all__ = ["fit", "kl_divergence", "spike_times_match", "van_rossum", "van_rossum_kernel"]


def fit(loss: Callable, params: Any, epochs: int, *, lr: float = 1e-2, key: Any = None,
        desc: str = "training", progress: bool | None = None, optimizer: Any = None,
        stop: Callable[[int, float, Any, Any], bool] | None = None) -> tuple[Any, dict]:
    """Minimize ``loss(params, key) -> (value, aux)`` with optax (Adam by default) for ``epochs`` steps.

    ``key`` (a ``jax.random`` key) is split once per epoch, so each epoch
    sees fresh noise (Poisson inputs).  The step (gradient and update) is
    jitted once.  ``stop(epoch, value, aux, params)`` may end training early
    by returning True.  ``progress``: None shows a bar on an interactive
    terminal, True always, False never.

    Returns ``(params, history)`` with ``history["loss"]`` (per epoch,
    before that epoch's update), ``history["aux"]`` (per epoch, NumPy),
    ``history["seconds"]`` (wall time of each epoch, the first one
    including compilation) and ``history["epochs"]`` (epochs run).
    """
    optimizer = optax.adam(lr) if optimizer is None else optimizer
    opt_state = optimizer.init(params)
    key = jax.random.PRNGKey(0) if key is None else key

    @jax.jit
    def step(p, s, k):
        (value, aux), grads = jax.value_and_grad(loss, has_aux=True)(p, k)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value, aux

    enable = progress if progress is not None else sys.stderr.isatty()
    bar = progress_bar(range(epochs), total=epochs, desc=desc, enable=enable)
    history: dict[str, list] = {"loss": [], "aux": [], "seconds": []}
    for epoch in bar:
        key, sub = jax.random.split(key)
        start = time.perf_counter()
        new_params, opt_state, value, aux = step(params, opt_state, sub)
        value = float(value)
        history["seconds"].append(time.perf_counter() - start)
        history["loss"].append(value)
        history["aux"].append(jax.tree_util.tree_map(np.asarray, aux))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{value:.4g}")
        if stop is not None and stop(epoch, value, aux, params):
            break
        params = new_params
    history["epochs"] = len(history["loss"])
    return params, history


def kl_divergence(p_target, p, floor: float = 1e-7):
    """``sum p_target * (log p_target - log max(p, floor))`` over the last axis (0 log 0 = 0).

    The direction of ``torch.nn.functional.kl_div(log p, p_target)``: the
    sampled ``p`` is the model, ``p_target`` the data.
    """
    p_target = jnp.asarray(p_target)
    safe = jnp.where(p_target > 0, p_target, 1.0)
    return jnp.sum(jnp.where(p_target > 0, p_target * (jnp.log(safe) - jnp.log(jnp.maximum(p, floor))), 0.0),
                   axis=-1)


def van_rossum_kernel(steps: int, dt: float, tau_rise: float, tau_decay: float) -> np.ndarray:
    """Double-exponential kernel ``exp(-t/tau_decay) - exp(-t/tau_rise)`` (t = 0, dt, ...), peak 1."""
    t = np.arange(steps) * dt
    k = np.exp(-t / tau_decay) - np.exp(-t / tau_rise)
    return k / k.max()


def van_rossum(spikes, target, dt: float, tau_rise: float = 0.005, tau_decay: float = 0.010):
    """van Rossum distance of spike trains (last axis is time): the squared
    difference of the trains filtered by a double-exponential kernel, summed
    over time times ``dt`` (a causal convolution, differentiable)."""
    steps = spikes.shape[-1]
    kernel = jnp.asarray(van_rossum_kernel(steps, dt, tau_rise, tau_decay), dtype=spikes.dtype)
    diff = spikes - jnp.asarray(target, dtype=spikes.dtype)
    filtered = jax.vmap(lambda d: jnp.convolve(d, kernel)[:steps])(diff.reshape(-1, steps))
    return 0.5 * dt * jnp.sum(filtered**2, axis=-1).reshape(diff.shape[:-1])


def spike_times_match(times, target_times, tolerance: float) -> bool:
    """True when there are as many spikes as target spikes and each (in order) is within ``tolerance``."""
    times, target_times = np.sort(np.asarray(times, float)), np.sort(np.asarray(target_times, float))
    return times.size == target_times.size and bool(np.all(np.abs(times - target_times) <= tolerance))
