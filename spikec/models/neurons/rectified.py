"""Rectified units: :class:`RectifiedLinear`, :class:`SpikingRectifiedLinear`, :class:`Parabola`,
and the square unit that is not rectified, :class:`SymmetricParabola`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikec.errors import ConstantError
from spikec.models.neurons.base import NeuronType, _as_float
from spikec.models.neurons.conversion import from_nengo_named
from spikec.util.checks import check_dt as _check_dt

__all__ = ["Parabola", "RectifiedLinear", "SpikingRectifiedLinear", "SymmetricParabola"]


# ------------------------------------------------------------------------ rectified units


@dataclass(frozen=True)
class RectifiedLinear(NeuronType):
    """``amplitude * max(J, 0)``, exactly ``nengo.RectifiedLinear``."""

    amplitude: float = 1.0

    _bounds: ClassVar = {"amplitude": (0.0, True, None)}

    def rates(self, J, xp=np):
        """``amplitude * max(J, 0)``."""
        return self.amplitude * xp.maximum(0.0, _as_float(J, xp))

    def gain_bias(self, max_rates, intercepts):
        """Nengo's closed form: ``gain = max_rate / (1 - intercept)``, ``bias = -intercept * gain``."""
        max_rates = np.asarray(np.atleast_1d(max_rates), dtype=float)
        intercepts = np.asarray(np.atleast_1d(intercepts), dtype=float)
        gain = max_rates / (1 - intercepts)
        bias = -intercepts * gain
        return gain, bias

    def max_rates_intercepts(self, gain, bias):
        """Nengo's closed form."""
        gain = np.asarray(gain, dtype=float)
        intercepts = -np.asarray(bias, dtype=float) / gain
        return gain * (1 - intercepts), intercepts

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)

    def as_spiking(self):
        """:class:`SpikingRectifiedLinear`."""
        return SpikingRectifiedLinear(amplitude=self.amplitude)


@dataclass(frozen=True)
class SpikingRectifiedLinear(RectifiedLinear):
    """Integrate-and-fire with rate ``max(J, 0)``, exactly ``nengo.SpikingRectifiedLinear``.

    The voltage accumulates ``max(J, 0) * dt`` and emits ``floor(voltage)``
    spikes per step.  State: ``voltage``.
    """

    spiking: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("voltage",)

    def _state_dists(self):
        return (("voltage", 0.0, 1.0),)

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``SpikingRectifiedLinear.step``."""
        dt = _check_dt(dt)
        voltage = state["voltage"] + xp.maximum(_as_float(J, xp), 0) * dt
        n_spikes = xp.floor(voltage)
        return {"voltage": voltage - n_spikes}, (self.amplitude / dt) * n_spikes

    def as_rate(self):
        """:class:`RectifiedLinear`."""
        return RectifiedLinear(amplitude=self.amplitude)

    def as_spiking(self):
        """Itself."""
        return self


@dataclass(frozen=True)
class Parabola(NeuronType):
    """``amplitude * max(J, 0)**2``: spikec's product unit.

    With ``J = g*x + b`` the rate is ``(g*x + b)**2`` above the intercept and
    zero below, so a pair of such neurons gives ``x**2`` exactly in rate
    mode.  Its Nengo form is
    :class:`~spikec.backends.nengo.neurons.NengoParabola`; its spiking counterpart
    ``RegularSpiking(Parabola())``.
    """

    amplitude: float = 1.0

    _bounds: ClassVar = {"amplitude": (0.0, True, None)}

    def rates(self, J, xp=np):
        """``amplitude * max(J, 0)**2``."""
        return self.amplitude * xp.maximum(_as_float(J, xp), 0.0) ** 2

    def gain_bias(self, max_rates, intercepts):
        """``gain = sqrt(max_rate) / (1 - intercept)``, ``bias = -gain * intercept``.

        The rate is then ``max_rate`` at ``x = 1`` and 0 at the intercept
        (times ``amplitude``, which Nengo's convention leaves out of tuning).
        """
        return _parabola_gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """The inverse of :meth:`gain_bias`."""
        return _parabola_max_rates_intercepts(gain, bias)

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)


@dataclass(frozen=True)
class SymmetricParabola(NeuronType):
    """``amplitude * J**2`` for every ``J``: one neuron that squares a value of either sign.

    Where a :class:`Parabola` is silent below its intercept (so a square
    centred at 0 needs a pair, one neuron per sign), this unit fires at the
    same rate at ``J`` and ``-J``: ``RegularSpiking(SymmetricParabola())``
    is Gyrus's product unit, one neuron per square whose leftover voltage
    carries over when the sign of its input flips.  A separate type rather
    than a flag on :class:`Parabola`: its rate is not rectified, so each
    table keyed by neuron type (nengo form, NIR, surrogates) must say what
    it does with it.  Its Nengo form is
    :class:`~spikec.backends.nengo.neurons.NengoSymmetricParabola`.
    """

    amplitude: float = 1.0

    _bounds: ClassVar = {"amplitude": (0.0, True, None)}

    def rates(self, J, xp=np):
        """``amplitude * J**2``."""
        return self.amplitude * _as_float(J, xp) ** 2

    def gain_bias(self, max_rates, intercepts):
        """As :meth:`Parabola.gain_bias`: rate 0 at the intercept, ``max_rate`` at ``x = 1``.

        (Below the intercept the rate rises again, mirror-wise.)
        """
        return _parabola_gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """The inverse of :meth:`gain_bias`."""
        return _parabola_max_rates_intercepts(gain, bias)

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)


def _parabola_gain_bias(max_rates, intercepts):
    max_rates = np.asarray(np.atleast_1d(max_rates), dtype=float)
    intercepts = np.asarray(np.atleast_1d(intercepts), dtype=float)
    if np.any(max_rates < 0) or np.any(intercepts >= 1):
        raise ConstantError("Parabola: gain_bias needs max_rates >= 0 and intercepts < 1")
    gain = np.sqrt(max_rates) / (1 - intercepts)
    return gain, -gain * intercepts


def _parabola_max_rates_intercepts(gain, bias):
    gain = np.asarray(gain, dtype=float)
    bias = np.asarray(bias, dtype=float)
    return (gain + bias) ** 2, -bias / gain


# ------------------------------------------------------------------------------ from nengo


@from_nengo_named("nengo", "RectifiedLinear")
def _from_nengo_rectified_linear(obj) -> RectifiedLinear:
    return RectifiedLinear(obj.amplitude)


@from_nengo_named("nengo", "SpikingRectifiedLinear")
def _from_nengo_spiking_rectified_linear(obj) -> SpikingRectifiedLinear:
    return SpikingRectifiedLinear(obj.amplitude)
