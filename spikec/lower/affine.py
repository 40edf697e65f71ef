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
from functools import cached_property

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

    def map(self, matrix, bias: np.ndarray | None = None) -> Affine | Gathered:
        """Apply a linear map (``out_size x size`` matrix) and add ``bias``.

        A broadcast (a selection with more rows than columns) of an expression
        with sources gives a :class:`Gathered` value that builds its rows only
        when they are read: a ``(n, n, 1) -> (n, n, n)`` broadcast of sums of
        ``2n`` neurons would otherwise hold ``2n^4`` weights.
        """
        matrix = as_csr(matrix)
        if matrix.shape[1] != self.size:
            raise ValueError(f"map of shape {matrix.shape} applied to a value of size {self.size}")
        if bias is None and self.terms and matrix.shape[0] > matrix.shape[1]:
            rows = selected_rows(matrix)
            if rows is not None:
                return Gathered(self, rows)
        return self.mapped(matrix, bias)

    def mapped(self, matrix, bias: np.ndarray | None = None) -> Affine:
        """:meth:`map`, built row by row always."""
        matrix = as_csr(matrix)
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

    @property
    def names(self) -> tuple[str, ...]:
        """The sources of the terms (as ``terms``' keys, without building anything)."""
        return tuple(self.terms)

    def row_nnz(self) -> np.ndarray:
        """Stored weights per row, over all terms."""
        counts = np.zeros(self.size, dtype=np.int64)
        for m in self.terms.values():
            counts += np.diff(as_csr(m).indptr)
        return counts


def selected_rows(matrix: Matrix) -> np.ndarray | None:
    """Per row, the one column a 0/1 selection matrix picks; None when ``matrix`` is not one."""
    if not (np.all(np.diff(matrix.indptr) == 1) and np.all(matrix.data == 1.0)):
        return None
    return np.asarray(matrix.indices, dtype=np.int64)


@dataclass(frozen=True)
class Gathered:
    """The value ``base[rows]`` (element ``i`` is ``base``'s element ``rows[i]``), built only when read.

    Reading ``terms``, ``const`` or any arithmetic builds the rows as
    ``base.map(selection(rows))``, exactly what an eager map gives; only
    selections compose without building (a broadcast of a broadcast), and
    :func:`distinct_rows` factors it from ``base``'s rows, so a broadcast
    that ends in a relay node never exists row by row.
    """

    base: Affine
    rows: np.ndarray

    @property
    def size(self) -> int:
        return int(self.rows.size)

    @cached_property
    def dense(self) -> Affine:
        """The rows, built."""
        return self.base.mapped(selection(self.rows, self.base.size))

    @property
    def terms(self) -> Mapping[str, Matrix]:
        return self.dense.terms

    @property
    def const(self) -> np.ndarray:
        return self.dense.const

    @property
    def names(self) -> tuple[str, ...]:
        return self.base.names

    def row_nnz(self) -> np.ndarray:
        return self.base.row_nnz()[self.rows]

    def map(self, matrix, bias: np.ndarray | None = None) -> Affine | Gathered:
        matrix = as_csr(matrix)
        if matrix.shape[1] != self.size:
            raise ValueError(f"map of shape {matrix.shape} applied to a value of size {self.size}")
        picked = selected_rows(matrix) if bias is None else None
        if picked is not None:
            return Gathered(self.base, self.rows[picked])
        return self.dense.map(matrix, bias)

    def __add__(self, other) -> Affine:
        return self.dense + other

    def __radd__(self, other) -> Affine:
        return other + self.dense

    def __neg__(self) -> Affine:
        return -self.dense

    def __sub__(self, other) -> Affine:
        return self.dense - other

    def scaled(self, factor) -> Affine:
        return self.dense.scaled(factor)

    def pruned(self) -> Affine:
        return self.dense.pruned()

    def evaluate(self, sources: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.dense.evaluate(sources)


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


def distinct_rows(expr: Affine | Gathered) -> tuple[Affine, Matrix]:
    """Factor ``expr`` as ``select @ unique``: ``unique`` keeps each distinct row once, in order of first use.

    Rows are compared exactly (same sources, columns, weights and constant;
    the order weights are stored in does not matter).  A :class:`Gathered`
    value is factored from its base's rows, without building its own.
    """
    if isinstance(expr, Gathered):
        base, rows = expr.base.pruned(), expr.rows
    else:
        base, rows = expr.pruned(), None
    classes = _row_classes(base)
    if rows is not None:
        classes = classes[rows]
    _, first, inverse = np.unique(classes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    keep = first[order]
    owner = rank[np.ravel(inverse)]
    picked = keep if rows is None else rows[keep]
    unique = base.mapped(selection(picked, base.size))
    return unique, selection(owner, keep.size)


def _row_classes(expr: Affine) -> np.ndarray:
    """Per row, an id shared exactly by the rows with equal weights (by source and column) and constant."""
    terms = [as_csr(m).copy() for _, m in sorted(expr.terms.items())]
    for m in terms:
        m.sum_duplicates()  # canonical: sorted columns, no duplicates (explicit zeros are already gone)
    size = expr.size
    # a row's key: its constant, then per term its length, columns and weights, as one row of 64-bit words
    lengths = [np.diff(m.indptr) for m in terms]
    width = 1 + sum(1 + 2 * int(n.max(initial=0)) for n in lengths)
    if size * width > _MAX_KEY_WORDS:  # a few long rows among many short ones: keys of their own length
        return _row_classes_by_dict(expr.const, terms)
    keys = np.zeros((size, width), dtype=np.uint64)
    keys[:, 0] = np.ascontiguousarray(expr.const, dtype=np.float64).view(np.uint64)
    col = 1
    for m, n in zip(terms, lengths):
        keys[:, col] = n
        longest = int(n.max(initial=0))
        row = np.repeat(np.arange(size), n)
        pos = np.arange(m.nnz) - np.repeat(m.indptr[:-1], n)
        keys[row, col + 1 + pos] = m.indices.astype(np.uint64)
        keys[row, col + 1 + longest + pos] = np.ascontiguousarray(m.data, dtype=np.float64).view(np.uint64)
        col += 1 + 2 * longest
    _, classes = np.unique(keys, axis=0, return_inverse=True)
    return np.ravel(classes)


#: the most 64-bit words :func:`_row_classes` puts in its table of row keys (512 MB) before going row by row
_MAX_KEY_WORDS = 1 << 26


def _row_classes_by_dict(const: np.ndarray, terms: list[Matrix]) -> np.ndarray:
    """:func:`_row_classes` one row at a time (canonical ``terms``), for rows of very different lengths."""
    first: dict[tuple, int] = {}
    classes = np.empty(const.size, dtype=np.int64)
    for row in range(const.size):
        key = [const[row].tobytes()]
        for m in terms:
            a, b = m.indptr[row], m.indptr[row + 1]
            key += [m.indices[a:b].tobytes(), m.data[a:b].tobytes()]
        classes[row] = first.setdefault(tuple(key), len(first))
    return classes
