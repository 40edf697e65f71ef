"""The lowering's error type."""

from __future__ import annotations

from spikec.errors import SpikecError


class LoweringError(SpikecError):
    """A graph cannot be turned into neurons (diverging ranges, an op with no rule...)."""
