"""Lowering options chosen by the compiler on the calibration set: :meth:`spikec.Program.autotune`.

How a program's units are tuned (which synapse one unit reads another
through, which radius its squares get, whether a rewrite such as
``hoist_gram`` is worth its extra layer in a loop) trades spikes against
accuracy, and the best trade depends on the program and its domain.
:func:`autotune` measures it instead of guessing: every candidate set of
options is lowered for the program's domain and run, in one batch, on the
domain's calibration inputs (the traced example, ``tune_for`` samples,
sampler draws or points of declared boxes), never on anything else. Each run
is compared with the program's own semantics (the ideal interpreter on the
same inputs) through the user's readout ``synapse``, and the candidate that
keeps the most calibration inputs within ``target`` for the fewest spikes
is chosen.

The search space is a table (:data:`SEARCH_SPACE`: option -> values tried)
and the program's pipeline with and without its optional rewrites
(:data:`OPTIONAL_REWRITES`), walked one option at a time from the defaults
(``strategy="coordinate"``) or crossed (``"grid"``); ``candidates=``
replaces it with the user's own list.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikec.backends import get_backend
from spikec.errors import RunError, SpikecError
from spikec.util.metrics import nrmse, spikes_to_reach
from spikec.util.progress import progress_bar

#: Lowering options the default search varies, and the values it tries (the first is spikec's default).
#: ``unit_synapse``: the filter between units (none: raw spikes, the shortest loop delay; longer: less noise);
#: ``product_radius``: squares tuned to the calibrated ranges (None) or to a fixed radius around 0 (exact for
#: every value in rate mode, coarser near 0 as the radius grows); ``parabola_pairs``: a pair of one-sided Parabola
#: neurons per square, or one symmetric neuron (``"symmetric"``: on raw spikes, one leftover voltage per square).
SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "unit_synapse": (0.005, None, 0.002, 0.01),
    "product_radius": (None, 1.0, 1.5, 2.0),
    "parabola_pairs": (True, "symmetric"),
}

#: Rewrites that give a program of the same values but a different network, and whether the default pipeline
#: runs them: the search tries the program without each one that changed its graph (``hoist_gram`` moves a
#: product layer out of a loop, and the loop changes) and with each opt-in one that would change it
#: (``factor_scales`` moves scalar factors from products' operands to after them: fewer spikes, coarser products).
OPTIONAL_REWRITES: dict[str, bool] = {"hoist_gram": True, "factor_scales": False}

#: How the default search walks :data:`SEARCH_SPACE`: from spikec's defaults, one option at a time, keeping a change
#: when it is better (see :func:`_rank`), round after round over all options until a round changes nothing, for at
#: most this many rounds (options interact: raw spikes pay off only once the squares' radius is fixed, and leaving
#: out a rewrite only once both are).
ROUNDS = 4

#: How the output of a candidate is compared with the ideal run: at every step, or with the ideal run's last value
#: (a program whose answer is where it settles, such as a flow converging to a matrix inverse).
REFERENCES = ("trajectory", "final")


@dataclass(frozen=True)
class Candidate:
    """One set of options tried, and what it did on the calibration inputs.

    ``finals``: per calibration input, the NRMSE at the end of the run;
    ``stay_spikes``: per input, the spikes spent until the NRMSE stayed at or
    below the target to the end (``nan``: never); ``spikes``: per input, all
    the run's spikes; ``error``: why the run failed, if it did.
    """

    options: Mapping[str, Any]
    neurons: int = 0
    finals: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stay_spikes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spikes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    error: str | None = None

    @property
    def reached(self) -> int:
        """Calibration inputs whose NRMSE reaches the target and stays there."""
        return int(np.sum(np.isfinite(self.stay_spikes)))

    @property
    def median_stay(self) -> float:
        """Median spikes to reach the target and stay, over the inputs that do (``inf``: none does)."""
        done = self.stay_spikes[np.isfinite(self.stay_spikes)]
        return float(np.median(done)) if done.size else math.inf

    @property
    def median_final(self) -> float:
        """Median final NRMSE over the calibration inputs (``inf`` when the run failed)."""
        return float(np.median(self.finals)) if self.finals.size and self.error is None else math.inf


@dataclass(frozen=True)
class AutotuneReport:
    """What :meth:`spikec.Program.autotune` tried and chose.

    ``chosen`` holds the compile options the program now has (only those the
    search varied); ``candidates`` every option set tried, in order;
    ``inputs``: how many calibration inputs each was run on; ``target``,
    ``t``, ``synapse``, ``reference``, ``backend``: how they were measured.
    ``str(report)`` is a table, :meth:`plot` draws it.
    """

    chosen: Mapping[str, Any]
    candidates: tuple[Candidate, ...]
    inputs: int
    target: float
    t: float
    synapse: Any
    reference: str
    backend: str
    require: float
    strategy: str = "coordinate"

    @property
    def best(self) -> Candidate:
        """The chosen candidate."""
        return next(c for c in self.candidates if dict(c.options) == dict(self.chosen))

    def summary(self) -> str:
        """One line: the options chosen, and on what."""
        return (f"{_options(self.chosen)} (of {len(self.candidates)} option sets, on {self.inputs} calibration "
                f"inputs: {self.best.reached}/{self.inputs} within {_pct(self.target)})")

    def __str__(self) -> str:
        head = ["options", "neurons", "median final", "worst final", f"reach {_pct(self.target)} & stay",
                "median spikes to it", ""]
        body = []
        for c in self.candidates:
            mark = "<- chosen" if c is self.best else ""
            if c.error:
                body.append([_options(c.options), str(c.neurons), "failed", "", "", "", c.error[:60]])
                continue
            body.append([_options(c.options), f"{c.neurons:,}", _pct(c.median_final), _pct(float(np.max(c.finals))),
                         f"{c.reached}/{self.inputs}", _count(c.median_stay), mark])
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        how = {"coordinate": "one option at a time", "grid": "every combination", "list": "as given"}[self.strategy]
        lines = [f"autotune ({how}): {len(self.candidates)} option sets on {self.inputs} calibration inputs, "
                 f"{self.t:g} s, "
                 f"NRMSE against the ideal run ({self.reference}) through {self.synapse!r}, back end {self.backend}; "
                 f"chosen: the fewest spikes among those reaching {_pct(self.target)} on at least "
                 f"{self.require:.0%} of the inputs",
                 "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
                 "  ".join("-" * w for w in widths[:-1])]
        lines += ["  ".join(x.ljust(w) for x, w in zip(b, widths)).rstrip() for b in body]
        return "\n".join(lines)

    def plot(self, path: Any = None):
        """Median spikes to reach the target against median final NRMSE, one point per candidate (a
        matplotlib Figure; saved to ``path`` when given)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
        for c in self.candidates:
            if c.error or not np.isfinite(c.median_stay):
                continue
            ax.scatter(c.median_stay, c.median_final, color="C3" if c is self.best else "C0", zorder=3)
            ax.annotate(_options(c.options), (c.median_stay, c.median_final), fontsize=7, alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(self.target, color="gray", linestyle=":", linewidth=0.8)
        ax.set_xlabel(f"median spikes to reach {_pct(self.target)} and stay")
        ax.set_ylabel("median final NRMSE (calibration inputs)")
        ax.set_title("autotune: option sets on the calibration set (red: chosen)", fontsize=9)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def search_space(program: Any) -> dict[str, tuple[Any, ...]]:
    """The options the default search varies for ``program``: :data:`SEARCH_SPACE` less the options given at
    compile time, and ``passes``: the pipelines with and without the optional rewrites that would change it."""
    space = {name: values for name, values in SEARCH_SPACE.items() if name not in program.options}
    if "passes" in program.options:
        return space
    log = program.pass_log
    base = tuple((r.name, dict(r.options)) if r.options else r.name for r in log)
    variants: list[tuple[Any, ...]] = [base]
    for name, default in OPTIONAL_REWRITES.items():
        if default and any(r.name == name and r.changed for r in log):
            variants += [tuple(p for p in v if _pass_name(p) != name) for v in variants]
        elif not default and _changes(name, program.traced_graph):
            variants += [(name, *v) for v in variants]
    if len(variants) > 1:
        space = {"passes": (None, *variants[1:]), **space}
    return space


def default_candidates(program: Any) -> list[dict[str, Any]]:
    """Every combination of :func:`search_space` (what ``strategy="grid"`` runs)."""
    space = search_space(program)
    return [_drop_defaults(dict(zip(space, values))) for values in itertools.product(*space.values())]


def autotune(program: Any, *, t: float, dt: float = 1e-3, target: float = 0.01, synapse: Any = 0.02,
             backend: str = "jax", reference: str = "trajectory", candidates: Sequence[Mapping[str, Any]] | None = None,
             strategy: str = "coordinate", require: float = 0.8, seed: int = 0, progress: bool | None = None,
             **run_options: Any) -> AutotuneReport:
    """Run every candidate on ``program``'s calibration inputs and pick one (see :meth:`spikec.Program.autotune`).

    Returns the report; does not change ``program`` (the method does).
    """
    if reference not in REFERENCES:
        raise SpikecError(f"autotune: reference={reference!r}; choose one of {', '.join(REFERENCES)}")
    if not 0 < require <= 1:
        raise SpikecError(f"autotune: require={require!r} must be a fraction in (0, 1]")
    runs = [[None] * len(program.inputs)] + program.calibration_inputs()
    if len(runs) < 2:
        raise SpikecError(f"autotune: {program.name} has no domain to tune on besides its traced example; declare "
                          "one (prog.tune_for(*examples), spikec.Input(shape, range=... or sample=...), "
                          "prog.set_domain(...)) so that the options are chosen on inputs, not on one example")
    inputs = {spec.name: [spec.provider() if run[i] is None else run[i] for run in runs]
              for i, spec in enumerate(program.inputs)}
    if strategy not in STRATEGIES:
        raise SpikecError(f"autotune: strategy={strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if candidates is not None:
        candidates = [dict(c) for c in candidates]
        if not candidates:
            raise SpikecError("autotune: no candidate option sets to try")
    # The reference: the program's own values on the same inputs (the ideal interpreter), read through the same
    # readout as the network's (a readout's lag is not the network's error), or the last of them.
    ideal = program.run(t=t, dt=dt, mode="ideal", batch=True, inputs=inputs, progress=False,
                        synapse=synapse if reference == "trajectory" else None)
    truth = _flat(ideal.outputs)
    if not np.all(np.isfinite(truth)):
        raise RunError("autotune: the program's ideal run is not finite on some calibration input; the domain "
                       "holds inputs the program itself cannot compute")
    if reference == "final":
        truth = truth[:, -1:, :]
    show = sys.stderr.isatty() if progress is None else progress  # a search takes seconds to minutes: a bar
    tried: dict[str, Candidate] = {}

    def measure(options: Mapping[str, Any]) -> Candidate:
        key = repr(sorted(options.items()))
        if key not in tried:
            tried[key] = _measure(program, options, inputs, truth, t=t, dt=dt, target=target, synapse=synapse,
                                  backend=backend, seed=seed, run_options=run_options)
        return tried[key]

    needed = math.ceil(require * len(runs))
    if candidates is not None or strategy == "grid":
        listed = candidates if candidates is not None else default_candidates(program)
        for options in progress_bar(listed, len(listed), "autotune", show):
            measure(options)
    else:
        _coordinate(search_space(program), measure, needed, show)
    results = list(tried.values())
    chosen = _choose(results, require)
    return AutotuneReport(chosen=dict(chosen.options), candidates=tuple(results), inputs=len(runs), target=target,
                          t=t, synapse=synapse, reference=reference, backend=backend, require=require,
                          strategy="list" if candidates is not None else strategy)


def _measure(program: Any, options: Mapping[str, Any], inputs: Mapping[str, Any], truth: np.ndarray, *, t: float,
             dt: float, target: float, synapse: Any, backend: str, seed: int,
             run_options: Mapping[str, Any]) -> Candidate:
    try:
        variant = program.with_options(**options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a candidate whose units leave their ranges shows it in its error
            res = variant.run(t=t, dt=dt, backend=backend, mode="spiking", seed=seed, batch=True, inputs=inputs,
                              synapse=synapse, on_range="ignore", progress=False, **run_options)
    except (SpikecError, FloatingPointError) as err:
        return Candidate(options, error=f"{type(err).__name__}: {err}".splitlines()[0])
    # The netlist the run used (cached by the program: the run's lowering options less the back end's own).
    own = get_backend(backend).options
    lowering = variant.mode_options("spiking", {k: v for k, v in run_options.items() if k not in own})
    neurons = variant.lower(dt=dt, seed=seed, **lowering).stats().neurons
    curves = nrmse(_flat(res.outputs), truth, axis=-1)
    curves = np.where(np.isnan(curves), np.inf, curves)  # a run that blew up is as far as can be
    spikes = np.asarray(res.spikes, dtype=np.float64).reshape(len(curves), -1)
    return Candidate(options, neurons=neurons, finals=curves[:, -1], spikes=spikes[:, -1],
                     stay_spikes=np.array([spikes_to_reach(c, s, target) for c, s in zip(curves, spikes)]))


def _rank(c: Candidate, needed: int) -> tuple:
    """Smaller is better: a run that keeps ``needed`` inputs within the target, by median spikes to get there;
    then the rest, by inputs kept and median final error; failed runs last."""
    if c.error is not None:
        return (2,)
    if c.reached >= needed:
        return (0, c.median_stay, -c.reached, c.median_final)
    return (1, -c.reached, c.median_final)


def _choose(results: Sequence[Candidate], require: float) -> Candidate:
    ran = [c for c in results if c.error is None]
    if not ran:
        raise SpikecError("autotune: every candidate failed to run:\n" +
                          "\n".join(f"  {_options(c.options)}: {c.error}" for c in results))
    needed = math.ceil(require * len(ran[0].finals))
    return min(ran, key=lambda c: _rank(c, needed))


def _coordinate(space: Mapping[str, Sequence[Any]], measure: Callable[[Mapping[str, Any]], Candidate],
                needed: int, show: bool | None) -> None:
    """From the first value of every option, try each other value of one option at a time and keep it when it
    ranks better; :data:`ROUNDS` rounds at most (each option set is run once, :func:`autotune` caches them)."""
    current = {name: values[0] for name, values in space.items()}
    best = measure(_drop_defaults(current))
    total = sum(len(v) - 1 for v in space.values()) * ROUNDS
    bar = progress_bar(range(total), total, "autotune", show)
    steps = iter(bar)
    for _ in range(ROUNDS):
        improved = False
        for name, values in space.items():
            for value in values:
                next(steps, None)
                if value == current[name]:
                    continue
                trial = {**current, name: value}
                cand = measure(_drop_defaults(trial))
                if _rank(cand, needed) < _rank(best, needed):
                    best, current, improved = cand, trial, True
        if not improved:
            break
    for _ in steps:  # finish the bar
        pass


def _drop_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """``passes=None`` means the program's own pipeline: not an option to set."""
    return {k: v for k, v in options.items() if not (k == "passes" and v is None)}


def _pass_name(entry: Any) -> str:
    return entry if isinstance(entry, str) else entry[0]


def _changes(name: str, graph: Any) -> bool:
    """Whether the pass ``name`` rewrites ``graph`` (run on the graph as traced)."""
    from spikec.passes import PASSES

    return PASSES[name](graph) is not graph


def _flat(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Every output of a batched run as (batch, steps, elements)."""
    return np.concatenate([np.asarray(o, dtype=np.float64).reshape(o.shape[0], o.shape[1], -1) for o in outputs],
                          axis=-1)


def _pct(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{100 * x:.3g}%"


def _count(x: float) -> str:
    return "never" if not np.isfinite(x) else (f"{x / 1e3:,.0f}k" if x >= 1e4 else f"{x:,.0f}")


def _options(options: Mapping[str, Any]) -> str:
    def show(key: str, value: Any) -> str:
        if key == "passes":
            kept = {_pass_name(p) for p in value}
            changes = [("without " if on else "with ") + name for name, on in OPTIONAL_REWRITES.items()
                       if (name in kept) != on]
            return ", ".join(changes) if changes else "passes=" + ",".join(_pass_name(p) for p in value)
        return f"{key}={value!r}"
    return ", ".join(show(k, v) for k, v in options.items()) or "defaults"


#: How :func:`autotune` walks the search space: one option at a time, or every combination.
STRATEGIES = ("coordinate", "grid")


__all__ = ["OPTIONAL_REWRITES", "REFERENCES", "ROUNDS", "SEARCH_SPACE", "STRATEGIES", "AutotuneReport", "Candidate",
           "autotune", "default_candidates", "search_space"]
