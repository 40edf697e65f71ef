"""``Program.fit(..., backend="nengo_dl")``: the same network trained by ``nengo_dl.Simulator.fit``.

For users of the NengoDL stack: the netlist is built as a ``nengo.Network``
(:func:`spikec.backends.nengo.build.build_network`, spiking neurons), NengoDL
trains it with its rate counterparts (as :mod:`spikec.train` does with JAX),
and the trained connection weights and ensemble biases are read back into
the program's parameters.  NengoDL trains every connection weight and
ensemble bias; only those bound to a :func:`spikec.param` are kept.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from spikec.errors import RunError, SpikecError
from spikec.netlist import Convolution, Netlist
from spikec.netlist.params import bindings, read_params
from spikec.train.common import History, check_single_input, is_feedforward


def build_for_training(net: Netlist, seed: int = 0, dt: float = 1e-3, minibatch_size: int = 200,
                       lif_smoothing: float | None = 0.01, dtype: str = "float32"):
    """``(model, sim, connections)``: a NengoDL simulator of ``net`` ready to ``compile``/``fit``.

    ``connections[i]`` is the ``nengo.Connection`` of projection ``i`` (None
    for empty projections, which are not built).
    """
    from spikec.backends.common import InputFeed
    from spikec.backends.nengo.build import build_network, quiet_nengo_build
    from spikec.backends.nengo.run import by_index
    from spikec.backends.nengo_dl.backend import register_spikec_builders
    from spikec.backends.nengo_dl.compat import import_nengo_dl

    nengo_dl = import_nengo_dl()
    register_spikec_builders(nengo_dl)
    # Input nodes with an output (size_in 0), so that NengoDL feeds them data.
    feeds = [InputFeed(src) for src in net.inputs]
    model = build_network(net, "spiking", seed, inputs=by_index(net, feeds), count_spikes=False)
    with model.network:
        settings = {"stateful": False, "dtype": dtype}
        if lif_smoothing is not None:
            settings["lif_smoothing"] = lif_smoothing
        nengo_dl.configure_settings(**settings)
    built = iter(model.connections)
    connections = [None if p.transform.nnz == 0 else next(built) for p in net.projections]
    with quiet_nengo_build(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No GPU support detected")
        sim = nengo_dl.Simulator(model.network, dt=dt, seed=seed, minibatch_size=minibatch_size,
                                 progress_bar=False)
    return model, sim, connections


def _read_back(net: Netlist, model, sim, connections) -> dict[str, np.ndarray]:
    """The bound parameters' values from the (trained) NengoDL simulator."""
    out = {}
    for name, b in bindings(net).items():
        if b.kind == "weights":
            conn = connections[b.target]
            weights = np.asarray(sim.data[conn].weights, dtype=np.float64)
            tr = net.projections[b.target].transform
            if isinstance(tr, Convolution):
                weights = weights.reshape(tr.kernel.shape)
            out[name] = b.from_netlist(weights)
        else:
            ens = model.ensembles[b.target]
            out[name] = b.from_netlist(np.asarray(getattr(sim.data[ens], b.kind), dtype=np.float64))
    return out


def fit_nengo_dl(net: Netlist, x: np.ndarray, y: np.ndarray, *, loss: Any = "crossentropy", optimizer: Any = None,
                 epochs: int = 1, batch_size: int = 200, dt: float = 1e-3, seed: int = 0,
                 progress: bool | None = None, lif_smoothing: float | None = 0.01, dtype: str = "float32",
                 mode: str = "rate", validation_data: Any = None):
    """Train ``net``'s parameters with ``nengo_dl.Simulator.fit``; returns ``(values, History)``.

    ``loss``: ``"crossentropy"`` (integer labels; softmax cross-entropy on
    the output) or ``"mse"``, or a Keras loss; ``optimizer``: a Keras
    optimizer (default Adam, learning rate 1e-3).  Each example is one time
    step in rate mode (the network must be feed-forward without synapses).
    Only rate training (``mode="rate"``) and no ``validation_data``: both are
    refused with what to do instead.
    """
    if mode != "rate":
        raise RunError(f"fit(backend='nengo_dl') trains rate networks only; mode={mode!r} "
                       "(surrogate-gradient training of the spiking network) needs backend='jax'")
    if validation_data is not None:
        raise RunError("fit(backend='nengo_dl') does not take validation_data; evaluate afterwards with "
                       "prog.evaluate, or train with backend='jax'")
    import tensorflow as tf

    x = check_single_input(net, x)
    y = np.asarray(y)
    if not bindings(net):
        raise SpikecError(f"{net.name} has no trainable parameters: declare them with spikec.param(name, init)")
    if not is_feedforward(net):
        raise SpikecError("fit trains feed-forward networks without synapses; this network has synapses")
    batch_size = min(int(batch_size), len(x))
    n = (len(x) // batch_size) * batch_size  # NengoDL needs whole minibatches
    model, sim, connections = build_for_training(net, seed, dt, batch_size, lif_smoothing, dtype)
    if loss in ("crossentropy", "sparse_categorical_crossentropy"):
        keras_loss = tf.losses.SparseCategoricalCrossentropy(from_logits=True)
        targets = y[:n].reshape(n, 1, 1).astype(np.float32)
        metrics = ["accuracy"]
    elif loss == "mse":
        keras_loss = tf.losses.mse
        targets = y[:n].reshape(n, 1, -1).astype(np.float32)
        metrics = []
    else:
        keras_loss, targets, metrics = loss, y[:n].reshape(n, 1, -1), []
    probe = model.output_probes[0]
    data = {model.inputs[0]: x[:n].reshape(n, 1, -1)}
    history = History(backend="nengo_dl")
    with sim:
        sim.compile(optimizer=optimizer or tf.optimizers.Adam(1e-3), loss={probe: keras_loss},
                    metrics={probe: metrics} if metrics else None)
        for _ in range(epochs):
            start = time.perf_counter()
            result = sim.fit(data, {probe: targets}, epochs=1, verbose=1 if progress else 0, shuffle=True)
            history.epoch_time.append(time.perf_counter() - start)
            history.loss.append(float(result.history["loss"][-1]))
            accuracy = [v for k, v in result.history.items() if k.endswith("accuracy")]
            if accuracy:
                history.accuracy.append(float(accuracy[0][-1]))
        values = _read_back(net, model, sim, connections)
    # parameters NengoDL could not see (none so far) keep their values
    return {**read_params(net), **values}, history


__all__ = ["build_for_training", "fit_nengo_dl"]
