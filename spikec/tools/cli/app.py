"""The ``spikec`` parser, built from the table of command modules, and the entry point :func:`main`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from spikec.tools.cli import backends, bench, graph, ops, run, stats
from spikec.tools.cli import help as help_command
from spikec.tools.cli.arguments import add_common
from spikec.tools.cli.command import PROG, Command, Formatter
from spikec.tools.cli.errors import CLIError, UserCodeError
from spikec.tools.cli.output import error, exit_code
from spikec.tools.cli.targets import directory_of, user_import_state

# The commands in the order `spikec --help` lists them.
COMMANDS: tuple[Command, ...] = (
    graph.COMMAND, stats.COMMAND, run.COMMAND, bench.COMMAND, ops.COMMAND, backends.COMMAND, help_command.COMMAND,
)

MAIN_EPILOG = """\
targets:
  FILE.py[:FUNC]   a Python file and a function in it decorated with @spikec.compile
                   (FUNC may be omitted when the file has exactly one)

examples:
  spikec graph examples/matrix_inversion.py --arg A=2x2
  spikec graph examples/matrix_inversion.py:inverse --arg A=3x3 --dot inverse.dot
  spikec stats examples/matrix_inversion.py --arg A=4x4 --json
  spikec run examples/matrix_inversion.py:inverse --arg A=2x2 -t 1 --save out.npz
  spikec run examples/matrix_inversion.py --n 3 --plot figs/
  spikec ops
  spikec CMD --help                 options of one command
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``spikec`` parser: one subparser per entry of :data:`COMMANDS`, aliases included."""
    from spikec import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=Formatter, epilog=MAIN_EPILOG,
        description="Compile NumPy-style Python into spiking neural networks: inspect, count and run programs.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--traceback", action="store_true", default=False, help="show the Python traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subs: dict[str, argparse.ArgumentParser] = {}
    for command in COMMANDS:
        p = sub.add_parser(command.name, aliases=list(command.aliases), help=command.summary,
                           description=command.description, epilog=command.epilog, formatter_class=Formatter)
        p.set_defaults(func=command.handler)
        add_common(p)
        command.configure(p)
        for name in (command.name, *command.aliases):
            subs[name] = p
    parser._spikec_subparsers = subs  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``spikec`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from spikec.errors import SpikecError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed them
        return exit_code(exc.code)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with user_import_state(directory_of(getattr(ns, "target", None))):
            return ns.func(ns)
    except SystemExit as exc:  # argparse in function-mode `run` (--help or a bad option)
        return exit_code(exc.code)
    except SpikecError as exc:
        if getattr(ns, "traceback", False):
            traceback.print_exc()
        error(str(exc))
        return 2
    except CLIError as exc:
        error(str(exc))
        return 2
    except UserCodeError as exc:
        sys.stderr.write(exc.details)
        error(str(exc))
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # `spikec ops | head`: the reader left; stop quietly
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141
