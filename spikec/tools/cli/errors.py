"""The two errors the ``spikec`` command reports without a spikec traceback (see :func:`spikec.tools.cli.main`)."""

from __future__ import annotations


class CLIError(Exception):
    """A usage error the command reports in one line (exit status 2)."""


class UserCodeError(Exception):
    """The user's file raised while being imported; carries the user-frame traceback text."""

    def __init__(self, message: str, details: str):
        super().__init__(message)
        self.details = details
