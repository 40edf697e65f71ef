"""NumPy semantics expressed as graph ops.

Each function here takes tracers and/or constants with NumPy's meaning and
emits the cheapest equivalent ops: products with constants become linear
``scale``/``matmul_const`` nodes, ``np.maximum(x, c)`` becomes a ``relu``
between two offsets, and so on.  Operations on constants alone are left to
NumPy, so constant sub-expressions never reach the graph.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from spikec.errors import ConstantError, ShapeError, UnsupportedOperationError
from spikec.ir.attrs import ConstArray, IndexArray
from spikec.ir.source import capture
from spikec.trace.context import TraceContext, as_constant
from spikec.trace.tracer import Tracer


def is_signal(x: Any) -> bool:
    return isinstance(x, Tracer)


def _ctx(*xs: Any) -> TraceContext:
    for x in xs:
        if isinstance(x, Tracer):
            return x._ctx
        if isinstance(x, (list, tuple)):
            for y in x:
                if isinstance(y, Tracer):
                    return y._ctx
    raise TypeError("no traced signal among the operands")  # pragma: no cover


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tracer) else np.shape(x)


def _const(x: Any, what: str) -> np.ndarray:
    return as_constant(x, what)


def _shape_error(op: str, shapes, detail: str) -> ShapeError:
    return ShapeError(f"{op}: {detail}", op=op, shapes=shapes, loc=capture())


def _check_broadcast(op: str, *xs: Any) -> tuple[int, ...]:
    shapes = [_shape(x) for x in xs]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise _shape_error(op, shapes, "operands could not be broadcast together") from None


# --------------------------------------------------------------------------- affine


def offset(x: Tracer, c: Any) -> Tracer:
    """x + c for a constant c; no node when c adds nothing."""
    c = _const(c, "addend")
    shape = _check_broadcast("add", x, c)
    if not c.any() and shape == x.shape:
        return x
    return x._ctx.emit("offset", [x], {"c": ConstArray(c)}, display_op="add")


def scale(x: Tracer, c: Any, op: str = "multiply") -> Tracer:
    """x * c for a constant c; no node when c is one."""
    c = _const(c, "factor")
    shape = _check_broadcast(op, x, c)
    if np.all(c == 1.0) and shape == x.shape:
        return x
    return x._ctx.emit("scale", [x], {"c": ConstArray(c)}, display_op=op)


def add(x: Any, y: Any) -> Any:
    if not is_signal(x):
        x, y = y, x
    if not is_signal(y):
        return offset(x, y)
    _check_broadcast("add", x, y)
    return x._ctx.emit("add", [x, y])


def negative(x: Tracer) -> Tracer:
    return x._ctx.emit("neg", [x], display_op="negative")


def subtract(x: Any, y: Any) -> Any:
    if not is_signal(y):
        return offset(x, -_const(y, "subtrahend"))
    if not is_signal(x):
        return offset(negative(y), x)
    _check_broadcast("subtract", x, y)
    return x._ctx.emit("sub", [x, y])


def multiply(x: Any, y: Any) -> Any:
    if not is_signal(x):
        x, y = y, x
    if not is_signal(y):
        return scale(x, y)
    _check_broadcast("multiply", x, y)
    return x._ctx.emit("mul", [x, y], display_op="multiply")


def divide(x: Any, y: Any) -> Any:
    if not is_signal(y):
        c = _const(y, "divisor")
        if np.any(c == 0):
            raise ConstantError("division of a signal by a constant that contains zeros",
                                op="divide", shapes=[_shape(x), c.shape], loc=capture())
        return scale(x, 1.0 / c, op="divide")
    if not is_signal(x):
        # scale() skips a unit factor itself, but keeps it when it broadcasts
        # (np.ones((3, 4)) / y has shape (3, 4) even for y of shape (4,)).
        return multiply(reciprocal(y), _const(x, "numerator"))
    _check_broadcast("divide", x, y)
    return x._ctx.emit("div", [x, y], display_op="divide")


def reciprocal(x: Tracer) -> Tracer:
    return unary("reciprocal", x)


def unary(op: str, x: Tracer, **attrs: Any) -> Tracer:
    """An elementwise nonlinear op."""
    return x._ctx.emit(op, [x], attrs or None)


def power(x: Any, p: Any) -> Any:
    if is_signal(p):
        if is_signal(x):
            raise UnsupportedOperationError(
                "signal ** signal is not supported", op="power", shapes=[x.shape, p.shape], loc=capture(),
                hint="write np.exp(p * np.log(x)) if x is positive",
            )
        base = _const(x, "base")
        if base.ndim or base <= 0:
            raise UnsupportedOperationError(
                "const ** signal needs a positive scalar base", op="power", loc=capture())
        return exp(scale(p, math.log(float(base))))
    exponent = _const(p, "exponent")
    if exponent.ndim:
        raise UnsupportedOperationError(
            "x ** p needs a scalar constant exponent", op="power", shapes=[x.shape, exponent.shape],
            loc=capture())
    e = float(exponent)
    if e == 1.0:
        return x
    if e == 0.0:
        return np.ones(x.shape)
    if e == 2.0:
        return unary("square", x)
    if e == 0.5:
        return unary("sqrt", x)
    if e == -1.0:
        return reciprocal(x)
    return unary("power", x, p=e)


def exp(x: Tracer) -> Tracer:
    return unary("exp", x)


def relu(x: Tracer) -> Tracer:
    return unary("relu", x)


def maximum(x: Any, y: Any) -> Any:
    """max(x, y) = y + relu(x - y): one rectifier instead of a comparison."""
    if not is_signal(x):
        x, y = y, x
    _check_broadcast("maximum", x, y)
    if not is_signal(y):
        c = _const(y, "bound")
        out = relu(offset(x, -c))
        return offset(out, c) if c.any() else broadcast_to(out, np.broadcast_shapes(x.shape, c.shape))
    return add(y, relu(subtract(x, y)))


def minimum(x: Any, y: Any) -> Any:
    """min(x, y) = x - relu(x - y)."""
    if not is_signal(x):
        x, y = y, x
    _check_broadcast("minimum", x, y)
    if not is_signal(y):
        c = _const(y, "bound")
        return negative(maximum(negative(x), -c))
    return subtract(x, relu(subtract(x, y)))


def clip(x: Tracer, lo: Any, hi: Any) -> Tracer:
    if is_signal(lo) or is_signal(hi):
        raise UnsupportedOperationError("np.clip needs constant bounds", op="clip", loc=capture(),
                                        hint="use np.maximum/np.minimum with signals")
    # np.clip(x, 0, np.inf) is the NumPy idiom for a one-sided clip: an
    # all-infinite bound bounds nothing.
    if lo is not None and np.all(np.isneginf(np.asarray(lo, dtype=float))):
        lo = None
    if hi is not None and np.all(np.isposinf(np.asarray(hi, dtype=float))):
        hi = None
    if lo is None and hi is None:
        raise ValueError("np.clip: one of a_min or a_max must be given")
    if lo is None:
        return minimum(x, hi)
    if hi is None:
        return maximum(x, lo)
    lo_c, hi_c = _const(lo, "lower bound"), _const(hi, "upper bound")
    _check_broadcast("clip", x, lo_c, hi_c)
    if np.any(lo_c >= hi_c):
        raise ConstantError("np.clip needs a_min < a_max everywhere", op="clip", loc=capture())
    if lo_c.ndim == 0 and hi_c.ndim == 0:
        return unary("clip", x, lo=float(lo_c), hi=float(hi_c))
    # Per-element bounds: map each element onto [0, 1] so one scalar clip serves all.
    width = hi_c - lo_c
    unit = unary("clip", scale(offset(x, -lo_c), 1.0 / width), lo=0.0, hi=1.0)
    return offset(scale(unit, width), lo_c)


def greater(x: Any, y: Any, or_equal: bool = False) -> Tracer:
    """x > y (x >= y with ``or_equal``) as a 0/1 signal: a step function of x - y."""
    diff = subtract(x, y)
    return unary("heaviside", diff, h0=1.0 if or_equal else 0.0)


def greater_equal(x: Any, y: Any) -> Tracer:
    """x >= y as a 0/1 signal (1 on a tie, as NumPy)."""
    return greater(x, y, or_equal=True)


def less(x: Any, y: Any) -> Tracer:
    return greater(y, x)


def less_equal(x: Any, y: Any) -> Tracer:
    """x <= y as a 0/1 signal (1 on a tie, as NumPy)."""
    return greater(y, x, or_equal=True)


def sign(x: Tracer) -> Tracer:
    return subtract(greater(x, 0.0), greater(0.0, x))


def where(cond: Any, a: Any, b: Any) -> Any:
    if is_signal(cond):
        # A 0/1 condition signal selects with one product: b + cond * (a - b).
        diff = subtract(a, b) if (is_signal(a) or is_signal(b)) else np.subtract(a, b)
        return add(multiply(cond, diff), b)
    c = np.asarray(cond, dtype=bool)
    ctx = _ctx(a, b)
    shape = _check_broadcast("where", c, a, b)
    if c.all():
        return broadcast_to(a, shape) if is_signal(a) else ctx.emit("broadcast_to", [a], {"shape": shape})
    if not c.any():
        return broadcast_to(b, shape) if is_signal(b) else ctx.emit("broadcast_to", [b], {"shape": shape})
    return ctx.emit("select", [a, b], {"cond": ConstArray(c)}, display_op="where")


# ------------------------------------------------------------------------ matmul & co


def matmul(x: Any, y: Any) -> Any:
    shapes = [_shape(x), _shape(y)]
    if 0 in (len(shapes[0]), len(shapes[1])):
        raise _shape_error("matmul", shapes, "matmul does not accept scalars (use *)")
    try:
        # Our own check, not np.matmul on dummies: NumPy's message quotes the
        # gufunc signature, which means nothing to a user.
        _matmul_shape(*shapes)
    except ValueError as exc:
        raise _shape_error("matmul", shapes, str(exc)) from None
    if is_signal(x) and is_signal(y):
        return x._ctx.emit("matmul", [x, y])
    if is_signal(x):
        return x._ctx.emit("matmul_const", [x], {"c": ConstArray(_const(y, "matrix")), "side": "right"},
                           display_op="matmul")
    return y._ctx.emit("matmul_const", [y], {"c": ConstArray(_const(x, "matrix")), "side": "left"},
                       display_op="matmul")


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    inner_a = a[-1]
    inner_b = b[-2] if len(b) > 1 else b[0]
    if inner_a != inner_b:
        raise ValueError(f"the last axis of the first operand ({inner_a}) does not match the "
                         f"{'first' if len(b) == 1 else 'second-to-last'} axis of the second ({inner_b})")
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return batch + a[-2:-1] + b[-1:] if len(b) > 1 else batch + a[-2:-1]


def dot(x: Any, y: Any) -> Any:
    """np.dot: product for scalars, matmul up to 2-D, tensordot over (last, second-last) beyond."""
    xs, ys = _shape(x), _shape(y)
    if not xs or not ys:
        return multiply(x, y)
    if (len(xs) <= 2 and len(ys) <= 2) or len(ys) == 1:
        return matmul(x, y)
    return tensordot(x, y, axes=([len(xs) - 1], [len(ys) - 2]))


def tensordot(x: Any, y: Any, axes: Any = 2) -> Any:
    xs, ys = _shape(x), _shape(y)
    if isinstance(axes, (int, np.integer)):
        ax_x = list(range(len(xs) - int(axes), len(xs)))
        ax_y = list(range(int(axes)))
    else:
        ax_x, ax_y = axes
        ax_x = [ax_x] if isinstance(ax_x, (int, np.integer)) else list(ax_x)
        ax_y = [ax_y] if isinstance(ax_y, (int, np.integer)) else list(ax_y)
    ax_x = [a % len(xs) for a in ax_x]
    ax_y = [a % len(ys) for a in ax_y]
    letters = iter(string.ascii_letters)
    sx = [next(letters) for _ in xs]
    sy = [next(letters) for _ in ys]
    for a, b in zip(ax_x, ax_y):
        if xs[a] != ys[b]:
            raise _shape_error("tensordot", [xs, ys], f"axis {a} ({xs[a]}) does not match axis {b} ({ys[b]})")
        sy[b] = sx[a]
    out = [c for i, c in enumerate(sx) if i not in ax_x] + [c for i, c in enumerate(sy) if i not in ax_y]
    return einsum(f"{''.join(sx)},{''.join(sy)}->{''.join(out)}", x, y)


def outer(x: Any, y: Any) -> Any:
    return multiply(reshape(x, (-1, 1)) if is_signal(x) else np.reshape(x, (-1, 1)),
                    reshape(y, (1, -1)) if is_signal(y) else np.reshape(y, (1, -1)))


def einsum(subscripts: str, *operands: Any) -> Any:
    if not isinstance(subscripts, str):
        raise UnsupportedOperationError("np.einsum in the interleaved (operand, sublist) form",
                                        op="einsum", loc=capture(), hint="pass a subscripts string")
    subscripts = subscripts.replace(" ", "")
    inputs = subscripts.split("->")[0].split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"np.einsum: {len(inputs)} operands in {subscripts!r} but {len(operands)} given")
    if "->" not in subscripts:
        # NumPy's implicit mode: the output lists, in order, letters used exactly once.
        # Broadcast (ellipsis) axes come first, as NumPy puts them.
        letters = "".join(inputs).replace(".", "")
        ellipsis = "..." if any("..." in term for term in inputs) else ""
        subscripts += "->" + ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    signals = [x for x in operands if is_signal(x)]
    consts = tuple(None if is_signal(x) else ConstArray(_const(x, "einsum operand")) for x in operands)
    shapes = [_shape(x) for x in operands]
    if len(signals) > 2:
        raise UnsupportedOperationError(
            "np.einsum with more than two signal operands (a product of three or more signals)",
            op="einsum", shapes=shapes, loc=capture(), hint="split it into pairwise einsums",
        )
    op = "einsum_linear" if len(signals) == 1 else "einsum_bilinear"
    try:
        np.einsum(subscripts, *[np.empty(s) for s in shapes]) if sum(map(math.prod, shapes)) < 1 << 16 \
            else None
    except ValueError as exc:
        raise _shape_error("einsum", shapes, str(exc)) from None
    return signals[0]._ctx.emit(op, signals, {"subscripts": subscripts, "consts": consts}, display_op="einsum")


def trace(x: Tracer, offset_: int = 0, axis1: int = 0, axis2: int = 1) -> Tracer:
    nd = x.ndim
    if nd < 2:
        raise _shape_error("trace", [x.shape], "np.trace needs at least 2 dimensions")
    axis1, axis2 = axis1 % nd, axis2 % nd
    rest = [a for a in range(nd) if a not in (axis1, axis2)]
    moved = transpose(x, rest + [axis1, axis2])
    n1, n2 = x.shape[axis1], x.shape[axis2]
    rows = np.arange(max(0, -offset_), n1)
    cols = rows + offset_
    keep = (cols >= 0) & (cols < n2)
    rows, cols = rows[keep], cols[keep]
    if rows.size == 0:
        return np.zeros(tuple(x.shape[a] for a in rest))
    diag = getitem(moved, (Ellipsis, rows, cols))
    return sum_(diag, axis=-1)


# -------------------------------------------------------------------------- shapes


def reshape(x: Tracer, shape: Any, order: str = "C") -> Tracer:
    if order != "C":
        raise UnsupportedOperationError(f"reshape with order={order!r}", op="reshape", loc=capture(),
                                        hint="only C order is supported")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(d) for d in shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    known = math.prod(d for d in shape if d != -1)
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise _shape_error("reshape", [x.shape], f"invalid target shape {shape}")
    if unknown:
        if known == 0 or x.size % known:
            raise _shape_error("reshape", [x.shape], f"cannot reshape array of size {x.size} into {shape}")
        shape = tuple(x.size // known if d == -1 else d for d in shape)
    if math.prod(shape) != x.size:
        raise _shape_error("reshape", [x.shape], f"cannot reshape array of size {x.size} into shape {shape}")
    if shape == x.shape:
        return x
    return x._ctx.emit("reshape", [x], {"shape": shape})


def transpose(x: Tracer, axes: Sequence[int] | None = None) -> Tracer:
    nd = x.ndim
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(a) % nd if nd else int(a) for a in axes)
    if sorted(axes) != list(range(nd)):
        raise _shape_error("transpose", [x.shape], f"axes {axes} are not a permutation of {tuple(range(nd))}")
    if axes == tuple(range(nd)):
        return x
    return x._ctx.emit("transpose", [x], {"axes": axes})


def swapaxes(x: Tracer, a: int, b: int) -> Tracer:
    axes = list(range(x.ndim))
    a, b = _axis(a, x.ndim, "swapaxes", x), _axis(b, x.ndim, "swapaxes", x)
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


def moveaxis(x: Tracer, source: Any, destination: Any) -> Tracer:
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    src = [_axis(a, x.ndim, "moveaxis", x) for a in src]
    dst = [_axis(a, x.ndim, "moveaxis", x) for a in dst]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def _axis(axis: int, ndim: int, op: str, x: Any) -> int:
    if not -ndim <= axis < ndim:
        raise _shape_error(op, [_shape(x)], f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def _axes(axis: Any, ndim: int, op: str, x: Any) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(_axis(int(a), ndim, op, x) for a in axes))
    if len(set(out)) != len(out):
        raise _shape_error(op, [_shape(x)], f"repeated axis in {axis}")
    return out


def expand_dims(x: Tracer, axis: Any) -> Tracer:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = sorted(_axis(int(a), nd, "expand_dims", x) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x: Tracer, axis: Any = None) -> Tracer:
    if axis is None:
        return reshape(x, [d for d in x.shape if d != 1])
    axes = _axes(axis, x.ndim, "squeeze", x)
    for a in axes:
        if x.shape[a] != 1:
            raise _shape_error("squeeze", [x.shape], f"cannot select an axis to squeeze out which has size "
                               f"not equal to one (axis {a})")
    return reshape(x, [d for i, d in enumerate(x.shape) if i not in axes])


def flip(x: Tracer, axis: Any = None) -> Tracer:
    axes = _axes(axis, x.ndim, "flip", x)
    axes = tuple(range(x.ndim)) if axes is None else axes
    if not axes:
        return x
    return x._ctx.emit("flip", [x], {"axis": axes})


def broadcast_to(x: Any, shape: Any) -> Any:
    shape = tuple(int(d) for d in ((shape,) if isinstance(shape, (int, np.integer)) else shape))
    if not is_signal(x):
        return np.broadcast_to(x, shape)
    if shape == x.shape:
        return x
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise _shape_error("broadcast_to", [x.shape], f"cannot broadcast to shape {shape}") from None
    return x._ctx.emit("broadcast_to", [x], {"shape": shape})


def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> Tracer:
    arrays = list(arrays)
    ctx = _ctx(arrays)
    if axis is None:
        arrays = [reshape(a, (-1,)) if is_signal(a) else np.ravel(a) for a in arrays]
        axis = 0
    shapes = [_shape(a) for a in arrays]
    try:
        np.concatenate([np.empty(s) for s in shapes], axis=axis) if sum(map(math.prod, shapes)) < 1 << 16 \
            else _concat_shape(shapes, axis)
    except (ValueError, np.exceptions.AxisError) as exc:
        raise _shape_error("concatenate", shapes, str(exc)) from None
    if len(arrays) == 1:
        return arrays[0]
    return ctx.emit("concatenate", arrays, {"axis": int(axis) % len(shapes[0])})


def _concat_shape(shapes, axis):
    nd = len(shapes[0])
    axis = axis % nd
    for s in shapes:
        if len(s) != nd or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise ValueError("all the input array dimensions except for the concatenation axis must match")


def stack(arrays: Sequence[Any], axis: int = 0) -> Tracer:
    arrays = list(arrays)
    ctx = _ctx(arrays)
    shapes = [_shape(a) for a in arrays]
    if len(set(shapes)) != 1:
        raise _shape_error("stack", shapes, "all input arrays must have the same shape")
    axis = _axis(axis, len(shapes[0]) + 1, "stack", arrays[0])
    return ctx.emit("stack", arrays, {"axis": axis})


def hstack(arrays: Sequence[Any]) -> Tracer:
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if len(_shape(arrays[0])) == 1 else 1)


def vstack(arrays: Sequence[Any]) -> Tracer:
    return concatenate([atleast_2d(a) for a in arrays], axis=0)


def atleast_1d(x: Any) -> Any:
    if not is_signal(x):
        return np.atleast_1d(x)
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x: Any) -> Any:
    if not is_signal(x):
        return np.atleast_2d(x)
    return reshape(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x


def sum_(x: Tracer, axis: Any = None, keepdims: bool = False) -> Tracer:
    axes = _axes(axis, x.ndim, "sum", x)
    return x._ctx.emit("sum", [x], {"axis": axes, "keepdims": bool(keepdims)})


def mean(x: Tracer, axis: Any = None, keepdims: bool = False) -> Tracer:
    axes = _axes(axis, x.ndim, "mean", x)
    return x._ctx.emit("mean", [x], {"axis": axes, "keepdims": bool(keepdims)})


# ------------------------------------------------------------------------- indexing


def _freeze_index(key: Any, x: Tracer) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    for k in key:
        if isinstance(k, Tracer):
            raise UnsupportedOperationError(
                "indexing with a traced signal (the index must be known at compile time)",
                op="getitem", shapes=[x.shape, k.shape], loc=capture(),
                hint="for a soft selection multiply by a one-hot constant or use np.where",
            )
        if k is None:
            items.append(("none",))
        elif k is Ellipsis:
            items.append(("ellipsis",))
        elif isinstance(k, slice):
            parts = []
            for v in (k.start, k.stop, k.step):
                if isinstance(v, Tracer):
                    raise UnsupportedOperationError("slicing with a traced bound", op="getitem", loc=capture())
                parts.append(None if v is None else int(v))
            items.append(("slice", *parts))
        elif isinstance(k, (bool, np.bool_)):
            raise UnsupportedOperationError("indexing with a Python bool", op="getitem", loc=capture())
        elif isinstance(k, (int, np.integer)):
            items.append(("int", int(k)))
        else:
            arr = np.asarray(k)
            if arr.dtype == bool:
                items.extend(("array", IndexArray(i)) for i in np.nonzero(arr))
            elif arr.dtype.kind in "iu":
                items.append(("array", IndexArray(arr)))
            else:
                raise UnsupportedOperationError(
                    f"index of type {type(k).__name__} (dtype {arr.dtype})", op="getitem", loc=capture(),
                    hint="use integers, slices, None, ... or integer/boolean arrays",
                )
    return tuple(items)


def getitem(x: Tracer, key: Any) -> Tracer:
    index = _freeze_index(key, x)
    if index == (("ellipsis",),) or (index == (("slice", None, None, None),) and x.ndim >= 1):
        return x
    try:
        from spikec.ir.ops import thaw_index

        np.empty(x.shape)[thaw_index(index)]
    except IndexError as exc:
        raise ShapeError(f"getitem: {exc}", op="getitem", shapes=[x.shape], loc=capture()) from None
    return x._ctx.emit("getitem", [x], {"index": index})
