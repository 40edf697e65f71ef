"""``spikec stats`` (alias ``stat``): op, node and nonlinear-unit counts of a compiled function."""

from __future__ import annotations

import argparse
import json

from spikec.tools.cli.arguments import ARG_HELP, add_trace_options, trace_target
from spikec.tools.cli.command import Command
from spikec.tools.cli.targets import parse_target

EPILOG = ARG_HELP + """
examples:
  spikec stats examples/matrix_inversion.py --arg A=3x3
  spikec stats examples/matrix_inversion.py --arg A=3x3 --json
  spikec stats examples/matrix_inversion.py --arg A=3x3 --no-lower   # graph counts only
"""


def cmd_stats(ns: argparse.Namespace) -> int:
    """Print the graph statistics (and, unless --no-lower, the lowered netlist's) as text or JSON."""
    prog = trace_target(ns, parse_target(ns.target))
    if ns.traced:
        stats = prog.traced_graph.stats()
    else:
        stats = prog.stats(lowered=not ns.no_lower)
    if ns.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        print(stats)
    return 0


def _configure(p: argparse.ArgumentParser) -> None:
    """FILE.py[:FUNC], the example arguments and what to count."""
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    add_trace_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="machine-readable JSON")
    g.add_argument("--traced", action="store_true", help="count the graph as traced, before optimization passes")
    g.add_argument("--no-lower", action="store_true", help="graph statistics only (skip neurons and weights)")


COMMAND = Command(
    name="stats", aliases=("stat",), summary="print op, node and nonlinear-unit counts",
    description="Trace a compiled function and print its graph statistics: nodes, edges, op counts by kind,\n"
                "nonlinear units (what costs neurons) and state elements.",
    epilog=EPILOG, handler=cmd_stats, configure=_configure,
)
