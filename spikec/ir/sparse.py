"""A hashable, read-only sparse matrix for op attributes.

Graph nodes are frozen and compared by value (that is how CSE works), so a
weight matrix held in a node's attrs must hash and compare by value.
:class:`SparseConst` wraps a ``scipy.sparse.csr_array`` in canonical form
(float64, duplicates summed, explicit zeros dropped, indices sorted) so that
two equal matrices always compare equal.  The ``affine`` op stores its
weights this way.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import scipy.sparse


class SparseConst:
    """A read-only ``scipy.sparse.csr_array`` that hashes and compares by value.

    ``.matrix`` is the csr array (do not modify it); ``.toarray()`` gives a
    dense copy.  Accepts anything ``scipy.sparse.csr_array`` accepts (a
    sparse matrix or array, or a dense 2-D array).
    """

    __slots__ = ("_hash", "matrix", "picks", "sums")

    def __init__(self, matrix: Any):
        m = scipy.sparse.csr_array(matrix, dtype=np.float64, copy=True)
        m.sum_duplicates()
        m.eliminate_zeros()
        m.sort_indices()
        m.indices = m.indices.astype(np.int64, copy=False)
        m.indptr = m.indptr.astype(np.int64, copy=False)
        for part in (m.data, m.indices, m.indptr):
            part.setflags(write=False)
        self.matrix = m
        # A 0/1 selection (one weight of 1 per row: a broadcast, a transpose) applies as an index: a third of the
        # time of a sparse product.  Per row, the column it picks; None for any other matrix.
        one_each = m.shape[0] == 0 or (np.all(np.diff(m.indptr) == 1) and np.all(m.data == 1.0))
        self.picks = m.indices if one_each else None
        # A sum of k >= 2 elements per row, weights 1: ``sums[t]`` is the t-th column each row adds (columns in
        # order), so ``np.add.reduce(x[sums], axis=0, initial=0.0)`` adds in the sparse product's order (the same
        # bits) in three quarters of its time.
        lengths = np.diff(m.indptr)
        k = int(lengths[0]) if lengths.size else 0
        equal = k >= 2 and np.all(lengths == k) and np.all(m.data == 1.0)
        self.sums = np.ascontiguousarray(m.indices.reshape(-1, k).T) if equal else None
        digest = hashlib.sha1()
        for part in (m.data, m.indices, m.indptr):
            digest.update(part.tobytes())
        self._hash = hash(("sparse", m.shape, digest.hexdigest()))

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def toarray(self) -> np.ndarray:
        return self.matrix.toarray()

    def __matmul__(self, other: Any) -> Any:
        return self.matrix @ other

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseConst):
            return NotImplemented
        a, b = self.matrix, other.matrix
        return (
            self._hash == other._hash
            and a.shape == b.shape
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data)
        )

    def __reduce__(self):
        # Rebuild on unpickling: string hashes differ between processes.
        return (SparseConst, (self.matrix,))

    def __repr__(self) -> str:
        rows, cols = self.shape
        return f"sparse[{rows}x{cols}, nnz={self.nnz}]"
