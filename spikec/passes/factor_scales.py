"""Scalar factors moved out of products: ``(c x) * y -> c (x * y)``, ``(c X) @ Y -> c (X @ Y)``.

A product unit squares its operands' sums and differences, so what it
spends in spikes grows with the size of the values it carries. A constant
factor on an operand (the 2 of a gradient ``2 (M @ A - I) @ A.T``) makes
every square carry a larger value; after the product the same factor is a
weight on the decoders, which costs nothing. The value is the same for every
input; what changes is the trade between spikes and the product's relative
precision (the quantum of the output grows with the factor), so this pass is
not in the default pipeline: :meth:`spikec.Program.autotune` tries it on the
calibration set (see :data:`spikec.train.autotune.OPTIONAL_REWRITES`), and
``passes=("factor_scales", *spikec.passes.DEFAULT_PIPELINE)`` asks for it.
"""

from __future__ import annotations

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.graph import Graph
from spikec.passes.rewrite import Rewriter, replace_nodes

#: The products whose scalar operand factors commute with them (both are bilinear).
PRODUCTS = ("mul", "matmul")


def factor_scales(graph: Graph) -> Graph:
    """Rewrite a ``mul`` or ``matmul`` with an operand ``scale``-d by a scalar ``c`` (``|c| != 1``) as the product
    of the unscaled operand, scaled by ``c`` after it (both operands' factors multiplied).

    Preserves the NumPy reference output for any inputs, up to
    floating-point rounding, and the nodes' source lines and
    ``spikec.configure`` settings; the ``scale`` node stays where something
    else reads it (``dce`` drops it otherwise).
    """
    plans = {node.id: factors for node in graph if (factors := _factors(graph, node)) is not None}
    return replace_nodes(graph, plans, _factored)


def _factored(rw: Rewriter, node, plan: tuple[float, tuple[int, ...]]) -> int:
    """``c * product(operands without their factors)`` in place of ``node``."""
    factor, operands = plan
    product = rw.emit(node.op, [rw.map[i] for i in operands], node.attrs, loc=node.loc)
    return rw.emit("scale", (product,), {"c": ConstArray(np.float64(factor))}, loc=node.loc)


def _factors(graph: Graph, node) -> tuple[float, tuple[int, ...]] | None:
    """``(product of the operands' scalar factors, the operands without them)``, or None when there is none to
    move."""
    if node.op not in PRODUCTS:
        return None
    factor, operands = 1.0, []
    for i in node.inputs:
        operand = graph[i]
        c = _scalar(operand)
        if c is None or abs(c) in (0.0, 1.0) or operand.shape != graph[operand.inputs[0]].shape:
            operands.append(i)
            continue
        factor *= c
        operands.append(operand.inputs[0])
    return (factor, tuple(operands)) if factor != 1.0 else None


def _scalar(node) -> float | None:
    if node.op != "scale":
        return None
    c = np.asarray(node.attrs["c"].value)
    return float(c.item()) if c.size == 1 else None


__all__ = ["PRODUCTS", "factor_scales"]
