"""The ideal interpreter: a graph run step by step with every op's NumPy reference.

Every op is evaluated with its registry reference, so this gives what NumPy
gives: it is the oracle that neural back ends are tested against, and what
lowering reads value ranges from.

Timing follows nengo's simulator exactly, so that a synapse here and the
same synapse in a nengo network produce the same samples:

* step ``k`` (``k = 0 .. steps-1``) advances time to ``t = (k + 1) * dt``;
* during a step, every stateful node shows its state after the previous step
  (``x0`` before the first) and the instantaneous nodes are evaluated from it;
* at the end of the step each stateful node consumes its operand's value and
  updates its state;
* an output records the value every consumer saw during the step, for a
  stateful node too: its state after the previous step.  That is what a
  nengo probe on the node a synapse feeds shows (the synapse runs as an
  update operator, so its output appears one step later), and it keeps
  ``x`` and ``x * 2`` in step with each other.  So ``filter(u, s)`` at step
  ``k`` is ``s`` applied to ``u`` up to step ``k - 1`` (``x0`` at step 0),
  and ``integrate`` at step ``k`` is ``x0`` advanced by ``k`` Euler steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse

from spikec.errors import RunError
from spikec.ir.graph import Graph
from spikec.ir.linear_map import broadcast_map, linear_map
from spikec.ir.registry import OpKind, get_op
from spikec.util.progress import progress_bar


def simulate_graph(
    graph: Graph,
    inputs: Sequence[Callable[[float], np.ndarray]],
    steps: int,
    dt: float,
    progress: bool | None = None,
    observe: Callable[[dict[int, np.ndarray]], None] | None = None,
    only: Sequence[int] | None = None,
    fold: bool = False,
) -> list[np.ndarray]:
    """Simulate ``graph`` for ``steps`` steps; return each output as ``(steps, *shape)``.

    ``inputs[i]`` gives input ``i``'s value at time ``t``.  ``observe``, if
    given, is called once per step with every node's value (what consumers
    saw that step), for statistics that need no stored traces.  ``only``
    restricts the simulation to these nodes and everything they depend on
    (operands, including a state's one-step-late operand); the others are
    not computed and nothing is returned (``[]``): for ``observe`` callers
    that need a few nodes of an expensive graph.

    ``fold`` (with ``only``) composes what lies between the ``only`` nodes
    into single sparse products where the graph is affine in its states
    once the constant inputs (``fn.constant``) are known (:func:`fold_plan`):
    a product of a state with a constant input becomes a matrix, and a chain
    of such maps one matrix.  Values then agree with the reference to
    rounding, not bit for bit, and ``observe`` does not see folded-away
    nodes; range measurement wants exactly that trade.
    """
    needed = None
    if only is not None:
        needed, stack = set(), list(only)
        while stack:
            node_id = stack.pop()
            if node_id not in needed:
                needed.add(node_id)
                stack.extend(graph[node_id].inputs)
    if len(inputs) != len(graph.inputs):
        raise RunError(f"{graph.name} has {len(graph.inputs)} inputs, got {len(inputs)}")
    input_fns = dict(zip(graph.inputs, inputs))
    instant: list[tuple[int, Callable[..., np.ndarray], Any, tuple[int, ...]]] = []
    stateful = []
    for node_id in graph.order:
        if needed is not None and node_id not in needed:
            continue
        node = graph[node_id]
        opdef = get_op(node.op)
        if opdef.kind is OpKind.STATEFUL:
            stateful.append(node)
        elif opdef.is_input:
            continue
        else:
            instant.append((node_id, opdef.reference, node.attrs, node.inputs))
    # Linear ops of constant inputs only (``fn.constant``: a traced example) give the same value every step:
    # computed once (a 100x100 inverse broadcasts its input matrix to 10^6 values twice per step).
    # Nonlinear ops too: every reference is a pure function of its operands (the gram A Aᵀ of a hoisted product).
    fixed = {i for i, fn in input_fns.items() if getattr(fn, "constant", False)}
    for node_id, _, _, operands in instant:
        if all(i in fixed for i in operands):
            fixed.add(node_id)
    fixed_instant = [entry for entry in instant if entry[0] in fixed]
    instant = [entry for entry in instant if entry[0] not in fixed]
    values: dict[int, np.ndarray] = {}
    for node_id in fixed & set(input_fns):
        values[node_id] = input_fns[node_id](dt)
    if fixed_instant:
        for node_id, reference, attrs, operands in fixed_instant:
            values[node_id] = reference(attrs, *(values[i] for i in operands))
    if fold and only is not None and fixed:
        instant = fold_plan(graph, instant, [n.id for n in stateful], set(only), values)
    states = {n.id: get_op(n.op).stateful.init(n.attrs, n.shape, graph[n.inputs[0]].shape, np) for n in stateful}
    recorded = graph.outputs if needed is None else ()
    out_buffers = [np.empty((steps, *graph[i].shape)) for i in recorded]
    for k in progress_bar(range(steps), total=steps, desc=f"{graph.name} (numpy)", enable=progress):
        t = (k + 1) * dt
        for node_id, fn in input_fns.items():
            if node_id not in fixed:
                values[node_id] = fn(t)
        for node in stateful:
            values[node.id] = get_op(node.op).stateful.output(node.attrs, states[node.id])
        for node_id, reference, attrs, operands in instant:
            values[node_id] = reference(attrs, *(values[i] for i in operands))
        # Record before the updates: a stateful output shows the value its
        # consumers saw this step, as a nengo probe would (module docstring).
        for buf, node_id in zip(out_buffers, recorded):
            buf[k] = values[node_id]
        if observe is not None:
            observe(values)
        for node in stateful:
            rule = get_op(node.op).stateful
            states[node.id] = rule.step(node.attrs, states[node.id], values[node.inputs[0]], dt, np)
    return out_buffers


# -- folding: the graph as sparse products of its states, once the constant inputs are known ------------

Step = tuple[int, Callable[..., np.ndarray], Any, tuple[int, ...]]  # node, fn(attrs, *operands), attrs, operands


def _mul_by_constant(node, shapes: list[tuple[int, ...]], port: int, other: np.ndarray) -> scipy.sparse.csr_array:
    # Explicit zeros are kept: x * 0 is NaN for an infinite x, and the run's non-finite check should see it.
    scale = np.broadcast_to(np.asarray(other, dtype=np.float64), node.shape).ravel()
    return broadcast_map(shapes[port], node.shape, data=scale)


#: Nonlinear op -> ``matrix(node, operand shapes, port, the other operand's constant value)``: the op as a linear map
#: of operand ``port`` when its other operand is constant (a product of a state with a constant input).
LINEAR_WITH_CONSTANT: dict[str, Callable[..., scipy.sparse.csr_array]] = {"mul": _mul_by_constant}

#: A composition is kept when its product needs at most this many times the entries of its two factors.
FOLD_GROWTH = 2.0


class _Affine:
    """``ravel(value) = sum_s terms[s] @ ravel(value of s) + bias``; ``folded``: it absorbed another node."""

    def __init__(self, size: int):
        self.terms: dict[int, scipy.sparse.csr_array] = {}
        self.bias = np.zeros(size)
        self.folded = False

    def add(self, source: int, matrix) -> None:
        self.terms[source] = self.terms[source] + matrix if source in self.terms else matrix


def _affine_of(graph: Graph, node_id: int, values: dict[int, np.ndarray]) -> tuple[list, np.ndarray] | None:
    """The node's matrix for each operand (None for a constant one it is not linear in) and its bias, or None if it
    has no such form."""
    node = graph[node_id]
    shapes = [graph[i].shape for i in node.inputs]
    if get_op(node.op).kind is OpKind.LINEAR:
        return linear_map(node, shapes)
    rule = LINEAR_WITH_CONSTANT.get(node.op)
    constant = [i in values for i in node.inputs]
    if rule is None or len(node.inputs) != 2 or sum(constant) != 1:
        return None
    port = constant.index(False)
    matrices: list = [None, None]
    matrices[port] = rule(node, shapes, port, values[node.inputs[1 - port]])
    return matrices, np.zeros(node.size)


def _small_product(a, b) -> bool:
    """Whether ``a @ b`` has at most FOLD_GROWTH times the entries of the two (bounded by its multiply count)."""
    a, b = scipy.sparse.csc_array(a), scipy.sparse.csr_array(b)
    work = int(np.diff(a.indptr) @ np.diff(b.indptr))
    return work <= FOLD_GROWTH * (a.nnz + b.nnz) + a.shape[0]


def fold_plan(graph: Graph, instant: list[Step], states: list[int], keep: set[int],
              values: dict[int, np.ndarray]) -> list[Step]:
    """``instant`` (the per-step evaluations, constants already in ``values``) with affine chains composed.

    A node that is affine in its non-constant operands (a linear op, or an op of
    :data:`LINEAR_WITH_CONSTANT` with one constant operand), is not in
    ``keep`` and has one consumer, which is affine too, is not evaluated: its
    consumer applies the composed matrix to what it reads, unless composing
    would multiply the entries (:data:`FOLD_GROWTH`).  A node that absorbed
    nothing keeps its own reference (bit for bit as before).
    """
    consumers: dict[int, int] = {}
    for _, _, _, operands in instant:
        for i in set(operands):
            consumers[i] = consumers.get(i, 0) + 1
    for node_id in states:
        consumers[graph[node_id].inputs[0]] = consumers.get(graph[node_id].inputs[0], 0) + 1
    forms: dict[int, _Affine] = {}
    plan: list[Step] = []
    absorbed: set[int] = set()
    for step in instant:
        node_id, _, _, operands = step
        found = _affine_of(graph, node_id, values)
        if found is None:
            plan.append(step)
            continue
        matrices, form = found[0], _Affine(graph[node_id].size)
        form.bias = np.asarray(found[1], dtype=np.float64)
        for operand, matrix in zip(operands, matrices):
            if operand in values:
                if matrix is not None:  # a constant through a linear op: part of the bias
                    form.bias = form.bias + matrix @ np.ravel(values[operand])
                    form.folded = True
                continue
            inner = forms.get(operand)
            if (inner is not None and operand not in keep and consumers.get(operand) == 1
                    and all(_small_product(matrix, m) for m in inner.terms.values())):
                for source, m in inner.terms.items():
                    form.add(source, scipy.sparse.csr_array(matrix @ m))
                form.bias = form.bias + matrix @ inner.bias
                form.folded = True
                absorbed.add(operand)  # no longer evaluated on its own
            else:
                form.add(operand, matrix)
        forms[node_id] = form
        plan.append(step if not form.folded else
                     (node_id, _apply, (list(form.terms.values()), form.bias, graph[node_id].shape),
                      tuple(form.terms)))
    return [step for step in plan if step[0] not in absorbed]


def _apply(attrs, *xs: np.ndarray) -> np.ndarray:
    matrices, bias, shape = attrs
    out = bias.copy()
    for matrix, x in zip(matrices, xs):
        out += matrix @ np.ravel(x)
    return out.reshape(shape)
