"""Affine expressions over netlist sources.

Lowering evaluates the graph symbolically: every node's value becomes
``sum_s W_s @ value(s) + c`` over *sources* (program inputs, sum nodes and
neuron populations).  Linear ops only transform these matrices, so they cost
no neurons: whatever chain of reshapes, scalings and matmuls by constants sits
between two populations ends up as one weight matrix per projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

Matrix = sp.csr_array


def as_csr(matrix) -> Matrix:
    return matrix if isinstance(matrix, sp.csr_array) else sp.csr_array(matrix)


@dataclass(frozen=True)
class Affine:
    """``value = sum(terms[s] @ source_value(s)) + const`` for a flat value of ``size``."""

    size: int
    terms: Mapping[str, Matrix] = field(default_factory=dict)
    const: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.const is None:
            object.__setattr__(self, "const", np.zeros(self.size))

    @classmethod
    def source(cls, name: str, size: int) -> Affine:
        """The value of one source, as is."""
        return cls(size, {name: as_csr(sp.identity(size, format="csr"))})

    @classmethod
    def constant(cls, value: np.ndarray) -> Affine:
        value = np.asarray(value, dtype=np.float64).ravel()
        return cls(value.size, {}, value)

    def __add__(self, other: Affine) -> Affine:
        if self.size != other.size:
            raise ValueError(f"adding affine values of sizes {self.size} and {other.size}")
        terms = dict(self.terms)
        for name, m in other.terms.items():
            terms[name] = as_csr(terms[name] + m) if name in terms else m
        return Affine(self.size, terms, self.const + other.const)

    def __neg__(self) -> Affine:
        return self.scaled(-1.0)

    def __sub__(self, other: Affine) -> Affine:
        return self + (-other)

    def scaled(self, factor: float | np.ndarray) -> Affine:
        """Multiply elementwise by a scalar or a vector of length ``size``."""
        factor = np.asarray(factor, dtype=np.float64)
        if factor.ndim == 0:
            return Affine(self.size, {k: as_csr(m * float(factor)) for k, m in self.terms.items()},
                          self.const * float(factor))
        diag = sp.diags_array(factor, format="csr")
        return Affine(self.size, {k: as_csr(diag @ m) for k, m in self.terms.items()}, self.const * factor)

    def map(self, matrix, bias: np.ndarray | None = None) -> Affine:
        """Apply a linear map (``out_size x size`` matrix) and add ``bias``."""
        matrix = as_csr(matrix)
        if matrix.shape[1] != self.size:
            raise ValueError(f"map of shape {matrix.shape} applied to a value of size {self.size}")
        const = matrix @ self.const
        if bias is not None:
            const = const + np.ravel(bias)
        return Affine(matrix.shape[0], {k: as_csr(matrix @ m) for k, m in self.terms.items()}, const)

    def pruned(self) -> Affine:
        """Drop explicit zeros and empty terms (a cancelled path needs no projection)."""
        terms = {}
        for k, m in self.terms.items():
            m = as_csr(m)
            m.eliminate_zeros()
            if m.nnz:
                terms[k] = m
        return Affine(self.size, terms, self.const)

    def evaluate(self, sources: Mapping[str, np.ndarray]) -> np.ndarray:
        """Numeric value given source values (for checks and range estimates)."""
        out = self.const.copy()
        for name, m in self.terms.items():
            out = out + m @ np.ravel(sources[name])
        return out


def stack(parts: list[Affine]) -> Affine:
    """Concatenate affine values end to end (the value of a ``concatenate``)."""
    size = sum(p.size for p in parts)
    names = sorted({name for p in parts for name in p.terms})
    terms = {}
    for name in names:
        width = next(p.terms[name].shape[1] for p in parts if name in p.terms)
        blocks = [p.terms[name] if name in p.terms else sp.csr_array((p.size, width)) for p in parts]
        terms[name] = as_csr(sp.vstack(blocks, format="csr"))
    return Affine(size, terms, np.concatenate([p.const for p in parts]) if parts else np.zeros(0))


def selection(rows: np.ndarray, size_in: int) -> Matrix:
    """The 0/1 matrix picking element ``rows[i]`` of a value of ``size_in`` into output ``i``."""
    rows = np.asarray(rows).ravel()
    return sp.csr_array((np.ones(rows.size), (np.arange(rows.size), rows)), shape=(rows.size, size_in))


def broadcast_matrix(shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> Matrix:
    """The selection matrix of ``np.broadcast_to(x, shape_out)`` on flat values."""
    size_in = int(np.prod(shape_in, dtype=np.int64))
    index = np.broadcast_to(np.arange(size_in).reshape(shape_in), shape_out)
    return selection(index, size_in)


def distinct_rows(expr: Affine) -> tuple[Affine, Matrix]:
    """Factor ``expr`` as ``select @ unique``: ``unique`` keeps each distinct row once.

    Rows are compared exactly (same sources, columns, weights and constant).
    """
    terms = sorted(expr.terms.items())
    first: dict[tuple, int] = {}
    owner = np.empty(expr.size, dtype=np.int64)
    keep: list[int] = []
    for row in range(expr.size):
        key = [expr.const[row].tobytes()]
        for _, m in terms:
            a, b = m.indptr[row], m.indptr[row + 1]
            key.append(m.indices[a:b].tobytes())
            key.append(m.data[a:b].tobytes())
        key = tuple(key)
        if key not in first:
            first[key] = len(keep)
            keep.append(row)
        owner[row] = first[key]
    pick = selection(np.asarray(keep), expr.size)
    unique = expr.map(pick)
    return unique, selection(owner, len(keep))
