"""A traced program: its graph, its inputs, and how to run it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from spikec.backends import RunResult, get_backend
from spikec.backends.common import check_options, steps_of
from spikec.backends.guards import check_on_range, enforce
from spikec.backends.result import filter_outputs
from spikec.errors import RunError, SpikecError
from spikec.ir.domain import Domain
from spikec.ir.graph import Graph, GraphStats
from spikec.lower import LowerOptions, lower
from spikec.lower.estimate import Estimate
from spikec.netlist import Netlist, NetlistStats
from spikec.passes import prepare_for_lowering
from spikec.trace.compile import InputSpec


def _check_fit_options(backend: str, trainer: Callable, options: Mapping[str, Any]) -> None:
    """A clear error for keyword arguments that the back end's ``trainer`` does not take.

    A trainer (:mod:`spikec.train.registry`) declares its options as the
    keyword-only parameters of its signature.
    """
    import inspect

    shared = set(inspect.signature(Program.fit).parameters)
    accepted = [name for name, p in inspect.signature(trainer).parameters.items()
                if p.kind is p.KEYWORD_ONLY and name not in shared]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise RunError(f"fit(backend={backend!r}) does not take {', '.join(unknown)}; besides the common arguments "
                       f"it takes {', '.join(accepted) or 'nothing else'}")


class Program:
    """A compiled program, ready to inspect and run.

    Attributes
    ----------
    graph
        The optimized dataflow graph that back ends run.
    traced_graph, graph_before
        The graph exactly as traced, before any optimization pass.
    pass_log
        What each optimization pass did: the graph after it and statistics
        (:meth:`pass_report` prints them as a table).
    inputs
        One :class:`~spikec.trace.compile.InputSpec` per input signal, in
        argument order (names, shapes, example values).
    """

    def __init__(self, graph: Graph, inputs: Sequence[InputSpec], structure: str, *, name: str,
                 options: Mapping[str, Any] | None = None):
        self.traced_graph = graph
        self.graph = graph
        self.inputs = tuple(inputs)
        self.structure = structure
        self.name = name
        self.options = dict(options or {})
        unknown = set(self.options) - LowerOptions.names() - PROGRAM_OPTIONS
        if unknown:
            raise SpikecError(f"unknown compile options: {', '.join(sorted(unknown))}; lowering options are "
                              f"{', '.join(sorted(LowerOptions.names()))}")
        # Netlists by (lowering options, domain): the same options tuned for another domain are another network.
        self._netlists: dict[tuple[LowerOptions, Domain], Netlist] = {}
        self._domain = Domain(tuple(spec.domain() for spec in self.inputs))
        # Trained parameter values (name -> array), written into every netlist lower() returns.
        self._trained: dict[str, np.ndarray] = {}
        self._trained_netlists: dict[tuple[LowerOptions, Domain], Netlist] = {}
        # The last fit's training inputs: trained netlists' guards are re-measured on them (spikec/train/guards.py).
        self._fit_inputs: np.ndarray | None = None
        # A program too large to build fails before the passes expand its products (where it would run out of
        # memory): a lower bound of its neurons from the traced shapes alone.
        from spikec.lower.estimate import check_size, traced_neurons

        compile_options = self.lower_options()
        check_size(graph, traced_neurons(graph, compile_options), compile_options, what="this program")
        #: The :class:`~spikec.train.autotune.AutotuneReport` of the last :meth:`autotune` (None: not autotuned).
        self.autotuned = None
        # ---- passes (spikec/passes): the optimized graph and the log of each pass ----
        from spikec.passes import PassManager

        self.graph_before = graph  # as traced (the same object as traced_graph)
        self.graph, self.pass_log = PassManager(self.options.get("passes")).run(graph)
        # ---- end passes ----

    # -- inspection ---------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def stats(self, lowered: bool = True) -> ProgramStats:
        """Counts of ops, nodes, edges and nonlinear units of :attr:`graph`, and,
        with ``lowered`` (the default), neurons, populations, projections,
        nonzero weights and synapse kinds of :attr:`netlist`."""
        return ProgramStats(self.graph.stats(), self.netlist.stats() if lowered else None, self.domain)

    def estimate(self, **options: Any) -> Estimate:
        """The size of the network these lowering options give, from shapes alone, without lowering.

        Neurons, populations and nonzero weights are exactly the netlist's
        (weights counted by the lowering without its ideal simulation, for a
        program within ``max_neurons``); memory per back end (bytes of weights
        and neuron state) approximate (:class:`spikec.lower.estimate.Estimate`).
        :meth:`lower` refuses a program over ``max_neurons`` the same way.
        """
        from spikec.lower.estimate import estimate

        return estimate(self.lowering_graph, self.lower_options(**options), domain=self.domain)

    def to_dot(self) -> str:
        """Graphviz DOT text of :attr:`graph`."""
        return self.graph.to_dot()

    def __str__(self) -> str:
        chosen = "" if self.autotuned is None else f"\nlowering options chosen by autotune: {self.autotuned.summary()}"
        return f"{self.graph}\n{self.domain.describe()}{chosen}"

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}{list(s.shape)}" for s in self.inputs)
        return f"<spikec.Program {self.name}({ins}): {len(self.graph)} nodes>"

    # ---- passes (spikec/passes) ----
    def pass_report(self, lowered: bool = True) -> str:
        """What each pass did, as a table.

        With ``lowered`` (the default) the graph after every pass is also
        lowered, filling the neurons, projections and nonzero-weights columns
        (a pass that leaves a graph the lowering cannot take shows ``-``).
        """
        if lowered:
            providers = [spec.provider() for spec in self.inputs]
            options = self.lower_options()
            calibration = self.calibration_inputs()

            def measure(graph: Graph) -> dict[str, int]:
                stats = lower(prepare_for_lowering(graph), providers, options, more_examples=calibration,
                              domain=self.domain).stats()
                return {"neurons": stats.neurons, "projections": stats.projections,
                        "nonzero_weights": stats.nonzero_weights}

            self.pass_log.annotate(measure)
        return self.pass_log.table()
    # ---- end passes ----

    # -- lowering -------------------------------------------------------------------------
    def lower_options(self, **overrides: Any) -> LowerOptions:
        """Lowering options: spikec's defaults, then compile options, then ``overrides``."""
        merged = {k: v for k, v in self.options.items() if k in LowerOptions.names()}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return LowerOptions.from_mapping(merged)

    @functools.cached_property
    def lowering_graph(self) -> Graph:
        """:attr:`graph` as the lowering takes it (:func:`spikec.passes.prepare_for_lowering`), prepared
        once: the default pipeline already leaves it so, and user-chosen ``passes`` may not."""
        return prepare_for_lowering(self.graph)

    def lower(self, **options: Any) -> Netlist:
        """The netlist for these lowering options (see :class:`spikec.lower.LowerOptions`); cached."""
        key = (self.lower_options(**options), self.domain)
        if key not in self._netlists:
            self._netlists[key] = lower(self.lowering_graph, [spec.provider() for spec in self.inputs], key[0],
                                        more_examples=self.calibration_inputs(), domain=self.domain)
        if not self._trained:
            return self._netlists[key]
        if key not in self._trained_netlists:
            from spikec.netlist.params import write_params

            net = write_params(self._netlists[key], self._trained)
            if self._fit_inputs is not None:
                from spikec.train.guards import remeasure_guards

                net = remeasure_guards(net, self._fit_inputs)
            else:
                from spikec.train.guards import drop_stale_guards

                net = drop_stale_guards(net)
            self._trained_netlists[key] = net
        return self._trained_netlists[key]

    # -- the domain: which inputs the units are tuned for ------------------------------------
    @property
    def domain(self) -> Domain:
        """The values each input may take (:class:`spikec.ir.domain.Domain`); what every netlist is tuned for.

        Declared with ``spikec.Input(shape, range=...)`` or ``sample=...``,
        :meth:`tune_for` or :meth:`set_domain`; without any, each input's
        domain is its traced example's neighbourhood.
        """
        return self._domain

    def set_domain(self, **domains: Any) -> Program:
        """Declare which values inputs may take, by name; returns ``self``.

        Each value is ``(lo, hi)`` (a box: scalars or arrays broadcastable to
        the input's shape), a list of calibration examples (arrays or
        functions of time), a sampler ``fn(rng) -> array`` drawn 8 times from
        a seeded ``numpy.random.Generator``, a :class:`spikec.Input` that
        declares ``range`` or ``sample`` (and its ``count``), or ``None``
        (back to the traced example's neighbourhood).  Netlists are lowered
        again for the new domain.
        """
        changes = {}
        for name, value in domains.items():
            if name not in self.input_names:
                raise SpikecError(f"set_domain: {self.name} has no input {name!r}; inputs: "
                                  f"{', '.join(self.input_names)}")
            changes[name] = self.inputs[self.input_names.index(name)].domain_of(value)
        self._domain = self._domain.updated(changes)
        return self

    def calibration_inputs(self) -> list[list[Any]]:
        """The domain's calibration runs beyond the traced example (samples, sampler draws, points of boxes),
        as input functions of time: what value ranges that must be measured are measured over."""
        return [[spec.provider(value) for spec, value in zip(self.inputs, run)]
                for run in self.domain.calibration()]

    def to_nir(self, *, spike: str = "impulse", dt: float | None = None, floor: str = "refuse",
               refractory: str = "refuse", fold: bool = True, pool: str = "sum", relu: str = "refuse",
               bias: str = "leak", membrane: str = "unit", **options: Any):
        """This program's netlist (with its current parameters) as a ``nir.NIRGraph``; ``nir.write(path,
        prog.to_nir())`` saves it.  ``spike``, ``dt``, ``floor``, ``refractory``, ``fold``, ``pool``, ``relu``,
        ``bias``, ``membrane``: see :func:`spikec.export.nir.export_nir`; other ``options`` choose the lowering."""
        from spikec.export.nir import export_nir

        return export_nir(self.lower(**options), spike=spike, dt=dt, floor=floor, refractory=refractory,
                          fold=fold, pool=pool, relu=relu, bias=bias, membrane=membrane)

    # -- parameters and training (spikec/netlist/params.py, spikec/train/) -------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Current value of every :func:`spikec.param` (trained or loaded values, else the initial ones)."""
        from spikec.netlist.params import read_params

        return read_params(self.netlist)

    def set_params(self, values: Mapping[str, Any], *, inputs: Any = None) -> None:
        """Replace parameter values (name -> array); every later run and lowering uses them.

        The run-time guards were tuned for the old values.  With ``inputs``
        (examples ``(n, *input_shape)`` of a one-input program, like
        :meth:`fit`'s ``x``) they are re-measured on them, as after ``fit``;
        without, on the last ``fit``'s inputs if there was one; otherwise they
        are taken off and every run says so with a
        :class:`spikec.RangeWarning` (see :mod:`spikec.train.guards`).
        """
        from spikec.netlist.params import write_params

        current = self._netlists.get((self.lower_options(), self.domain)) or self.netlist
        write_params(current, values)  # checks names and shapes
        if inputs is not None:
            from spikec.train.guards import measured_examples

            if len(self.inputs) != 1:
                raise SpikecError(f"set_params(inputs=...): guards are re-measured on examples of one input; "
                                  f"{self.name} has {len(self.inputs)} ({', '.join(self.input_names)})")
            self._fit_inputs = measured_examples(inputs)
        self._trained = {**self._trained, **{k: np.asarray(v, dtype=np.float64) for k, v in values.items()}}
        self._trained_netlists.clear()

    def save_params(self, path: Any) -> None:
        """Save the current parameter values to an ``.npz`` file."""
        from spikec.netlist.params import save_params

        save_params(path, self.params)

    def load_params(self, path: Any, *, inputs: Any = None) -> None:
        """Load parameter values saved by :meth:`save_params` (checked against this program's parameters);
        ``inputs``: examples to re-measure the run-time guards on, as in :meth:`set_params`."""
        from spikec.netlist.params import load_params

        self.set_params(load_params(path), inputs=inputs)

    def fit(self, x: Any, y: Any, *, loss: Any = "crossentropy", optimizer: Any = None, epochs: int = 1,
            batch_size: int = 200, backend: str = "jax", dt: float = 1e-3, seed: int = 0,
            validation_data: Any = None, progress: bool | None = None, **options: Any) -> Any:
        """Train the program's parameters on examples ``x`` (``(n, *input_shape)``) and targets ``y``.

        Rate training, spiking inference (Hunsberger & Eliasmith; what
        NengoDL does): neurons run as their rate counterparts (LIF as
        soft-LIF, ``soft_lif`` smoothing, default 0.01) while training.
        ``loss``: ``"crossentropy"`` (integer labels, softmax over the
        output), ``"mse"`` or a function ``(outputs, targets) -> scalar``;
        ``optimizer``: an optax optimizer (default Adam, learning rate
        1e-3).  ``backend="jax"`` trains with JAX (:mod:`spikec.train`);
        ``backend="nengo_dl"`` builds the network for NengoDL and trains it
        with ``nengo_dl.Simulator.fit`` (``optimizer`` is then a Keras
        optimizer).  The trained values replace the program's parameters, and
        the run-time guards are re-measured on ``x`` with them (the ranges the
        lowering tuned for no longer describe a trained network; see
        :mod:`spikec.train.guards`).
        Returns a :class:`spikec.train.History`.

        ``mode="spiking"`` (JAX only) trains the spiking network itself over
        ``n_steps`` steps through surrogate gradients: a few such epochs after
        rate training recover the accuracy that a short spiking window loses
        (see :func:`spikec.train.fit`).
        """
        from spikec.train.registry import get_trainer

        trainer = get_trainer(backend)
        _check_fit_options(backend, trainer, options)
        values, history = trainer(self.netlist, x, y, loss=loss, optimizer=optimizer, epochs=epochs,
                                  batch_size=batch_size, dt=dt, seed=seed, progress=progress,
                                  validation_data=validation_data, **options)
        from spikec.train.guards import measured_examples

        self._fit_inputs = measured_examples(x)
        self.set_params(values)
        return history

    def predict(self, x: Any, *, n_steps: int = 30, mode: str = "spiking", dt: float = 1e-3, batch_size: int = 500,
                seed: int = 0, progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Outputs ``(n, n_steps, *shape)`` and spikes per example ``(n,)`` for examples ``x`` held
        constant for ``n_steps`` steps (JAX, float32; see :func:`spikec.train.predict`)."""
        from spikec.train import predict

        return predict(self.netlist, x, n_steps=n_steps, mode=mode, dt=dt, batch_size=batch_size, seed=seed,
                       progress=progress)

    def evaluate(self, x: Any, y: Any, *, n_steps: int = 30, mode: str = "spiking", dt: float = 1e-3,
                 batch_size: int = 500, seed: int = 0, progress: bool | None = None) -> dict[str, Any]:
        """Classification accuracy after each of ``1..n_steps`` steps, and spikes per example.

        Returns ``{"accuracy": (n_steps,) array (reading the output summed
        over the first k steps), "spikes_per_example": float, "n_steps": int}``.
        """
        from spikec.train import accuracy_by_steps

        outputs, spikes = self.predict(x, n_steps=n_steps, mode=mode, dt=dt, batch_size=batch_size, seed=seed,
                                       progress=progress)
        return {"accuracy": accuracy_by_steps(outputs, y), "spikes_per_example": float(np.mean(spikes)),
                "n_steps": int(n_steps)}

    def tune_for(self, *examples: Any) -> Program:
        """Add calibration examples to the domain: the units are tuned to these inputs as well; returns ``self``.

        Each ``example`` is the program's inputs as a tuple in argument order,
        a mapping by name (omitted inputs take their traced examples), or,
        for a one-input program, the value itself (an array or a function of
        time).  The units then cover the union of the ranges of the traced
        example and every calibration example (with any box or sampler of
        the domain).  Netlists are lowered again for the new domain.
        """
        rows = []
        for example in examples:
            if isinstance(example, Mapping):
                args, kwargs = (), example
            elif isinstance(example, tuple):
                args, kwargs = example, {}
            elif len(self.inputs) == 1:
                args, kwargs = (example,), {}
            else:
                raise SpikecError(f"tune_for: {self.name} has {len(self.inputs)} inputs "
                                  f"({', '.join(self.input_names)}); give each example as a tuple or a mapping")
            self.input_providers(args, kwargs)  # checks names and shapes
            given = {**dict(zip(self.input_names, args)), **kwargs}
            rows.append([given.get(spec.name, spec.example) for spec in self.inputs])
        self._domain = self._domain.updated({spec.name: self._domain[spec.name].with_samples(*(r[i] for r in rows))
                                             for i, spec in enumerate(self.inputs)})
        return self

    def with_options(self, **options: Any) -> Program:
        """This program compiled with other compile options (lowering options, ``passes``): a new Program with
        the same traced graph and domain; ``self`` is left as it is."""
        other = Program(self.traced_graph, self.inputs, self.structure, name=self.name,
                        options={**self.options, **options})
        other._domain = self._domain
        return other

    def autotune(self, *, t: float, target: float = 0.01, synapse: Any = 0.02, backend: str = "jax",
                 reference: str = "trajectory", candidates: Sequence[Mapping[str, Any]] | None = None,
                 strategy: str = "coordinate", require: float = 0.8, **run_options: Any):
        """Let the compiler choose lowering options on the domain's calibration inputs; returns the report.

        Every candidate option set is lowered for this program's domain and run in spiking mode for
        ``t`` seconds on the traced example and every calibration input
        (``tune_for`` examples, sampler draws, points of declared boxes;
        never anything else). Its output, read through ``synapse``, is
        compared with the ideal run of the same inputs, at every step
        (``reference="trajectory"``) or with the ideal run's last value
        (``"final"``, for programs whose answer is where they settle). The
        chosen set keeps at least ``require`` of the inputs within ``target``
        NRMSE to the end of the run for the fewest median spikes (if none
        does, the one that keeps the most). The candidates: ``candidates``
        if given, else the options of :data:`spikec.train.autotune.SEARCH_SPACE`
        (``unit_synapse``, ``product_radius``, ``parabola_pairs``) and the
        program with and without its optional rewrites, walked one option at
        a time from the defaults (``strategy="coordinate"``) or crossed
        (``"grid"``). The program then has those compile options (and
        graph, when a rewrite was left out or added), so later
        runs, exports and ``to_nengo`` use them; ``print(report)`` shows every
        candidate. Other ``run_options`` (``dt``, ``seed``, ``dtype``...) go to
        each run.
        """
        from spikec.train.autotune import autotune

        if self._trained:
            raise SpikecError("autotune: this program's parameters were trained; autotune before fit (each option "
                              "set is another network, and the trained values belong to one)")
        report = autotune(self, t=t, target=target, synapse=synapse, backend=backend, reference=reference,
                          candidates=candidates, strategy=strategy, require=require, **run_options)
        chosen = self.with_options(**report.chosen)
        self.options, self.graph, self.pass_log = chosen.options, chosen.graph, chosen.pass_log
        self._netlists.clear()
        self.__dict__.pop("lowering_graph", None)  # the cached property, for the graph just chosen
        self.autotuned = report
        return report

    @property
    def netlist(self) -> Netlist:
        """The netlist with the default lowering options: neurons, weights and synapses."""
        return self.lower()

    def mode_options(self, mode: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Lowering options for a run in ``mode``.

        Spiking runs filter the spikes that one nonlinear unit sends another
        (``unit_synapse``, :data:`SPIKING_UNIT_SYNAPSE` seconds, nengo's usual
        5 ms) unless the compile or run options choose; rate runs keep units
        instantaneous, which is exact.
        """
        options = dict(options)
        if mode == "spiking" and "unit_synapse" not in options and "unit_synapse" not in self.options:
            options["unit_synapse"] = SPIKING_UNIT_SYNAPSE
        return options

    def to_nengo(self, mode: str = "spiking", seed: int | None = None, dt: float = 1e-3, *, probe: Any = False,
                 guards: bool = True, **options: Any):
        """This program as a :class:`~spikec.backends.nengo.network.SpikecNetwork` (a ``nengo.Network``).

        ``.inputs[arg]`` / ``.outputs["out0"]`` are nodes of the arrays' sizes
        (flattened); ``seed=None`` inherits the parent model's nengo seed (the
        lowering then uses seed 0); ``probe`` adds output probes (True, or a
        synapse to filter them); ``dt`` is the step the network is tuned for
        (run the simulator with it); other options are lowering options.
        """
        from spikec.backends.nengo.network import to_nengo

        netlist = self.lower(dt=dt, seed=0 if seed is None else seed, **self.mode_options(mode, options))
        return to_nengo(netlist, mode=mode, seed=seed, input_names=self.input_names, probe=probe, guards=guards)

    # -- running ----------------------------------------------------------------------
    def input_providers(self, args: Sequence[Any], kwargs: Mapping[str, Any],
                        batch: bool = False) -> tuple[list, int | None]:
        """Functions of time for every input, from run() arguments or the traced examples."""
        if len(args) > len(self.inputs):
            raise RunError(f"{self.name} has {len(self.inputs)} input signals "
                           f"({', '.join(self.input_names)}), got {len(args)} positional values")
        values: dict[str, Any] = dict(zip(self.input_names, args))
        for key, value in kwargs.items():
            if key not in self.input_names:
                raise RunError(f"{self.name} has no input signal {key!r}; inputs: {', '.join(self.input_names)}")
            if key in values:
                raise RunError(f"input {key!r} given twice")
            values[key] = value
        if not batch:
            return [spec.provider(values.get(spec.name)) for spec in self.inputs], None
        sizes = {len(v) for k, v in values.items() if not callable(v)}
        if len(sizes) != 1:
            raise RunError("batch=True needs every given input to have the same leading batch size; "
                           f"got sizes {sorted(sizes) or 'none'}")
        size = sizes.pop()
        providers = []
        for spec in self.inputs:
            value = values.get(spec.name)
            providers.append([spec.provider(None if value is None else value[b]) for b in range(size)])
        return providers, size

    def run(self, *args: Any, t: float = 1.0, dt: float = 1e-3, backend: str = "numpy", mode: str | None = None,
            seed: int | None = 0, progress: bool | None = None, batch: bool = False,
            inputs: Mapping[str, Any] | None = None, synapse: Any = None, on_range: str = "warn",
            **options: Any) -> RunResult:
        """Simulate the program for ``t`` seconds with time step ``dt``.

        Parameters
        ----------
        *args, inputs
            New values for the input signals (positionally in argument order,
            or by name in ``inputs``); omitted inputs keep their traced
            examples.  A value may be an array of the traced shape (held
            constant), a function of time, or a :class:`spikec.Input`.
        backend
            ``"numpy"`` (the ideal reference); more back ends register later.
        mode
            The back end's simulation mode (``"ideal"`` for ``numpy``).
        seed
            Seed for anything random in the back end.
        progress
            Show a progress bar (None: only for long runs on a terminal).
        batch
            Inputs carry a leading batch axis; outputs become
            ``(batch, steps, *shape)``.
        synapse
            Filter the recorded outputs through this synapse (a float is a
            lowpass time constant): spiking outputs are read through it.
            Applied the same way on every back end; ``None`` records raw
            values.  Sample ``k`` includes step ``k``'s input (nengo's
            ``Synapse.filt``), one step ahead of a ``nengo.Probe`` with the
            same synapse, whose sample ``k + 1`` it equals.
        on_range
            What to do when a unit's input leaves the range it was tuned for
            (``result.info["range_violations"]`` lists them per op):
            ``"warn"`` (a :class:`spikec.RangeWarning`, the default),
            ``"error"`` (raise :class:`spikec.RangeError`) or ``"ignore"``.
            Non-finite values always raise :class:`spikec.RunError`.
        **options
            The back end's own options (its ``options`` table: ``dtype`` for
            ``jax``...) and lowering options for neural modes (``max_rate``,
            ``n_neurons``...; see :class:`spikec.lower.LowerOptions`).  The
            program lowers itself once with the lowering options and hands the
            back end the netlist; ``mode="ideal"`` runs the graph itself.
        """
        if not (t > 0 and dt > 0) or not np.isfinite(t) or not np.isfinite(dt):
            raise RunError(f"run needs t > 0 and dt > 0, got t={t}, dt={dt}")
        if t < dt:
            raise RunError(f"t={t} is shorter than one time step dt={dt}")
        check_on_range(on_range)
        engine = get_backend(backend)
        mode = mode or engine.default_mode
        engine.check_mode(mode)
        providers, batch_size = self.input_providers(args, dict(inputs or {}), batch=batch)
        options = self.mode_options(mode, options)
        if mode in engine.graph_modes:
            if options:
                raise RunError(f"backend {backend!r} in {mode} mode takes no options; got {', '.join(sorted(options))}")
            result = run_graph(self.graph, providers, steps_of(t, dt), dt, mode=mode, backend=engine.name,
                               batch_size=batch_size, progress=progress)
        else:
            # Options the back end does not declare are lowering options; check_options refuses the rest.
            own = {k: v for k, v in options.items() if k in engine.options}
            lowering = {k: v for k, v in options.items() if k not in engine.options}
            check_options(engine.name, lowering, engine.options, LowerOptions.names())
            spec = engine.spec(t=t, dt=dt, mode=mode, seed=seed, progress=progress, batch_size=batch_size,
                               options=own)
            from spikec.train.guards import warn_stale_guards

            netlist = self.lower(dt=dt, seed=seed, **lowering)
            result = engine.execute(netlist, providers, spec)
            enforce(result.info.get("range_violations") or [], on_range)
            warn_stale_guards(netlist, on_range, self.name)
        return filter_outputs(result, synapse) if synapse is not None else result


def run_graph(graph: Graph, inputs: Sequence[Any], steps: int, dt: float, *, mode: str, backend: str,
              batch_size: int | None = None, progress: bool | None = None) -> RunResult:
    """The ideal reference: ``graph`` interpreted step by step (:func:`spikec.ir.interpret.simulate_graph`).

    It needs the program's graph, not a netlist, so the program runs it for
    the back ends that offer it (their ``graph_modes``).  No neurons: the
    spike counts are zeros.
    """
    from spikec.ir.interpret import simulate_graph

    if batch_size is None:
        outputs = simulate_graph(graph, inputs, steps, dt, progress)
    else:
        runs = [simulate_graph(graph, [fns[b] for fns in inputs], steps, dt, progress) for b in range(batch_size)]
        outputs = [np.stack([run[i] for run in runs]) for i in range(len(graph.outputs))]
    shape = (steps,) if batch_size is None else (batch_size, steps)
    return RunResult(t=dt * np.arange(1, steps + 1), outputs=tuple(outputs), backend=backend, mode=mode, dt=dt,
                     spikes=np.zeros(shape, dtype=np.int64), batched=batch_size is not None)


# Lowpass (s) between nonlinear units in spiking runs (see Program.mode_options).
SPIKING_UNIT_SYNAPSE = 0.005

# Compile options that are not lowering options.
PROGRAM_OPTIONS = {"passes"}


class ProgramStats:
    """Graph statistics and, once lowered, netlist statistics, printed as one table, with the domain's line."""

    def __init__(self, graph: GraphStats, netlist: NetlistStats | None, domain: Domain | None = None):
        self.graph = graph
        self.netlist = netlist
        self.domain = domain

    def __getattr__(self, name: str) -> Any:
        for part in (self.__dict__.get("graph"), self.__dict__.get("netlist")):
            if part is not None and hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(name)

    def as_dict(self) -> dict[str, Any]:
        out = self.graph.as_dict()
        if self.netlist is not None:
            out.update(self.netlist.as_dict())
        return out

    def __str__(self) -> str:
        text = str(self.graph)
        if self.netlist is not None:
            text += "\n" + str(self.netlist)
        if self.domain is not None:
            text += "\n" + self.domain.describe()
        return text


InputFunction = Callable[[float], np.ndarray]
