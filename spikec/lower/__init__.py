"""Lowering: NEF math that turns an optimized graph into a :class:`~spikec.netlist.Netlist`."""

from spikec.lower.lowering import LoweringError, lower
from spikec.lower.options import LowerOptions
from spikec.lower.targets import standard as _standard  # noqa: F401  (registers target "lif")

__all__ = ["LowerOptions", "LoweringError", "lower"]
