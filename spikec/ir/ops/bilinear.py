"""Products of two signals: nonlinear, each product costs one unit of two inputs.

``matmul``, ``einsum_bilinear`` and ``div`` are rewritten by the
``expand_bilinear`` pass into elementwise ``mul`` units (and ``reciprocal``)
before lowering; the lowering has a rule for ``mul`` only.
"""

from __future__ import annotations

import math

import numpy as np

from spikec.ir.ops._common import broadcast, fmt
from spikec.ir.ops.linear import einsum_reference
from spikec.ir.registry import OpDef, OpKind, register

N = OpKind.NONLINEAR


def _matmul_units(node, shapes) -> int:
    """Scalar products in x @ y: every output element sums over the shared axis."""
    a, _ = shapes
    inner = a[-1]
    return node.size * inner


register(OpDef("mul", N, "x * y of two signals (broadcasting)", reference=lambda a, x, y: x * y,
               shape_rule=broadcast, arity=2, commutative=True, unit_inputs=2, numpy_names=("*", "np.multiply")))
register(OpDef("div", N, "x / y with a signal denominator", reference=lambda a, x, y: x / y,
               shape_rule=broadcast, arity=2, unit_inputs=2, expanded_by="expand_bilinear",
               numpy_names=("/", "np.divide")))
register(OpDef("matmul", N, "x @ y of two signals", reference=lambda a, x, y: np.matmul(x, y),
               arity=2, units=_matmul_units, unit_inputs=2, expanded_by="expand_bilinear",
               numpy_names=("@", "np.matmul", "np.dot")))


def _einsum_units(node, shapes) -> int:
    """Products in a bilinear einsum: one per combination of all index values."""
    subscripts = node.attrs["subscripts"].replace(" ", "")
    lhs = subscripts.split("->")[0].split(",")
    consts = node.attrs["consts"]
    sizes: dict[object, int] = {}
    it = iter(shapes)
    for term, const in zip(lhs, consts):
        shape = next(it) if const is None else const.shape
        head, _, tail = term.partition("...")
        if "..." in term:
            # Ellipsis axes broadcast right-aligned across operands: key them
            # by their distance from the end so each counts once.
            n_ell = len(shape) - len(head) - len(tail)
            for j, dim in enumerate(shape[len(head):len(head) + n_ell]):
                key = ("...", n_ell - j)
                sizes[key] = max(sizes.get(key, 1), dim)
        for letter, dim in zip(head, shape):
            sizes[letter] = dim
        for letter, dim in zip(tail, shape[len(shape) - len(tail):]):
            sizes[letter] = dim
    return math.prod(sizes.values())


register(OpDef("einsum_bilinear", N, "np.einsum with exactly two signal operands", arity=2,
               reference=einsum_reference, units=_einsum_units, unit_inputs=2, expanded_by="expand_bilinear",
               format_attrs=fmt("subscripts"), numpy_names=("np.einsum", "np.outer")))
