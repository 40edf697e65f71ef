"""What a user may pass as a synapse: :func:`as_synapse`."""

from __future__ import annotations

import math
import numbers

from spikec.errors import ConstantError
from spikec.models.synapses.base import Synapse
from spikec.models.synapses.linear import Alpha, LinearFilter, Lowpass

__all__ = ["as_synapse"]


_ACCEPTED = (
    "a spikec synapse (Lowpass, Alpha, DoubleExp, LinearFilter, Integrator, Adam), "
    "a positive number (a Lowpass time constant), a nengo Lowpass/Alpha/LinearFilter/"
    "DoubleExp, or None"
)


def as_synapse(obj, default=None) -> Synapse | None:
    """Normalise what a user passed as a synapse.

    - a spikec :class:`Synapse` is returned as is;
    - a positive real number ``tau`` becomes ``Lowpass(tau)`` (as in Nengo);
    - ``nengo.Lowpass``/``Alpha`` become ``Lowpass``/``Alpha``; any other
      ``nengo.LinearFilter`` with zero-order hold (including subclasses such
      as a nengolib ``DoubleExp``; nengo 4.1 has none) becomes a
      ``LinearFilter`` with the same ``num``/``den``;
    - ``None`` gives ``default``.

    Anything else raises :class:`~spikec.errors.ConstantError` naming what
    was given and what is accepted.
    """
    if obj is None:
        return default
    if isinstance(obj, Synapse):
        return obj
    if isinstance(obj, numbers.Real) and not isinstance(obj, bool):
        tau = float(obj)
        if not (math.isfinite(tau) and tau > 0):
            raise ConstantError(
                f"a synapse time constant must be positive and finite, got {obj!r}",
                hint="use synapse=None for no filtering",
            )
        return Lowpass(tau)

    nengo_synapses = _nengo_synapses_module()
    if nengo_synapses is not None and isinstance(obj, nengo_synapses.Synapse):
        converted = _from_nengo(obj, nengo_synapses)
        if converted is not None:
            return converted
        raise ConstantError(
            f"cannot use the nengo synapse {obj!r}: spikec has no equivalent of "
            f"{type(obj).__name__}",
            hint=f"pass {_ACCEPTED}",
        )
    raise ConstantError(
        f"cannot use {obj!r} (of type {type(obj).__name__}) as a synapse",
        hint=f"pass {_ACCEPTED}",
    )


def _nengo_synapses_module():
    # Nengo is a dependency, but keep as_synapse usable (for non-nengo
    # input) should its import ever fail.
    try:
        import nengo.synapses
    except ImportError:  # pragma: no cover
        return None
    return nengo.synapses


def _from_nengo(obj, ns) -> Synapse | None:
    """The spikec equivalent of a nengo synapse, or None if there is none."""
    if type(obj) is ns.Lowpass:
        return Lowpass(obj.tau)
    if type(obj) is ns.Alpha:
        return Alpha(obj.tau)
    if isinstance(obj, ns.LinearFilter):
        method = getattr(obj, "method", "zoh")
        if method != "zoh":
            raise ConstantError(
                f"nengo synapse {obj!r} uses method={method!r}; spikec "
                "discretizes with zero-order hold only",
                hint="build the nengo LinearFilter with method='zoh'",
            )
        # Also catches subclasses (a user's Lowpass subclass, nengolib's
        # DoubleExp and LinearSystem; nengo 4.1 itself has no DoubleExp):
        # their num/den is what nengo would simulate.
        return LinearFilter(tuple(obj.num), tuple(obj.den), analog=bool(obj.analog))
    return None
