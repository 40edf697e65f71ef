"""Every operation spikec can trace, with its shape rule and NumPy meaning.

Conventions for references: ``reference(attrs, *operands)`` takes unbatched
float64 arrays and returns what NumPy returns.  Constants live in ``attrs``
as :class:`~spikec.ir.attrs.ConstArray` (``.value`` is the array).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg

from spikec.ir.attrs import Attrs, ConstArray, format_array
from spikec.ir.registry import OpDef, OpKind, StatefulRule, register

S, L, N, T = OpKind.SOURCE, OpKind.LINEAR, OpKind.NONLINEAR, OpKind.STATEFUL


def _same_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape


def _broadcast(attrs: Attrs, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    return np.broadcast_shapes(*shapes)


def _broadcast_with(key: str):
    def rule(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
        return np.broadcast_shapes(shape, attrs[key].shape)

    return rule


def _fmt(*keys: str):
    """Attribute formatter showing the given keys (constants shortened)."""

    def show(attrs: Attrs) -> str:
        parts = []
        for key in keys:
            if key not in attrs:
                continue
            value = attrs[key]
            if value is None:  # an unset option (x0 of a filter starting at zero)
                continue
            if isinstance(value, ConstArray):
                value = format_array(value.value)
            elif hasattr(value, "label"):
                value = value.label()
            parts.append(f"{key}={value}")
        return ", ".join(parts)

    return show


# --------------------------------------------------------------------- sources

register(OpDef("input", S, "an input signal of the program", arity=0,
               shape_rule=lambda attrs: attrs["shape"], format_attrs=_fmt("name")))
register(OpDef("const", S, "a compile-time constant array", arity=0,
               reference=lambda attrs: attrs["value"].value,
               shape_rule=lambda attrs: attrs["value"].shape,
               format_attrs=_fmt("value")))

# ---------------------------------------------------------------------- linear

register(OpDef("add", L, "x + y (broadcasting)", reference=lambda a, x, y: x + y,
               shape_rule=_broadcast, arity=2, commutative=True, numpy_names=("+", "np.add")))
register(OpDef("sub", L, "x - y (broadcasting)", reference=lambda a, x, y: x - y,
               shape_rule=_broadcast, arity=2, numpy_names=("-", "np.subtract")))
register(OpDef("neg", L, "-x", reference=lambda a, x: -x, shape_rule=_same_shape,
               numpy_names=("unary -", "np.negative")))
register(OpDef("scale", L, "x * c for a constant c (broadcasting)",
               reference=lambda a, x: x * a["c"].value, shape_rule=_broadcast_with("c"),
               format_attrs=_fmt("c"), numpy_names=("* const", "/ const", "np.multiply")))
register(OpDef("offset", L, "x + c for a constant c (broadcasting)",
               reference=lambda a, x: x + a["c"].value, shape_rule=_broadcast_with("c"),
               format_attrs=_fmt("c"), numpy_names=("+ const", "- const")))


def _matmul_const(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    c = attrs["c"].value
    return np.matmul(c, x) if attrs["side"] == "left" else np.matmul(x, c)


register(OpDef("matmul_const", L, "c @ x (side=left) or x @ c (side=right) for a constant c",
               reference=_matmul_const, format_attrs=_fmt("side", "c"),
               numpy_names=("@ const", "np.matmul", "np.dot")))


def _einsum_operands(attrs: Attrs, signals: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Rebuild the einsum operand list: signals fill the ``None`` slots in order."""
    it = iter(signals)
    return [next(it) if c is None else c.value for c in attrs["consts"]]


def _einsum(attrs: Attrs, *signals: np.ndarray) -> np.ndarray:
    return np.einsum(attrs["subscripts"], *_einsum_operands(attrs, signals))


register(OpDef("einsum_linear", L, "np.einsum with exactly one signal operand",
               reference=_einsum, format_attrs=_fmt("subscripts"),
               numpy_names=("np.einsum", "np.trace", "np.tensordot")))


def _reshape(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    return np.reshape(x, attrs["shape"])


register(OpDef("reshape", L, "change the shape, keeping C order", reference=_reshape,
               shape_rule=lambda a, s: tuple(a["shape"]), format_attrs=_fmt("shape"),
               numpy_names=("reshape", "ravel", "flatten", "expand_dims", "squeeze")))
register(OpDef("transpose", L, "permute axes", reference=lambda a, x: np.transpose(x, a["axes"]),
               shape_rule=lambda a, s: tuple(s[i] for i in a["axes"]), format_attrs=_fmt("axes"),
               numpy_names=("transpose", ".T", "swapaxes", "moveaxis")))
register(OpDef("broadcast_to", L, "repeat along broadcast axes",
               reference=lambda a, x: np.broadcast_to(x, a["shape"]).copy(),
               format_attrs=_fmt("shape"), numpy_names=("np.broadcast_to",)))


def thaw_index(frozen: tuple) -> tuple:
    """Turn the hashable index stored in attrs back into a NumPy index tuple."""
    out = []
    for item in frozen:
        tag = item[0]
        if tag == "int":
            out.append(item[1])
        elif tag == "slice":
            out.append(slice(item[1], item[2], item[3]))
        elif tag == "none":
            out.append(None)
        elif tag == "ellipsis":
            out.append(Ellipsis)
        elif tag == "array":
            out.append(item[1].value)
        else:  # pragma: no cover - produced only by spikec.trace
            raise ValueError(f"bad index item {item!r}")
    return tuple(out)


def _format_index(attrs: Attrs) -> str:
    parts = []
    for item in attrs["index"]:
        tag = item[0]
        if tag == "int":
            parts.append(str(item[1]))
        elif tag == "slice":
            a, b, c = item[1:]
            text = f"{'' if a is None else a}:{'' if b is None else b}"
            parts.append(text + (f":{c}" if c is not None else ""))
        elif tag == "none":
            parts.append("None")
        elif tag == "ellipsis":
            parts.append("...")
        else:
            parts.append(format_array(item[1].value))
    return "[" + ", ".join(parts) + "]"


register(OpDef("getitem", L, "indexing and slicing (basic and integer-array)",
               reference=lambda a, x: np.array(x[thaw_index(a["index"])]),
               format_attrs=_format_index, numpy_names=("x[...]",)))
register(OpDef("concatenate", L, "join along an existing axis", arity=None,
               reference=lambda a, *xs: np.concatenate(xs, axis=a["axis"]), format_attrs=_fmt("axis"),
               numpy_names=("np.concatenate", "np.hstack", "np.vstack")))
register(OpDef("stack", L, "join along a new axis", arity=None,
               reference=lambda a, *xs: np.stack(xs, axis=a["axis"]), format_attrs=_fmt("axis"),
               numpy_names=("np.stack",)))
register(OpDef("sum", L, "sum over axes", reference=lambda a, x: np.sum(x, axis=a["axis"], keepdims=a["keepdims"]),
               format_attrs=_fmt("axis", "keepdims"), numpy_names=("np.sum", ".sum")))
register(OpDef("mean", L, "mean over axes", reference=lambda a, x: np.mean(x, axis=a["axis"], keepdims=a["keepdims"]),
               format_attrs=_fmt("axis", "keepdims"), numpy_names=("np.mean", ".mean")))
register(OpDef("flip", L, "reverse the order of elements along axes",
               reference=lambda a, x: np.flip(x, axis=a["axis"]).copy(), shape_rule=lambda a, s: s,
               format_attrs=_fmt("axis"), numpy_names=("np.flip",)))
register(OpDef("select", L, "np.where(c, x, y) with a constant condition c", arity=2,
               reference=lambda a, x, y: np.where(a["cond"].value, x, y),
               format_attrs=_fmt("cond"), numpy_names=("np.where",)))


# affine: the result of spikec.passes.fuse_linear (never traced directly).
def _affine(attrs: Attrs, *xs: np.ndarray) -> np.ndarray:
    """``b + W_0 @ ravel(x_0) + W_1 @ ravel(x_1) + ...``, reshaped; summed in that order."""
    bias = attrs["bias"]
    out = np.zeros(math.prod(attrs["shape"])) if bias is None else np.array(bias.value, dtype=np.float64)
    for w, x in zip(attrs["weights"], xs):
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


register(OpDef(
    "affine", L,
    "y = reshape(b + sum_i W_i @ ravel(x_i), shape): fused linear ops (attrs: weights, a tuple of "
    "spikec.ir.sparse.SparseConst of shape (size, operand size); bias, a ConstArray of shape (size,) "
    "or None; shape, the output shape)",
    reference=_affine, shape_rule=_affine_shape, arity=None, format_attrs=_format_affine,
    numpy_names=("(spikec.passes.fuse_linear)",),
))

# ------------------------------------------------------------------- nonlinear


def _matmul_units(node, shapes) -> int:
    """Scalar products in x @ y: every output element sums over the shared axis."""
    a, _ = shapes
    inner = a[-1]
    return node.size * inner


register(OpDef("mul", N, "x * y of two signals (broadcasting)", reference=lambda a, x, y: x * y,
               shape_rule=_broadcast, arity=2, commutative=True, numpy_names=("*", "np.multiply")))
register(OpDef("div", N, "x / y with a signal denominator", reference=lambda a, x, y: x / y,
               shape_rule=_broadcast, arity=2, numpy_names=("/", "np.divide")))
register(OpDef("matmul", N, "x @ y of two signals", reference=lambda a, x, y: np.matmul(x, y),
               arity=2, units=_matmul_units, numpy_names=("@", "np.matmul", "np.dot")))


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
               reference=_einsum, units=_einsum_units, format_attrs=_fmt("subscripts"),
               numpy_names=("np.einsum", "np.outer")))


def _elementwise(name: str, fn, doc: str, numpy_names: tuple[str, ...], *attr_keys: str) -> None:
    register(OpDef(name, N, doc, reference=lambda a, x: fn(a, x), shape_rule=_same_shape,
                   elementwise=True, format_attrs=_fmt(*attr_keys) if attr_keys else None,
                   numpy_names=numpy_names))


_elementwise("square", lambda a, x: np.square(x), "x ** 2", ("np.square", "** 2"))
_elementwise("sqrt", lambda a, x: np.sqrt(x), "square root", ("np.sqrt", "** 0.5"))
_elementwise("power", lambda a, x: np.power(x, a["p"]), "x ** p for a constant p", ("**", "np.power"), "p")
_elementwise("reciprocal", lambda a, x: 1.0 / x, "1 / x", ("const / x", "np.reciprocal"))
_elementwise("exp", lambda a, x: np.exp(x), "exponential", ("np.exp",))
_elementwise("log", lambda a, x: np.log(x), "natural logarithm", ("np.log",))
_elementwise("sin", lambda a, x: np.sin(x), "sine", ("np.sin",))
_elementwise("cos", lambda a, x: np.cos(x), "cosine", ("np.cos",))
_elementwise("tanh", lambda a, x: np.tanh(x), "hyperbolic tangent", ("np.tanh",))
_elementwise("abs", lambda a, x: np.abs(x), "absolute value", ("np.abs", "abs()"))
_elementwise("relu", lambda a, x: np.maximum(x, 0.0), "max(x, 0)",
             ("np.maximum", "np.minimum", "np.clip (one-sided)"))
_elementwise("clip", lambda a, x: np.clip(x, a["lo"], a["hi"]), "clip to [lo, hi]", ("np.clip",), "lo", "hi")
# h0 is the value at x == 0, as in np.heaviside: 0 for x > y, 1 for x >= y, so
# that a tie compares exactly as NumPy does.
_elementwise("heaviside", lambda a, x: np.heaviside(x, a["h0"]), "1 where x > 0, h0 where x == 0, else 0",
             ("x > y", "x < y", ">=", "<="), "h0")

# -------------------------------------------------------------------- stateful


def _filter_init(attrs, shape, input_shape, xp):
    x0 = attrs["x0"]
    return attrs["synapse"].init_state(shape, None if x0 is None else xp.asarray(x0.value), xp=xp)


register(OpDef(
    "filter", T,
    "a synapse applied to x over time (also the state of integrate); operands are read one step late",
    shape_rule=_same_shape,
    stateful=StatefulRule(
        init=_filter_init,
        output=lambda attrs, state: attrs["synapse"].output(state),
        step=lambda attrs, state, u, dt, xp: attrs["synapse"].step(state, u, dt, xp=xp)[0],
    ),
    format_attrs=_fmt("synapse", "x0"),
    numpy_names=("spikec.filter", "spikec.integrate", "x.filter"),
))


@functools.lru_cache(maxsize=256)
def _lti_discrete(a: ConstArray, b: ConstArray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretization, via the exponential of the augmented matrix."""
    n = a.shape[0]
    bm = b.value.reshape(n, -1)
    m = bm.shape[1]
    aug = np.zeros((n + m, n + m))
    aug[:n, :n] = a.value
    aug[:n, n:] = bm
    expm = scipy.linalg.expm(aug * dt)
    return expm[:n, :n], expm[:n, n:]


def _lti_step(attrs, state, u, dt, xp):
    ad, bd = _lti_discrete(attrs["A"], attrs["B"], float(dt))
    return xp.asarray(ad) @ state + xp.asarray(bd) @ xp.reshape(u, (-1,))


def _lti_shape(attrs, shape):
    a, b = attrs["A"].shape, attrs["B"].shape
    n = a[0]
    m = 1 if len(b) == 1 else b[1]
    if len(a) != 2 or a[1] != n or b[0] != n or len(b) > 2:
        raise ValueError(f"lti needs A of shape (n, n) and B of shape (n,) or (n, m); got A{a}, B{b}")
    if math.prod(shape) != m:
        raise ValueError(f"lti input of shape {shape} does not match B of shape {b} ({m} inputs expected)")
    return (n,)


def _lti_init(attrs, shape, input_shape, xp):
    x0 = attrs["x0"]
    return xp.zeros(shape) if x0 is None else xp.asarray(x0.value, dtype=float).reshape(shape)


register(OpDef(
    "lti", T, "linear time-invariant system dx/dt = A x + B u (zero-order hold); operands read one step late",
    shape_rule=_lti_shape,
    stateful=StatefulRule(init=_lti_init, output=lambda attrs, state: state, step=_lti_step),
    format_attrs=_fmt("A", "B"),
    numpy_names=("spikec.lti",),
))


# ------------------------------------------------------------- explicit neurons


def neuron_rates(neuron_type, J: np.ndarray) -> np.ndarray:
    """Steady-state activity (Hz, times ``amplitude``) of ``neuron_type`` for currents ``J``.

    The rate counterpart's ``rates`` (so a spiking wrapper's ``amplitude``
    counts, as in its mean output); models with no rate counterpart (AdEx,
    Izhikevich) give their own simulated steady-state rate.
    """
    from spikec.errors import ConstantError

    try:
        rate_type = neuron_type.as_rate()
    except ConstantError:
        rate_type = neuron_type
    return np.asarray(rate_type.rates(np.asarray(J, dtype=np.float64)), dtype=np.float64)


def _neurons(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    return neuron_rates(attrs["neuron_type"], attrs["gain"].value * x + attrs["bias"].value)


def _neurons_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = np.broadcast_shapes(shape, attrs["gain"].shape, attrs["bias"].shape)
    if tuple(out) != tuple(shape):
        raise ValueError(f"neuron gain {attrs['gain'].shape} and bias {attrs['bias'].shape} must broadcast "
                         f"to the input shape {shape}")
    return shape


# Not ``elementwise``: gain and bias may be per element, so two layers cannot be
# merged into one over concatenated operands; the lowering has its own rule.
register(OpDef(
    "neurons", N,
    "explicit neuron layer: one neuron per element with current J = gain * x + bias; the value is the "
    "neurons' activity (steady-state rate of neuron_type in the reference; spikes amplitude/dt when spiking)",
    reference=_neurons, shape_rule=_neurons_shape, format_attrs=_fmt("neuron_type", "gain", "bias"),
    numpy_names=("spikec.models.neurons",),
))


# ------------------------------------------------------- convolution, pooling, dense
#
# ``conv2d``, ``dense`` and ``avg_pool2d`` are linear, but they are *projection ops*: the
# passes and the lowering never fold them into other linear ops (a
# convolution as a matrix holds kh*kw*channels weights per output element,
# and a trainable parameter must keep its own weights).  Each becomes one
# projection with a ``Convolution``, ``Dense`` or ``AvgPool`` transform (pooling
# kept apart so that simulators pool, instead of gathering through a matrix).


def _conv2d(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    """Cross-correlation of ``x`` (h, w, c) with ``kernel`` (kh, kw, c, f), channels last (TensorFlow's)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from spikec.ir.conv import conv_padding

    kernel = attrs["kernel"].value
    (top, bottom), (left, right) = conv_padding(x.shape, kernel.shape, attrs["strides"], attrs["padding"])
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    kh, kw = kernel.shape[:2]
    sy, sx = attrs["strides"]
    windows = sliding_window_view(xp, (kh, kw), axis=(0, 1))[::sy, ::sx]  # (oh, ow, c, kh, kw)
    return np.einsum("ijcab,abcf->ijf", windows, kernel)


def _conv2d_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    from spikec.ir.conv import conv_output_shape

    kernel = attrs["kernel"].shape
    if len(shape) != 3 or len(kernel) != 4 or kernel[2] != shape[2]:
        raise ValueError(f"conv2d needs x of shape (height, width, channels) and a kernel of shape "
                         f"(kh, kw, channels, filters) with matching channels; got x {shape}, kernel {kernel}")
    out = conv_output_shape(shape, kernel, attrs["strides"], attrs["padding"])
    if min(out) < 1:
        raise ValueError(f"conv2d: kernel {kernel[:2]} is larger than the input {shape[:2]} (padding 'valid')")
    return out


register(OpDef(
    "conv2d", L,
    "2-D convolution (cross-correlation) of x (height, width, channels) with a constant or parameter kernel "
    "(kh, kw, channels, filters); strides, padding 'valid' or 'same' (a projection op: never folded)",
    reference=_conv2d, shape_rule=_conv2d_shape, format_attrs=_fmt("param", "strides", "padding"),
    numpy_names=("spikec.conv2d",),
))


def _pool_windows(attrs: Attrs, x: np.ndarray) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    (ph, pw), (sy, sx) = attrs["pool"], attrs["strides"]
    return sliding_window_view(x, (ph, pw), axis=(0, 1))[::sy, ::sx]  # (oh, ow, c, ph, pw)


def _avg_pool2d_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    (ph, pw), (sy, sx) = attrs["pool"], attrs["strides"]
    if len(shape) != 3 or shape[0] < ph or shape[1] < pw:
        raise ValueError(f"avg_pool2d needs x of shape (height, width, channels) at least {attrs['pool']}; "
                         f"got {shape}")
    return ((shape[0] - ph) // sy + 1, (shape[1] - pw) // sx + 1, shape[2])


register(OpDef(
    "avg_pool2d", L, "mean over (ph, pw) windows of x (height, width, channels), 'valid' (TensorFlow's)",
    reference=lambda a, x: _pool_windows(a, x).mean(axis=(3, 4)), shape_rule=_avg_pool2d_shape,
    format_attrs=_fmt("pool", "strides"), numpy_names=("spikec.avg_pool2d",),
))


def _dense_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    w = attrs["weights"].shape
    if len(w) != 2 or w[0] != math.prod(shape):
        raise ValueError(f"dense needs weights of shape (x.size, units) = ({math.prod(shape)}, units); got {w}")
    return (w[1],)


register(OpDef(
    "dense", L, "ravel(x) @ weights for constant or parameter weights (n_in, units) (a projection op: never folded)",
    reference=lambda a, x: np.ravel(x) @ a["weights"].value, shape_rule=_dense_shape,
    format_attrs=_fmt("param"), numpy_names=("spikec.dense",),
))

# Linear ops that the passes keep apart and the lowering turns into one projection each.
PROJECTION_OPS = frozenset({"conv2d", "dense", "avg_pool2d"})
