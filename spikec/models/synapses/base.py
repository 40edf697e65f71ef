"""What every synapse shares: the :class:`Synapse` base and small helpers."""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy

from spikec.errors import ConstantError
from spikec.util.checks import format_float as _fmt

__all__ = ["Synapse"]


def _fmt_tuple(values) -> str:
    """Tuple text with short floats: ``(1,)``, ``(0.005, 1)``."""
    body = ", ".join(_fmt(v) for v in values)
    return f"({body},)" if len(values) == 1 else f"({body})"



def _positive(name: str, value, owner: str) -> float:
    """Validate a time constant (or similar) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConstantError(f"{owner}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ConstantError(
            f"{owner}: {name} must be positive and finite, got {value!r}",
            hint="use synapse=None for no filtering" if name == "tau" else None,
        )
    return value


def _zeros(shape, xp):
    # No explicit dtype: NumPy gives float64, JAX its default float (float32
    # unless x64 is enabled) without the warning an explicit float64 raises.
    return xp.zeros(tuple(shape))


def _filled(shape, x0, xp):
    """An array of ``shape`` holding ``x0`` (broadcast), or zeros."""
    zeros = _zeros(shape, xp)
    return zeros if x0 is None else zeros + xp.asarray(x0)


@dataclass(frozen=True)
class Synapse(abc.ABC):
    """Abstract base of every synapse: a filter with state, stepped in time.

    Subclasses are frozen dataclasses, so two synapses with the same
    parameters compare and hash equal (they may be used as dict keys and in
    frozen IR nodes).  All array work goes through the ``xp`` argument so
    that the same code runs on NumPy and, under ``jax.jit``, on JAX.
    """

    @abc.abstractmethod
    def init_state(self, shape: tuple[int, ...], x0=None, xp=numpy) -> tuple[Any, ...]:
        """State for a signal of ``shape`` whose output is ``x0`` (0 if None).

        For linear filters with unit DC gain this is the steady state: the
        output stays at ``x0`` under the constant input ``x0``.
        """

    @abc.abstractmethod
    def output(self, state):
        """The value of the filtered signal in ``state`` (what consumers see)."""

    @abc.abstractmethod
    def step(self, state, u, dt: float, xp=numpy):
        """Consume input ``u`` for one time step of length ``dt``.

        ``u`` has the signal's shape.  Returns ``(new_state, y)`` with
        ``y == self.output(new_state)``; ``y`` includes the effect of ``u``
        (see the module docstring for how this lines up with Nengo).
        ``dt`` must be a concrete Python number.
        """

    def integrand_input(self, fx, x):
        """What to feed this synapse so its output follows ``dx/dt = f(x)``.

        Used by ``integrate(f, x0, synapse)`` to close the recurrent loop
        (NEF principle 3).  ``fx`` is ``f(x)`` and ``x`` the synapse's own
        output; both may be tracers, so implementations use only ``+``,
        ``-`` and ``*`` with Python floats.
        """
        raise ConstantError(
            f"{self.label()} cannot implement integrate(f, x0, synapse): there is "
            "no mapping from dx/dt = f(x) to its input",
            hint="use Lowpass(tau), Integrator() or Adam(...) as the synapse of integrate",
        )

    @abc.abstractmethod
    def to_nengo(self):
        """The equivalent ``nengo.synapses.Synapse``.

        Raises ``BackendError`` where Nengo has no equivalent.
        """

    @abc.abstractmethod
    def label(self) -> str:
        """Short text for graph listings, e.g. ``Lowpass(tau=0.005)``."""

    @property
    @abc.abstractmethod
    def is_linear(self) -> bool:
        """Whether the output is a linear (LTI) function of the input history."""

