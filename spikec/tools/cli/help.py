"""``spikec help [COMMAND]``: the help of spikec or of one command."""

from __future__ import annotations

import argparse

from spikec.tools.cli.command import Command
from spikec.tools.cli.errors import CLIError


def cmd_help(ns: argparse.Namespace) -> int:
    """Print the main help, or the help of the command (or alias) named."""
    # The parser is built from the command table, which lists this module: import it when called.
    from spikec.tools.cli.app import COMMANDS, build_parser

    parser = build_parser()
    if ns.command_name is None:
        parser.print_help()
        return 0
    sub = parser._spikec_subparsers.get(ns.command_name)
    if sub is None:
        raise CLIError(f"no command {ns.command_name!r}; commands: {', '.join(c.name for c in COMMANDS)}")
    sub.print_help()
    return 0


def _configure(p: argparse.ArgumentParser) -> None:
    """The optional command name."""
    p.add_argument("command_name", nargs="?", metavar="COMMAND")


COMMAND = Command(
    name="help", summary="show help for a command", description="Show the help of spikec or of one command.",
    epilog="examples:\n  spikec help run\n", handler=cmd_help, configure=_configure,
)
