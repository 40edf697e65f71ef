"""The matrix form of a linear op: ``ravel(y) = sum_i W_i @ ravel(x_i) + b``.

Used by :func:`spikec.passes.fuse_linear` to compose chains of linear ops and
by the lowering to fold linear maps into projection weights; both must see
exactly the same matrices, so :func:`linear_map` is the one entry point.

Each op says how its matrix is found, in its registration
(:mod:`spikec.ir.ops`):

* structural ops (``OpDef.is_structural``: ``reshape``, ``transpose``,
  ``getitem``, ...) apply their own NumPy reference once to an array of
  element indices; the result says which input element lands in each output
  element, a 0/1 selection matrix built directly in CSR form
  (:func:`structural_map`);
* ops with a closed form register ``OpDef.linear_map`` built from the blocks
  here (broadcasting maps, reductions, Kronecker products, ...);
* any other linear op is probed with unit vectors, one reference call per
  input element (:func:`probe`).

The bias is the op's reference evaluated at zero operands (exact for affine
maps).  A 30x30 structural op takes well under a millisecond.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import numpy as np
import scipy.sparse

from spikec.ir.node import Node
from spikec.ir.registry import get_op

Shape = tuple[int, ...]
Matrix = scipy.sparse.csr_array
LinearMap = tuple[list[Matrix], np.ndarray]

_PROBE_BLOCK = 1 << 22  # floats per vectorised probe block


def linear_map(node: Node, operand_shapes: Sequence[Shape]) -> LinearMap:
    """The matrices and bias of linear node ``node``.

    Parameters
    ----------
    node
        A node whose op is ``LINEAR`` in the registry.
    operand_shapes
        Shapes of its operands, in order.

    Returns
    -------
    weights, bias
        ``weights[i]`` is a ``scipy.sparse.csr_array`` of shape
        ``(node.size, prod(operand_shapes[i]))`` with float64 entries and no
        explicit zeros; ``bias`` a float64 vector of length ``node.size``, so
        that ``np.ravel(reference(node.attrs, *xs)) == sum_i weights[i] @
        np.ravel(xs[i]) + bias`` (exactly for structural ops, to rounding
        for the others).  The returned arrays are fresh: callers may modify them.
    """
    opdef = get_op(node.op)
    if not opdef.is_linear:
        raise TypeError(f"linear_map needs a linear op, got {node.op!r} ({opdef.kind.value})")
    shapes = [tuple(int(d) for d in s) for s in operand_shapes]
    if opdef.is_structural:
        return structural_map(node, shapes), np.zeros(node.size)
    if opdef.linear_map is not None:
        found = opdef.linear_map(node, shapes)
        if found is not None:
            return found
    bias = zero_bias(node, shapes)
    return probe(opdef.reference, node.attrs, shapes, bias), bias


def zero_bias(node: Node, shapes: Sequence[Shape]) -> np.ndarray:
    """The op's value at zero operands: the bias of an affine map."""
    reference = get_op(node.op).reference
    return np.ravel(reference(node.attrs, *(np.zeros(s) for s in shapes))).astype(np.float64)


# -- building blocks ---------------------------------------------------------------------


def selection(index: np.ndarray, n_in: int, data: np.ndarray | None = None) -> Matrix:
    """CSR matrix with row ``r`` picking input ``index[r]`` (times ``data[r]``)."""
    index = np.array(index, dtype=np.int64).ravel()
    n = index.size
    data = np.ones(n) if data is None else np.array(data, dtype=np.float64).ravel()
    return Matrix((data, index, np.arange(n + 1, dtype=np.int64)), shape=(n, n_in))


def prune(w: Matrix) -> Matrix:
    """``w`` as CSR without explicit zeros (a copy)."""
    w = Matrix(w)
    w.eliminate_zeros()
    return w


def diag(values: np.ndarray) -> Matrix:
    """The diagonal matrix of ``values``."""
    return selection(np.arange(values.size), values.size, values)


def broadcast_map(shape: Shape, out_shape: Shape, data: np.ndarray | None = None) -> Matrix:
    """Broadcasting ``shape`` to ``out_shape`` as a selection matrix (row ``r`` times ``data[r]``)."""
    n_in = math.prod(shape)
    index = np.broadcast_to(np.arange(n_in, dtype=np.int64).reshape(shape), out_shape)
    return selection(index, n_in, data)


def structural_map(node: Node, shapes: list[Shape]) -> list[Matrix]:
    """Apply the op's reference to index arrays: each output element names its source."""
    sizes = [math.prod(s) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    operands = [np.arange(offsets[i], offsets[i + 1], dtype=np.int64).reshape(s) for i, s in enumerate(shapes)]
    index = np.asarray(get_op(node.op).reference(node.attrs, *operands)).astype(np.int64).ravel()
    if index.size != node.size:  # pragma: no cover - guards against a reference that changes dtype/shape
        raise ValueError(f"{node.op}: index evaluation gave {index.size} elements, expected {node.size}")
    if len(shapes) == 1:
        return [selection(index, sizes[0])]
    which = np.searchsorted(offsets, index, side="right") - 1
    rows = np.arange(index.size, dtype=np.int64)
    out = []
    for i, n_in in enumerate(sizes):
        mask = which == i
        out.append(Matrix((np.ones(int(mask.sum())), (rows[mask], index[mask] - offsets[i])),
                          shape=(index.size, n_in)))
    return out


def reduce_map(shape: Shape, axis, keepdims: bool, mean: bool) -> Matrix:
    """``sum`` (or ``mean``) over ``axis``: each input element into the output element it is reduced into."""
    nd = len(shape)
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in axis)
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    n_in, n_out = math.prod(shape), math.prod(kept)
    out_index = np.broadcast_to(np.arange(n_out, dtype=np.int64).reshape(kept), shape).ravel()
    count = math.prod(shape[a] for a in axes)
    data = np.full(n_in, 1.0 / count if mean else 1.0)
    return Matrix((data, (out_index, np.arange(n_in, dtype=np.int64))), shape=(n_out, n_in))


def matmul_const_map(c: np.ndarray, side: str, shape: Shape):
    """Kronecker forms of ``c @ x`` / ``x @ c`` for 1-D and 2-D operands (None otherwise)."""
    if c.ndim > 2 or len(shape) > 2:
        return None
    if side == "left":  # y = c @ x
        if len(shape) == 1:
            return c if c.ndim == 2 else c[None, :]
        k = shape[1]
        row = c if c.ndim == 2 else c[None, :]
        return scipy.sparse.kron(scipy.sparse.csr_array(row), scipy.sparse.identity(k, format="csr"), format="csr")
    # y = x @ c
    if len(shape) == 1:
        return c.T if c.ndim == 2 else c[None, :]
    n = shape[0]
    right = c.T if c.ndim == 2 else c[None, :]
    return scipy.sparse.kron(scipy.sparse.identity(n, format="csr"), scipy.sparse.csr_array(right), format="csr")


def probe_einsum(attrs, shape: Shape, n_out: int) -> Matrix:
    """All columns of a one-signal einsum, a block of unit vectors per ``np.einsum`` call."""
    subscripts = attrs["subscripts"].replace(" ", "")
    lhs, rhs = subscripts.split("->")
    terms = lhs.split(",")
    consts = attrs["consts"]
    slot = next(i for i, c in enumerate(consts) if c is None)
    fresh = next(ch for ch in string.ascii_letters if ch not in subscripts)
    terms[slot] = fresh + terms[slot]
    probe_subscripts = ",".join(terms) + "->" + fresh + rhs
    n_in = math.prod(shape)
    block = max(1, _PROBE_BLOCK // max(n_out, n_in, 1))
    columns = []
    for start in range(0, n_in, block):
        stop = min(n_in, start + block)
        eye = np.zeros((stop - start, n_in))
        eye[np.arange(stop - start), np.arange(start, stop)] = 1.0
        operands = [eye.reshape((stop - start,) + shape) if c is None else c.value for c in consts]
        cols = np.einsum(probe_subscripts, *operands).reshape(stop - start, n_out)
        columns.append(scipy.sparse.csr_array(cols.T))
    return prune(scipy.sparse.hstack(columns, format="csr")) if len(columns) > 1 else prune(columns[0])


def probe(reference, attrs, shapes: list[Shape], bias: np.ndarray) -> list[Matrix]:
    """Columns by unit vectors, one reference call each (any linear op)."""
    out = []
    zeros = [np.zeros(s) for s in shapes]
    for i, shape in enumerate(shapes):
        n_in = math.prod(shape)
        cols = np.empty((bias.size, n_in))
        for j in range(n_in):
            unit = np.zeros(n_in)
            unit[j] = 1.0
            args = list(zeros)
            args[i] = unit.reshape(shape)
            cols[:, j] = np.ravel(reference(attrs, *args)) - bias
        out.append(prune(scipy.sparse.csr_array(cols)))
    return out


def is_identity(w: Matrix) -> bool:
    """True when ``w`` is the square identity matrix."""
    n, m = w.shape
    if n != m or w.nnz != n:
        return False
    w = Matrix(w)
    w.sort_indices()
    return bool(np.array_equal(w.indices, np.arange(n)) and np.all(w.data == 1.0)
                and np.array_equal(w.indptr, np.arange(n + 1)))
