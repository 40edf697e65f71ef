"""The pass manager: named passes, pipelines, and a log of what each pass did."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spikec.ir.graph import Graph, GraphStats
from spikec.passes.budget import budget
from spikec.passes.cse import eliminate_common_subexpressions
from spikec.passes.dce import eliminate_dead_code
from spikec.passes.expand_bilinear import expand_bilinear
from spikec.passes.factor_scales import factor_scales
from spikec.passes.fold_constants import fold_constants
from spikec.passes.fuse_linear import fuse_linear
from spikec.passes.hoist_gram import hoist_gram
from spikec.passes.merge_units import merge_units
from spikec.passes.remove_identities import remove_identities
from spikec.util.nametable import NameTable

PassFn = Callable[..., Graph]
# A pipeline entry: a registered name, a function, or (name or function, keyword options).
PassSpec = str | PassFn | tuple

#: pass name -> function ``Graph -> Graph`` (aliases such as ``"eliminate_dead_code"`` resolve through it).
PASSES: NameTable[PassFn] = NameTable("pass", error=ValueError)


def register_pass(name: str, fn: PassFn, *aliases: str) -> PassFn:
    """Make ``fn`` (``Graph -> Graph``, pure) available to pipelines as ``name`` (and ``aliases``)."""
    return PASSES.register(name, fn, *aliases)


register_pass("expand_bilinear", expand_bilinear)
register_pass("fold_constants", fold_constants)
register_pass("remove_identities", remove_identities)
register_pass("cse", eliminate_common_subexpressions, "eliminate_common_subexpressions")
register_pass("dce", eliminate_dead_code, "eliminate_dead_code")
register_pass("fuse_linear", fuse_linear)
register_pass("merge_units", merge_units)
register_pass("budget", budget)
register_pass("hoist_gram", hoist_gram)
register_pass("factor_scales", factor_scales)

#: The passes the lowering needs: afterwards the only nonlinear ops are
#: ``mul`` (equal-shape operands) and elementwise ops, and no op computes on
#: constants alone.  Idempotent; cheap on a graph that already went through it.
LOWERING_PIPELINE: tuple[str, ...] = ("expand_bilinear", "fold_constants", "dce")

#: What ``spikec.compile`` runs unless ``passes=`` says otherwise.
DEFAULT_PIPELINE: tuple[str, ...] = (
    "hoist_gram",         # (M @ A - I) @ A.T -> M @ (A @ A.T) - A.T: one product layer in a loop, not two
    "expand_bilinear",    # products become explicit mul units (lowering needs this)
    "fold_constants",     # constants folded; ops with a const operand become linear
    "remove_identities",  # no-op reshapes, transposes, slices...
    "cse",                # shared sub-expressions (x*y and y*x) computed once
    "dce",                # unused branches dropped
    "merge_units",        # independent nonlinear units of one kind become one population
    "fuse_linear",        # linear trees between nonlinear values become one affine op
    "fold_constants",     # fusion can reveal constants (x - x)
    "cse",
    "dce",
)
# "factor_scales" is opt-in ((c x) @ y -> c (x @ y): fewer spikes, a coarser product); Program.autotune tries it.
# "budget" is opt-in: passes=[*DEFAULT_PIPELINE, ("budget", {"accuracy": 0.01})]
# sizes NEF units for a target accuracy or spike budget (attrs["tuning"]).


def resolve(spec: PassSpec) -> tuple[str, PassFn, dict[str, Any]]:
    """``(name, function, options)`` of one pipeline entry."""
    options: dict[str, Any] = {}
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], Mapping):
            raise ValueError(f"a pass with options is (name, {{option: value}}), got {spec!r}")
        spec, options = spec[0], dict(spec[1])
    if isinstance(spec, str):
        name = PASSES.resolve(spec)
        return name, PASSES[name], options
    if callable(spec):
        name = next((n for n, f in PASSES.items() if f is spec), getattr(spec, "__name__", repr(spec)))
        return name, spec, options
    raise TypeError(f"a pass is a name, a function Graph -> Graph or (name, options); got {spec!r}")


# -- the log ---------------------------------------------------------------------------


def _ops(stats: GraphStats) -> int:
    """Nodes that compute something (not inputs or constants)."""
    return stats.nodes - stats.kinds.get("source", 0)


@dataclass
class PassRecord:
    """What one pass did.

    Attributes
    ----------
    name
        The pass's name.
    graph
        The graph after the pass.
    before, after
        :class:`GraphStats` of the graph before and after.
    seconds
        Wall time of the pass.
    options
        Keyword options the pass ran with.
    lowered
        Columns filled in by the lowering for :attr:`graph`: ``neurons``,
        ``projections``, ``nonzero_weights`` (empty until then; see
        :meth:`PassLog.annotate`).
    """

    name: str
    graph: Graph
    before: GraphStats
    after: GraphStats
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)
    lowered: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether the pass changed the graph's counts (a cheap, conservative test)."""
        return self.before != self.after

    def row(self) -> dict[str, Any]:
        return {"pass": self.name, "ops": _ops(self.after), "units": self.after.nonlinear_units,
                "nodes": self.after.nodes, "edges": self.after.edges, **self.lowered,
                "ms": 1000 * self.seconds}


class PassLog(list):
    """The records of one pipeline run (a list of :class:`PassRecord`), printed as a table.

    ``log.graph_before`` is the graph the pipeline started from;
    ``log[-1].graph`` (or ``log.graph``) the one it ended with;
    ``log.graphs()`` every graph in between.
    """

    #: Columns the lowering may fill in per record (``record.lowered``).
    LOWERED_COLUMNS = ("neurons", "projections", "nonzero_weights")

    def __init__(self, graph_before: Graph, records: Iterable[PassRecord] = ()):
        super().__init__(records)
        self.graph_before = graph_before
        self.stats_before = graph_before.stats()
        self.lowered_before: dict[str, int] = {}

    @property
    def graph(self) -> Graph:
        """The final graph."""
        return self[-1].graph if self else self.graph_before

    def graphs(self) -> list[Graph]:
        """The graph before the first pass and after each pass."""
        return [self.graph_before] + [r.graph for r in self]

    def by_name(self, name: str) -> list[PassRecord]:
        """Records of every run of the pass ``name``."""
        return [r for r in self if r.name == name]

    def annotate(self, measure: Callable[[Graph], Mapping[str, int]]) -> PassLog:
        """Fill the lowering columns: ``measure(graph)`` for the initial graph and after each pass.

        ``measure`` returns e.g. ``{"neurons": ..., "projections": ...,
        "nonzero_weights": ...}`` for a graph (typically by lowering it).
        A graph that ``measure`` cannot handle (raises) gets no entries.
        """
        for holder, graph in [(self, self.graph_before)] + [(r, r.graph) for r in self]:
            try:
                values = dict(measure(graph))
            except Exception:
                values = {}
            if holder is self:
                self.lowered_before = values
            else:
                holder.lowered = values
        return self

    def table(self) -> str:
        """One row per pass: ops, nonlinear units, nodes, edges, lowering columns, time."""
        first = {"pass": "(initial)", "ops": _ops(self.stats_before), "units": self.stats_before.nonlinear_units,
                 "nodes": self.stats_before.nodes, "edges": self.stats_before.edges, **self.lowered_before,
                 "ms": None}
        rows = [first] + [r.row() for r in self]
        columns = ["pass", "ops", "units", "nodes", "edges", *self.LOWERED_COLUMNS, "ms"]
        headers = {"units": "nonlinear units", "nonzero_weights": "weights", "ms": "time (ms)"}

        def cell(row, col):
            value = row.get(col)
            if value is None:
                return "-"
            if col == "ms":
                return f"{value:.1f}"
            return str(value)

        body = [[cell(row, c) for c in columns] for row in rows]
        titles = [headers.get(c, c) for c in columns]
        widths = [max(len(titles[j]), *(len(r[j]) for r in body)) for j in range(len(columns))]

        def line(cells):
            return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths)))

        total = sum(r.seconds for r in self)
        out = [line(titles), line(["-" * w for w in widths])] + [line(r) for r in body]
        out.append(f"{len(self)} passes, {1000 * total:.1f} ms")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<PassLog: {len(self)} passes: {', '.join(r.name for r in self)}>"


# -- the manager ---------------------------------------------------------------------------


class PassManager:
    """Runs a pipeline of passes over a graph and records what each did.

    Parameters
    ----------
    passes
        Pipeline entries (names from :data:`PASSES`, functions ``Graph ->
        Graph``, or ``(name or function, {option: value})``); ``None`` means
        :data:`DEFAULT_PIPELINE`, ``[]`` no passes.
    validate
        Check every pass's result with :meth:`Graph.validate` (shapes,
        operands, no algebraic loop), naming the pass that broke it.
    """

    def __init__(self, passes: Sequence[PassSpec] | None = None, *, validate: bool = True):
        specs = DEFAULT_PIPELINE if passes is None else passes
        if isinstance(specs, str) or callable(specs) or (
                isinstance(specs, tuple) and len(specs) == 2 and isinstance(specs[1], Mapping)):
            specs = [specs]  # one entry given on its own
        self.passes = [resolve(s) for s in specs]
        self.validate = validate

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.passes]

    def run(self, graph: Graph) -> tuple[Graph, PassLog]:
        """The graph after every pass, and the log."""
        log = PassLog(graph)
        stats = log.stats_before
        for name, fn, options in self.passes:
            start = time.perf_counter()
            result = fn(graph, **options)
            seconds = time.perf_counter() - start
            if not isinstance(result, Graph):
                raise TypeError(f"pass {name!r} returned {type(result).__name__}, not a Graph")
            if self.validate:
                try:
                    result.validate()
                except Exception as exc:
                    raise RuntimeError(f"pass {name!r} produced an invalid graph: {exc}") from exc
            after = result.stats()
            log.append(PassRecord(name, result, stats, after, seconds, options))
            graph, stats = result, after
        return graph, log

    def __repr__(self) -> str:
        return f"PassManager([{', '.join(self.names)}])"


def run_passes(graph: Graph, passes: Sequence[PassSpec] | None = None, *,
               validate: bool = True) -> tuple[Graph, PassLog]:
    """``PassManager(passes, validate=validate).run(graph)``."""
    return PassManager(passes, validate=validate).run(graph)

