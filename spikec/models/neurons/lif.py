"""The leaky integrate-and-fire family: :class:`LIFRate`, :class:`LIF`, :class:`RefractoryLIF`,
:class:`AdaptiveLIFRate`, :class:`AdaptiveLIF` and :class:`SoftLIFRate`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spikec.errors import ConstantError
from spikec.models.neurons.base import NeuronType, _as_float
from spikec.models.neurons.conversion import from_nengo_named
from spikec.util.checks import check_dt as _check_dt

__all__ = ["LIF", "AdaptiveLIF", "AdaptiveLIFRate", "LIFRate", "RefractoryLIF", "SoftLIFRate", "is_refractory",
           "lif_step"]


# ------------------------------------------------------------------------------ helpers


def _lif_rate(J, tau_rc: float, tau_ref: float, amplitude: float, xp):
    """Nengo's ``LIFRate.step``, functionally: ``amplitude / (tau_ref + tau_rc*log1p(1/(J-1)))``."""
    j = J - 1
    firing = j > 0
    # Silent neurons get a harmless j = 1 so that log1p never sees 1/j <= -1
    # in the discarded branch (NaN there would poison JAX gradients).
    j_safe = xp.where(firing, j, 1.0)
    return xp.where(firing, amplitude / (tau_ref + tau_rc * xp.log1p(1.0 / j_safe)), 0.0)


def _lif_gain_bias(owner: str, tau_rc: float, tau_ref: float, max_rates, intercepts):
    """Nengo's ``LIFRate.gain_bias`` (``amplitude`` is not included, as in Nengo)."""
    max_rates = np.asarray(np.atleast_1d(max_rates), dtype=float)
    intercepts = np.asarray(np.atleast_1d(intercepts), dtype=float)
    inv_tau_ref = 1.0 / tau_ref if tau_ref > 0 else np.inf
    if not np.all(max_rates < inv_tau_ref):
        raise ConstantError(
            f"{owner}: max rates must be below the inverse refractory period "
            f"({inv_tau_ref:0.3f} Hz), got up to {max_rates.max():g} Hz",
            hint="lower max_rates or tau_ref",
        )
    x = 1.0 / (1 - np.exp((tau_ref - (1.0 / max_rates)) / tau_rc))
    gain = (1 - x) / (intercepts - 1.0)
    bias = 1 - gain * intercepts
    return gain, bias


def _lif_max_rates_intercepts(tau_rc: float, tau_ref: float, gain, bias):
    """Nengo's ``LIFRate.max_rates_intercepts``: the inverse of :func:`_lif_gain_bias`."""
    gain = np.asarray(gain, dtype=float)
    bias = np.asarray(bias, dtype=float)
    intercepts = (1 - bias) / gain
    with np.errstate(divide="ignore", invalid="ignore"):
        max_rates = 1.0 / (tau_ref - tau_rc * np.log1p(1.0 / (gain * (intercepts - 1) - 1)))
    return max_rates, intercepts


def lif_step(voltage, refractory_time, J, dt: float, tau_rc: float, tau_ref: float,
             min_voltage: float, amplitude: float, xp, *,
             spikes: Callable[[Any], Any] | None = None, floor: Callable[[Any, float], Any] | None = None):
    """Nengo's ``LIF.step`` without in-place updates; same operations, same order.

    Returns ``(voltage, refractory_time, output)``.  ``spikes`` and ``floor``
    let a caller swap the two non-smooth pieces without copying the step
    (the surrogate-gradient step of :mod:`spikec.train.surrogate` does):
    ``spikes(voltage - 1)`` gives the spike indicator of the output (default
    ``voltage > 1``) and ``floor(voltage, min_voltage)`` the voltage floor
    (default ``maximum``).  Replacements must keep the forward values.
    """
    refractory_time = refractory_time - dt
    # A neuron whose refractory period ends within this step integrates only
    # for the remainder of the step.
    delta_t = xp.clip(dt - refractory_time, 0.0, dt)
    # Exact solution of tau_rc dv/dt = J - v for J constant over delta_t.
    voltage = voltage - (J - voltage) * xp.expm1(-delta_t / tau_rc)
    spiked = voltage > 1
    output = (spiked if spikes is None else spikes(voltage - 1)) * (amplitude / dt)
    # Sub-step spike time from v(t_spike) = 1; where a neuron did not spike
    # the ratio is 0 (and the denominator 1), so log1p stays finite there.
    ratio = xp.where(spiked, (voltage - 1) / xp.where(spiked, J - 1, 1.0), 0.0)
    t_spike = dt + tau_rc * xp.log1p(-ratio)
    floored = xp.maximum(voltage, min_voltage) if floor is None else floor(voltage, min_voltage)
    voltage = xp.where(spiked, 0.0, floored)
    refractory_time = xp.where(spiked, tau_ref + t_spike, refractory_time)
    return voltage, refractory_time, output



def is_refractory(state: dict, dt: float | None = None, xp=np):
    """Which LIF neurons are refractory, as a boolean array (:class:`LIF`, :class:`AdaptiveLIF`).

    Nengo's ``refractory_time`` after a step is the refractory time left at
    the end of that step *plus* ``dt`` (the next step subtracts ``dt``
    before using it), so:

    * ``is_refractory(state, dt)``: the neuron is inside its refractory
      period at the end of the step (``refractory_time > dt``).  A spike
      makes this true for ``tau_ref / dt`` steps (when ``tau_ref`` is a
      multiple of ``dt``), so the fraction of steps in which a neuron is
      refractory is ``rate * tau_ref``: the binary state that stochastic
      computing reads.
    * ``is_refractory(state)``: the neuron spiked in the step or was held
      (wholly or partly) by its refractory period during it
      (``refractory_time > 0``): one step more per spike.
    """
    try:
        refractory_time = state["refractory_time"]
    except KeyError:
        raise ConstantError(
            "is_refractory needs a state with 'refractory_time' (LIF or AdaptiveLIF), "
            f"got one with {sorted(state)}"
        ) from None
    threshold = 0.0 if dt is None else _check_dt(dt)
    return xp.asarray(refractory_time) > threshold


# ------------------------------------------------------------------------------ LIF family


class _LIFTuning:
    """Nengo's closed-form LIF tuning from ``tau_rc`` and ``tau_ref`` (for every LIF-like type; adaptation
    and soft-LIF smoothing are ignored, as in Nengo and NengoDL)."""

    def gain_bias(self, max_rates, intercepts):
        """Nengo's LIF closed form; raises if a max rate reaches ``1/tau_ref``."""
        return _lif_gain_bias(self.label(), self.tau_rc, self.tau_ref, max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """Nengo's LIF closed form."""
        return _lif_max_rates_intercepts(self.tau_rc, self.tau_ref, gain, bias)


class _LIFRefractory(_LIFTuning):
    """Spiking LIF-like types: their state holds Nengo's ``refractory_time``."""

    def _state_dists(self):
        return (("voltage", 0.0, 1.0), ("refractory_time", 0.0, 0.0))

    def is_refractory(self, state, dt=None, xp=np):
        """See :func:`is_refractory`."""
        return is_refractory(state, dt, xp)


@dataclass(frozen=True)
class LIFRate(_LIFTuning, NeuronType):
    """Rate leaky integrate-and-fire: ``amplitude / (tau_ref + tau_rc*log1p(1/(J-1)))`` for ``J > 1``.

    Identical to ``nengo.LIFRate``.  Times in seconds.
    """

    tau_rc: float = 0.02
    tau_ref: float = 0.002
    amplitude: float = 1.0

    _bounds: ClassVar = {"tau_rc": (0.0, True, None), "tau_ref": (0.0, False, None),
                         "amplitude": (0.0, True, None)}
    _label_always: ClassVar = ("tau_rc",)

    def rates(self, J, xp=np):
        """The LIF rate curve (Nengo's ``LIFRate.step``)."""
        return _lif_rate(_as_float(J, xp), self.tau_rc, self.tau_ref, self.amplitude, xp)

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)

    def as_spiking(self):
        """:class:`LIF` with the same time constants."""
        return LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)


@dataclass(frozen=True)
class LIF(_LIFRefractory, NeuronType):
    """Spiking leaky integrate-and-fire, exactly ``nengo.LIF``.

    The voltage follows ``tau_rc dv/dt = J - v`` (solved exactly over each
    step), spikes at ``v > 1`` with the spike time interpolated within the
    step, is held at 0 for ``tau_ref`` after the spike (partial steps
    included) and clipped below at ``min_voltage``.  State: ``voltage`` and
    ``refractory_time`` (refractory time left at the end of the step plus
    ``dt``, as Nengo stores it; see :func:`is_refractory`).
    """

    tau_rc: float = 0.02
    tau_ref: float = 0.002
    min_voltage: float = 0.0
    amplitude: float = 1.0

    spiking: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("voltage", "refractory_time")
    _bounds: ClassVar = {"tau_rc": (0.0, True, None), "tau_ref": (0.0, False, None),
                         "min_voltage": (None, False, 0.0), "amplitude": (0.0, True, None)}
    _may_be_infinite: ClassVar = ("min_voltage",)
    _label_always: ClassVar = ("tau_rc",)

    def rates(self, J, xp=np):
        """The LIF rate curve (Nengo's ``LIF.rates`` is ``LIFRate``'s)."""
        return _lif_rate(_as_float(J, xp), self.tau_rc, self.tau_ref, self.amplitude, xp)

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``LIF.step``."""
        dt = _check_dt(dt)
        v, r, out = lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp), dt,
                              self.tau_rc, self.tau_ref, self.min_voltage, self.amplitude, xp)
        return {"voltage": v, "refractory_time": r}, out

    def as_rate(self):
        """:class:`LIFRate` with the same time constants (``min_voltage`` has no rate meaning)."""
        return LIFRate(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)


@dataclass(frozen=True)
class RefractoryLIF(_LIFRefractory, NeuronType):
    """:class:`LIF` whose output is its binary refractory state instead of its spikes.

    The dynamics are exactly ``nengo.LIF``'s (same state, same step); the
    output of a step is ``amplitude`` where the neuron is inside its
    refractory period at the end of the step and 0 elsewhere
    (:func:`is_refractory` with ``dt``: a spike makes it ``amplitude`` for
    ``tau_ref / dt`` steps).  This is the binary variable of stochastic
    computing with spiking neurons (Buesing et al. 2011; Norse's
    ``LIFRefracCell`` state ``rho > 0``).

    The output is a state, not spike events, so the type is not
    ``spiking``: back ends do not count its output as spikes (a population
    of these neurons reports zero spikes).  Its rate counterpart
    (:meth:`as_rate`) is the expected refractory fraction, the LIF rate
    times ``tau_ref`` (``LIFRate`` with ``amplitude * tau_ref``), which is
    also what the ideal reference computes.  In the JAX back end's
    surrogate-gradient mode the output's gradient flows through an
    exponential trace of the surrogate spikes (see
    :mod:`spikec.train.surrogate`).
    """

    tau_rc: float = 0.02
    tau_ref: float = 0.002
    min_voltage: float = 0.0
    amplitude: float = 1.0

    spiking: ClassVar[bool] = False
    state_names: ClassVar[tuple[str, ...]] = ("voltage", "refractory_time")
    _bounds: ClassVar = {"tau_rc": (0.0, True, None), "tau_ref": (0.0, True, None),
                         "min_voltage": (None, False, 0.0), "amplitude": (0.0, True, None)}
    _may_be_infinite: ClassVar = ("min_voltage",)
    _label_always: ClassVar = ("tau_rc", "tau_ref")

    def rates(self, J, xp=np):
        """Expected refractory fraction times ``amplitude``: the LIF rate times ``tau_ref``."""
        return self.as_rate().rates(J, xp)

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``LIF.step``; the output is ``amplitude * is_refractory(new_state, dt)``."""
        dt = _check_dt(dt)
        v, r, _ = lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp), dt,
                            self.tau_rc, self.tau_ref, self.min_voltage, 1.0, xp)
        return {"voltage": v, "refractory_time": r}, (r > dt) * self.amplitude

    def as_rate(self):
        """The expected refractory fraction: :class:`LIFRate` with ``amplitude * tau_ref``."""
        return LIFRate(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude * self.tau_ref)

    def as_spiking(self):
        """The type itself (it steps like a spiking LIF)."""
        return self

    def as_lif(self) -> LIF:
        """The :class:`LIF` with the same dynamics (its output the spikes)."""
        return LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, min_voltage=self.min_voltage, amplitude=1.0)


@dataclass(frozen=True)
class AdaptiveLIFRate(_LIFTuning, NeuronType):
    """Rate LIF with adaptation, exactly ``nengo.AdaptiveLIFRate``.

    The adaptation ``n`` is subtracted from the input and follows
    ``tau_n dn/dt = inc_n * output - n`` (forward Euler).  As in Nengo,
    :meth:`rates` and :meth:`gain_bias` are the plain LIF ones (they ignore
    adaptation).
    """

    tau_n: float = 1.0
    inc_n: float = 0.01
    tau_rc: float = 0.02
    tau_ref: float = 0.002
    amplitude: float = 1.0

    state_names: ClassVar[tuple[str, ...]] = ("adaptation",)
    _bounds: ClassVar = {"tau_n": (0.0, True, None), "inc_n": (0.0, False, None),
                         "tau_rc": (0.0, True, None), "tau_ref": (0.0, False, None),
                         "amplitude": (0.0, True, None)}
    _label_always: ClassVar = ("tau_n",)

    def rates(self, J, xp=np):
        """The unadapted LIF rate curve (as Nengo)."""
        return _lif_rate(_as_float(J, xp), self.tau_rc, self.tau_ref, self.amplitude, xp)

    def _state_dists(self):
        return (("adaptation", 0.0, 0.0),)

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``AdaptiveLIFRate.step``."""
        dt = _check_dt(dt)
        n = state["adaptation"]
        out = _lif_rate(_as_float(J, xp) - n, self.tau_rc, self.tau_ref, self.amplitude, xp)
        n = n + (dt / self.tau_n) * (self.inc_n * out - n)
        return {"adaptation": n}, out

    def as_spiking(self):
        """:class:`AdaptiveLIF` with the same parameters."""
        return AdaptiveLIF(tau_n=self.tau_n, inc_n=self.inc_n, tau_rc=self.tau_rc,
                           tau_ref=self.tau_ref, amplitude=self.amplitude)


@dataclass(frozen=True)
class AdaptiveLIF(_LIFRefractory, NeuronType):
    """Spiking LIF with adaptation, exactly ``nengo.AdaptiveLIF``.

    :class:`LIF` driven by ``J - n``; ``n`` jumps by ``inc_n * amplitude /
    tau_n`` at each spike and decays with ``tau_n``.  As in Nengo,
    :meth:`rates` and :meth:`gain_bias` ignore adaptation.
    """

    tau_n: float = 1.0
    inc_n: float = 0.01
    tau_rc: float = 0.02
    tau_ref: float = 0.002
    min_voltage: float = 0.0
    amplitude: float = 1.0

    spiking: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("voltage", "refractory_time", "adaptation")
    _bounds: ClassVar = {"tau_n": (0.0, True, None), "inc_n": (0.0, False, None),
                         "tau_rc": (0.0, True, None), "tau_ref": (0.0, False, None),
                         "min_voltage": (None, False, 0.0), "amplitude": (0.0, True, None)}
    _may_be_infinite: ClassVar = ("min_voltage",)
    _label_always: ClassVar = ("tau_n",)

    def rates(self, J, xp=np):
        """The unadapted LIF rate curve (as Nengo)."""
        return _lif_rate(_as_float(J, xp), self.tau_rc, self.tau_ref, self.amplitude, xp)

    def _state_dists(self):
        return (("voltage", 0.0, 1.0), ("refractory_time", 0.0, 0.0), ("adaptation", 0.0, 0.0))

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``AdaptiveLIF.step``."""
        dt = _check_dt(dt)
        n = state["adaptation"]
        v, r, out = lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp) - n, dt,
                              self.tau_rc, self.tau_ref, self.min_voltage, self.amplitude, xp)
        n = n + (dt / self.tau_n) * (self.inc_n * out - n)
        return {"voltage": v, "refractory_time": r, "adaptation": n}, out

    def as_rate(self):
        """:class:`AdaptiveLIFRate` with the same parameters."""
        return AdaptiveLIFRate(tau_n=self.tau_n, inc_n=self.inc_n, tau_rc=self.tau_rc,
                               tau_ref=self.tau_ref, amplitude=self.amplitude)


@dataclass(frozen=True)
class SoftLIFRate(_LIFTuning, NeuronType):
    """LIF rate smoothed around threshold for training (Hunsberger & Eliasmith).

    ``j = sigma * log1p(exp((J - 1)/sigma))``, rate ``amplitude / (tau_ref +
    tau_rc * log1p(1/j))``: ``nengo_dl.SoftLIFRate``'s formula, including its
    cut-overs (``j = J - 1`` above ``(J-1)/sigma > 30`` and the asymptote
    ``log1p(1/j) ~ -(J-1)/sigma - log(sigma)`` below ``-20``).  As in NengoDL,
    :meth:`gain_bias` is the hard LIF's, so rates at ``x = 1`` come out a
    little above ``max_rates``.  Its spiking counterpart is :class:`LIF`.
    """

    sigma: float = 1.0
    tau_rc: float = 0.02
    tau_ref: float = 0.002
    amplitude: float = 1.0

    _bounds: ClassVar = {"sigma": (0.0, True, None), "tau_rc": (0.0, True, None),
                         "tau_ref": (0.0, False, None), "amplitude": (0.0, True, None)}
    _label_always: ClassVar = ("sigma",)

    def rates(self, J, xp=np):
        """The smoothed LIF rate curve."""
        sigma = self.sigma
        js = (_as_float(J, xp) - 1) / sigma
        valid = js > -20
        # Clamp inside exp and guard z so the branches where() discards stay
        # finite (no inf/NaN in JAX gradients); kept values are unchanged.
        z = xp.where(js > 30, js, xp.log1p(xp.exp(xp.minimum(js, 30.0)))) * sigma
        z_safe = xp.where(valid, z, 1.0)
        q = xp.where(valid, xp.log1p(1 / z_safe), -js - math.log(sigma))
        return self.amplitude / (self.tau_ref + self.tau_rc * q)

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)

    def as_spiking(self):
        """:class:`LIF` with the same time constants (what a trained network runs with)."""
        return LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)


# ------------------------------------------------------------------------------ from nengo


@from_nengo_named("nengo", "LIFRate")
def _from_nengo_lif_rate(obj) -> LIFRate:
    return LIFRate(obj.tau_rc, obj.tau_ref, obj.amplitude)


@from_nengo_named("nengo", "LIF")
def _from_nengo_lif(obj) -> LIF:
    return LIF(obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)


@from_nengo_named("nengo", "AdaptiveLIFRate")
def _from_nengo_adaptive_lif_rate(obj) -> AdaptiveLIFRate:
    return AdaptiveLIFRate(obj.tau_n, obj.inc_n, obj.tau_rc, obj.tau_ref, obj.amplitude)


@from_nengo_named("nengo", "AdaptiveLIF")
def _from_nengo_adaptive_lif(obj) -> AdaptiveLIF:
    return AdaptiveLIF(obj.tau_n, obj.inc_n, obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)


# By name: converting must not import NengoDL (slow, and needs TensorFlow).
@from_nengo_named("nengo_dl", "SoftLIFRate")
def _from_nengo_dl_soft_lif_rate(obj) -> SoftLIFRate:
    return SoftLIFRate(obj.sigma, obj.tau_rc, obj.tau_ref, obj.amplitude)
