"""The matrix form of a linear op: ``ravel(y) = sum_i W_i @ ravel(x_i) + b``.

Used by :func:`spikec.passes.fuse_linear` to compose chains of linear ops and
by the lowering to fold linear maps into projection weights; both must see
exactly the same matrices, so this is the one place that computes them.

How each op's matrix is found (all exact, because the ops are linear):

* structural ops (``reshape``, ``transpose``, ``getitem``, ``broadcast_to``,
  ``flip``, ``concatenate``, ``stack``, ``select``) apply their own NumPy
  reference once to an array of element indices (``np.arange(size)`` in the
  operand's shape); the result says which input element lands in each
  output element, which is a 0/1 selection matrix built directly in CSR form;
* ``add``/``sub``/``neg``/``scale``/``offset`` are broadcasting maps (a
  selection matrix scaled by the broadcast constant) plus a bias;
* ``sum``/``mean`` map every input element to the output element it is
  reduced into (weights 1 or ``1/count``);
* ``matmul_const`` is a Kronecker product (``kron(C, I)`` or ``kron(I, C.T)``)
  for 1-D and 2-D operands;
* ``einsum_linear`` (and any other linear op, such as a batched
  ``matmul_const``) is probed with unit vectors: ``einsum`` in one vectorised
  call per chunk of probes (the probe index becomes an extra einsum axis),
  other ops one reference call per input element;
* ``affine`` holds its matrices already.

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

# Structural ops: the output is a rearrangement (with repetition) of the inputs.
STRUCTURAL_OPS = frozenset({"reshape", "transpose", "getitem", "broadcast_to", "flip", "concatenate",
                            "stack", "select"})
_PROBE_BLOCK = 1 << 22  # floats per vectorised probe block


def linear_map(node: Node, operand_shapes: Sequence[Shape]) -> tuple[list[Matrix], np.ndarray]:
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
    out_shape = tuple(node.shape)
    attrs = node.attrs
    op = node.op
    n_out = math.prod(out_shape)

    if op in STRUCTURAL_OPS:
        return _structural(node, shapes), np.zeros(n_out)
    if op == "affine":
        bias = attrs["bias"]
        return ([w.matrix.copy() for w in attrs["weights"]],
                np.zeros(n_out) if bias is None else np.array(bias.value, dtype=np.float64))
    if op == "neg":
        return [_diag(-np.ones(n_out))], np.zeros(n_out)
    if op in ("add", "sub"):
        w0 = _broadcast_map(shapes[0], out_shape)
        w1 = _broadcast_map(shapes[1], out_shape)
        return [w0, w1 if op == "add" else -w1], np.zeros(n_out)
    if op == "scale":
        c = np.broadcast_to(attrs["c"].value, out_shape).ravel()
        w = _broadcast_map(shapes[0], out_shape, data=c)
        return [_prune(w)], np.zeros(n_out)
    if op == "offset":
        bias = np.array(np.broadcast_to(attrs["c"].value, out_shape), dtype=np.float64).ravel()
        return [_broadcast_map(shapes[0], out_shape)], bias
    if op in ("sum", "mean"):
        return [_reduce_map(shapes[0], attrs["axis"], attrs["keepdims"], op == "mean")], np.zeros(n_out)
    if op == "avg_pool2d":
        return [_avg_pool_map(node, shapes[0])], np.zeros(n_out)
    if op == "conv2d":
        from spikec.netlist import Convolution

        conv = Convolution(tuple(shapes[0]), attrs["kernel"], tuple(attrs["strides"]), attrs["padding"])
        return [_prune(conv.matrix())], np.zeros(n_out)
    if op == "dense":
        return [_prune(scipy.sparse.csr_array(attrs["weights"].value.T))], np.zeros(n_out)
    if op == "matmul_const":
        w = _matmul_const(attrs["c"].value, attrs["side"], shapes[0])
        if w is not None:
            return [_prune(scipy.sparse.csr_array(w))], np.zeros(n_out)
    bias = np.ravel(opdef.reference(attrs, *(np.zeros(s) for s in shapes))).astype(np.float64)
    if op == "einsum_linear":
        return [_probe_einsum(attrs, shapes[0], n_out)], bias
    return _probe(opdef.reference, attrs, shapes, bias), bias


# -- building blocks ---------------------------------------------------------------------


def _selection(index: np.ndarray, n_in: int, data: np.ndarray | None = None) -> Matrix:
    """CSR matrix with row ``r`` picking input ``index[r]`` (times ``data[r]``)."""
    index = np.array(index, dtype=np.int64).ravel()
    n = index.size
    data = np.ones(n) if data is None else np.array(data, dtype=np.float64).ravel()
    return Matrix((data, index, np.arange(n + 1, dtype=np.int64)), shape=(n, n_in))


def _prune(w: Matrix) -> Matrix:
    w = Matrix(w)
    w.eliminate_zeros()
    return w


def _diag(values: np.ndarray) -> Matrix:
    return _selection(np.arange(values.size), values.size, values)


def _broadcast_map(shape: Shape, out_shape: Shape, data: np.ndarray | None = None) -> Matrix:
    n_in = math.prod(shape)
    index = np.broadcast_to(np.arange(n_in, dtype=np.int64).reshape(shape), out_shape)
    return _selection(index, n_in, data)


def _structural(node: Node, shapes: list[Shape]) -> list[Matrix]:
    """Apply the op's reference to index arrays: each output element names its source."""
    sizes = [math.prod(s) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    operands = [np.arange(offsets[i], offsets[i + 1], dtype=np.int64).reshape(s) for i, s in enumerate(shapes)]
    index = np.asarray(get_op(node.op).reference(node.attrs, *operands)).astype(np.int64).ravel()
    if index.size != node.size:  # pragma: no cover - guards against a reference that changes dtype/shape
        raise ValueError(f"{node.op}: index evaluation gave {index.size} elements, expected {node.size}")
    if len(shapes) == 1:
        return [_selection(index, sizes[0])]
    which = np.searchsorted(offsets, index, side="right") - 1
    rows = np.arange(index.size, dtype=np.int64)
    out = []
    for i, n_in in enumerate(sizes):
        mask = which == i
        out.append(Matrix((np.ones(int(mask.sum())), (rows[mask], index[mask] - offsets[i])),
                          shape=(index.size, n_in)))
    return out


def _avg_pool_map(node: Node, shape: Shape) -> Matrix:
    """Each output element averages its window: ``1/(ph*pw)`` on the window's inputs."""
    from spikec.ir.ops import _pool_windows

    n_in = math.prod(shape)
    windows = _pool_windows(node.attrs, np.arange(n_in, dtype=np.int64).reshape(shape))
    cols = windows.reshape(-1, windows.shape[-2] * windows.shape[-1])
    k = cols.shape[1]
    rows = np.repeat(np.arange(cols.shape[0], dtype=np.int64), k)
    return Matrix((np.full(rows.size, 1.0 / k), (rows, cols.ravel())), shape=(cols.shape[0], n_in))


def _reduce_map(shape: Shape, axis, keepdims: bool, mean: bool) -> Matrix:
    nd = len(shape)
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in axis)
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    n_in, n_out = math.prod(shape), math.prod(kept)
    out_index = np.broadcast_to(np.arange(n_out, dtype=np.int64).reshape(kept), shape).ravel()
    count = math.prod(shape[a] for a in axes)
    data = np.full(n_in, 1.0 / count if mean else 1.0)
    return Matrix((data, (out_index, np.arange(n_in, dtype=np.int64))), shape=(n_out, n_in))


def _matmul_const(c: np.ndarray, side: str, shape: Shape):
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


def _probe_einsum(attrs, shape: Shape, n_out: int) -> Matrix:
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
    return _prune(scipy.sparse.hstack(columns, format="csr")) if len(columns) > 1 else _prune(columns[0])


def _probe(reference, attrs, shapes: list[Shape], bias: np.ndarray) -> list[Matrix]:
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
        out.append(_prune(scipy.sparse.csr_array(cols)))
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
