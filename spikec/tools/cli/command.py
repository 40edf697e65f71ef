"""What a command module registers: its name, help texts, options and handler.

Each command lives in its own module (``graph``, ``run``...) and exposes one
:class:`Command`; :mod:`spikec.tools.cli.app` builds the parser from the table
of them, so adding a command never touches an if/elif over names.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

PROG = "spikec"


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped descriptions and epilogs; a wider option column than argparse's default."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=28)


def _no_options(parser: argparse.ArgumentParser) -> None:
    """A command without options of its own (``spikec backends``)."""


@dataclass(frozen=True)
class Command:
    """One ``spikec`` subcommand.

    ``configure`` adds the command's own arguments to its subparser (after the
    shared ``--traceback``); ``handler`` runs it with the parsed namespace and
    returns the exit status.
    """

    name: str
    summary: str
    description: str
    handler: Callable[[argparse.Namespace], int]
    configure: Callable[[argparse.ArgumentParser], None] = _no_options
    aliases: tuple[str, ...] = ()
    epilog: str | None = None
