"""A traced program: its graph, its inputs, and how to run it."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from spikec.backends import RunResult, get_backend
from spikec.errors import RunError
from spikec.ir.graph import Graph, GraphStats
from spikec.trace.compile import InputSpec


class Program:
    """A compiled program, ready to inspect and run.

    Attributes
    ----------
    graph
        The dataflow graph that back ends run.
    traced_graph
        The graph exactly as traced, before any optimization.
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

    # -- inspection ---------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def stats(self) -> GraphStats:
        """Counts of ops, nodes, edges and nonlinear units of :attr:`graph`."""
        return self.graph.stats()

    def to_dot(self) -> str:
        """Graphviz DOT text of :attr:`graph`."""
        return self.graph.to_dot()

    def __str__(self) -> str:
        return str(self.graph)

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}{list(s.shape)}" for s in self.inputs)
        return f"<spikec.Program {self.name}({ins}): {len(self.graph)} nodes>"

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
            inputs: Mapping[str, Any] | None = None, **options: Any) -> RunResult:
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
        """
        if not (t > 0 and dt > 0) or not np.isfinite(t) or not np.isfinite(dt):
            raise RunError(f"run needs t > 0 and dt > 0, got t={t}, dt={dt}")
        if t < dt:
            raise RunError(f"t={t} is shorter than one time step dt={dt}")
        engine = get_backend(backend)
        mode = mode or engine.default_mode
        if mode not in engine.modes:
            raise RunError(f"backend {backend!r} has modes {', '.join(engine.modes)}; got mode={mode!r}")
        providers, batch_size = self.input_providers(args, dict(inputs or {}), batch=batch)
        return engine.run(self, providers, t=t, dt=dt, mode=mode, seed=seed, progress=progress,
                          batch_size=batch_size, **options)


InputFunction = Callable[[float], np.ndarray]
