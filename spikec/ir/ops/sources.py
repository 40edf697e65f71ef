"""Source ops: values that come from outside the graph (inputs) or from compile time (constants).

An input has no reference (``OpDef.is_input``); a constant's reference takes
no operands and gives its value (``OpDef.is_constant``).
"""

from __future__ import annotations

from spikec.ir.ops._common import fmt
from spikec.ir.registry import OpDef, OpKind, register

register(OpDef("input", OpKind.SOURCE, "an input signal of the program", arity=0,
               shape_rule=lambda attrs: attrs["shape"], format_attrs=fmt("name")))
register(OpDef("const", OpKind.SOURCE, "a compile-time constant array", arity=0,
               reference=lambda attrs: attrs["value"].value,
               shape_rule=lambda attrs: attrs["value"].shape,
               format_attrs=fmt("value")))
