"""``spikec graph`` (alias ``trace``): print the graph of a compiled function.

"The graph" means the same thing here as in the API: ``prog.graph``, the graph after the optimization passes
(what lowering turns into neurons).  ``--traced`` prints ``prog.traced_graph`` (also ``prog.graph_before``), the
graph as traced, and ``--after PASS`` the graph after one pass.
"""

from __future__ import annotations

import argparse
import sys

from spikec.tools.cli.arguments import ARG_HELP, add_trace_options, trace_target
from spikec.tools.cli.command import Command
from spikec.tools.cli.errors import CLIError
from spikec.tools.cli.output import write_text
from spikec.tools.cli.targets import parse_target

EPILOG = ARG_HELP + """
examples:
  spikec graph examples/matrix_inversion.py --arg A=2x2
  spikec graph examples/matrix_inversion.py:inverse --arg A=2x2 --const dt=0.1 --no-loc
  spikec graph examples/matrix_inversion.py --arg A=2x2 --dot - | dot -Tsvg -o inverse.svg
  spikec graph examples/matrix_inversion.py --arg A=2x2 --traced          # as traced, before the passes
  spikec graph examples/matrix_inversion.py --arg A=2x2 --after fuse_linear
  spikec graph examples/matrix_inversion.py --arg A=2x2 --passes          # what each pass did
"""


def cmd_graph(ns: argparse.Namespace) -> int:
    """Print the graph (or DOT text, or the pass table) of the target traced with the example arguments."""
    prog = trace_target(ns, parse_target(ns.target))
    graph = _selected_graph(prog, ns)
    if ns.passes:
        print(prog.pass_report())
        return 0
    if ns.dot == "-":
        print(graph.to_dot())
        return 0
    print(graph.pretty(show_loc=not ns.no_loc))
    if ns.dot:
        write_text(ns.dot, graph.to_dot() + "\n")
        print(f"wrote DOT to {ns.dot} (render with: dot -Tsvg {ns.dot} -o graph.svg)", file=sys.stderr)
    return 0


def _selected_graph(prog, ns: argparse.Namespace):
    """The optimized graph (default, as ``prog.graph``), the traced one, or the graph after a named pass."""
    if ns.after:
        records = prog.pass_log.by_name(ns.after)
        if not records:
            names = ", ".join(dict.fromkeys(r.name for r in prog.pass_log)) or "none"
            raise CLIError(f"--after {ns.after}: no such pass in this program's pipeline (passes: {names})")
        return records[0].graph
    return prog.traced_graph if ns.traced else prog.graph


def _configure(p: argparse.ArgumentParser) -> None:
    """FILE.py[:FUNC], the example arguments and what to print."""
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    add_trace_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--dot", metavar="OUT.dot", help="also write Graphviz DOT text to a file ('-': print only DOT)")
    g.add_argument("--no-loc", action="store_true", help="leave out the # file:line comments")
    g.add_argument("--traced", action="store_true",
                   help="show the graph as traced, before the optimization passes (prog.traced_graph)")
    # The default since "graph" means prog.graph everywhere; kept so that older command lines still work.
    g.add_argument("--optimized", action="store_true", help="show the graph after all optimization passes (default)")
    g.add_argument("--after", metavar="PASS", help="show the graph after the named pass (e.g. fuse_linear)")
    g.add_argument("--passes", action="store_true", help="print what each optimization pass did, as a table")


COMMAND = Command(
    name="graph", aliases=("trace",), summary="print the graph of a compiled function (prog.graph)",
    description="Trace a compiled function with example arguments and print its graph: one line per op with its\n"
                "shape, operands and the file:line that created it.  The graph is prog.graph, the graph after the\n"
                "optimization passes (what lowering turns into neurons); --traced prints it as traced.",
    epilog=EPILOG, handler=cmd_graph, configure=_configure,
)
