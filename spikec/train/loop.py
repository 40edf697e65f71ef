"""Training compiled networks with JAX and optax: rate training, spiking evaluation.

The method of Hunsberger & Eliasmith (2016) that NengoDL uses: train the
network with the *rate* counterparts of its neurons (LIF as soft-LIF, whose
smoothed rate curve has useful gradients at threshold), then run the trained
weights with *spiking* neurons and read the output over ``n_steps`` time steps.

:func:`fit` trains the parameters declared with :func:`spikec.param`; the
forward pass is :func:`spikec.train.loss.make_loss_fn` in rate
mode (one time step: a network without synapses settles instantly in rate
mode), and one jitted function does forward, backward and the optimizer
update for a whole batch.  :func:`predict` runs the network in spiking (or
rate) mode over ``n_steps``, batch by batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from spikec.errors import RunError, SpikecError
from spikec.netlist import Netlist
from spikec.netlist.params import bindings, read_params, structure_key, write_params
from spikec.train.common import History, check_single_input, is_feedforward
from spikec.util.cache import LruCache
from spikec.util.nametable import NameTable


def _crossentropy() -> Callable:
    """Softmax cross-entropy of the outputs (one row per sample) against integer labels."""
    import jax.numpy as jnp
    import optax

    return lambda out, y: optax.softmax_cross_entropy_with_integer_labels(
        out.reshape(out.shape[0], -1), y.astype(jnp.int32)).mean()


def _mse() -> Callable:
    """Mean squared error of the outputs against targets of the same size."""
    import jax.numpy as jnp

    return lambda out, y: jnp.mean((out.reshape(y.shape) - y) ** 2)


#: loss name -> a factory of ``loss(outputs, targets) -> scalar`` (jax.numpy code, so built when asked for).
LOSSES: NameTable[Callable[[], Callable]] = NameTable(
    "loss", error=SpikecError, asked="loss={name!r} is neither a function (outputs, targets) nor a known loss")
LOSSES.register("crossentropy", _crossentropy, "sparse_categorical_crossentropy")
LOSSES.register("mse", _mse)


def loss_function(loss: str | Callable) -> Callable:
    """``loss(outputs, targets) -> scalar`` for a name in :data:`LOSSES` or a callable (jax.numpy code)."""
    if callable(loss):
        return loss
    return LOSSES.lookup(loss)()


def make_optimizer(optimizer: Any):
    """An optax optimizer: given one, a name (``"adam"``, ``"rmsprop"``, ``"sgd"``: learning rate 1e-3), or Adam."""
    import optax

    if optimizer is None:
        return optax.adam(1e-3)
    if isinstance(optimizer, str):
        try:
            return getattr(optax, optimizer)(1e-3)
        except AttributeError:
            raise SpikecError(f"optax has no optimizer {optimizer!r}") from None
    return optimizer


def _netlist_tree(net: Netlist, theta: Mapping[str, Any]) -> dict:
    """The ``make_loss_fn`` parameter pytree holding parameters ``theta`` (name -> array)."""
    import jax.numpy as jnp

    tree: dict[str, dict] = {"weights": {}, "gain": {}, "bias": {}}
    for name, b in bindings(net).items():
        tree[b.kind][b.target] = b.to_netlist(theta[name], jnp)
    return tree


# Jitted training steps and runs, by structure_key and settings: fitting or evaluating the same
# program again (after training, or epoch by epoch) reuses the compilation (seconds per call).
_COMPILED = LruCache(8)


def _progress(total: int, desc: str, enable: bool | None):
    from spikec.util.progress import progress_bar

    if enable is None:
        enable = sys.stderr.isatty()
    return progress_bar(range(total), total, desc, enable)


def fit(net: Netlist, x: np.ndarray, y: np.ndarray, *, loss: str | Callable = "crossentropy", optimizer: Any = None,
        epochs: int = 1, batch_size: int = 200, dt: float = 1e-3, soft_lif: float | None = 0.01, seed: int = 0,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None, progress: bool | None = None,
        callback: Callable[[int, History], None] | None = None,
        augment: Callable[[np.random.Generator, np.ndarray], np.ndarray] | None = None,
        rate_noise: float = 0.0, mode: str = "rate", n_steps: int = 30,
        surrogate: Any = None) -> tuple[dict[str, np.ndarray], History]:
    """Train the parameters of ``net`` on ``(x, y)``; returns ``(trained values, history)``.

    ``x`` is ``(n, *input_shape)``, ``y`` integer labels ``(n,)`` for
    ``loss="crossentropy"`` (softmax over the output) or targets of the
    output's shape for ``"mse"``.  Each epoch visits the examples in a new
    random order (``seed``) in batches of ``batch_size`` (a last partial
    batch is left out, so one compiled step serves every batch).

    ``mode="rate"`` (default) trains the rate network: LIF neurons as
    soft-LIF with smoothing ``soft_lif`` (None: plain LIF rates), one step.
    ``mode="spiking"`` trains the spiking network itself, each example held
    for ``n_steps`` steps, through surrogate gradients (``surrogate``: a
    :class:`spikec.train.surrogate.Surrogate` or its name; default SuperSpike),
    the loss taken on the output averaged over the steps (what
    :func:`accuracy_by_steps` reads at ``n_steps``).  It costs about
    ``n_steps`` times a rate epoch; use it to fine-tune a rate-trained
    network for a short spiking window, where rate training cannot see
    that a neuron firing below ``1 / (n_steps dt)`` may not spike at all.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from spikec.train.loss import make_loss_fn

    x = check_single_input(net, x)
    y = np.asarray(y)
    if len(y) != len(x):
        raise RunError(f"fit: {len(x)} inputs but {len(y)} targets")
    if not bindings(net):
        raise SpikecError(f"{net.name} has no trainable parameters: declare them with spikec.param(name, init)")
    if not is_feedforward(net):
        raise SpikecError("fit trains feed-forward networks without synapses (rate mode settles in one step); "
                          f"{net.name} has synapses")
    if mode not in ("rate", "spiking"):
        raise RunError(f"fit: mode must be 'rate' or 'spiking', got {mode!r}")
    if mode == "spiking" and rate_noise:
        raise RunError("fit: rate_noise applies to rate training (mode='rate') only")
    n_steps = int(n_steps) if mode == "spiking" else 1
    if n_steps < 1:
        raise RunError(f"fit: n_steps must be at least 1, got {n_steps}")
    batch_size = min(int(batch_size), len(x))
    n_batches = len(x) // batch_size
    classify = loss in ("crossentropy", "sparse_categorical_crossentropy")

    def build():
        if rate_noise:
            apply = _noisy_rate_forward(net, dt, soft_lif, float(rate_noise), batch_size)
        else:
            # soft_lif applies in rate mode only, surrogate in spiking mode only.
            _, run = make_loss_fn(net, mode, dt, steps=n_steps, soft_lif=soft_lif, surrogate=surrogate,
                                  dtype="float32")
            apply = lambda tree, xs, key: run(tree, xs)
        loss_fn = loss_function(loss)
        opt = make_optimizer(optimizer)

        def objective(theta, xb, yb, key):
            # Every parameter comes in through theta: this step serves every netlist with net's structure_key.
            (out,) = apply(_netlist_tree(net, theta), [xb], key)
            out = out.mean(axis=1)  # rate mode: the one step
            return loss_fn(out, yb), out

        @jax.jit
        def update(theta, opt_state, xb, yb, key):
            (value, out), grads = jax.value_and_grad(objective, has_aux=True)(theta, xb, yb, key)
            updates, opt_state = opt.update(grads, opt_state, theta)
            correct = jnp.sum(jnp.argmax(out.reshape(out.shape[0], -1), axis=-1) == yb) if classify else 0
            return optax.apply_updates(theta, updates), opt_state, value, correct

        return opt, update

    cache_key = ("fit", structure_key(net), float(dt), soft_lif, float(rate_noise), batch_size, loss, optimizer,
                 mode, n_steps, surrogate)
    opt, update = _COMPILED.get(cache_key, build)
    theta = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in read_params(net).items()}
    opt_state = opt.init(theta)

    rng = np.random.default_rng(seed)
    history = History()
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        total_loss, total_correct = 0.0, 0
        bar = _progress(n_batches, f"epoch {epoch + 1}/{epochs}", progress)
        for b in bar:
            idx = order[b * batch_size:(b + 1) * batch_size]
            yb = y[idx].astype(np.int32) if classify else y[idx].astype(np.float32)
            xb = x[idx] if augment is None else np.asarray(augment(rng, x[idx]), dtype=np.float32)
            key = jax.random.fold_in(jax.random.PRNGKey(seed), epoch * n_batches + b)
            theta, opt_state, value, correct = update(theta, opt_state, xb, yb, key)
            total_loss += float(value)
            total_correct += int(correct)
            if hasattr(bar, "set_postfix") and b % 10 == 0:
                bar.set_postfix(loss=f"{total_loss / (b + 1):.4f}")
        history.epoch_time.append(time.perf_counter() - start)
        history.loss.append(total_loss / max(n_batches, 1))
        if classify:
            history.accuracy.append(total_correct / max(n_batches * batch_size, 1))
        if validation_data is not None:
            trained = write_params(net, {k: np.asarray(v) for k, v in theta.items()})
            vx, vy = validation_data
            out, _ = predict(trained, vx, n_steps=1, mode="rate", dt=dt, batch_size=max(batch_size, 500))
            history.val_accuracy.append(float(np.mean(np.argmax(out[:, -1].reshape(len(vx), -1), axis=-1) == vy)))
        if callback is not None:
            callback(epoch, history)
    return {k: np.asarray(v, dtype=np.float64) for k, v in theta.items()}, history


class _NoisyRate:
    """A rate neuron type whose active neurons' rates get uniform noise of half-width ``hz`` (times amplitude).

    The noise comes from the simulator step's ``noise`` argument (uniform on
    [0, 1), one value per neuron), as for Poisson neurons.
    """

    needs_noise = True
    spiking = False

    def __init__(self, base, hz: float):
        self.base, self.hz = base, hz
        self.amplitude = getattr(base, "amplitude", 1.0)

    def init_state(self, n, rng=None):
        return self.base.init_state(n, rng=rng)

    def step(self, state, J, dt, xp=np, noise=None):
        state, rates = self.base.step(state, J, dt, xp=xp)
        if noise is None:
            return state, rates
        jitter = self.amplitude * self.hz * (2 * noise - 1)
        return state, xp.where(rates > 0, xp.maximum(rates + jitter, 0.0), rates)


def minimize(loss: Callable, params: Any, epochs: int, *, lr: float = 1e-2, key: Any = None,
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

    This is the loop for losses written by hand around
    :func:`spikec.train.loss.make_loss_fn` (the seed programs);
    :func:`fit` is the one for classifiers declared with :func:`spikec.param`.
    """
    import jax
    import optax

    from spikec.util.progress import progress_bar

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


def _noisy_rate_forward(net: Netlist, dt: float, soft_lif: float | None, hz: float, batch: int) -> Callable:
    """``apply(tree, [x], key)``: one rate-mode step of ``net`` with noisy rates (see :class:`_NoisyRate`)."""
    import jax
    import jax.numpy as jnp

    from spikec.backends.jax.plans import choose_plan
    from spikec.backends.netsim import make_simulator
    from spikec.train.surrogate import soft_lif as _soft

    f32 = jnp.float32

    def neuron_map(t):
        return _NoisyRate(_soft(t, soft_lif) if soft_lif is not None else t, hz)

    sim = make_simulator(net, "rate", dt, batch=batch, xp=jnp, dtype=f32,
                         plan=lambda index, tr: choose_plan(tr, f32, factor=False), neuron_map=neuron_map)
    sizes = {name: net[name].n for name in sim.noisy}

    def apply(tree, inputs, key):
        full = {part: {**sim.params[part], **tree.get(part, {})} for part in sim.params}
        prepared = sim.prepare(full)
        state = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=f32), sim.init)
        keys = jax.random.split(key, max(len(sizes), 1))
        noise = {name: jax.random.uniform(k, (batch, n), dtype=f32) for (name, n), k in zip(sizes.items(), keys)}
        x = jnp.asarray(inputs[0], dtype=f32).reshape(batch, -1)
        _, report = sim.step(state, [x], noise, prepared)
        return tuple(o.reshape(batch, 1, *out.shape) for o, out in zip(report["outputs"], net.outputs))

    return apply


def predict(net: Netlist, x: np.ndarray, *, n_steps: int = 30, mode: str = "spiking", dt: float = 1e-3,
            batch_size: int = 500, seed: int = 0, progress: bool | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Run ``net`` on every example of ``x`` (held constant) for ``n_steps``; JAX, float32.

    Returns ``(outputs, spikes)``: outputs ``(n, n_steps, *output_shape)``
    and the spikes each example caused over the ``n_steps`` ``(n,)``.
    """
    import jax.numpy as jnp

    from spikec.train.loss import make_loss_fn

    x = check_single_input(net, x)
    _, apply = _COMPILED.get(("predict", structure_key(net), mode, float(dt), int(n_steps), seed),
                             lambda: make_loss_fn(net, mode, dt, steps=int(n_steps), dtype="float32", seed=seed))
    values = _netlist_tree(net, {k: jnp.asarray(v, dtype=jnp.float32) for k, v in read_params(net).items()})
    batch_size = min(int(batch_size), len(x))
    outputs, spikes = [], []
    n_batches = -(-len(x) // batch_size)
    for b in _progress(n_batches, f"{mode} {n_steps} steps", progress):
        xb = x[b * batch_size:(b + 1) * batch_size]
        n = len(xb)
        if n < batch_size:  # pad: one compiled function for every batch
            xb = np.concatenate([xb, np.zeros((batch_size - n, *xb.shape[1:]), dtype=xb.dtype)])
        (out,), pop_spikes = apply(values, [jnp.asarray(xb)], return_spikes=True)
        outputs.append(np.asarray(out[:n], dtype=np.float64))
        counts = sum((np.asarray(s[:n]).sum(axis=1) for s in pop_spikes.values()), np.zeros(n))
        spikes.append(counts)
    return np.concatenate(outputs), np.concatenate(spikes)


def accuracy_by_steps(outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Classification accuracy reading the output averaged over the first ``k`` steps, for ``k = 1..n_steps``.

    ``outputs`` is ``(n, n_steps, classes)``; entry ``k - 1`` of the result
    is the accuracy of ``argmax(mean(outputs[:, :k]))``: the spike count of a
    linear readout over a window of ``k`` steps.
    """
    outputs = outputs.reshape(outputs.shape[0], outputs.shape[1], -1)
    means = np.cumsum(outputs, axis=1)  # argmax of a sum is argmax of the mean
    return (np.argmax(means, axis=-1) == np.asarray(y)[:, None]).mean(axis=0)


__all__ = ["LOSSES", "History", "accuracy_by_steps", "fit", "loss_function", "make_optimizer", "minimize", "predict"]
