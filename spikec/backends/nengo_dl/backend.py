"""The nengo_dl back end: the nengo network of a netlist on ``nengo_dl.Simulator``.

The network is exactly the one :func:`spikec.backends.nengo.build.build_network`
makes for ``backend="nengo"``; NengoDL builds it with nengo's own builder and
runs nengo's operators as TensorFlow ops.  Importing this module does not
import TensorFlow: that happens on the first run, through
:func:`spikec.backends.nengo_dl.compat.import_nengo_dl`.

What spikec adds to NengoDL (once, at the first run):

* a TensorFlow implementation of :class:`spikec.backends.nengo.neurons.NengoParabola`
  (``amplitude * relu(J)**2``), registered in
  ``nengo_dl.neuron_builders.SimNeuronsBuilder.TF_NEURON_IMPL``.  nengo builds
  ``nengo.RegularSpiking(base)`` (and the other rate-to-spikes wrappers) as two
  neuron operators, ``base`` (current -> rate) then the wrapper (rate ->
  spikes); NengoDL looks each one up by its exact type, so registering the
  base type is all that ``RegularSpiking(NengoParabola())`` needs.  Without
  it NengoDL would fall back to calling nengo's Python step through
  ``tf.numpy_function`` every step (and warn).
* nothing for :class:`~spikec.backends.nengo.build.SpikecSynapse` (Adam and other
  synapses nengo lacks): NengoDL's generic process builder runs its NumPy
  step through ``tf.numpy_function``, which is correct but leaves TensorFlow
  every step.

Inputs are not called from inside the simulation: the back end samples each
input function at ``t = dt .. steps * dt`` and feeds the arrays through
``sim.predict_on_batch({input_node: (minibatch, steps, size)})`` (NengoDL
replaces the output of nodes without inputs by such data).  Batched runs
(``batch=True``) use NengoDL's minibatch: the batch is run in chunks of
``minibatch_size`` elements (default: the whole batch, at most 64), each
chunk one ``predict_on_batch`` call that starts from the initial state.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from spikec.backends.common import InputFeed, NetlistBackend, RunSpec, input_functions
from spikec.backends.guards import replay
from spikec.backends.nengo.build import MODES, build_network, quiet_nengo_build
from spikec.backends.nengo.run import by_index, collect_result
from spikec.backends.result import RunResult
from spikec.errors import BackendError, RunError
from spikec.netlist import Netlist
from spikec.util.progress import show_progress

__all__ = ["NengoDLBackend", "register_spikec_builders"]

_REGISTERED = False


def register_spikec_builders(nengo_dl) -> None:
    """Teach NengoDL spikec's custom nengo neuron types (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    import tensorflow as tf
    from nengo_dl.neuron_builders import SimNeuronsBuilder, TFNeuronBuilder

    from spikec.backends.nengo.neurons import NengoParabola

    class ParabolaBuilder(TFNeuronBuilder):
        """``amplitude * relu(J)**2``: the rate of :class:`spikec.backends.nengo.neurons.NengoParabola`.

        ``TFNeuronBuilder.build_pre`` makes ``self.amplitude`` (None when every
        op's amplitude is 1, else a per-neuron constant).
        """

        def step(self, J, dt):
            r = tf.nn.relu(J)
            out = r * r
            if self.amplitude is not None:
                out *= self.amplitude
            return out

    SimNeuronsBuilder.TF_NEURON_IMPL.setdefault(NengoParabola, ParabolaBuilder)
    _REGISTERED = True


def _configure_threads(tf, threads: int | None) -> None:
    if threads is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # TensorFlow's runtime already started: the setting is fixed for the process.
        pass


class NengoDLBackend(NetlistBackend):
    """``backend="nengo_dl"``: the netlist's nengo network on NengoDL.

    Modes ``"spiking"`` (default) and ``"rate"``.  Options:

    ``dtype``
        ``"float64"`` (default, so that results agree with ``backend="nengo"``
        to rounding) or ``"float32"`` (NengoDL's own default; faster).
    ``minibatch_size``
        Batch elements simulated together (batched runs only; default the
        batch size, at most 64).
    ``unroll``
        NengoDL's ``unroll_simulation`` (default 1): steps per TensorFlow loop
        iteration; more builds slower and runs faster.
    ``threads``
        TensorFlow intra- and inter-op threads (default None: TensorFlow's
        choice); only takes effect before TensorFlow's runtime starts.

    ``RunResult.info`` has the same entries as for ``backend="nengo"``,
    ``range_violations`` included: the guards are checked after the run from
    probes on the guarded populations' input currents and the stateful
    nodes' values (:func:`guard_probes`), which hold ``steps x neurons``
    floats per batch element.
    """

    name = "nengo_dl"
    modes = MODES
    default_mode = "spiking"
    options = MappingProxyType({"dtype": "float64", "minibatch_size": None, "unroll": 1, "threads": None})

    def execute(self, netlist: Netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult:
        netlist = self.check_netlist(netlist)
        dtype, minibatch_size, unroll, threads = (spec.options[k] for k in ("dtype", "minibatch_size", "unroll",
                                                                             "threads"))
        steps, dt, mode, seed, batch_size = spec.steps, spec.dt, spec.mode, spec.seed, spec.batch_size
        if dtype not in ("float32", "float64"):
            raise RunError(f"backend 'nengo_dl': dtype must be 'float32' or 'float64', got {dtype!r}")
        if int(unroll) < 1:
            raise RunError(f"backend 'nengo_dl': unroll must be >= 1, got {unroll!r}")
        from spikec.backends.nengo_dl.compat import import_nengo_dl

        table = input_functions(netlist, inputs, batch_size)
        elements = len(table)
        if minibatch_size is None:
            minibatch_size = min(elements, 64)
        if not (isinstance(minibatch_size, int) and minibatch_size >= 1):
            raise RunError(f"backend 'nengo_dl': minibatch_size must be a positive int, got {minibatch_size!r}")
        minibatch_size = min(minibatch_size, elements)
        unroll = int(unroll)
        sim_steps = unroll * math.ceil(steps / unroll)

        nengo_dl = import_nengo_dl()
        import tensorflow as tf

        _configure_threads(tf, threads)
        register_spikec_builders(nengo_dl)

        start = time.perf_counter()
        feeds = [InputFeed(src) for src in netlist.inputs]
        model = build_network(netlist, mode, seed, inputs=by_index(netlist, feeds))
        with model.network:
            nengo_dl.configure_settings(dtype=dtype, inference_only=True)
            watched = guard_probes(model)
        bar = show_progress(spec.progress, steps * elements)
        try:
            with quiet_nengo_build(), warnings.catch_warnings():
                # Said on every build with tensorflow-cpu; not news to a CPU user.
                warnings.filterwarnings("ignore", message="No GPU support detected")
                sim = nengo_dl.Simulator(model.network, dt=dt, seed=seed, minibatch_size=minibatch_size,
                                         unroll_simulation=unroll, progress_bar=bar)
        except Exception as exc:  # nengo BuildError, TensorFlow errors
            raise BackendError(f"nengo_dl could not build {netlist.name}: {type(exc).__name__}: {exc}") from exc
        build_time = time.perf_counter() - start

        probes = list(model.output_probes)
        if model.counter_probe is not None:
            probes.append(model.counter_probe)
        probes += list(watched.values())
        collected: list[list[np.ndarray]] = [[] for _ in probes]
        start = time.perf_counter()
        with sim:
            for first in range(0, elements, minibatch_size):
                chunk = table[first:first + minibatch_size]
                data = {}
                for j, (node, feed) in enumerate(zip(model.inputs, feeds)):
                    arr = np.zeros((minibatch_size, sim_steps, feed.size))
                    for b, row in enumerate(chunk):
                        feed.fn = row[j]
                        arr[b, :steps] = feed.sample(steps, dt)
                    if len(chunk) < minibatch_size:  # pad the last chunk
                        arr[len(chunk):] = arr[len(chunk) - 1]
                    data[node] = arr
                try:
                    if data:
                        result = sim.predict_on_batch(data)
                    else:
                        result = sim.predict_on_batch(n_steps=sim_steps)
                except Exception as exc:
                    raise BackendError(f"nengo_dl failed to run {netlist.name}: {type(exc).__name__}: {exc}") from exc
                for store, probe in zip(collected, probes):
                    store.append(np.asarray(result[probe], dtype=np.float64)[:len(chunk), :steps])
        run_time = time.perf_counter() - start

        stacked = [np.concatenate(store, axis=0) for store in collected]
        records = dict(zip(watched, stacked[len(stacked) - len(watched):]))
        del stacked[len(stacked) - len(watched):]
        counter = stacked.pop() if model.counter_probe is not None else None
        guard_state = replay(netlist, mode, dt, records, batch=elements)
        if batch_size is None:
            stacked = [s[0] for s in stacked]
            counter = None if counter is None else counter[0]
        info = {"build_time": build_time, "run_time": run_time, "seed": seed, "dtype": dtype,
                "minibatch_size": minibatch_size, "unroll": unroll}
        return collect_result(model, spec, stacked, counter, backend=self.name, info=info, guard_state=guard_state)


def guard_probes(model) -> dict[str, Any]:
    """Probes for the run-time guards, checked after the run (:func:`spikec.backends.guards.replay`): each
    guarded population's input currents and each stateful sum node's values, every step.

    NengoDL runs the network as TensorFlow ops, so the per-step Python node
    of ``backend="nengo"`` would leave TensorFlow every step (and cannot
    read the simulator's signals); probes stay inside the graph.  Call in
    ``model.network``'s context.
    """
    import nengo

    probes = {pop.name: nengo.Probe(model.ensembles[pop.name].neurons, "input", synapse=None,
                                    label=f"{pop.name}.guard")
              for pop in model.netlist.populations if pop.guard is not None}
    probes.update({sn.name: nengo.Probe(model.objects[sn.name], synapse=None, label=f"{sn.name}.guard")
                   for sn in model.netlist.nodes if sn.synapse is not None})
    return probes
