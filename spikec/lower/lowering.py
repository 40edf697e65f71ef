"""Graph -> netlist: neurons for nonlinear ops, weights for everything linear.

The graph is evaluated symbolically in evaluation order.  Every node's value
becomes an :class:`~spikec.lower.affine.Affine` expression over sources
(inputs, state nodes, populations).  Linear ops transform expressions and
cost nothing; each nonlinear op becomes one population whose input
projections are read off its operands' expressions and whose decoded output
is a new expression; each stateful op becomes a state node.  Projections are
emitted only where a population or node reads a source, so every chain of
linear ops between two populations collapses into one weight matrix.

What each op becomes is its rule in :mod:`spikec.lower.rules`; this module
holds the driver (:meth:`_Lowering.run`) and the building blocks the rules
use (populations, projections, sum nodes, tuning intervals).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from spikec.ir.attrs import ConstArray
from spikec.ir.domain import Domain
from spikec.ir.graph import Graph
from spikec.ir.linear_map import is_identity
from spikec.ir.node import Node
from spikec.ir.registry import get_op
from spikec.lower.affine import Affine, Gathered, distinct_rows
from spikec.lower.errors import LoweringError
from spikec.lower.estimate import check_size
from spikec.lower.options import LowerOptions
from spikec.lower.ranges import Measured, interval_ranges, measure_ranges, wanted_operands, widen
from spikec.lower.rules import STATE_RULES, node_options, rule_for
from spikec.lower.targets import finish, target_of
from spikec.lower.tuning import UnitTuning, nef_ensembles, typical_magnitudes
from spikec.netlist import (
    Guard,
    InputSource,
    Netlist,
    Output,
    ParamBinding,
    Population,
    Projection,
    SumNode,
    make_transform,
)

__all__ = ["LoweringError", "count_weights", "lower"]


class _Lowering:
    def __init__(self, graph: Graph, options: LowerOptions, ranges, *, sound=None, boxes=(), domain=None,
                 typical=None):
        self.graph = graph
        self.typical = typical  # what calibration says of product operands (options.product_balance), or None
        self.options = options
        self.ranges = ranges  # measured (lo, hi) per operand without a sound bound (spikec.lower.ranges.Measured)
        self.sound = sound or {}  # node id -> sound (lo, hi) over the domain's boxes (interval arithmetic)
        self.boxes = list(boxes)  # per program input: its box (flat lo, hi) or None
        self.domain = domain
        # population name -> ((port, lo, hi, origin), ...): the range each operand was tuned to, and why
        self.range_log: dict[str, list[tuple[int, np.ndarray, np.ndarray, str]]] = {}
        self.rng = np.random.default_rng(options.seed)
        self.exprs: dict[int, Affine] = {}
        self.inputs: list[InputSource] = []
        self.populations: list[Population] = []
        self.nodes: list[SumNode] = []
        self.projections: list[Projection] = []
        self.population_names: set[str] = set()
        self.params: dict[str, ParamBinding] = {}
        self.projection_nodes: set[str] = set()  # sum nodes that hold one conv2d/dense projection
        # state name -> (population, decoders) where the target holds a state in neurons (spikec.lower.targets)
        self.held: dict[str, tuple[str, sp.csr_array]] = {}

    # -- building blocks ------------------------------------------------------------
    def project(self, expr: Affine, post: str, unit_synapse=None) -> None:
        """Projections carrying ``expr`` into ``post``.

        ``unit_synapse`` filters the ones that come from neuron populations:
        a nonlinear unit reading another unit's spikes through a synapse sees
        a smooth value that stays inside its tuned range.
        """
        for source, matrix in expr.pruned().terms.items():
            synapse = unit_synapse if source in self.population_names else None
            self.projections.append(Projection(source, post, make_transform(matrix), synapse))

    def population(self, node: Node, neuron_type, tuning: UnitTuning, drive: Affine,
                   info: dict | None = None, aligned: bool = False,
                   interval: tuple[np.ndarray, np.ndarray] | None = None) -> Affine:
        """Add a population driven by ``encode @ drive``; return its decoded output.

        ``interval``: the per-element ``(lo, hi)`` of ``drive`` that the tuning
        was made for; it becomes the population's :class:`~spikec.netlist.Guard`.
        """
        name = f"{node.op}{node.id}"
        neuron_input = drive.map(tuning.encode)
        n = tuning.gain.size
        bias = tuning.bias + tuning.gain * neuron_input.const
        state = neuron_type.init_state(n, rng=self.rng)
        if aligned and "voltage" in state:
            state["voltage"] = np.full(n, 0.5)
        elif self.options.spike_phase == "rest" and "voltage" in state:
            state["voltage"] = np.zeros(n)  # at rest, as NIR's neurons start
        where = f"{node.op}@{node.loc.short}" if node.loc is not None else node.op
        self.populations.append(Population(
            name, n, neuron_type, ConstArray(tuning.gain), ConstArray(bias), computes=(where,),
            info=tuple(sorted((info or {}).items())),
            initial_state=tuple((k, ConstArray(v)) for k, v in sorted(state.items())),
            guard=None if interval is None else self.guard(node, tuning, interval),
        ))
        self.project(Affine(n, dict(neuron_input.terms)), name, self.unit_synapse(node))
        self.population_names.add(name)
        return Affine(tuning.decode.shape[0], {name: tuning.decode})

    @staticmethod
    def guard(node: Node, tuning: UnitTuning, interval: tuple[np.ndarray, np.ndarray]) -> Guard:
        """The currents each neuron was tuned for: ``interval`` through ``J = gain * encode @ x + bias``.

        Interval arithmetic (centre and radius), so a neuron encoding several
        elements gets the currents of the whole box, a necessary condition.
        """
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64).ravel(), (tuning.encode.shape[1],))
                  for v in interval)
        encode = sp.csr_array(tuning.encode)
        mid = encode @ ((lo + hi) / 2)
        half = abs(encode) @ ((hi - lo) / 2)
        a = tuning.gain * (mid - half) + tuning.bias
        b = tuning.gain * (mid + half) + tuning.bias
        unit = _row_argmax(abs(encode))
        coef = np.asarray(encode[np.arange(encode.shape[0]), unit]).ravel() * tuning.gain
        loc = node.loc
        return Guard(node.op, None if loc is None else loc.short, None if loc is None else loc.line.strip() or None,
                     ConstArray(np.minimum(a, b)), ConstArray(np.maximum(a, b)),
                     ConstArray(unit.astype(np.int64)), ConstArray(np.where(coef < 0, -1.0, 1.0)),
                     ConstArray(lo.copy()), ConstArray(hi.copy()))

    def opts(self, node: Node) -> LowerOptions:
        """The lowering options for one node (:func:`spikec.lower.rules.node_options`)."""
        return node_options(self.options, node)

    def unit_synapse(self, node: Node):
        from spikec.models.synapses import as_synapse

        return as_synapse(self.opts(node).unit_synapse)

    def operand_range(self, node: Node, port: int) -> tuple[np.ndarray, np.ndarray, str, float]:
        """Unwidened per-element (lower, upper) of operand ``port`` of ``node``, where it came from, and the
        margin to widen it by.

        In order: the user's ``spikec.configure(range=...)``; a sound bound
        over the domain's boxes (interval arithmetic, tightened by the exact
        image of the boxes where the operand is an affine function of inputs
        only); else the range measured over the calibration runs, widened by
        ``range_margin``.
        """
        operand = self.graph[node.inputs[port]]
        user = node.config.get("range")
        if user is not None:
            lo, hi = (np.broadcast_to(np.asarray(v, dtype=float), operand.shape).ravel() for v in user)
            return lo, hi, "user range", 1.0
        sound = self.sound.get(operand.id)
        boxed = self.input_box(operand.id)
        if boxed is not None:
            sound = boxed if sound is None else (np.maximum(sound[0], boxed[0]), np.minimum(sound[1], boxed[1]))
        if sound is not None:
            # Sound for the ideal values; an operand read from NEF units carries their decoding error too.
            return sound[0], sound[1], "interval", self.opts(node).range_margin if self.reads_nef(node, port) else 1.0
        lo, hi = self.ranges[operand.id]
        return np.ravel(lo), np.ravel(hi), self.ranges.origin(), self.opts(node).range_margin

    def reads_nef(self, node: Node, port: int) -> bool:
        """Whether operand ``port`` of ``node`` is decoded from an NEF population (approximate, unlike parabola
        units, which are exact in rate mode)."""
        expr = self.exprs.get(node.inputs[port])
        names = set(expr.names) if expr is not None else set()
        return any(str(dict(p.info).get("rule", "")).startswith("nef") for p in self.populations if p.name in names)

    def interval(self, node: Node, port: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Widened per-element [lower, upper] of operand ``port`` of ``node``, broadcast to ``shape``."""
        operand = self.graph[node.inputs[port]]
        lo, hi, origin, margin = self.operand_range(node, port)
        center, radius = widen(lo, hi, margin)
        lo = np.broadcast_to((center - radius).reshape(operand.shape), shape).ravel()
        hi = np.broadcast_to((center + radius).reshape(operand.shape), shape).ravel()
        self.range_log.setdefault(f"{node.op}{node.id}", []).append((port, lo, hi, origin))
        return lo, hi

    def input_box(self, node_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact range of a value that is an affine function of boxed inputs only, or None.

        Each element of input ``i`` lies in its box (the domain's, or
        ``input_range`` for every input without one); ``W @ inputs + b`` then
        spans ``W @ c + b +- |W| @ r`` (``c``, ``r``: the box's centre and
        radius).  None for anything that depends on a population, a state or
        an input without a box.
        """
        expr = self.exprs.get(node_id)
        if expr is None:
            return None
        boxes = {source.name: self.boxes[source.index] if source.index < len(self.boxes) else None
                 for source in self.inputs}
        if isinstance(expr, Gathered) and any(
                boxes.get(name) is None and np.diff(m.indptr)[expr.rows].any()
                for name, m in expr.base.pruned().terms.items()):
            return None  # reads a source without a box: decided without building the broadcast's rows
        expr = expr.pruned()
        if not expr.terms or any(boxes.get(name) is None for name in expr.terms):
            return None
        mid = expr.const.copy()
        half = np.zeros(expr.size)
        for name, matrix in expr.terms.items():
            lo, hi = boxes[name]
            mid += matrix @ ((lo + hi) / 2)
            half += abs(matrix) @ ((hi - lo) / 2)
        # a value that moves with the inputs but has zero width cannot occur (|W| rows are nonzero)
        return mid - half, mid + half

    @staticmethod
    def spiking_parabola(o: LowerOptions):
        from spikec.models.neurons import Parabola, PoissonSpiking, RegularSpiking

        return (RegularSpiking if o.spiking == "regular" else PoissonSpiking)(Parabola())

    @staticmethod
    def nef_type(o: LowerOptions):
        from spikec.models.neurons import LIF, as_neuron_type

        return as_neuron_type(o.neuron_type or LIF()).as_spiking()

    # -- building blocks of the rules (spikec.lower.rules) ----------------------------------
    def relayed(self, node: Node, key: str, expr: Affine, uses: int) -> Affine:
        """``expr``, read through a relay node when that needs fewer weights.

        A product unit's operand is often a sum over many neurons (the values
        between the two matmuls of the inverse) that many units read, each
        through its own copy of the same folded weights: identical rows.  A
        relay node (an instantaneous sum node) holding each distinct row once
        costs the distinct rows' weights in, plus one weight per reading
        unit out.  Exact: only the order of additions changes.
        """
        # A broadcast (Gathered) is counted and factored from its base's rows; it is built only if it is read
        # directly.
        expr = Gathered(expr.base.pruned(), expr.rows) if isinstance(expr, Gathered) else expr.pruned()
        unique, select = distinct_rows(expr)
        direct = uses * int(expr.row_nnz().sum())
        via_relay = sum(m.nnz for m in unique.terms.values()) + uses * expr.size
        if direct <= 2 * via_relay:
            return expr.pruned()
        name = f"relay{key}"
        offset = ConstArray(unique.const) if unique.const.any() else None
        self.nodes.append(SumNode(name, unique.size, None, None, offset, computes=("relay",)))
        self.project(Affine(unique.size, dict(unique.terms)), name, self.unit_synapse(node))
        return Affine.source(name, unique.size).map(select)

    def bind(self, binding: ParamBinding, node: Node) -> None:
        """Record where parameter ``binding.name`` lives; a name may be bound once."""
        if binding.name in self.params:
            raise LoweringError(f"parameter {binding.name!r} is used twice (each spikec.param needs its own name)",
                                op=node.op, loc=node.loc)
        self.params[binding.name] = binding

    def materialize(self, node: Node, expr: Affine) -> str:
        """A source holding exactly ``expr``: itself when it is one source as is, else a new sum node."""
        expr = expr.pruned()
        if len(expr.terms) == 1 and not expr.const.any():
            (source, matrix), = expr.terms.items()
            if matrix.shape[0] == matrix.shape[1] and is_identity(matrix):
                return source
        name = f"{node.op}_in{node.id}"
        offset = ConstArray(expr.const) if expr.const.any() else None
        self.nodes.append(SumNode(name, expr.size, None, None, offset, computes=(f"{node.op} input",)))
        self.project(Affine(expr.size, dict(expr.terms)), name)
        return name

    def function_interval(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """The interval an elementwise function is tuned on: widened, but not out of its domain.

        Widening a measured ``[0.1, 4]`` reaches below zero, where ``sqrt`` and
        ``log`` have no value and ``1/x`` a pole: where the margin on one side
        takes in a point where the function is not finite, that side keeps
        the measured bound, without margin.  Finiteness is checked at the
        bounds and at 0: every function's domain is an interval (``arcsin``'s
        [-1, 1]) or ends at 0 (``log``, ``1/x``).
        """
        lo, hi = self.interval(node, 0, node.shape)
        reference, attrs = get_op(node.op).reference, node.attrs

        def finite_on(a, b):
            """Whether the function is finite at ``a``, ``b`` and at 0 when 0 lies between them."""
            with np.errstate(all="ignore"):
                f_a, f_b, f_0 = (np.isfinite(reference(attrs, v)) for v in (a, b, np.zeros_like(a)))
            return f_a & f_b & (f_0 | (a > 0) | (b < 0))

        if node.config.get("range") is None:
            operand = self.graph[node.inputs[0]]
            m_lo, m_hi = (np.broadcast_to(v.reshape(operand.shape), node.shape).ravel()
                          for v in self.operand_range(node, 0)[:2])
            lo = np.where(finite_on(lo, m_lo), lo, m_lo)
            hi = np.where(finite_on(m_hi, hi), hi, m_hi)
        bad = ~finite_on(lo, hi) | ~(hi > lo)
        if bad.any():
            raise self.domain_error(node, lo[bad].min(), hi[bad].max())
        log = self.range_log[f"{node.op}{node.id}"]
        log[-1] = (0, lo, hi, log[-1][3])  # what the units are tuned to: the margin stops at the function's domain
        return lo, hi

    @staticmethod
    def domain_error(node: Node, lo: float, hi: float) -> LoweringError:
        return LoweringError(
            f"{node.op} is not finite everywhere on [{lo:g}, {hi:g}], the value range its units would be tuned to",
            op=node.op, loc=node.loc,
            hint="keep the operand inside the function's domain on the example inputs, or give a range inside "
            "it with spikec.configure(range=(lo, hi))",
        )

    def nef(self, o: LowerOptions, centers, radii, fn: Callable) -> UnitTuning:
        import nengo

        return nef_ensembles(centers, radii, fn, self.nef_type(o), o.n_neurons, o.max_rates, o.intercepts,
                             o.solver or nengo.solvers.LstsqL2(), o.n_eval_points, self.rng)

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> Netlist:
        graph = self.graph
        for node in graph.input_nodes:
            name = f"in_{node.name}" if node.name and node.name.isidentifier() else f"in{node.id}"
            self.inputs.append(InputSource(name, int(node.attrs["index"]), node.shape))
            self.exprs[node.id] = Affine.source(name, node.size)
        stateful = [n for n in graph if get_op(n.op).is_stateful]
        for node in stateful:
            self.exprs[node.id] = Affine.source(f"state{node.id}", node.size)
        for node_id in graph.order:
            node = graph[node_id]
            if node.id in self.exprs:
                continue
            operands = [self.exprs[i] for i in node.inputs]
            self.exprs[node.id] = rule_for(node, self.options.target).lower(self, node, operands)
        for node in stateful:
            self.lower_state(node)
        outputs = [self.output(i, node_id) for i, node_id in enumerate(graph.outputs)]
        self.bypass_projection_nodes(outputs)
        finish(self)
        ranges = {name: tuple(entries) for name, entries in self.range_log.items()}
        net = Netlist(graph.name, tuple(self.inputs), tuple(self.populations), tuple(self.nodes),
                      tuple(self.projections), tuple(outputs), domain=self.domain,
                      info={"params": dict(self.params), "ranges": ranges})
        net = net.validate()
        check = target_of(self.options.target).check
        if check is not None:
            check(net)
        return net

    def bypass_projection_nodes(self, outputs: list[Output]) -> None:
        """Let a convolution or dense projection feed its one reader directly.

        A projection op's rule (:mod:`spikec.lower.rules`) puts each such
        projection into a sum node of its own; when that node has no offset, is not an output and is read
        by exactly one projection that is the identity without synapse (a
        neuron layer reading the convolution), the node is dropped and the
        convolution goes straight into the reader.  Exact (adding zero), and
        it saves a copy of every convolution output per step (and its
        gradient) in simulators.
        """
        read = {o.source for o in outputs}
        for node in list(self.nodes):
            if node.name not in self.projection_nodes or node.offset is not None or node.name in read:
                continue
            into = [i for i, p in enumerate(self.projections) if p.post == node.name]
            out_of = [i for i, p in enumerate(self.projections) if p.pre == node.name]
            if len(into) != 1 or len(out_of) != 1:
                continue
            (i_in,), (i_out,) = into, out_of
            reader = self.projections[i_out]
            if reader.synapse is not None or not is_identity(reader.transform.to_scipy()):
                continue
            self.projections[i_in] = Projection(self.projections[i_in].pre, reader.post,
                                                self.projections[i_in].transform, None)
            del self.projections[i_out]
            self.nodes.remove(node)
            for name, b in list(self.params.items()):
                if b.kind == "weights" and b.target > i_out:
                    self.params[name] = dataclasses.replace(b, target=b.target - 1)

    def lower_state(self, node: Node) -> None:
        """The state node of a stateful op, driven as its rule (:data:`STATE_RULES`) says."""
        name = f"state{node.id}"
        operand = self.exprs[node.inputs[0]].pruned()
        held_in_neurons = target_of(self.options.target).lower_state
        if held_in_neurons is not None:
            held_in_neurons(self, node)
            return
        x0 = node.attrs["x0"]
        rule = STATE_RULES.get(node.op)
        if rule is None:
            raise LoweringError(f"no lowering rule for stateful op {node.op!r}", op=node.op, loc=node.loc)
        drive, synapse = rule(self, node, operand)
        start = None if x0 is None else ConstArray(np.ravel(x0.value))
        offset = ConstArray(drive.const) if drive.const.any() else None
        self.nodes.append(SumNode(name, node.size, synapse, start, offset, computes=(node.op,)))
        # A linear state (an integrator) integrates spikes as well as their
        # filtered value; a nonlinear one (Adam normalises by the input's RMS)
        # must read filtered values like any nonlinear unit.
        if synapse.is_linear:
            into = None
        elif self.opts(node).state_synapse is not None:
            from spikec.models.synapses import as_synapse

            into = as_synapse(self.opts(node).state_synapse)
        else:
            into = self.unit_synapse(node)
        self.project(Affine(node.size, dict(drive.terms)), name, into)

    def output(self, index: int, node_id: int) -> Output:
        node = self.graph[node_id]
        expr = self.exprs[node_id].pruned()
        shape = node.shape
        if not expr.const.any() and len(expr.terms) == 1:
            (source, matrix), = expr.terms.items()
            if source.startswith("state") and source not in self.held and matrix.shape[0] == matrix.shape[1] and \
                    (matrix != sp.identity(matrix.shape[0], format="csr")).nnz == 0:
                return Output(f"out{index}", index, source, shape)
        name = f"out{index}"
        self.nodes.append(SumNode(name, node.size, None, None,
                                  ConstArray(expr.const) if expr.const.any() else None, computes=("output",)))
        self.project(Affine(node.size, dict(expr.terms)), name)
        return Output(name, index, name, shape)


def lower(graph: Graph, inputs: Sequence[Callable[[float], np.ndarray]], options: LowerOptions | None = None,
          *, more_examples: Sequence[Sequence[Callable[[float], np.ndarray]]] = (),
          domain: Domain | None = None) -> Netlist:
    """Lower a graph that the passes have prepared to a netlist.

    The lowering runs no passes: give it the graph after the default
    pipeline or after :func:`spikec.passes.prepare_for_lowering` (what
    :class:`spikec.Program` does).  An op it has no rule for (``matmul``
    before ``expand_bilinear``...) raises :class:`LoweringError` naming the
    op, its line and the pass it needs, before anything is simulated.

    Units are tuned over ``domain`` (:class:`spikec.ir.domain.Domain`; the
    netlist carries it): operands that depend only on boxed inputs get sound
    bounds by interval arithmetic (``options.input_range`` boxes every input
    without a box of its own); the others are measured by the ideal
    simulation of ``inputs`` (the traced example) and of each run in
    ``more_examples`` (calibration runs: the domain's samples and draws), and
    the units cover the union.  See :mod:`spikec.lower.ranges`.
    """
    for node in graph:  # before measuring ranges, which simulates the graph
        if not get_op(node.op).is_input and not get_op(node.op).is_stateful:
            rule_for(node, (options or LowerOptions()).target)
    options = options or LowerOptions()
    # Before anything is built: a program over max_neurons fails here in milliseconds.
    check_size(graph, [(n, rule_for(n, options.target).neurons(n, node_options(options, n))) for n in graph
                       if get_op(n.op).is_nonlinear], options)
    boxes, sound, wanted = _bounds(graph, options, domain)
    ranges = measure_ranges(graph, inputs, options.range_t, options.dt, more=more_examples, wanted=wanted)
    balanced = [n for n in graph if n.op == "mul" and node_options(options, n).product_balance == "domain"]
    typical = typical_magnitudes(graph, [inputs, *more_examples], options.range_t, options.dt,
                                 [i for n in balanced for i in n.inputs]) if balanced else None
    return _Lowering(graph, options, ranges, sound=sound, boxes=boxes, domain=domain, typical=typical).run()


def count_weights(graph: Graph, options: LowerOptions | None = None, *, domain: Domain | None = None) -> int:
    """The nonzero weights of the netlist :func:`lower` builds from ``graph``, without simulating anything.

    The weights' pattern (which neuron reads which source, which operands a
    relay node shares) follows from the shapes and the folding, not from the
    values the units are tuned to: this runs the same lowering with the
    domain's sound interval bounds and, where :func:`lower` would measure,
    stand-in ranges (:func:`_stand_in_ranges`), and counts.  It costs the
    lowering without the ideal simulation (the larger part of a recurrence's).
    """
    options = options or LowerOptions()
    boxes = _boxes(graph, options, domain)
    # Inputs without a box get a stand-in box, so that every value computed from inputs alone gets a stand-in range
    # through the same interval arithmetic: two operands that are the same input element (A[i, k] read through A and
    # through A.T) then get the same range, as measured ones do, and a square of their difference cancels as it
    # does in the lowering.
    rng = np.random.default_rng(1)
    stand_in_boxes = [box if box is not None or node is None else (lo := 0.1 + 0.1 * rng.random(node.size),
                                                                    lo + 0.1 + 0.1 * rng.random(node.size))
                      for box, node in zip(boxes, _input_nodes_by_index(graph, len(boxes)))]
    sound = interval_ranges(graph, stand_in_boxes)
    wanted = set(wanted_operands(graph)) | set(target_of(options.target).ranged(graph))
    measured = _stand_in_ranges(graph, sorted(i for i in wanted if i not in sound))
    net = _Lowering(graph, options, measured, sound=sound, boxes=boxes, domain=domain).run()
    return sum(p.transform.nnz for p in net.projections)


def _input_nodes_by_index(graph: Graph, count: int) -> list[Node | None]:
    """The input node of each program input index (None where the graph does not read that input)."""
    nodes: list[Node | None] = [None] * count
    for node in graph.input_nodes:
        nodes[int(node.attrs["index"])] = node
    return nodes


def _stand_in_ranges(graph: Graph, wanted: Sequence[int]) -> Measured:
    """Ranges with the generic pattern of measured ones: a different, nonzero centre per element (measured
    ranges coincide or centre on exactly 0 only by accident), inside every elementwise function's domain
    ((0.1, 0.4): ``log``, ``sqrt``, ``arcsin``, ``1/x`` are finite there)."""
    rng = np.random.default_rng(0)
    ranges = Measured()
    for i in wanted:
        lo = 0.1 + 0.1 * rng.random(graph[i].shape)
        ranges[i] = (lo, lo + 0.1 + 0.1 * rng.random(graph[i].shape))
    return ranges


def _row_argmax(matrix: sp.csr_array) -> np.ndarray:
    """Per row, the column of its largest entry (the first such column; 0 for an empty row), like
    ``matrix.argmax(axis=1)`` for a nonnegative matrix, vectorised: scipy loops over rows in Python."""
    m = sp.csr_array(matrix, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    counts = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((m.indices, -m.data, rows))  # by row, then largest value, then smallest column
    unit = np.zeros(m.shape[0], dtype=np.int64)
    filled = counts > 0
    unit[filled] = m.indices[order[m.indptr[:-1][filled]]]
    return unit


def _bounds(graph: Graph, options: LowerOptions, domain: Domain | None):
    """The inputs' boxes, the sound interval bounds they give, and the operands still to be measured."""
    boxes = _boxes(graph, options, domain)
    sound = interval_ranges(graph, boxes)
    wanted = set(wanted_operands(graph)) | set(target_of(options.target).ranged(graph))
    return boxes, sound, sorted(i for i in wanted if i not in sound)


def _boxes(graph: Graph, options: LowerOptions, domain: Domain | None) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per program input, its box as flat arrays: the domain's, else ``input_range``, else None."""
    given = domain.boxes() if domain is not None else []
    nodes = graph.input_nodes
    boxes: list[tuple[np.ndarray, np.ndarray] | None] = [None] * (1 + max((int(n.attrs["index"]) for n in nodes),
                                                                           default=-1))
    for node in nodes:
        index = int(node.attrs["index"])
        box = given[index] if index < len(given) else None
        if box is None and options.input_range is not None:
            box = tuple(np.full(node.shape, v) for v in options.input_range)
        if box is not None:
            boxes[index] = tuple(np.ravel(np.broadcast_to(b, node.shape)).astype(float) for b in box)
    return boxes
