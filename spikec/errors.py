"""Errors that speak the user's language.

Every error spikec raises on bad input derives from :class:`SpikecError` and
names the operation, the shapes involved and, when known, the line of the
user's own source that caused it (captured at trace time).  They also derive
from the matching built-in exception (``ValueError``, ``TypeError``) so that
generic ``except`` clauses keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from spikec.ir.source import SourceLoc


def format_shapes(shapes: Sequence[tuple[int, ...]]) -> str:
    """Render shapes the way NumPy prints them: ``(2, 3), (3,)``."""
    return ", ".join(str(tuple(s)) for s in shapes)


class SpikecError(Exception):
    """Base class of every error spikec raises on purpose.

    Parameters
    ----------
    message
        What went wrong, in one sentence.
    op
        The operation involved (``"matmul"``, ``"np.sort"``...), if any.
    shapes
        Shapes of the operands, if relevant.
    loc
        Where in the user's source the offending operation was written.
    hint
        What to do instead.
    """

    def __init__(
        self,
        message: str,
        *,
        op: str | None = None,
        shapes: Sequence[tuple[int, ...]] | None = None,
        loc: SourceLoc | None = None,
        hint: str | None = None,
    ):
        self.message = message
        self.op = op
        self.shapes = None if shapes is None else [tuple(s) for s in shapes]
        self.loc = loc
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        head = self.message
        if self.op is not None and self.shapes:
            head += f"\n  op: {self.op}, operand shapes: {format_shapes(self.shapes)}"
        elif self.op is not None:
            head += f"\n  op: {self.op}"
        elif self.shapes:
            head += f"\n  shapes: {format_shapes(self.shapes)}"
        if self.loc is not None:
            head += "\n" + self.loc.describe(indent="  ")
        if self.hint:
            head += f"\n  hint: {self.hint}"
        return head


class TraceError(SpikecError):
    """Something in the user's function cannot be traced."""


class ShapeError(TraceError, ValueError):
    """Operand shapes do not fit the operation (NumPy would raise too)."""


class UnsupportedOperationError(TraceError, TypeError):
    """A NumPy function or operator that spikec cannot compile was applied to a signal."""


class TracedControlFlowError(TraceError, TypeError):
    """Python control flow (``if``, ``bool()``, ``float()``) on a traced signal."""


class InPlaceError(TraceError, TypeError):
    """An in-place operation (``x += 1``, ``x[0] = 1``) on a signal."""


class ConstantError(SpikecError, ValueError):
    """A compile-time constant is unusable (non-finite, wrong dtype...)."""


class RunError(SpikecError, ValueError):
    """A program was run with inputs or options that do not fit it."""


class BackendError(SpikecError, RuntimeError):
    """A back end is unavailable or failed in a way spikec can explain."""


class RangeError(RunError):
    """A run's values left the ranges its neurons were tuned for (``on_range="error"``)."""


class RangeWarning(UserWarning):
    """A run's values left the ranges its neurons were tuned for: its results may be wrong.

    Issued after a run (``on_range="warn"``, the default); the message names
    each op, its source line, the range it was tuned for and the range seen.
    """
