"""Shape rules and attribute formatters shared by the op families."""

from __future__ import annotations

import numpy as np

from spikec.ir.attrs import Attrs, ConstArray, format_array


def same_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape rule of an op whose output has its operand's shape."""
    return shape


def broadcast(attrs: Attrs, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """Shape rule of a broadcasting op over its operands."""
    return np.broadcast_shapes(*shapes)


def broadcast_with(key: str):
    """Shape rule of an op that broadcasts its operand against the constant ``attrs[key]``."""

    def rule(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
        return np.broadcast_shapes(shape, attrs[key].shape)

    return rule


def fmt(*keys: str):
    """Attribute formatter showing the given keys (constants shortened)."""

    def show(attrs: Attrs) -> str:
        parts = []
        for key in keys:
            if key not in attrs:
                continue
            value = attrs[key]
            if value is None:  # an unset option (x0 of a filter starting at zero)
                continue
            if isinstance(value, ConstArray):
                value = format_array(value.value)
            elif hasattr(value, "label"):
                value = value.label()
            parts.append(f"{key}={value}")
        return ", ".join(parts)

    return show
