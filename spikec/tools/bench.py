"""Spikes versus accuracy: run a compiled program against a NumPy reference.

:func:`spikes_vs_accuracy` runs a program (spiking by default), reads its
output through a readout filter, and records the NRMSE against a reference
answer at every step together with the cumulative spike count.  From those
two series it reports the spikes needed to reach each NRMSE level *for good*
(:func:`spikec.tools.metrics.spikes_to_reach`), and it can sweep one parameter
(``max_rate``, ``n_neurons``, ``range_margin``, ``dt``, the readout
``synapse``, ``seed``, ``t``, or a static argument of the compiled function
such as a learning rate) into a table::

    import numpy as np, spikec
    from spikec.tools.bench import spikes_vs_accuracy

    A = np.random.RandomState(0).randn(2, 2)
    res = spikes_vs_accuracy(inverse, (A,), reference=np.linalg.inv, t=1.0,
                             sweep={"max_rate": [250, 500, 1000]})
    print(res)                 # one row per swept value
    res.plot("inverse.png")    # NRMSE against cumulative spikes, log-log

The same is ``spikec bench FILE.py:FUNC --arg A=2x2 --reference numpy.linalg.inv
--sweep max_rate=250,500,1000`` on the command line.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from spikec.errors import SpikecError
from spikec.tools.metrics import nrmse, spikes_to_reach

LEVELS = (0.1, 0.05, 0.01, 0.005)

# Parameters of Program.run that a sweep may set (everything else is a
# lowering option, or a static argument of the compiled function).
RUN_PARAMETERS = {"t", "dt", "backend", "mode", "seed", "synapse"}


@dataclasses.dataclass
class BenchRow:
    """One run: the swept value, costs, and the NRMSE over time.

    ``errors`` is the NRMSE at every step of the output read through the
    readout filter (``synapse``); ``raw_errors`` of the unfiltered output;
    ``spikes`` the cumulative spike count per step.
    """

    label: str
    value: Any
    neurons: int
    t: np.ndarray
    spikes: np.ndarray
    errors: np.ndarray
    raw_errors: np.ndarray
    levels: tuple[float, ...]
    build_time: float
    run_time: float
    final: np.ndarray | None = None

    @property
    def total_spikes(self) -> int:
        """Spikes over the whole run (0 when nothing spikes)."""
        return int(self.spikes[-1]) if self.spikes.size else 0

    @property
    def final_nrmse(self) -> float:
        """The NRMSE through the readout filter at the last step."""
        return float(self.errors[-1])

    @property
    def final_raw_nrmse(self) -> float:
        """The NRMSE of the unfiltered output at the last step."""
        return float(self.raw_errors[-1])

    @property
    def best_nrmse(self) -> float:
        """The lowest filtered NRMSE over the run."""
        return float(np.nanmin(self.errors))

    def spikes_to(self, level: float) -> float:
        """Cumulative spikes when the (filtered) NRMSE falls to ``level`` for good; nan if never."""
        return spikes_to_reach(self.errors, self.spikes, level)

    def time_to(self, level: float) -> float:
        """Simulated time when the (filtered) NRMSE falls to ``level`` for good; nan if never."""
        return spikes_to_reach(self.errors, self.t, level)

    def as_dict(self) -> dict[str, Any]:
        """The row's numbers as plain JSON-ready values (what ``spikec bench --json`` prints)."""
        out = {"label": self.label, "value": _plain(self.value), "neurons": self.neurons,
               "spikes": self.total_spikes, "final_nrmse": self.final_nrmse,
               "final_raw_nrmse": self.final_raw_nrmse, "best_nrmse": self.best_nrmse,
               "build_time": self.build_time, "run_time": self.run_time}
        for level in self.levels:
            out[f"spikes_to_{level:g}"] = self.spikes_to(level)
            out[f"time_to_{level:g}"] = self.time_to(level)
        return out


@dataclasses.dataclass
class BenchResult:
    """Rows of :func:`spikes_vs_accuracy`; ``print`` it for a table, ``plot`` it for a figure."""

    name: str
    parameter: str | None
    rows: list[BenchRow]
    levels: tuple[float, ...]
    settings: dict[str, Any]

    def __getitem__(self, index: int) -> BenchRow:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every row as :meth:`BenchRow.as_dict`."""
        return [row.as_dict() for row in self.rows]

    def table(self) -> str:
        """The rows as an aligned text table, one column per NRMSE level."""
        head = [self.parameter or "run", "neurons"] + [f"spikes to {100 * lv:g}%" for lv in self.levels] + [
            "final", "final raw", "spikes", "build s", "run s"]
        body = []
        for row in self.rows:
            body.append([row.label, str(row.neurons)] + [format_count(row.spikes_to(lv)) for lv in self.levels] + [
                format_pct(row.final_nrmse), format_pct(row.final_raw_nrmse), format_count(row.total_spikes),
                f"{row.build_time:.2f}", f"{row.run_time:.2f}"])
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(head)]
        lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths)))]
        lines.append("  ".join("-" * w for w in widths))
        for r in body:
            lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        return "\n".join(lines)

    def __str__(self) -> str:
        s = self.settings
        head = (f"{self.name}: NRMSE against the reference, read through synapse={s.get('synapse')!r}, "
                f"{s.get('backend')}/{s.get('mode')}, t={s.get('t'):g} s, dt={s.get('dt'):g} s "
                f"('final raw': the unfiltered output; spikes to a level: when NRMSE falls to it for good)")
        return head + "\n" + self.table()

    def plot(self, path: str, title: str | None = None) -> str:
        """NRMSE (filtered: solid, raw: faint) against cumulative spikes, log-log; saved to ``path``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for k, row in enumerate(self.rows):
            color = colors[k % len(colors)]
            keep = row.spikes > 0
            if not keep.any():
                continue
            ax.loglog(row.spikes[keep], row.raw_errors[keep], color=color, alpha=0.25, linewidth=0.8)
            label = row.label if self.parameter is None else f"{self.parameter}={row.label}"
            ax.loglog(row.spikes[keep], row.errors[keep], color=color, label=label)
        for level in self.levels:
            ax.axhline(level, color="gray", linestyle=":", linewidth=0.8)
        ax.set_xlabel("cumulative spikes")
        ax.set_ylabel("NRMSE")
        ax.set_title(title or f"{self.name}: NRMSE against spikes")
        ax.grid(True, which="both", alpha=0.3)
        if self.rows:
            ax.legend(fontsize="small")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def format_count(x: float) -> str:
    """A spike count for a table: 1234, 56.7k, 1.2M; '-' when never reached (nan) or overflowed (< 0)."""
    if x is None or not np.isfinite(x) or x < 0:  # nan: never reached; < 0: the count overflowed
        return "-"
    x = float(x)
    if x >= 1e6:
        return f"{x / 1e6:.3g}M"
    if x >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


def format_pct(x: float) -> str:
    """A fraction as a percentage with three significant digits ('nan' when not finite)."""
    if x is None or not np.isfinite(x):
        return "nan"
    return f"{100 * x:.3g}%"


def _plain(value: Any) -> Any:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def spikes_vs_accuracy(
    prog: Any,
    inputs: Sequence[Any] | Mapping[str, Any] | None = None,
    *,
    reference: Callable[..., Any] | None = None,
    target: Any = None,
    t: float = 1.0,
    dt: float = 1e-3,
    backend: str = "numpy",
    mode: str | None = "spiking",
    synapse: Any = 0.01,
    seed: int | None = 0,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    levels: Sequence[float] = LEVELS,
    static: Mapping[str, Any] | None = None,
    output: int = 0,
    plot: str | None = None,
    **options: Any,
) -> BenchResult:
    """Run ``prog`` and measure NRMSE against a reference over cumulative spikes.

    Parameters
    ----------
    prog
        A :class:`spikec.Program`, or a compiled function (``@spikec.compile``)
        that is traced with ``inputs`` (and ``static``) -- needed to sweep a
        static argument such as a learning rate.
    inputs
        Input values, positionally or by name (default: the traced examples).
    reference, target
        The right answer: ``reference(*inputs)`` (a NumPy function such as
        ``np.linalg.inv``), or ``target`` given directly.
    t, dt, backend, mode, seed
        How to run (as :meth:`spikec.Program.run`); spiking by default.
    synapse
        Readout filter the NRMSE is measured through (a float is a lowpass
        time constant; ``None``: the raw output).  The raw output's NRMSE is
        always recorded too.
    sweep
        ``{name: values}``: one row per value (several names: every
        combination).  A name is a run parameter (``t``, ``dt``, ``backend``,
        ``mode``, ``seed``, ``synapse``), a lowering option (``max_rate``,
        ``n_neurons``, ``range_margin``, ``spiking``...), or a static argument
        of the compiled function (re-traced per value).
    levels
        NRMSE levels to report spikes for (default 10%, 5%, 1%, 0.5%).
    output
        Which program output to compare.
    plot
        Save the NRMSE-against-spikes figure to this path.
    **options
        Lowering options for every run (``max_rate=...``).
    """
    from spikec.program import Program, filter_outputs

    compiled = None if isinstance(prog, Program) else prog
    if compiled is not None and not hasattr(compiled, "trace"):
        raise TypeError(f"spikes_vs_accuracy needs a spikec.Program or a compiled function, got {prog!r}")
    static = dict(static or {})
    if isinstance(inputs, Mapping):
        args, kwargs = (), dict(inputs)
    else:
        args, kwargs = tuple(inputs or ()), {}
    base_prog = compiled.trace(*args, **kwargs, **static) if compiled is not None else prog
    if target is None:
        if reference is None:
            raise TypeError("spikes_vs_accuracy needs reference= (a function of the inputs) or target=")
        values = list(args) + list(kwargs.values()) if (args or kwargs) else [s.example for s in base_prog.inputs]
        target = reference(*[np.asarray(v) for v in values])
    target = np.asarray(target, dtype=np.float64)
    levels = tuple(float(lv) for lv in levels)

    base = {"t": t, "dt": dt, "backend": backend, "mode": mode, "seed": seed, "synapse": synapse}
    sweep = dict(sweep or {})
    names = list(sweep)
    combos = list(itertools.product(*(list(sweep[n]) for n in names))) if names else [()]
    rows = []
    for combo in combos:
        setting = dict(zip(names, combo))
        run_kw = dict(base)
        lower_kw = dict(options)
        trace_kw = dict(static)
        for name, value in setting.items():
            if name in RUN_PARAMETERS:
                run_kw[name] = value
            elif compiled is not None and name in compiled.signature.parameters:
                trace_kw[name] = value
            else:
                lower_kw[name] = value
        start = time.perf_counter()
        this = base_prog if trace_kw == static else compiled.trace(*args, **kwargs, **trace_kw)
        readout = run_kw.pop("synapse")
        if run_kw["mode"] in ("rate", "spiking") or run_kw["backend"] != "numpy":
            this.lower(dt=run_kw["dt"], seed=run_kw["seed"], **lower_kw)
        build = time.perf_counter() - start
        start = time.perf_counter()
        result = this.run(*([] if isinstance(inputs, Mapping) else args),
                          inputs=kwargs if isinstance(inputs, Mapping) else None, **run_kw, **lower_kw)
        run_time = time.perf_counter() - start
        raw = result.outputs[output]
        read = filter_outputs(result, readout).outputs[output] if readout is not None else raw
        axes = tuple(range(1, raw.ndim))
        errors = np.atleast_1d(nrmse(read, target, axis=axes or None))
        raw_errors = np.atleast_1d(nrmse(raw, target, axis=axes or None))
        spikes = np.zeros(len(result.t), dtype=np.int64) if result.spikes is None else np.asarray(result.spikes)
        neurons = 0
        if result.mode in ("rate", "spiking"):
            try:
                neurons = int(this.lower(dt=run_kw["dt"], seed=run_kw["seed"], **lower_kw).stats().neurons)
            except SpikecError:  # a back end whose options do not lower: leave the count out
                neurons = 0
        label = ", ".join(f"{_label(v)}" if len(names) == 1 else f"{n}={_label(v)}" for n, v in setting.items())
        rows.append(BenchRow(label or this.name, combo[0] if len(combo) == 1 else (combo or None), neurons,
                             result.t, spikes, errors, raw_errors, levels, build, run_time, read[-1]))
    settings = {**base, **options, **({"static": static} if static else {})}
    res = BenchResult(base_prog.name, ", ".join(names) or None, rows, levels, settings)
    if plot:
        res.plot(plot)
    return res


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """``"max_rate=250,500,1000"`` -> ``("max_rate", [250, 500, 1000])`` (numbers, None, or words)."""
    import ast

    if "=" not in text:
        raise ValueError(f"--sweep {text!r}: write NAME=V1,V2,... (e.g. max_rate=250,500,1000)")
    name, _, values = text.partition("=")
    out = []
    for item in values.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(ast.literal_eval(item))
        except (ValueError, SyntaxError):
            out.append(item)
    if not name.strip().isidentifier() or not out:
        raise ValueError(f"--sweep {text!r}: write NAME=V1,V2,... (e.g. max_rate=250,500,1000)")
    return name.strip(), out


# -- where a measurement was made ------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def _threads() -> str:
    """The BLAS threads this process runs with, as the benchmarks' ``OMP_NUM_THREADS`` setting says."""
    n = os.environ.get("OMP_NUM_THREADS")
    if n is None:
        return "BLAS threads unlimited"
    return "one BLAS thread" if n == "1" else f"{n} BLAS threads"


def machine_header(title: str, argv: Sequence[str] | None = None, *, script: str | None = None,
                   threads: str | None = None, packages: Sequence[str] = ()) -> list[str]:
    """The lines a benchmark's results start with: what, when, on what machine, and the command that made them.

    ``title`` says what was measured; ``argv`` are the script's arguments
    (``sys.argv[1:]`` when None); ``script`` its path (pass ``__file__``;
    shown as ``folder/name.py``); ``threads`` how many threads it ran on
    (default: read from ``OMP_NUM_THREADS``); ``packages`` names installed
    distributions whose versions belong in the record (``"torch"``).
    Returns ``[f"{title}; DATE; CPU, N cores, THREADS; Python X.Y.Z[; pkg V...]",
    "command: python SCRIPT ARGS"]``.
    """
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    first = "; ".join([title, datetime.date.today().isoformat(),
                       f"{cpu_model()}, {os.cpu_count()} cores, {threads or _threads()}",
                       f"Python {platform.python_version()}", *versions])
    path = Path(script if script is not None else sys.argv[0])
    args = list(sys.argv[1:] if argv is None else argv)
    return [first, " ".join(["command: python", f"{path.parent.name}/{path.name}" if path.parent.name else path.name,
                             *args])]


__all__ = ["LEVELS", "BenchResult", "BenchRow", "cpu_model", "machine_header", "parse_sweep", "spikes_vs_accuracy"]

