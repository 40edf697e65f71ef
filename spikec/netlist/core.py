"""The netlist: neurons, weights and synapses — the one format every back end reads.

A netlist is what lowering emits and what every back end (nengo, nengo_dl,
jax, numpy) simulates.  All values are flat vectors; outputs carry the shape
to restore.  Its objects are frozen dataclasses named by strings, so a back
end can map each to its own objects (one ``nengo.Ensemble`` per
:class:`Population`, one ``nengo.Node`` per :class:`SumNode`, one
``nengo.Connection`` per :class:`Projection`).

Semantics of one time step ``k`` (``t = (k + 1) * dt``), identical to nengo's:

* an :class:`InputSource` shows the program input at ``t``;
* a :class:`Population` of ``n`` neurons receives the current
  ``J = gain * (sum of incoming projections) + bias`` and emits activities:
  rates in Hz (rate mode) or ``amplitude / dt`` at each spike (spiking);
* a :class:`SumNode` shows ``offset + sum of incoming projections``; when it
  has a ``synapse`` it shows that synapse's output *before* this step's
  update (so it is the state that closes recurrences), starting at ``x0``;
* a :class:`Projection` multiplies its source by ``transform``; with a
  ``synapse`` it is filtered and, as in nengo, delayed by one step;
  without one it is instantaneous, and instantaneous projections must not
  form a cycle.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from spikec.ir.attrs import ConstArray, format_array
from spikec.ir.domain import Domain
from spikec.ir.graph import CycleError, topological_order
from spikec.netlist.transforms import AvgPool, Convolution, Dense, Sparse, Transform, make_transform

# ------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class ParamBinding:
    """Where trainable parameter ``name`` lives in a netlist (``Netlist.info["params"][name]``).

    ``kind`` is ``"weights"`` (``target``: index of the projection whose
    transform holds it: a :class:`Convolution` kernel as is, a
    :class:`Dense` matrix as its transpose when ``transpose``), ``"gain"`` or
    ``"bias"`` (``target``: a population name; its per-neuron values are
    the parameter broadcast to ``broadcast`` and flattened, plus ``offset``
    for biases).
    """

    name: str
    kind: str
    target: Any
    shape: tuple[int, ...]
    transpose: bool = False
    broadcast: tuple[int, ...] = ()
    offset: Any = None  # np.ndarray | None

    def to_netlist(self, value, xp=np):
        """The netlist-side array (weights, gain or bias) for parameter ``value``."""
        if self.kind == "weights":
            return value.T if self.transpose else value
        out = xp.reshape(xp.broadcast_to(value, self.broadcast), (-1,))
        return out if self.offset is None else out + self.offset

    def from_netlist(self, array) -> np.ndarray:
        """The parameter's value read back from a netlist-side array (inverse of :meth:`to_netlist`)."""
        array = np.asarray(array, dtype=np.float64)
        if self.kind == "weights":
            return array.T.copy() if self.transpose else array.reshape(self.shape).copy()
        if self.offset is not None:
            array = array - self.offset
        full = array.reshape(self.broadcast)
        # broadcast axes hold copies: read the first of each
        index = tuple(slice(0, 1) if (len(self.shape) - len(self.broadcast) + i < 0
                                      or self.shape[len(self.shape) - len(self.broadcast) + i] == 1)
                      else slice(None) for i in range(len(self.broadcast)))
        return full[index].reshape(self.shape).copy()


# ------------------------------------------------------------------------------ objects


@dataclass(frozen=True)
class InputSource:
    """Program input ``index``, flattened to ``size`` values."""

    name: str
    index: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Guard:
    """What a population made for an op was tuned for, so that a run can tell when it left it.

    Each neuron ``i`` was tuned for input currents ``J`` in
    ``[j_lo[i], j_hi[i]]`` (its operand's tuned interval pushed through
    ``J = gain * encode @ operand + bias``).  It reads operand element
    ``unit[i]`` (the dominant one, for a neuron encoding several), whose tuned
    interval is ``[lo[unit[i]], hi[unit[i]]]``; ``sign[i]`` is +1 when ``J``
    grows with that element.  So a current seen maps back to the operand's
    units by linear interpolation (exact for one-dimensional units:
    parabola squares, elementwise NEF ensembles; along the encoder for
    multi-dimensional NEF products).  ``op`` and ``loc`` name the graph op and
    the user's source line (``file:line``), ``source`` is that line's text.
    """

    op: str
    loc: str | None
    source: str | None
    j_lo: ConstArray
    j_hi: ConstArray
    unit: ConstArray
    sign: ConstArray
    lo: ConstArray
    hi: ConstArray

    def where(self) -> str:
        """``op`` at its source line, as reports print it."""
        return self.op if self.loc is None else f"{self.op} at {self.loc}"

    def operand(self, current: np.ndarray) -> np.ndarray:
        """Per-neuron currents (``(..., n)``) mapped to their operand element's units (see the class doc)."""
        j_lo, j_hi = self.j_lo.value, self.j_hi.value
        frac = (np.asarray(current, dtype=np.float64) - j_lo) / np.where(j_hi > j_lo, j_hi - j_lo, 1.0)
        frac = np.where(self.sign.value > 0, frac, 1.0 - frac)
        unit = self.unit.value.astype(np.int64)
        lo, hi = self.lo.value[unit], self.hi.value[unit]
        return lo + frac * (hi - lo)


@dataclass(frozen=True)
class Population:
    """``n`` neurons of one type with per-neuron gains and biases.

    ``computes`` says which graph ops the population implements (for
    listings and statistics); ``info`` holds lowering details such as the
    value ranges the neurons were tuned for; ``initial_state`` gives each
    neuron state variable's value at ``t = 0``.  ``guard`` (None for
    explicit neuron layers, which have no tuned range) says which input
    currents the neurons were tuned for (:class:`Guard`): back ends count
    the steps where a current left it.
    """

    name: str
    n: int
    neuron_type: Any  # spikec.models.neurons.NeuronType
    gain: ConstArray
    bias: ConstArray
    computes: tuple[str, ...] = ()
    info: tuple[tuple[str, Any], ...] = ()
    initial_state: tuple[tuple[str, ConstArray], ...] = ()
    guard: Guard | None = None

    @property
    def size(self) -> int:
        return self.n

    def state0(self) -> dict[str, np.ndarray]:
        """Initial values of the neuron state variables, fixed at lowering from the seed.

        Every back end starts from these, which is what makes spike trains
        agree between back ends.
        """
        return {k: v.value for k, v in self.initial_state}


@dataclass(frozen=True)
class SumNode:
    """A summation point, optionally holding a synapse (then it is state)."""

    name: str
    size: int
    synapse: Any = None  # spikec.models.synapses.Synapse | None
    x0: ConstArray | None = None
    offset: ConstArray | None = None
    computes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Projection:
    """Weights from ``pre`` to ``post`` (object names), optionally through a synapse."""

    pre: str
    post: str
    transform: Transform
    synapse: Any = None  # spikec.models.synapses.Synapse | None

    @property
    def delayed(self) -> bool:
        return self.synapse is not None


@dataclass(frozen=True)
class Output:
    """Program output ``index``: the value of SumNode ``source``, reshaped to ``shape``."""

    name: str
    index: int
    source: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


Object = InputSource | Population | SumNode


@dataclass(frozen=True)
class Netlist:
    """Neurons, weights and synapses of a compiled program."""

    name: str
    inputs: tuple[InputSource, ...]
    populations: tuple[Population, ...]
    nodes: tuple[SumNode, ...]
    projections: tuple[Projection, ...]
    outputs: tuple[Output, ...]
    #: The inputs' values the units were tuned for (:class:`spikec.ir.domain.Domain`); None: not recorded.
    domain: Domain | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    # -- lookup -------------------------------------------------------------------
    @cached_property
    def objects(self) -> dict[str, Object]:
        table: dict[str, Object] = {}
        for obj in (*self.inputs, *self.populations, *self.nodes):
            if obj.name in table:
                raise ValueError(f"netlist object name {obj.name!r} is used twice")
            table[obj.name] = obj
        return table

    def __getitem__(self, name: str) -> Object:
        return self.objects[name]

    def incoming(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.post == name]

    def outgoing(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.pre == name]

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Evaluation order within a step: instantaneous projections point forward.

        Stateful sum nodes (with a synapse) and delayed projections are read
        from the previous step, so they do not constrain the order.
        """
        edges = [(p.pre, p.post) for p in self.projections
                 if not p.delayed and not (isinstance(self.objects[p.post], SumNode)
                                           and self.objects[p.post].synapse is not None)]
        try:
            return topological_order(self.objects, edges)
        except CycleError as exc:
            cycle = " -> ".join(u for u, _ in exc.cycle)
            raise ValueError(f"netlist {self.name} has an instantaneous loop: {cycle}") from None

    def validate(self) -> Netlist:
        """Check names, sizes and that no instantaneous loop exists."""
        objects = self.objects
        for p in self.projections:
            for end in (p.pre, p.post):
                if end not in objects:
                    raise ValueError(f"projection {p.pre} -> {p.post} names unknown object {end!r}")
            if isinstance(objects[p.post], InputSource):
                raise ValueError(f"projection into input {p.post!r}")
            expected = (objects[p.post].size, objects[p.pre].size)
            if tuple(p.transform.shape) != expected:
                raise ValueError(f"projection {p.pre} -> {p.post}: transform {p.transform.shape}, expected {expected}")
        for pop in self.populations:
            if pop.gain.shape != (pop.n,) or pop.bias.shape != (pop.n,):
                raise ValueError(f"population {pop.name}: gain/bias must have shape ({pop.n},)")
        for out in self.outputs:
            if out.source not in objects or objects[out.source].size != math.prod(out.shape):
                raise ValueError(f"output {out.name} reads {out.source!r} of the wrong size")
        _ = self.order
        return self

    # -- presentation ---------------------------------------------------------------
    def stats(self) -> NetlistStats:
        return NetlistStats.of(self)

    def __str__(self) -> str:
        from spikec.netlist.printer import format_netlist

        return format_netlist(self)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"<Netlist {self.name}: {s.neurons} neurons in {s.populations} populations, "
                f"{s.projections} projections>")

    def __iter__(self) -> Iterator[Object]:
        return iter(self.objects.values())


@dataclass(frozen=True)
class NetlistStats:
    """Size of a netlist: what ``prog.stats()`` adds after lowering."""

    neurons: int
    populations: int
    nodes: int
    projections: int
    nonzero_weights: int
    synapses: dict[str, int]
    neuron_types: dict[str, int]

    @classmethod
    def of(cls, net: Netlist) -> NetlistStats:
        synapses: Counter[str] = Counter()
        for p in net.projections:
            synapses[p.synapse.label() if p.synapse is not None else "none"] += 1
        for node in net.nodes:
            if node.synapse is not None:
                synapses[node.synapse.label()] += 1
        types: Counter[str] = Counter()
        for pop in net.populations:
            types[_type_label(pop.neuron_type)] += pop.n
        return cls(
            neurons=sum(p.n for p in net.populations),
            populations=len(net.populations),
            nodes=len(net.nodes),
            projections=len(net.projections),
            nonzero_weights=sum(p.transform.nnz for p in net.projections),
            synapses=dict(sorted(synapses.items())),
            neuron_types=dict(sorted(types.items())),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "neurons": self.neurons, "populations": self.populations, "nodes": self.nodes,
            "projections": self.projections, "nonzero_weights": self.nonzero_weights,
            **{f"synapse.{k}": v for k, v in self.synapses.items()},
            **{f"neurons.{k}": v for k, v in self.neuron_types.items()},
        }

    def rows(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = [
            ("neurons", self.neurons), ("populations", self.populations), ("sum nodes", self.nodes),
            ("projections", self.projections), ("nonzero weights", self.nonzero_weights),
        ]
        rows += [(f"  {k} neurons", v) for k, v in self.neuron_types.items()]
        rows += [(f"  synapse {k}", v) for k, v in self.synapses.items()]
        return rows

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v:>8}" for k, v in rows)


def _type_label(neuron_type: Any) -> str:
    label = getattr(neuron_type, "label", None)
    return label() if callable(label) else type(neuron_type).__name__


__all__ = [
    "AvgPool",
    "Convolution",
    "Dense",
    "Guard",
    "InputSource",
    "Netlist",
    "NetlistStats",
    "Output",
    "ParamBinding",
    "Population",
    "Projection",
    "Sparse",
    "SumNode",
    "Transform",
    "format_array",
    "make_transform",
]
