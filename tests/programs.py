"""Random NumPy programs for differential testing (plain NumPy vs spikec).

A random program is an expression tree over 1-3 input signals, built from
ops that spikec supports.  The same Python function runs on NumPy arrays
(the oracle) and on tracers (``spikec.compile(prog.fn).trace(*prog.inputs)``),
so any disagreement is a bug in tracing, in an op's reference, or (for pass
tests) in a graph transformation.

Generation is type directed: ``_expr(S, depth)`` returns an expression whose
value has exactly shape ``S``, picking among the rules that can produce
``S`` (elementwise functions, broadcasting binary ops with signals or
constants, matmul, einsum, sum/mean, transpose, reshape, slicing,
concatenate/stack, where, trace, ...).  Leaves adapt an input to ``S`` with
integer-array indexing and a reshape, so every leaf is a signal and every
tree has at least one.

Two front doors share the generator:

* :func:`programs` — a hypothesis strategy (shrinks to small failures);
* :func:`random_program` — plain ``numpy.random`` with a seed, for tests
  that want a fixed corpus without hypothesis.

Values stay in safe domains by construction (``sqrt(|x|)``,
``log(1 + x**2)``, ``x / (1 + y**2)``, ``exp(tanh(x))``), so NumPy never
produces nan or inf.  Discontinuous ops (comparisons, ``np.sign``) are only
applied to leaves, whose values both sides compute exactly, so a rounding
difference elsewhere in the tree cannot flip them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # hypothesis is a test dependency; random_program works without it
    import hypothesis.extra.numpy as hnp
    import hypothesis.strategies as st
except ImportError:  # pragma: no cover
    st = hnp = None

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Expr:
    """A node of a random program: ``ev(xs)`` computes it from the input tuple ``xs``."""

    shape: Shape
    ev: Callable[[Sequence[Any]], Any]
    text: str
    depth: int = 0


@dataclass(frozen=True)
class RandomProgram:
    """A random program and example inputs.

    ``fn(*xs)`` works on NumPy arrays and on spikec tracers alike; ``text``
    is the expression, for failure messages.
    """

    fn: Callable[..., Any]
    inputs: tuple[np.ndarray, ...]
    text: str
    shape: Shape

    def expected(self) -> np.ndarray:
        """The oracle: the program run by plain NumPy."""
        return np.asarray(self.fn(*self.inputs), dtype=np.float64)

    def __repr__(self) -> str:
        shapes = ", ".join(f"x{i}{list(x.shape)}" for i, x in enumerate(self.inputs))
        return f"RandomProgram(({shapes}) -> {list(self.shape)}: {self.text})"


# --------------------------------------------------------------------- choosers


class _Chooser:
    """The random decisions a generator makes; two implementations below."""

    def integer(self, lo: int, hi: int) -> int:  # inclusive bounds
        raise NotImplementedError

    def floats(self, shape: Shape, lo: float, hi: float) -> np.ndarray:
        raise NotImplementedError

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.integer(0, len(options) - 1)]

    def coin(self) -> bool:
        return bool(self.integer(0, 1))

    def indices(self, n: int, high: int) -> np.ndarray:
        return np.array([self.integer(0, high - 1) for _ in range(n)], dtype=np.intp)


class _HypothesisChooser(_Chooser):
    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def floats(self, shape, lo, hi):
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
        return self.draw(hnp.arrays(np.float64, shape, elements=elements))


class _NumpyChooser(_Chooser):
    def __init__(self, rng: np.random.RandomState):
        self.rng = rng

    def integer(self, lo, hi):
        return int(self.rng.randint(lo, hi + 1))

    def floats(self, shape, lo, hi):
        return self.rng.uniform(lo, hi, size=shape)


# ----------------------------------------------------------------------- rules

# Elementwise functions that keep values finite for any finite input.
UNARY: list[tuple[str, Callable[[Any], Any]]] = [
    ("-{}", lambda x: -x),
    ("tanh({})", np.tanh),
    ("sin({})", np.sin),
    ("cos({})", np.cos),
    ("abs({})", np.abs),
    ("square({})", np.square),
    ("({}) ** 2", lambda x: x**2),
    ("exp(tanh({}))", lambda x: np.exp(np.tanh(x))),
    ("sqrt(abs({}))", lambda x: np.sqrt(np.abs(x))),
    ("log(1 + ({})**2)", lambda x: np.log(1 + x**2)),
    ("1 / (1 + ({})**2)", lambda x: 1 / (1 + x * x)),
    ("reciprocal(2 + tanh({}))", lambda x: np.reciprocal(2 + np.tanh(x))),
    ("tanh({}) ** 3", lambda x: np.tanh(x) ** 3),
    ("maximum({}, 0)", lambda x: np.maximum(x, 0.0)),
    ("minimum({}, 0.5)", lambda x: np.minimum(x, 0.5)),
    ("clip({}, -1, 1)", lambda x: np.clip(x, -1.0, 1.0)),
    ("clip({}, -0.5, None)", lambda x: np.clip(x, -0.5, None)),
    ("2.5 * ({})", lambda x: 2.5 * x),
    ("({}) / 4", lambda x: x / 4.0),
    ("({}) - 0.5", lambda x: x - 0.5),
    ("0.5 - ({})", lambda x: 0.5 - x),
    ("+({})", lambda x: +x),
]

# Broadcasting binary functions, finite for finite operands.
BINARY: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("({}) + ({})", lambda x, y: x + y),
    ("({}) - ({})", lambda x, y: x - y),
    ("({}) * ({})", lambda x, y: x * y),
    ("({}) / (1 + ({})**2)", lambda x, y: x / (1 + y**2)),
    ("maximum({}, {})", np.maximum),
    ("minimum({}, {})", np.minimum),
    ("add({}, {})", np.add),
    ("multiply({}, {})", np.multiply),
    ("subtract({}, {})", np.subtract),
]

# Comparisons and sign: only ever applied to leaves (see the module docstring).
STEP: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("({}) > ({})", lambda x, y: x > y),
    ("({}) >= ({})", lambda x, y: x >= y),
    ("({}) < ({})", lambda x, y: x < y),
    ("({}) <= ({})", lambda x, y: x <= y),
    ("greater({}, {})", np.greater),
    ("less_equal({}, {})", np.less_equal),
]


class _Generator:
    def __init__(self, ch: _Chooser, input_shapes: Sequence[Shape], max_depth: int, max_dim: int):
        self.ch = ch
        self.input_shapes = list(input_shapes)
        self.max_depth = max_depth
        self.max_dim = max_dim
        self.consts = 0

    # -- pieces ---------------------------------------------------------------
    def const(self, shape: Shape) -> tuple[np.ndarray, str]:
        self.consts += 1
        return self.ch.floats(shape, -2.0, 2.0), f"C{self.consts}{list(shape)}"

    def broadcastable(self, shape: Shape) -> Shape:
        """A shape that broadcasts to ``shape`` (some leading axes dropped, some set to 1)."""
        drop = self.ch.integer(0, len(shape))
        out = list(shape[drop:])
        for i in range(len(out)):
            if self.ch.integer(0, 3) == 0:
                out[i] = 1
        return tuple(out)

    def dim(self) -> int:
        return self.ch.integer(1, self.max_dim)

    # -- leaves ---------------------------------------------------------------
    def leaf(self, shape: Shape) -> Expr:
        i = self.ch.integer(0, len(self.input_shapes) - 1)
        src = self.input_shapes[i]
        if src == shape and self.ch.coin():
            return Expr(shape, lambda xs, i=i: xs[i], f"x{i}")
        idx = self.ch.indices(math.prod(shape), math.prod(src))

        def ev(xs, i=i, idx=idx, shape=shape):
            return np.reshape(xs[i], (-1,))[idx].reshape(shape)

        return Expr(shape, ev, f"x{i}.flat{idx.tolist()}.reshape{shape}")

    def step_expr(self, shape: Shape) -> Expr:
        """A 0/1 signal of ``shape`` from comparing a leaf with a leaf or a constant."""
        name, cmp = self.ch.choice(STEP)
        # NumPy gives bools, which do arithmetic differently; spikec gives 0/1 floats.
        fn = lambda x, y: 1.0 * cmp(x, y)
        a = self.leaf(shape)
        if self.ch.integer(0, 2) == 0:
            b = self.leaf(self.broadcastable(shape))
            return Expr(shape, lambda xs: fn(a.ev(xs), b.ev(xs)), name.format(a.text, b.text))
        c, ctext = self.const(self.broadcastable(shape))
        if self.ch.coin():
            return Expr(shape, lambda xs: fn(a.ev(xs), c), name.format(a.text, ctext))
        return Expr(shape, lambda xs: fn(c, a.ev(xs)), name.format(ctext, a.text))

    # -- the recursion ----------------------------------------------------------
    def expr(self, shape: Shape, depth: int) -> Expr:
        if depth >= self.max_depth or (depth > 0 and self.ch.integer(0, 4) == 0):
            if self.ch.integer(0, 5) == 0:
                return self.step_expr(shape)
            return self.leaf(shape)
        # Repeats weight the choice: elementwise and binary ops are the bulk of real programs.
        rules = [self.unary, self.unary, self.unary, self.binary, self.binary, self.binary_const,
                 self.binary_const, self.reduce, self.transpose, self.reshape, self.slice, self.matmul,
                 self.einsum, self.where, self.trace, self.join]
        while True:
            out = self.ch.choice(rules)(shape, depth + 1)
            if out is not None:
                return out

    def unary(self, shape, depth):
        name, fn = self.ch.choice(UNARY)
        a = self.expr(shape, depth)
        return Expr(shape, lambda xs: fn(a.ev(xs)), name.format(a.text))

    def binary(self, shape, depth):
        name, fn = self.ch.choice(BINARY)
        a = self.expr(shape, depth)
        b = self.expr(self.broadcastable(shape), depth)
        if self.ch.coin():
            a, b = b, a
        return Expr(shape, lambda xs: fn(a.ev(xs), b.ev(xs)), name.format(a.text, b.text))

    def binary_const(self, shape, depth):
        name, fn = self.ch.choice(BINARY)
        a = self.expr(shape, depth)
        c, ctext = self.const(self.broadcastable(shape))
        if self.ch.coin():
            return Expr(shape, lambda xs: fn(a.ev(xs), c), name.format(a.text, ctext))
        return Expr(shape, lambda xs: fn(c, a.ev(xs)), name.format(ctext, a.text))

    def reduce(self, shape, depth):
        if len(shape) >= 3:
            return None
        k = self.dim()
        ones = [i for i, d in enumerate(shape) if d == 1]
        keepdims = bool(ones) and self.ch.coin()
        if keepdims:  # reduce an axis of size k down to the 1 already in `shape`
            axis = self.ch.choice(ones)
            inner = shape[:axis] + (k,) + shape[axis + 1:]
        else:
            axis = self.ch.integer(0, len(shape))
            inner = shape[:axis] + (k,) + shape[axis:]
        a = self.expr(inner, depth)
        ax = axis - len(inner) if self.ch.coin() else axis  # negative axes too
        if self.ch.coin():
            return Expr(shape, lambda xs: np.sum(a.ev(xs), axis=ax, keepdims=keepdims),
                        f"sum({a.text}, axis={ax}, keepdims={keepdims})")
        return Expr(shape, lambda xs: a.ev(xs).mean(axis=ax, keepdims=keepdims),
                    f"({a.text}).mean(axis={ax}, keepdims={keepdims})")

    def transpose(self, shape, depth):
        if len(shape) < 2:
            return None
        if len(shape) == 2 and self.ch.coin():
            a = self.expr(shape[::-1], depth)
            return Expr(shape, lambda xs: a.ev(xs).T, f"({a.text}).T")
        perm = list(range(len(shape)))
        for i in range(len(perm) - 1, 0, -1):  # Fisher-Yates with our chooser
            j = self.ch.integer(0, i)
            perm[i], perm[j] = perm[j], perm[i]
        perm = tuple(perm)
        # np.transpose(a, perm).shape[i] == a.shape[perm[i]]
        inner = tuple(shape[perm.index(j)] for j in range(len(shape)))
        a = self.expr(inner, depth)
        return Expr(shape, lambda xs: np.transpose(a.ev(xs), perm), f"transpose({a.text}, {perm})")

    def reshape(self, shape, depth):
        size = math.prod(shape)
        options = [(size,), shape[::-1]]
        if size % 2 == 0:
            options.append((2, size // 2))
        inner = self.ch.choice(options)
        a = self.expr(inner, depth)
        if self.ch.coin() and shape:
            target = (-1,) + shape[1:]
            return Expr(shape, lambda xs: a.ev(xs).reshape(target), f"({a.text}).reshape{target}")
        return Expr(shape, lambda xs: np.reshape(a.ev(xs), shape), f"reshape({a.text}, {shape})")

    def slice(self, shape, depth):
        if not shape:
            inner = (self.dim(),)
            i = self.ch.integer(-inner[0], inner[0] - 1)
            a = self.expr(inner, depth)
            return Expr(shape, lambda xs: a.ev(xs)[i], f"({a.text})[{i}]")
        kind = self.ch.integer(0, 2)
        if kind == 0:  # a[::-1] along the first axis
            a = self.expr(shape, depth)
            return Expr(shape, lambda xs: a.ev(xs)[::-1], f"({a.text})[::-1]")
        if kind == 1:  # a[1::2] along the first axis
            inner = (2 * shape[0],) + shape[1:]
            a = self.expr(inner, depth)
            return Expr(shape, lambda xs: a.ev(xs)[1::2], f"({a.text})[1::2]")
        # a[..., j] drops a trailing axis
        if len(shape) >= 3:
            return None
        k = self.dim()
        j = self.ch.integer(-k, k - 1)
        a = self.expr(shape + (k,), depth)
        return Expr(shape, lambda xs: a.ev(xs)[..., j], f"({a.text})[..., {j}]")

    def matmul(self, shape, depth):
        if len(shape) not in (1, 2):
            return None
        k = self.dim()
        left = (k,) if len(shape) == 1 else (shape[0], k)
        right = (k, shape[-1])
        kind = self.ch.integer(0, 2)
        if kind == 0:
            a, b = self.expr(left, depth), self.expr(right, depth)
            fn = self.ch.choice([lambda p, q: p @ q, np.matmul, np.dot])
            return Expr(shape, lambda xs: fn(a.ev(xs), b.ev(xs)), f"({a.text}) @ ({b.text})")
        if kind == 1:
            a = self.expr(left, depth)
            c, ctext = self.const(right)
            return Expr(shape, lambda xs: a.ev(xs) @ c, f"({a.text}) @ {ctext}")
        b = self.expr(right, depth)
        c, ctext = self.const(left)
        return Expr(shape, lambda xs: np.dot(c, b.ev(xs)), f"dot({ctext}, {b.text})")

    def einsum(self, shape, depth):
        if len(shape) != 2:
            return None
        k = self.dim()
        a = self.expr((shape[0], k), depth)
        kind = self.ch.integer(0, 3)
        if kind == 0:
            b = self.expr((k, shape[1]), depth)
            return Expr(shape, lambda xs: np.einsum("ij,jk->ik", a.ev(xs), b.ev(xs)),
                        f"einsum('ij,jk->ik', {a.text}, {b.text})")
        if kind == 1:
            b = self.expr((shape[1], k), depth)
            return Expr(shape, lambda xs: np.einsum("ij,kj", a.ev(xs), b.ev(xs)),
                        f"einsum('ij,kj', {a.text}, {b.text})")
        if kind == 2:
            c, ctext = self.const((shape[1], k))
            return Expr(shape, lambda xs: np.einsum("ij,kj->ik", a.ev(xs), c),
                        f"einsum('ij,kj->ik', {a.text}, {ctext})")
        x = self.expr(shape[::-1], depth)
        return Expr(shape, lambda xs: np.einsum("ji", x.ev(xs)), f"einsum('ji', {x.text})")

    def where(self, shape, depth):
        a = self.expr(shape, depth)
        b = self.expr(self.broadcastable(shape), depth)
        if self.ch.coin():
            cond = self.ch.floats(self.broadcastable(shape), -1.0, 1.0) > 0
            return Expr(shape, lambda xs: np.where(cond, a.ev(xs), b.ev(xs)),
                        f"where({cond.astype(int).tolist()}, {a.text}, {b.text})")
        cond = self.step_expr(self.broadcastable(shape))
        return Expr(shape, lambda xs: np.where(cond.ev(xs), a.ev(xs), b.ev(xs)),
                    f"where({cond.text}, {a.text}, {b.text})")

    def trace(self, shape, depth):
        if len(shape) > 1:
            return None
        n, m = self.dim(), self.dim()
        offset = self.ch.integer(-1, 1)
        a = self.expr(shape + (n, m), depth)
        return Expr(shape, lambda xs: np.trace(a.ev(xs), offset, -2, -1),
                    f"trace({a.text}, {offset}, -2, -1)")

    def join(self, shape, depth):
        if not shape:
            return None
        if self.ch.coin() and shape[0] <= 3:  # stack along axis 0
            parts = [self.expr(shape[1:], depth) for _ in range(shape[0])]
            return Expr(shape, lambda xs: np.stack([p.ev(xs) for p in parts]),
                        f"stack([{', '.join(p.text for p in parts)}])")
        if shape[0] < 2:
            return None
        cut = self.ch.integer(1, shape[0] - 1)
        a = self.expr((cut,) + shape[1:], depth)
        if self.ch.coin():
            c, ctext = self.const((shape[0] - cut,) + shape[1:])
            return Expr(shape, lambda xs: np.concatenate([a.ev(xs), c]), f"concatenate([{a.text}, {ctext}])")
        b = self.expr((shape[0] - cut,) + shape[1:], depth)
        return Expr(shape, lambda xs: np.concatenate([a.ev(xs), b.ev(xs)], axis=0),
                    f"concatenate([{a.text}, {b.text}])")


def _shape(ch: _Chooser, max_ndim: int, max_dim: int) -> Shape:
    return tuple(ch.integer(1, max_dim) for _ in range(ch.integer(0, max_ndim)))


def _build(ch: _Chooser, n_inputs: int | None, max_depth: int, max_ndim: int, max_dim: int) -> RandomProgram:
    n = ch.integer(1, 3) if n_inputs is None else n_inputs
    shapes = [_shape(ch, max_ndim, max_dim) for _ in range(n)]
    inputs = tuple(ch.floats(s, -2.0, 2.0) for s in shapes)
    out_shape = _shape(ch, max_ndim, max_dim)
    gen = _Generator(ch, shapes, max_depth, max_dim)
    root = gen.expr(out_shape, 0)

    def fn(*xs):
        return root.ev(xs)

    return RandomProgram(fn, inputs, root.text, out_shape)


def random_program(seed: int, *, n_inputs: int | None = None, max_depth: int = 3, max_ndim: int = 2,
                   max_dim: int = 3) -> RandomProgram:
    """A random program from a seed (no hypothesis needed)."""
    return _build(_NumpyChooser(np.random.RandomState(seed)), n_inputs, max_depth, max_ndim, max_dim)


def programs(*, n_inputs: int | None = None, max_depth: int = 3, max_ndim: int = 2, max_dim: int = 3):
    """Hypothesis strategy of :class:`RandomProgram`."""

    @st.composite
    def strategy(draw):
        return _build(_HypothesisChooser(draw), n_inputs, max_depth, max_ndim, max_dim)

    return strategy()
