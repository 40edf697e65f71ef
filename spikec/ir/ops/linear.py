"""Linear ops: affine maps of their operands, with their matrix forms.

They cost no neurons: ``fuse_linear`` and the lowering fold them into
projection weights through :func:`spikec.ir.linear_map.linear_map`, which
reads each op's ``is_structural`` flag or ``linear_map`` function below.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
from numpy.lib.array_utils import normalize_axis_index

from spikec.ir.attrs import Attrs, format_array
from spikec.ir.linear_map import (
    LinearMap,
    broadcast_map,
    diag,
    matmul_const_map,
    probe_einsum,
    prune,
    reduce_map,
    zero_bias,
)
from spikec.ir.node import Node
from spikec.ir.ops._common import broadcast, broadcast_with, fmt, same_shape
from spikec.ir.registry import OpDef, OpKind, register

L = OpKind.LINEAR
Shapes = list[tuple[int, ...]]


def _linear(name: str, doc: str, reference, **kwargs) -> None:
    register(OpDef(name, L, doc, reference=reference, **kwargs))


def _structural(name: str, doc: str, reference, **kwargs) -> None:
    register(OpDef(name, L, doc, reference=reference, is_structural=True, **kwargs))


# -- arithmetic ----------------------------------------------------------------------------


def _add_map(node: Node, shapes: Shapes) -> LinearMap:
    return [broadcast_map(shapes[0], node.shape), broadcast_map(shapes[1], node.shape)], np.zeros(node.size)


def _sub_map(node: Node, shapes: Shapes) -> LinearMap:
    return [broadcast_map(shapes[0], node.shape), -broadcast_map(shapes[1], node.shape)], np.zeros(node.size)


def _neg_map(node: Node, shapes: Shapes) -> LinearMap:
    return [diag(-np.ones(node.size))], np.zeros(node.size)


def _scale_map(node: Node, shapes: Shapes) -> LinearMap:
    c = np.broadcast_to(node.attrs["c"].value, node.shape).ravel()
    return [prune(broadcast_map(shapes[0], node.shape, data=c))], np.zeros(node.size)


def _offset_map(node: Node, shapes: Shapes) -> LinearMap:
    bias = np.array(np.broadcast_to(node.attrs["c"].value, node.shape), dtype=np.float64).ravel()
    return [broadcast_map(shapes[0], node.shape)], bias


_linear("add", "x + y (broadcasting)", lambda a, x, y: x + y, shape_rule=broadcast, arity=2, commutative=True,
        linear_map=_add_map, numpy_names=("+", "np.add"))
_linear("sub", "x - y (broadcasting)", lambda a, x, y: x - y, shape_rule=broadcast, arity=2,
        linear_map=_sub_map, numpy_names=("-", "np.subtract"))
_linear("neg", "-x", lambda a, x: -x, shape_rule=same_shape, linear_map=_neg_map,
        numpy_names=("unary -", "np.negative"))
_linear("scale", "x * c for a constant c (broadcasting)", lambda a, x: x * a["c"].value,
        shape_rule=broadcast_with("c"), format_attrs=fmt("c"), linear_map=_scale_map,
        numpy_names=("* const", "/ const", "np.multiply"))
_linear("offset", "x + c for a constant c (broadcasting)", lambda a, x: x + a["c"].value,
        shape_rule=broadcast_with("c"), format_attrs=fmt("c"), linear_map=_offset_map,
        numpy_names=("+ const", "- const"))

# -- products with constants ---------------------------------------------------------------


def _matmul_const(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    c = attrs["c"].value
    return np.matmul(c, x) if attrs["side"] == "left" else np.matmul(x, c)


def _matmul_const_map(node: Node, shapes: Shapes) -> LinearMap | None:
    """Kronecker forms for 1-D and 2-D operands; batched ones are probed."""
    w = matmul_const_map(node.attrs["c"].value, node.attrs["side"], shapes[0])
    if w is None:
        return None
    return [prune(scipy.sparse.csr_array(w))], np.zeros(node.size)


_linear("matmul_const", "c @ x (side=left) or x @ c (side=right) for a constant c", _matmul_const,
        format_attrs=fmt("side", "c"), linear_map=_matmul_const_map,
        numpy_names=("@ const", "np.matmul", "np.dot"))


def einsum_operands(attrs: Attrs, signals: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Rebuild the einsum operand list: signals fill the ``None`` slots in order."""
    it = iter(signals)
    return [next(it) if c is None else c.value for c in attrs["consts"]]


def einsum_reference(attrs: Attrs, *signals: np.ndarray) -> np.ndarray:
    """``np.einsum(attrs["subscripts"], ...)`` with the signals in the ``None`` slots of ``attrs["consts"]``."""
    return np.einsum(attrs["subscripts"], *einsum_operands(attrs, signals))


def _einsum_linear_map(node: Node, shapes: Shapes) -> LinearMap:
    """All columns in vectorised ``np.einsum`` calls (the probe index becomes an extra einsum axis)."""
    bias = zero_bias(node, shapes)
    return [probe_einsum(node.attrs, shapes[0], node.size)], bias


_linear("einsum_linear", "np.einsum with exactly one signal operand", einsum_reference,
        format_attrs=fmt("subscripts"), linear_map=_einsum_linear_map,
        numpy_names=("np.einsum", "np.trace", "np.tensordot"))

# -- structural: the output rearranges operand elements --------------------------------------

_structural("reshape", "change the shape, keeping C order", lambda a, x: np.reshape(x, a["shape"]),
            shape_rule=lambda a, s: tuple(a["shape"]), format_attrs=fmt("shape"),
            numpy_names=("reshape", "ravel", "flatten", "expand_dims", "squeeze"))
_structural("transpose", "permute axes", lambda a, x: np.transpose(x, a["axes"]),
            shape_rule=lambda a, s: tuple(s[i] for i in a["axes"]), format_attrs=fmt("axes"),
            numpy_names=("transpose", ".T", "swapaxes", "moveaxis"))
def _broadcast_to_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    # From the shapes alone: a reference run would materialise the whole broadcast array.
    target = tuple(int(d) for d in attrs["shape"])
    if np.broadcast_shapes(shape, target) != target:
        raise ValueError(f"operands could not be broadcast from shape {shape} to {target}")
    return target


_structural("broadcast_to", "repeat along broadcast axes", lambda a, x: np.broadcast_to(x, a["shape"]).copy(),
            shape_rule=_broadcast_to_shape, format_attrs=fmt("shape"), numpy_names=("np.broadcast_to",))


def _thaw_item(item: tuple):
    return _THAW[item[0]](item)


# How each tag of a frozen index (spikec.trace) turns back into a NumPy index item and into text.
_THAW = {
    "int": lambda item: item[1],
    "slice": lambda item: slice(item[1], item[2], item[3]),
    "none": lambda item: None,
    "ellipsis": lambda item: Ellipsis,
    "array": lambda item: item[1].value,
}


def _slice_text(item: tuple) -> str:
    a, b, c = item[1:]
    text = f"{'' if a is None else a}:{'' if b is None else b}"
    return text + (f":{c}" if c is not None else "")


_SHOW = {
    "int": lambda item: str(item[1]),
    "slice": _slice_text,
    "none": lambda item: "None",
    "ellipsis": lambda item: "...",
    "array": lambda item: format_array(item[1].value),
}


def thaw_index(frozen: tuple) -> tuple:
    """Turn the hashable index stored in attrs back into a NumPy index tuple."""
    for item in frozen:
        if item[0] not in _THAW:  # pragma: no cover - produced only by spikec.trace
            raise ValueError(f"bad index item {item!r}")
    return tuple(_thaw_item(item) for item in frozen)


def _format_index(attrs: Attrs) -> str:
    return "[" + ", ".join(_SHOW[item[0]](item) for item in attrs["index"]) + "]"


_structural("getitem", "indexing and slicing (basic and integer-array)",
            lambda a, x: np.array(x[thaw_index(a["index"])]), format_attrs=_format_index,
            numpy_names=("x[...]",))
_structural("concatenate", "join along an existing axis", lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
            arity=None, format_attrs=fmt("axis"), numpy_names=("np.concatenate", "np.hstack", "np.vstack"))
_structural("stack", "join along a new axis", lambda a, *xs: np.stack(xs, axis=a["axis"]), arity=None,
            format_attrs=fmt("axis"), numpy_names=("np.stack",))

# -- reductions ------------------------------------------------------------------------------


def _reduce(mean: bool):
    def linear_map(node: Node, shapes: Shapes) -> LinearMap:
        attrs = node.attrs
        return [reduce_map(shapes[0], attrs["axis"], attrs["keepdims"], mean)], np.zeros(node.size)

    return linear_map


def _reduce_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    # From the shapes alone: summing a dummy array of a large operand costs its size in memory and time.
    axis, ndim = attrs["axis"], len(shape)
    axes = range(ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = {int(normalize_axis_index(a, ndim)) for a in axes} if ndim else set()
    if attrs["keepdims"]:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


_linear("sum", "sum over axes", lambda a, x: np.sum(x, axis=a["axis"], keepdims=a["keepdims"]),
        shape_rule=_reduce_shape, format_attrs=fmt("axis", "keepdims"), linear_map=_reduce(mean=False),
        numpy_names=("np.sum", ".sum"))
_linear("mean", "mean over axes", lambda a, x: np.mean(x, axis=a["axis"], keepdims=a["keepdims"]),
        shape_rule=_reduce_shape, format_attrs=fmt("axis", "keepdims"), linear_map=_reduce(mean=True),
        numpy_names=("np.mean", ".mean"))


def _along_axis(shape: tuple[int, ...], axis: int | None, block: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
    """``block`` (out_n, n) applied along ``axis`` of a C-order array of ``shape`` (None: the flattened array)."""
    if axis is None:
        shape, axis = (math.prod(shape),), 0
    before, after = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    eye = scipy.sparse.identity
    return prune(scipy.sparse.kron(eye(before, format="csr"),
                                   scipy.sparse.kron(block, eye(after, format="csr"), format="csr"), format="csr"))


def _cumsum_map(node: Node, shapes: Shapes) -> LinearMap:
    """Lower-triangular ones along the axis."""
    axis = node.attrs["axis"]
    n = math.prod(shapes[0]) if axis is None else shapes[0][axis]
    tri = scipy.sparse.csr_array(np.tril(np.ones((n, n))))
    return [_along_axis(shapes[0], axis, tri)], np.zeros(node.size)


def _diff_map(node: Node, shapes: Shapes) -> LinearMap:
    """The first-difference matrix along the axis, to the power ``n``."""
    axis, n = node.attrs["axis"], node.attrs["n"]
    size = shapes[0][axis]
    block = scipy.sparse.identity(size, format="csr")
    for k in range(n):
        m = size - k  # length before this difference
        rows = np.arange(m - 1)
        step = scipy.sparse.csr_array((np.concatenate([-np.ones(m - 1), np.ones(m - 1)]),
                                       (np.concatenate([rows, rows]), np.concatenate([rows, rows + 1]))),
                                      shape=(m - 1, m))
        block = step @ block
    return [_along_axis(shapes[0], axis, scipy.sparse.csr_array(block))], np.zeros(node.size)


_linear("cumsum", "cumulative sum along an axis (None: of the flattened array)",
        lambda a, x: np.cumsum(x, axis=a["axis"]), format_attrs=fmt("axis"), linear_map=_cumsum_map,
        numpy_names=("np.cumsum", ".cumsum"))
_linear("diff", "n-th discrete difference along an axis", lambda a, x: np.diff(x, n=a["n"], axis=a["axis"]),
        format_attrs=fmt("n", "axis"), linear_map=_diff_map, numpy_names=("np.diff",))
_structural("flip", "reverse the order of elements along axes", lambda a, x: np.flip(x, axis=a["axis"]).copy(),
            shape_rule=lambda a, s: s, format_attrs=fmt("axis"), numpy_names=("np.flip",))
_structural("select", "np.where(c, x, y) with a constant condition c", lambda a, x, y: np.where(a["cond"].value, x, y),
            arity=2, format_attrs=fmt("cond"), numpy_names=("np.where",))


# -- affine: the result of spikec.passes.fuse_linear (never traced directly) ------------------


def _affine(attrs: Attrs, *xs: np.ndarray) -> np.ndarray:
    """``b + W_0 @ ravel(x_0) + W_1 @ ravel(x_1) + ...``, reshaped; summed in that order."""
    bias, weights = attrs["bias"], attrs["weights"]
    if bias is None and len(weights) == 1 and weights[0].picks is not None:  # a broadcast: one pass, same values
        return (np.ravel(xs[0])[weights[0].picks] + 0.0).reshape(attrs["shape"])
    out = np.zeros(math.prod(attrs["shape"])) if bias is None else np.array(bias.value, dtype=np.float64)
    for w, x in zip(weights, xs):
        if w.picks is not None:  # a selection: the same values as the product (``+ 0.0``: it turns -0 into 0 too)
            out = out + (np.ravel(x)[w.picks] + 0.0)
        elif w.sums is not None:  # sums of k elements: added in the product's order (spikec.ir.sparse)
            out = out + np.add.reduce(np.ravel(x)[w.sums], axis=0, initial=0.0)
        else:
            out = out + w.matrix @ np.ravel(x)
    return out.reshape(attrs["shape"])


def _affine_shape(attrs: Attrs, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    shape, weights, bias = tuple(attrs["shape"]), attrs["weights"], attrs["bias"]
    size = math.prod(shape)
    if len(weights) != len(shapes):
        raise ValueError(f"affine has {len(weights)} weight matrices but {len(shapes)} operands")
    for i, (w, s) in enumerate(zip(weights, shapes)):
        if tuple(w.shape) != (size, math.prod(s)):
            raise ValueError(f"affine weight {i} has shape {tuple(w.shape)}; operand {i} of shape {s} "
                             f"into output {shape} needs {(size, math.prod(s))}")
    if bias is not None and bias.shape != (size,):
        raise ValueError(f"affine bias has shape {bias.shape}, expected {(size,)}")
    return shape


def _format_affine(attrs: Attrs) -> str:
    text = "W=" + ",".join(f"{w.shape[0]}x{w.shape[1]}/nnz{w.nnz}" for w in attrs["weights"])
    if attrs["bias"] is not None:
        text += f", b={format_array(attrs['bias'].value)}"
    return text


def _affine_map(node: Node, shapes: Shapes) -> LinearMap:
    """The matrices it holds."""
    bias = node.attrs["bias"]
    return ([w.matrix.copy() for w in node.attrs["weights"]],
            np.zeros(node.size) if bias is None else np.array(bias.value, dtype=np.float64))


_linear(
    "affine",
    "y = reshape(b + sum_i W_i @ ravel(x_i), shape): fused linear ops (attrs: weights, a tuple of "
    "spikec.ir.sparse.SparseConst of shape (size, operand size); bias, a ConstArray of shape (size,) "
    "or None; shape, the output shape)",
    _affine, shape_rule=_affine_shape, arity=None, format_attrs=_format_affine, linear_map=_affine_map,
    numpy_names=("(spikec.passes.fuse_linear)",),
)
