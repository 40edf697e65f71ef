"""Lowering: NEF math that turns an optimized graph into a :class:`~spikec.netlist.Netlist`."""

from spikec.lower.lowering import LoweringError, lower
from spikec.lower.options import LowerOptions

__all__ = ["LowerOptions", "LoweringError", "lower"]
