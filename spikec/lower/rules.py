"""Lowering rules: how each op becomes neurons, weights or state, in one table keyed by op.

A rule is ``rule(lw, node, operands) -> Affine``: ``lw`` is the lowering in
progress (:class:`spikec.lower.lowering._Lowering`, whose building blocks
add populations, sum nodes and projections), ``operands`` the operands'
values as :class:`~spikec.lower.affine.Affine` expressions over sources, and
the result the node's value.  Ops without an entry of their own get one by
kind (:func:`rule_for`): a constant becomes a constant expression, a linear
op its matrix form (:func:`spikec.ir.linear_map.linear_map`, folded into
weights), an elementwise nonlinear op a NEF ensemble per element tuned to
its reference.  So a new elementwise or (non-projection) linear op needs no
rule here; a new projection op needs one (see :func:`_projection`), as does
any other nonlinear op.

Stateful ops have their own table (:data:`STATE_RULES`): the drive and
synapse of the state node that holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from spikec.ir.attrs import ConstArray
from spikec.ir.linear_map import linear_map
from spikec.ir.node import Node
from spikec.ir.ops.stateful import lti_discrete
from spikec.ir.registry import get_op
from spikec.lower.affine import Affine, broadcast_matrix, stack
from spikec.lower.errors import LoweringError
from spikec.lower.options import LowerOptions
from spikec.lower.targets import target_of
from spikec.lower.tuning import (
    UnitTuning,
    balanced_product,
    parabola_square,
    parabola_square_pairs,
    parabola_square_symmetric,
    product_balance,
)
from spikec.netlist import AvgPool, Convolution, Dense, ParamBinding, Projection, SumNode

if TYPE_CHECKING:
    from spikec.lower.lowering import _Lowering

RuleFn = Callable[["_Lowering", Node, list[Affine]], Affine]


@dataclass(frozen=True)
class LowerRule:
    """How one op lowers.

    ``lower(lw, node, operands) -> Affine``; ``needs_ranges``: for a
    nonlinear op, whether its units are tuned to its operands' measured value
    ranges (an explicit neuron layer brings its own gains and biases);
    ``neurons(node, options) -> int``: how many neurons ``lower`` builds for
    ``node`` with its options (:func:`node_options`), from shapes alone
    (what :mod:`spikec.lower.estimate` adds up; 0 for ops that build none).
    """

    lower: RuleFn
    needs_ranges: bool = True
    neurons: Callable[[Node, LowerOptions], int] = lambda node, options: 0


RULES: dict[str, LowerRule] = {}


def lowering_rule(*ops: str, needs_ranges: bool = True,
                  neurons: Callable[[Node, LowerOptions], int] | None = None) -> Callable[[RuleFn], RuleFn]:
    """Decorator: register the function as the lowering rule of ``ops`` (``neurons``: see :class:`LowerRule`)."""

    def register(fn: RuleFn) -> RuleFn:
        for op in ops:
            if op in RULES:
                raise ValueError(f"op {op!r} already has a lowering rule")
            get_op(op)  # an unknown op name fails here, not at lowering time
            RULES[op] = LowerRule(fn, needs_ranges, **({} if neurons is None else {"neurons": neurons}))
        return fn

    return register


def rule_for(node: Node, target: str = "default") -> LowerRule:
    """The rule that lowers ``node``: the target's for its op (:mod:`spikec.lower.targets`), its op's own, or
    the one for its kind."""
    rule = target_of(target).rules.get(node.op) or RULES.get(node.op)
    if rule is not None:
        return rule
    opdef = get_op(node.op)
    if opdef.is_constant:
        return _CONSTANT
    if opdef.is_linear and not opdef.is_projection:
        return _LINEAR
    if opdef.is_nonlinear and opdef.elementwise:
        return _ELEMENTWISE
    if opdef.expanded_by:
        raise LoweringError(f"no lowering rule for op {node.op!r}: the graph is not prepared for lowering",
                            op=node.op, loc=node.loc,
                            hint=f"the {opdef.expanded_by} pass rewrites it; run the default pass pipeline or "
                            "spikec.passes.prepare_for_lowering(graph) first")
    raise LoweringError(f"no lowering rule for op {node.op!r}", op=node.op, loc=node.loc)


def node_options(options: LowerOptions, node: Node) -> LowerOptions:
    """The lowering options for one node.

    The global options, then the ``budget`` pass's choice for the node
    (``attrs["tuning"]``: neurons and peak rate of NEF units), then the
    user's ``spikec.configure`` overrides, which win.
    """
    overrides: dict = {}
    tuning = node.attrs.get("tuning")
    if tuning is not None:
        rate = float(tuning["max_rate"])
        overrides.update(n_neurons=int(tuning["n_neurons"]), max_rates=(rate / 2, rate))
    overrides.update((k, v) for k, v in node.config.items() if k != "range")
    return options.updated(**overrides) if overrides else options


def needs_ranges(node: Node) -> bool:
    """Whether the value ranges of ``node``'s operands must be measured (its units are tuned to them)."""
    if not get_op(node.op).is_nonlinear:
        return False
    rule = RULES.get(node.op)
    return rule is None or rule.needs_ranges


# -- by kind ----------------------------------------------------------------------------------


def lower_constant(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """A constant: its value, folded into whatever reads it."""
    return Affine.constant(get_op(node.op).reference(node.attrs))


def lower_linear(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """A linear op: its matrices applied to the operands' expressions (no neurons)."""
    matrices, bias = linear_map(node, [lw.graph[i].shape for i in node.inputs])
    if len(operands) == 1 and not np.any(bias):
        # a broadcast stays Gathered (spikec.lower.affine.Affine.map): not built row by row unless read
        return operands[0].map(matrices[0])
    total = Affine.constant(bias)
    for expr, matrix in zip(operands, matrices):
        total = total + expr.map(matrix)
    return total


def lower_elementwise(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """An elementwise function: one NEF ensemble per element, decoding the op's reference."""
    lo, hi = lw.function_interval(node)
    reference = get_op(node.op).reference
    attrs = node.attrs
    o = lw.opts(node)

    def target(i, p):
        with np.errstate(all="ignore"):
            values = reference(attrs, p[:, 0])
        if not np.all(np.isfinite(values)):
            raise lw.domain_error(node, p[:, 0].min(), p[:, 0].max())
        return values

    tuning = lw.nef(o, ((lo + hi) / 2)[:, None], ((hi - lo) / 2)[:, None], target)
    return lw.population(node, lw.nef_type(o), tuning, operands[0],
                         {"units": node.size, "rule": f"nef {node.op}", "n_per_unit": o.n_neurons},
                         interval=(lo, hi))


@dataclass(frozen=True)
class SquareKind:
    """How each square of a parabola product or ``x**2`` is built: one row of :data:`SQUARES`.

    ``tune(lower, upper, max_rate) -> (UnitTuning, lin, const)`` (:mod:`spikec.lower.tuning`);
    ``per_square``: its neurons; ``symmetric``: whether they are
    :class:`~spikec.models.neurons.SymmetricParabola` (else rectified
    :class:`~spikec.models.neurons.Parabola`); ``centred``: silent at the
    range's centre and exact for every value, as ``product_radius`` needs;
    ``label``: what the netlist print adds to the rule.
    """

    tune: Callable[..., tuple[UnitTuning, np.ndarray, np.ndarray]]
    per_square: int
    symmetric: bool
    centred: bool
    label: str


#: ``LowerOptions.parabola_pairs`` -> how its squares are built.
SQUARES: dict[Any, SquareKind] = {
    False: SquareKind(parabola_square, 1, False, False, ""),
    True: SquareKind(parabola_square_pairs, 2, False, True, " (pairs)"),
    "symmetric": SquareKind(parabola_square_symmetric, 1, True, True, " (symmetric)"),
}


def square_kind(o: LowerOptions) -> SquareKind:
    """The squares ``o`` asks for; ``product_radius`` (squares centred at 0) takes pairs over one-sided units."""
    kind = SQUARES[o.parabola_pairs]
    return SQUARES[True] if o.product_radius is not None and not kind.centred else kind


def _square_neurons(lw: _Lowering, o: LowerOptions, kind: SquareKind):
    """The spiking neuron type of ``kind``'s squares (``spiking`` picks the wrapper)."""
    neuron_type = lw.spiking_parabola(o)
    if not kind.symmetric:
        return neuron_type
    from spikec.models.neurons import SymmetricParabola

    return replace(neuron_type, base=SymmetricParabola())


def _per_square(o: LowerOptions) -> int:
    """Parabola neurons per square (:data:`SQUARES`)."""
    return square_kind(o).per_square


_CONSTANT = LowerRule(lower_constant)
_LINEAR = LowerRule(lower_linear)
_ELEMENTWISE = LowerRule(lower_elementwise, neurons=lambda node, o: node.size * o.n_neurons)

# -- products ----------------------------------------------------------------------------------


@lowering_rule("mul", neurons=lambda node, o: node.size * (o.n_neurons if o.products == "nef" else 2 * _per_square(o)))
def lower_mul(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """``x * y``: NEF product units, or ``((x+y)^2 - (x-y)^2) / 4`` with parabola neurons."""
    (ix, iy), shape = node.inputs, node.shape
    # each operand feeds both the x+y and the x-y neurons
    x = lw.relayed(node, f"{node.id}x", operands[0].map(broadcast_matrix(lw.graph[ix].shape, shape)), uses=2)
    y = lw.relayed(node, f"{node.id}y", operands[1].map(broadcast_matrix(lw.graph[iy].shape, shape)), uses=2)
    lx, hx = lw.interval(node, 0, shape)
    ly, hy = lw.interval(node, 1, shape)
    o = lw.opts(node)
    if o.products == "nef":
        size = x.size
        # interleave so that unit i reads (x_i, y_i)
        order = np.argsort(np.concatenate([np.arange(size) * 2, np.arange(size) * 2 + 1]), kind="stable")
        both = stack([x, y])
        drive = both.map(sp.csr_array((np.ones(2 * size), (np.arange(2 * size), order)),
                                      shape=(2 * size, 2 * size)))
        centers = np.stack([(lx + hx) / 2, (ly + hy) / 2], axis=1)
        radii = np.stack([(hx - lx) / 2, (hy - ly) / 2], axis=1)
        tuning = lw.nef(o, centers, radii, lambda i, p: p[:, 0] * p[:, 1])
        return lw.population(node, lw.nef_type(o), tuning, drive, {"units": size, "rule": "nef product"},
                             interval=((centers - radii).ravel(), (centers + radii).ravel()))
    # ((x+y)^2 - (x-y)^2) / 4 with parabola neurons for the squares
    _refuse_n_neurons(node, "product")
    _refuse_unused_n_neurons(lw, node, o)
    kind = square_kind(o)
    square = kind.tune
    balance = _domain_balance(lw, node, shape, o)
    if balance is not None:  # x*y == (s x)(y/s): operands of one typical size (LowerOptions.product_balance)
        x, y = x.scaled(balance), y.scaled(1.0 / balance)
        lx, hx, ly, hy = lx * balance, hx * balance, ly / balance, hy / balance
    if o.product_radius is not None:
        # Gyrus's generic recipe: squares of x+y and x-y centred at 0 (pairs, or one symmetric neuron each),
        # one radius for all
        u, v = x + y, x - y
        radius = np.full(u.size, float(o.product_radius))
        tu, lin_u, c_u = square(-radius, radius, o.max_rate)
        tv, lin_v, c_v = square(-radius, radius, o.max_rate)
        linear = Affine.constant(np.zeros(u.size))
        # Centred squares are exact for any value; the guard watches the domain's sums and differences.
        tuned = (np.concatenate([lx + ly, lx - hy]), np.concatenate([hx + hy, hx - ly]))
    elif o.balanced_products:
        # x*y = cx*cy + cy*(x-cx) + cx*(y-cy) + p*q, and only p*q = (x-cx)(y-cy)
        # goes through neurons, as squares of p/s +- s*q over +-radius
        (cx, cy), (sx, sy), radius, const = balanced_product(lx, hx, ly, hy)
        # The guard watches the calibrated range; radius_scale only trades spikes for precision.
        tuned = (np.concatenate([-radius, -radius]), np.concatenate([radius, radius]))
        radius = radius * o.radius_scale
        p, q = x - Affine.constant(cx), y - Affine.constant(cy)
        u, v = p.scaled(sx) + q.scaled(sy), p.scaled(sx) - q.scaled(sy)
        tu, lin_u, c_u = square(-radius, radius, o.max_rate)
        tv, lin_v, c_v = square(-radius, radius, o.max_rate)
        linear = p.scaled(cy) + q.scaled(cx) + Affine.constant(const)
    else:
        u, v = x + y, x - y
        tu, lin_u, c_u = square(*_scaled(lx + ly, hx + hy, o.radius_scale), o.max_rate)
        tv, lin_v, c_v = square(*_scaled(lx - hy, hx - ly, o.radius_scale), o.max_rate)
        linear = Affine.constant(np.zeros(u.size))
        tuned = (np.concatenate([lx + ly, lx - hy]), np.concatenate([hx + hy, hx - ly]))
    tuning = UnitTuning(
        gain=np.concatenate([tu.gain, tv.gain]), bias=np.concatenate([tu.bias, tv.bias]),
        encode=sp.block_diag([tu.encode, tv.encode], format="csr"),
        decode=sp.hstack([tu.decode / 4, -tv.decode / 4], format="csr"),
    )
    rule = (f"parabola product ({'symmetric' if kind.symmetric else 'pairs'} at 0, radius {o.product_radius:g})"
            if o.product_radius is not None else
            "parabola product" + (" (balanced)" if o.balanced_products else "") + kind.label)
    info = {"units": u.size, "rule": rule, "max_rate": o.max_rate}
    if balance is not None:
        info["balance"] = f"{balance.min():.3g}..{balance.max():.3g}"
    decoded = lw.population(node, _square_neurons(lw, o, kind), tuning, stack([u, v]), info,
                            aligned=o.spike_phase == "aligned", interval=tuned)
    return (decoded + u.scaled(lin_u / 4) - v.scaled(lin_v / 4) + Affine.constant((c_u - c_v) / 4)
            + linear)


def _domain_balance(lw: _Lowering, node: Node, shape: tuple[int, ...], o: LowerOptions) -> np.ndarray | None:
    """Per element of ``node``, the factor ``s`` of ``x*y == (s x)(y/s)`` that gives both operands one typical
    size over the domain (:func:`spikec.lower.tuning.product_balance`), or None when not asked for (or when
    ``balanced_products`` balances the product around its range's centre instead).

    Only products with an operand that holds still during each calibration run (a value of the inputs
    alone, such as ``A @ A.T``) are balanced; a product of two moving values keeps ``s = 1``.  Measured on
    the 5x5 Newton inverse over the domain randn(5, 5): balancing ``M (A M)`` as well (both operands
    move; ``A M`` is near the identity, its off-diagonal entries near 0) took the median held-out NRMSE
    from 0.31-0.36% to 0.50-0.56% and the spikes to 1% from 3.9-5.4x fewer than Gyrus to 2.4-3.1x.
    """
    if o.product_balance != "domain" or (o.balanced_products and o.product_radius is None):
        return None
    typical = lw.typical
    if typical is None or any(i not in typical.magnitude for i in node.inputs):
        return None

    def per_element(table, i):
        return np.broadcast_to(np.reshape(table[i], lw.graph[i].shape), shape).ravel()

    (tx, ty), (mx, my) = ([per_element(table, i) for i in node.inputs] for table in (typical.magnitude,
                                                                                     typical.moving))
    return np.where(mx & my, 1.0, product_balance(tx, ty))


def _refuse_n_neurons(node: Node, what: str) -> None:
    """A parabola unit is one neuron (or a pair) per element, exact in rate mode: ``n_neurons`` asked of one
    in a ``spikec.configure`` scope would be silently ignored, so it is an error that says what to do."""
    if "n_neurons" in node.config:
        raise LoweringError(
            f"n_neurons={node.config['n_neurons']!r} has no meaning for a parabola {what} (one neuron, or a "
            f"symmetric pair, per element, exact in rate mode)", op=node.op, loc=node.loc,
            hint=("pass products='nef' in the same spikec.configure scope for NEF product ensembles of n_neurons"
                  if what == "product" else "write x * x with products='nef' in the scope for an NEF ensemble")
            + "; or buy precision with radius_scale, max_rate or parabola_pairs")


def _refuse_unused_n_neurons(lw: _Lowering, node: Node, o: LowerOptions) -> None:
    """``n_neurons`` given to a program whose products are parabola units and which has no NEF ensemble: it
    would change nothing, silently, so it is an error that says what buys precision instead.  (With an NEF op
    in the program, ``n_neurons`` sizes its ensembles, as documented.)"""
    if o.n_neurons == _DEFAULT_N_NEURONS or any(_lowers_by_nef(lw, other) for other in lw.graph):
        return
    raise LoweringError(
        f"n_neurons={o.n_neurons!r} sizes NEF ensembles, and this program has none: its products are parabola "
        f"units (one neuron or a symmetric pair per square, exact in rate mode), which n_neurons does not change",
        op=node.op, loc=node.loc,
        hint="buy precision per product with max_rate (spikes per second per square) or radius_scale; or pass "
             "products='nef' for NEF product ensembles of n_neurons neurons each")


_DEFAULT_N_NEURONS = LowerOptions.__dataclass_fields__["n_neurons"].default


def _lowers_by_nef(lw: _Lowering, node: Node) -> bool:
    """Whether ``node`` becomes NEF ensembles (whose size ``n_neurons`` sets)."""
    rule = rule_for(node) if get_op(node.op).is_nonlinear else None
    return rule is _ELEMENTWISE or (node.op == "mul" and lw.opts(node).products == "nef")


def _scaled(lo: np.ndarray, hi: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The range ``[lo, hi]`` shrunk (or widened) by ``factor`` around its centre (``radius_scale``)."""
    if factor == 1.0:
        return lo, hi
    center, radius = (lo + hi) / 2, (hi - lo) / 2 * factor
    return center - radius, center + radius


@lowering_rule("square", neurons=lambda node, o: node.size * _per_square(o))
def lower_square(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """``x ** 2``: parabola neurons (exact in rate mode), not a fitted NEF ensemble."""
    o = lw.opts(node)
    _refuse_n_neurons(node, "square")
    interval = lw.interval(node, 0, node.shape)  # what the guard watches, whatever the tuning below
    kind = square_kind(o)
    if o.product_radius is not None:  # Gyrus's generic square: centred at 0, one radius (exact everywhere)
        lo, hi = np.full(node.size, -float(o.product_radius)), np.full(node.size, float(o.product_radius))
    else:
        lo, hi = _scaled(*interval, o.radius_scale)
    tuning, lin, const = kind.tune(lo, hi, o.max_rate)
    decoded = lw.population(node, _square_neurons(lw, o, kind), tuning, operands[0],
                            {"units": node.size, "rule": "parabola square" + kind.label, "max_rate": o.max_rate},
                            aligned=o.spike_phase == "aligned", interval=interval)
    return decoded + operands[0].scaled(lin) + Affine.constant(const)


# -- explicit neurons ------------------------------------------------------------------------


@lowering_rule("neurons", needs_ranges=False, neurons=lambda node, o: node.size)
def lower_neurons(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """An explicit neuron layer: the user's neurons, gains and biases; the activity is the value."""
    attrs, n = node.attrs, node.size
    identity = sp.identity(n, format="csr")
    tuning = UnitTuning(gain=np.broadcast_to(attrs["gain"].value, node.shape).ravel().astype(np.float64),
                        bias=np.broadcast_to(attrs["bias"].value, node.shape).ravel().astype(np.float64),
                        encode=identity, decode=identity)
    decoded = lw.population(node, attrs["neuron_type"], tuning, operands[0],
                            {"units": n, "rule": "neuron layer"})
    pop = lw.populations[-1]
    for part in ("gain", "bias"):
        pname = attrs.get(f"{part}_param")
        if pname:
            offset = pop.bias.value - tuning.bias if part == "bias" else None
            if part == "gain" and operands[0].pruned().const.any():
                raise LoweringError("a trainable neuron gain needs an input without a constant offset "
                                    "(the offset is folded into the bias)", op=node.op, loc=node.loc)
            lw.bind(ParamBinding(pname, part, pop.name, attrs[part].shape, broadcast=tuple(node.shape),
                                 offset=offset if offset is not None and offset.any() else None), node)
    return decoded


# -- projection ops: one projection of their own each ---------------------------------------------


def _projection(lw: _Lowering, node: Node, operands: list[Affine], transform: Any,
                binding: dict[str, Any] | None) -> Affine:
    """``transform`` as one projection from the operand into a sum node of its own.

    ``binding``: the :class:`ParamBinding` fields of a trainable parameter
    (``attrs["param"]``) that owns the projection's weights, or None.
    """
    source = lw.materialize(node, operands[0])
    name = f"{node.op}{node.id}"
    where = f"{node.op}@{node.loc.short}" if node.loc is not None else node.op
    lw.nodes.append(SumNode(name, node.size, None, None, None, computes=(where,)))
    lw.projection_nodes.add(name)
    lw.projections.append(Projection(source, name, transform, None))
    if node.attrs.get("param"):
        lw.bind(ParamBinding(node.attrs["param"], target=len(lw.projections) - 1, **binding), node)
    return Affine.source(name, node.size)


@lowering_rule("conv2d")
def lower_conv2d(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """A convolution projection (its kernel may be a trained parameter)."""
    attrs = node.attrs
    in_shape = tuple(lw.graph[node.inputs[0]].shape)
    transform = Convolution(in_shape, attrs["kernel"], tuple(attrs["strides"]), attrs["padding"])
    return _projection(lw, node, operands, transform, {"kind": "weights", "shape": attrs["kernel"].shape})


@lowering_rule("avg_pool2d")
def lower_avg_pool2d(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """A pooling projection."""
    in_shape = tuple(lw.graph[node.inputs[0]].shape)
    transform = AvgPool(in_shape, tuple(node.attrs["pool"]), tuple(node.attrs["strides"]))
    return _projection(lw, node, operands, transform, None)


@lowering_rule("dense")
def lower_dense(lw: _Lowering, node: Node, operands: list[Affine]) -> Affine:
    """A dense projection (its weights may be a trained parameter, stored transposed)."""
    weights = node.attrs["weights"]
    return _projection(lw, node, operands, Dense(ConstArray(weights.value.T)),
                       {"kind": "weights", "shape": weights.shape, "transpose": True})


# -- stateful ops -------------------------------------------------------------------------------

StateRule = Callable[["_Lowering", Node, Affine], tuple[Affine, Any]]

#: op -> ``rule(lw, node, operand) -> (drive, synapse)`` of the state node that holds the op's value.
STATE_RULES: dict[str, StateRule] = {}


def _filter_state(lw: _Lowering, node: Node, operand: Affine) -> tuple[Affine, Any]:
    """The operand through the op's synapse."""
    return operand, node.attrs["synapse"]


def _lti_state(lw: _Lowering, node: Node, operand: Affine) -> tuple[Affine, Any]:
    """An integrator fed ``((Ad - I) s + Bd u) / dt`` steps exactly like the zero-order-hold system
    ``s <- Ad s + Bd u``."""
    from spikec.models.synapses import Integrator

    ad, bd = lti_discrete(node.attrs["A"], node.attrs["B"], lw.options.dt)
    dt = lw.options.dt
    drive = lw.exprs[node.id].map((ad - np.eye(len(ad))) / dt) + operand.map(bd / dt)
    return drive, Integrator()


STATE_RULES["filter"] = _filter_state
STATE_RULES["lti"] = _lti_state
