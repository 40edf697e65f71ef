"""Source locations: which line of the user's code created a graph node."""

from __future__ import annotations

import linecache
import os
import sys
from dataclasses import dataclass

import numpy as np

_SPIKEC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
# Frames from these directories are library internals, never the user's line.
_INTERNAL_DIRS = (_SPIKEC_DIR + os.sep, _NUMPY_DIR + os.sep)


@dataclass(frozen=True)
class SourceLoc:
    """A position in user code: file, line number, function name and line text."""

    filename: str
    lineno: int
    function: str
    line: str = ""

    @property
    def short(self) -> str:
        """``file.py:12`` with the directory stripped, for compact listings."""
        return f"{os.path.basename(self.filename)}:{self.lineno}"

    def describe(self, indent: str = "") -> str:
        """Multi-line description in the style of a Python traceback entry."""
        text = f'{indent}File "{self.filename}", line {self.lineno}, in {self.function}'
        if self.line:
            text += f"\n{indent}    {self.line}"
        return text

    def __str__(self) -> str:
        return self.short


def _is_internal(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_INTERNAL_DIRS) or filename.startswith("<frozen")


def capture(skip_internal: bool = True) -> SourceLoc | None:
    """Return the innermost stack frame that belongs to user code.

    Frames inside spikec and NumPy are skipped, so a node created deep inside
    ``__array_function__`` dispatch still points at the user's ``np.dot(...)``.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (skip_internal and _is_internal(filename)):
            line = linecache.getline(filename, frame.f_lineno).strip()
            return SourceLoc(filename, frame.f_lineno, frame.f_code.co_name, line)
        frame = frame.f_back
    return None
