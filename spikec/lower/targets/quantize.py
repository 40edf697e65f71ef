"""Weight quantisation: ``LowerOptions.weight_bits``, one scale per projection.

Neuromorphic chips store synaptic weights as small signed integers with a
shared scale (an exponent per synapse group on Loihi).  :func:`quantize_weights`
rounds the weights of each projection (from one population or input into
one population or sum node) to ``2**(bits-1) - 1`` signed levels of one
step: ``step = max|w| / (2**(bits-1) - 1)`` over the projection,
``w -> round(w / step) * step``.  A weight below half a step becomes 0 (and
leaves the sparse matrix).  Gains, biases and pooling (its weights are the
fixed ``1 / pool area``) stay as they are.

Why not one scale per receiving population: a population that reads both
raw inputs (weights ``encoder / radius``, of order 1 to 10) and another
population's spikes (weights through decoders, of order 1e-3) loses the
small ones entirely at 8 bits (the 2x2 inverse's NRMSE went from 2% to 80%).
The cost in accuracy is measured by ``benchmarks/standard_target.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.netlist import AvgPool, Convolution, Dense, Sparse, make_transform

if TYPE_CHECKING:
    from spikec.lower.lowering import _Lowering

__all__ = ["quantize_transform", "quantize_weights", "weight_values"]


def weight_values(transform: Any) -> np.ndarray:
    """The stored weights of a transform (a kernel, a dense or sparse matrix's entries; none for pooling)."""
    if isinstance(transform, Convolution):
        return np.ravel(transform.kernel.value)
    if isinstance(transform, Dense):
        return np.ravel(transform.weights.value)
    if isinstance(transform, Sparse):
        return np.ravel(transform.data.value)
    return np.zeros(0)


def quantize_transform(transform: Any, step: float) -> Any:
    """``transform`` with every stored weight rounded to a multiple of ``step``."""

    def q(values: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(values, dtype=np.float64) / step) * step

    if isinstance(transform, Convolution):
        return replace(transform, kernel=ConstArray(q(transform.kernel.value)))
    if isinstance(transform, Dense):
        return Dense(ConstArray(q(transform.weights.value)))
    if isinstance(transform, Sparse):
        return make_transform(_rounded(transform, q))
    if isinstance(transform, AvgPool):
        return transform
    raise TypeError(f"no quantisation for transform {transform!r:.60}")


def _rounded(transform: Sparse, q) -> Any:
    import scipy.sparse as sp

    matrix = sp.coo_array((q(transform.data.value), (transform.rows.value, transform.cols.value)),
                          shape=transform.shape).tocsr()
    matrix.eliminate_zeros()
    return matrix


def quantize_weights(lw: _Lowering, bits: int) -> None:
    """Round the weights of every projection of ``lw`` to ``bits`` signed bits, one scale per projection."""
    levels = 2 ** (bits - 1) - 1
    for i, p in enumerate(lw.projections):
        top = float(np.max(np.abs(weight_values(p.transform)), initial=0.0))
        if top > 0.0:
            lw.projections[i] = replace(p, transform=quantize_transform(p.transform, top / levels))
