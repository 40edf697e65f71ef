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

from spikec.errors import RunError
from spikec.ir.graph import Graph
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
) -> list[np.ndarray]:
    """Simulate ``graph`` for ``steps`` steps; return each output as ``(steps, *shape)``.

    ``inputs[i]`` gives input ``i``'s value at time ``t``.  ``observe``, if
    given, is called once per step with every node's value (what consumers
    saw that step), for statistics that need no stored traces.  ``only``
    restricts the simulation to these nodes and everything they depend on
    (operands, including a state's one-step-late operand); the others are
    not computed and nothing is returned (``[]``): for ``observe`` callers
    that need a few nodes of an expensive graph.
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
    fixed = {i for i, fn in input_fns.items() if getattr(fn, "constant", False)}
    for node_id, _, _, operands in instant:
        if get_op(graph[node_id].op).kind is OpKind.LINEAR and all(i in fixed for i in operands):
            fixed.add(node_id)
    fixed_instant = [entry for entry in instant if entry[0] in fixed]
    instant = [entry for entry in instant if entry[0] not in fixed]
    states = {n.id: get_op(n.op).stateful.init(n.attrs, n.shape, graph[n.inputs[0]].shape, np) for n in stateful}
    recorded = graph.outputs if needed is None else ()
    out_buffers = [np.empty((steps, *graph[i].shape)) for i in recorded]
    values: dict[int, np.ndarray] = {}
    for k in progress_bar(range(steps), total=steps, desc=f"{graph.name} (numpy)", enable=progress):
        t = (k + 1) * dt
        for node_id, fn in input_fns.items():
            values[node_id] = fn(t)
        if k == 0:
            for node_id, reference, attrs, operands in fixed_instant:
                values[node_id] = reference(attrs, *(values[i] for i in operands))
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
