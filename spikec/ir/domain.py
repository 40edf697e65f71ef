"""The domain of a program: which values each input may take.

A compiled network is tuned for its domain, not for one example.  Each
input has an :class:`InputDomain`: a box (per-element ``[lo, hi]``),
calibration samples (``prog.tune_for(*examples)``), a sampler (a function
drawing inputs from a NumPy ``Generator``), or none of these, which means
"the neighbourhood of the traced example".  A :class:`Domain` holds one per
input.  It is frozen and hashable, so the program caches netlists by it, and
the netlist carries it (``netlist.domain``), so back ends and exports know
what the network was tuned for.

This module sits in the IR layer because the netlist carries it; it holds
data and draws calibration values, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from spikec.errors import SpikecError
from spikec.ir.attrs import ConstArray

#: Calibration draws per input of a sampler or a box when the user gives no count.
DEFAULT_COUNT = 8


def _calibration_value(value: Any) -> Any:
    """A hashable calibration value: arrays as :class:`ConstArray`, functions of time as they are."""
    if isinstance(value, ConstArray) or callable(value):
        return value
    return ConstArray(np.asarray(value, dtype=np.float64))


@dataclass(frozen=True)
class InputDomain:
    """The values one input may take.

    Attributes
    ----------
    name, shape
        The input's name and shape.
    lo, hi
        A box: every element lies in ``[lo, hi]`` (arrays of ``shape``), at
        every time of every run.  ``None`` when the input has no box.
    samples
        Calibration values (arrays of ``shape``, or functions of time).
    sampler
        ``sampler(rng) -> array of shape``, drawn ``count`` times with a
        ``numpy.random.Generator`` seeded from :attr:`Domain.seed`.
    count
        Draws of the sampler, or random points of the box, for ranges that
        must be measured by simulation.
    """

    name: str
    shape: tuple[int, ...]
    lo: ConstArray | None = None
    hi: ConstArray | None = None
    samples: tuple[Any, ...] = ()
    sampler: Callable[[np.random.Generator], Any] | None = field(default=None, compare=True)
    count: int = DEFAULT_COUNT

    @classmethod
    def box(cls, name: str, shape: Sequence[int], lo: Any, hi: Any, count: int = DEFAULT_COUNT) -> InputDomain:
        """A box ``[lo, hi]``: scalars or arrays broadcastable to ``shape`` (per array or per element)."""
        shape = tuple(shape)
        try:
            lo_a, hi_a = (np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in (lo, hi))
        except (TypeError, ValueError):
            raise SpikecError(f"input {name!r}: range=({lo!r}, {hi!r}) must be numbers or arrays broadcastable "
                              f"to its shape {shape}") from None
        if not (np.all(np.isfinite(lo_a)) and np.all(np.isfinite(hi_a))) or np.any(lo_a > hi_a):
            raise SpikecError(f"input {name!r}: range=({lo!r}, {hi!r}) needs finite lo <= hi")
        return cls(name, shape, ConstArray(lo_a), ConstArray(hi_a), count=count)

    @property
    def kind(self) -> str:
        """``"box"``, ``"sampler"``, ``"samples"`` or ``"example"`` (the traced example's neighbourhood)."""
        if self.lo is not None:
            return "box"
        if self.sampler is not None:
            return "sampler"
        return "samples" if self.samples else "example"

    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The box as float arrays of :attr:`shape`, or None."""
        if self.lo is None:
            return None
        return self.lo.value, self.hi.value

    def with_samples(self, *values: Any) -> InputDomain:
        """This domain with more calibration values."""
        return replace(self, samples=self.samples + tuple(_calibration_value(v) for v in values))

    def draws(self, seed: int) -> list[Any]:
        """Calibration values: the samples, then the sampler's draws, then points of the box.

        Points of the box are its two corners ``lo`` and ``hi`` and random
        points, ``count`` in all; every draw is the same for the same seed.
        """
        values: list[Any] = [s.value if isinstance(s, ConstArray) else s for s in self.samples]
        rng = np.random.default_rng(seed)
        if self.sampler is not None:
            for k in range(self.count):
                value = np.asarray(self.sampler(rng), dtype=np.float64)
                if value.shape != self.shape:
                    raise SpikecError(f"input {self.name!r}: the sampler's draw {k} has shape {value.shape}, "
                                      f"expected {self.shape}")
                values.append(value)
        if self.lo is not None and self.count > 0:
            lo, hi = self.bounds()
            values += [lo, hi][: self.count]
            values += [rng.uniform(lo, hi) for _ in range(self.count - 2)]
        return values

    def describe(self) -> str:
        """One phrase: what this input's domain is."""
        kind = self.kind
        if kind == "box":
            lo, hi = self.bounds()
            if lo.size and np.ptp(lo) == 0 and np.ptp(hi) == 0:
                text = f"box [{lo.flat[0]:g}, {hi.flat[0]:g}]"
            else:
                text = f"box per element, [{lo.min():g}..{lo.max():g}, {hi.min():g}..{hi.max():g}]"
        elif kind == "sampler":
            text = f"sampler {getattr(self.sampler, '__name__', 'fn')} x {self.count}"
        elif kind == "samples":
            text = f"{len(self.samples)} calibration sample{'s' * (len(self.samples) != 1)} + the example"
        else:
            return "the traced example's neighbourhood"
        if kind != "samples" and self.samples:
            text += f" + {len(self.samples)} calibration sample{'s' * (len(self.samples) != 1)}"
        return text


@dataclass(frozen=True)
class Domain:
    """One :class:`InputDomain` per program input, in argument order; ``seed`` fixes every draw."""

    inputs: tuple[InputDomain, ...]
    seed: int = 0

    @classmethod
    def of_examples(cls, inputs: Sequence[tuple[str, Sequence[int]]]) -> Domain:
        """The default: every input ranges over its traced example's neighbourhood."""
        return cls(tuple(InputDomain(name, tuple(shape)) for name, shape in inputs))

    def __iter__(self) -> Iterator[InputDomain]:
        return iter(self.inputs)

    def __getitem__(self, name: str) -> InputDomain:
        for d in self.inputs:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def is_example(self) -> bool:
        """Whether every input is only its traced example's neighbourhood."""
        return all(d.kind == "example" for d in self.inputs)

    def updated(self, changes: Mapping[str, InputDomain]) -> Domain:
        """This domain with some inputs' domains replaced."""
        return replace(self, inputs=tuple(changes.get(d.name, d) for d in self.inputs))

    def boxes(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per input (argument order) its box, or None."""
        return [d.bounds() for d in self.inputs]

    def calibration(self) -> list[list[Any]]:
        """Calibration runs besides the traced example: per run, one value per input (None: its example).

        Input ``i`` takes its ``k``-th draw in run ``k``, cycling when it has
        fewer draws than the longest; an input without draws keeps its example.
        """
        draws = [d.draws(self.seed + 7919 * i) for i, d in enumerate(self.inputs)]
        runs = max((len(v) for v in draws), default=0)
        return [[v[k % len(v)] if v else None for v in draws] for k in range(runs)]

    def describe(self) -> str:
        """One line: which inputs have which domain."""
        if not self.inputs:
            return "domain: no inputs"
        if self.is_example:
            names = ", ".join(d.name for d in self.inputs)
            return f"domain: {names}: the traced example's neighbourhood (no domain declared; units are tuned " \
                   "to the example and may be wrong on other inputs)"
        return "domain: " + "; ".join(f"{d.name}: {d.describe()}" for d in self.inputs)

    def __str__(self) -> str:
        return self.describe()


__all__ = ["DEFAULT_COUNT", "Domain", "InputDomain"]
