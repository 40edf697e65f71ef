"""Surrogate gradients: spike functions whose backward pass is smooth (JAX).

A spike is a Heaviside step of the voltage above threshold; its derivative is
zero almost everywhere, so gradient descent through spiking neurons needs a
*surrogate*: the forward pass keeps the exact step, the backward pass uses
the derivative of a smooth stand-in (Neftci, Mostafa & Zenke 2019).

* :class:`SuperSpike` (the default): ``1 / (1 + scale*|x|)**2``, the
  derivative of the fast sigmoid ``x / (1 + scale*|x|)`` (Zenke & Ganguli
  2018, "SuperSpike");
* :class:`ArcTan`: ``alpha / 2 / (1 + (pi/2 * alpha * x)**2)``, the derivative
  of ``arctan(pi/2 * alpha * x)/pi + 1/2`` (SpikingJelly's and snnTorch's
  ``atan``);
* :class:`Sigmoid`: ``scale * s * (1 - s)`` with ``s = sigmoid(scale * x)``.

``x`` is the distance of the voltage above threshold (``v - 1`` for LIF).
:func:`heaviside` and :func:`spike_count` apply them (``jax.custom_jvp``, so
forward- and reverse-mode differentiation both work).

How they plug into neurons
--------------------------
:mod:`spikec.models.neurons` steps stay exactly Nengo's (bit for bit); this module
holds surrogate-aware steps for the spiking types, a table
(:data:`surrogate_step`, filled with ``@surrogate_step.register(LIF)``,
exact class) that :func:`surrogate_neuron` reads; the JAX back end applies it
to every population when it differentiates a spiking network.  The LIF
rules reuse the models' own step, passing it the spike function and the
voltage floor:

* :class:`~spikec.models.neurons.LIF` and :class:`~spikec.models.neurons.AdaptiveLIF`: the
  spike output is ``heaviside(v - 1)`` (same value as Nengo's ``v > 1``); the
  reset and the sub-step spike time are unchanged, so the voltage after a
  spike carries no gradient through the spike condition.  The voltage floor
  ``max(v, min_voltage)`` passes ``floor_gradient`` (a field of every
  surrogate, 0 by default) of the gradient where ``v`` is below it
  (:func:`leaky_floor`).
* :class:`~spikec.models.neurons.RegularSpiking` and
  :class:`~spikec.models.neurons.SpikingRectifiedLinear`: the spike count
  ``floor(v)`` becomes :func:`spike_count`, whose derivative is the
  surrogate at the nearest threshold ``max(round(v), 1)``; the reset
  ``v - n`` is detached (no gradient through ``n``), as is usual for
  surrogate-gradient training.
* :class:`~spikec.models.neurons.PoissonSpiking`: straight through: the count's
  derivative with respect to its mean ``|r| dt`` is 1.
* :class:`~spikec.models.neurons.RefractoryLIF`: the output (the refractory
  indicator, exact forward) takes its gradient from an exponential trace
  of the surrogate spikes, ``trace = exp(-dt/tau_ref) trace + spike``, an
  extra state variable ``refractory_trace``: the indicator is the sum of
  the last ``tau_ref/dt`` spikes, and the trace is that window with an
  exponential kernel of the same total weight.  So a spike, or a near miss
  (the surrogate at a step without spike), moves the next ``tau_ref/dt``
  steps' states, which is what training a distribution over refractory
  states needs.
* AdEx: the threshold crossing at ``V_peak`` through the surrogate (the
  exponential upswing above ``V_T`` detached, the reset of v detached).
* Izhikevich spikes keep a zero gradient (its step is used as is).

The forward values of every surrogate-aware step equal the neuron type's own
step exactly (``tests/test_backend_jax.py`` checks this).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from spikec.errors import ConstantError
from spikec.models.neurons import (
    LIF,
    AdaptiveLIF,
    AdEx,
    LIFRate,
    NeuronType,
    PoissonSpiking,
    RefractoryLIF,
    RegularSpiking,
    SoftLIFRate,
    SpikingRectifiedLinear,
)
from spikec.models.neurons.lif import lif_step
from spikec.models.neurons.wrappers import _poisson_counts
from spikec.util.typetable import TypeTable

__all__ = [
    "ArcTan",
    "Sigmoid",
    "SuperSpike",
    "Surrogate",
    "SurrogateNeuron",
    "as_surrogate",
    "heaviside",
    "leaky_floor",
    "soft_lif",
    "spike_count",
    "surrogate_neuron",
    "surrogate_state",
    "surrogate_step",
]


# --------------------------------------------------------------------------- surrogates


@dataclass(frozen=True)
class Surrogate:
    """Base of the surrogate derivatives (frozen, hashable: it keys JAX's caches).

    ``floor_gradient`` (keyword only, every surrogate): the fraction of the
    gradient that an LIF voltage floor (``max(v, min_voltage)``) passes
    where the voltage sits below it.  0 (the default) is the floor's own
    derivative: a neuron held at the floor by a negative current passes no
    gradient from one step's voltage to the next, so a silent neuron's
    surrogate gradient sees one step of input only.  A small fraction (e.g.
    0.1) lets the gradient of the current accumulate over the steps the
    voltage would have integrated, which is what brings a silent neuron
    back (see :func:`leaky_floor`).  Forward values never change.
    """

    floor_gradient: float = dataclasses.field(default=0.0, kw_only=True)

    def __post_init__(self):
        value = float(self.floor_gradient)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ConstantError(f"{type(self).__name__}: floor_gradient must be in [0, 1], got "
                                f"{self.floor_gradient!r}")
        object.__setattr__(self, "floor_gradient", value)

    def derivative(self, x):
        """The stand-in for ``d heaviside(x) / dx``."""
        raise NotImplementedError

    def label(self) -> str:
        params = ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in dataclasses.fields(self)
                           if not (f.name == "floor_gradient" and self.floor_gradient == 0.0))
        return f"{type(self).__name__}({params})"


def _positive(owner: str, name: str, value) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ConstantError(f"{owner}: {name} must be positive and finite, got {value!r}")
    return value


@dataclass(frozen=True)
class SuperSpike(Surrogate):
    """Fast-sigmoid derivative ``1 / (1 + scale*|x|)**2`` (peak 1 at threshold)."""

    scale: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("SuperSpike", "scale", self.scale))
        super().__post_init__()

    def derivative(self, x):
        return 1.0 / (1.0 + self.scale * jnp.abs(x)) ** 2


@dataclass(frozen=True)
class ArcTan(Surrogate):
    """Arctan derivative ``alpha / 2 / (1 + (pi/2 * alpha * x)**2)`` (peak ``alpha/2``)."""

    alpha: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "alpha", _positive("ArcTan", "alpha", self.alpha))
        super().__post_init__()

    def derivative(self, x):
        return (self.alpha / 2.0) / (1.0 + (math.pi / 2.0 * self.alpha * x) ** 2)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic derivative ``scale * s * (1 - s)``, ``s = sigmoid(scale * x)`` (peak ``scale/4``)."""

    scale: float = 4.0

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive("Sigmoid", "scale", self.scale))
        super().__post_init__()

    def derivative(self, x):
        s = jax.nn.sigmoid(self.scale * x)
        return self.scale * s * (1.0 - s)


_BY_NAME = {"superspike": SuperSpike, "fast_sigmoid": SuperSpike, "arctan": ArcTan, "atan": ArcTan,
            "sigmoid": Sigmoid}


def as_surrogate(obj: Any = None) -> Surrogate:
    """A :class:`Surrogate` from an instance, a name (``"superspike"``, ``"arctan"``,
    ``"sigmoid"``) or None (``SuperSpike()``)."""
    if obj is None:
        return SuperSpike()
    if isinstance(obj, Surrogate):
        return obj
    if isinstance(obj, str) and obj.lower() in _BY_NAME:
        return _BY_NAME[obj.lower()]()
    raise ConstantError(f"unknown surrogate {obj!r}",
                        hint="pass SuperSpike(scale), ArcTan(alpha), Sigmoid(scale) or one of "
                             f"{', '.join(sorted(_BY_NAME))}")


# ----------------------------------------------------------------------- spike functions


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def heaviside(surrogate: Surrogate, x):
    """``1.0 where x > 0 else 0.0`` (dtype of ``x``); derivative ``surrogate.derivative(x)``."""
    return (x > 0).astype(x.dtype)


@heaviside.defjvp
def _heaviside_jvp(surrogate, primals, tangents):
    (x,), (dx,) = primals, tangents
    return heaviside(surrogate, x), surrogate.derivative(x) * dx


def _exact_spikes(surrogate: Surrogate, spiked, distance, dtype):
    """``spiked`` as 0/1 of ``dtype`` (the model's own comparison, bit for bit), with the gradient of
    ``heaviside(surrogate, distance)``."""
    smooth = heaviside(surrogate, distance)
    return spiked.astype(dtype) + (smooth - jax.lax.stop_gradient(smooth))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def spike_count(surrogate: Surrogate, v):
    """``floor(v)`` (spikes of a unit-threshold accumulator); derivative the
    surrogate at the nearest threshold, ``surrogate.derivative(v - max(round(v), 1))``."""
    return jnp.floor(v)


@spike_count.defjvp
def _spike_count_jvp(surrogate, primals, tangents):
    (v,), (dv,) = primals, tangents
    threshold = jnp.maximum(jnp.round(v), 1.0)
    return spike_count(surrogate, v), surrogate.derivative(v - threshold) * dv


# ------------------------------------------------------------------- surrogate-aware steps


def leaky_floor(voltage, floor, leak: float):
    """``max(voltage, floor)``, exactly; below the floor the gradient is ``leak`` times
    the voltage's instead of 0 (``leak`` 0: plain ``max``, 1: straight through).

    The forward value adds an exact zero to ``max``'s, so it equals it bit for bit.
    """
    clipped = jnp.maximum(voltage, floor)
    if not leak:
        return clipped
    return clipped + jnp.where(voltage < floor, leak * (voltage - jax.lax.stop_gradient(voltage)), 0.0)


def _lif_step(state, J, dt, base, amplitude, sg):
    """The models' own :func:`~spikec.models.neurons.lif.lif_step` with the spike output through
    :func:`heaviside` and the voltage floor through :func:`leaky_floor` (``surrogate.floor_gradient``).

    Same operations in the same order, so the forward values are identical.
    """
    return lif_step(state["voltage"], state["refractory_time"], J, dt, base.tau_rc, base.tau_ref,
                    base.min_voltage, amplitude, jnp,
                    spikes=functools.partial(heaviside, sg),
                    floor=lambda v, low: leaky_floor(v, low, sg.floor_gradient))


# The rules below match their class exactly (exact=True): a subclass may change the model
# (its own step), so it is stepped as it is, without surrogate, unless it registers a rule.

#: neuron type -> ``fn(base, surrogate, state, J, dt, noise) -> (new_state, output)``.
surrogate_step = TypeTable("surrogate step", exact=True)

#: neuron type -> ``fn(base, state) -> state`` adding the variables its surrogate step carries.
surrogate_state = TypeTable("surrogate state", exact=True)


@surrogate_step.register(RefractoryLIF)
def _refractory_lif(base, sg, state, J, dt, noise):
    v, r, out = _lif_step(state, J, dt, base, 1.0, sg)
    trace = math.exp(-dt / base.tau_ref) * state["refractory_trace"] + out * dt
    indicator = (jax.lax.stop_gradient(r) > dt).astype(trace.dtype)
    # Forward: the exact indicator; backward: the trace's gradient.
    output = (indicator + (trace - jax.lax.stop_gradient(trace))) * base.amplitude
    return {"voltage": v, "refractory_time": r, "refractory_trace": trace}, output


@surrogate_state.register(RefractoryLIF)
def _refractory_lif_state(base, state):
    state["refractory_trace"] = state["voltage"] * 0.0
    return state


@surrogate_step.register(LIF)
def _lif(base, sg, state, J, dt, noise):
    v, r, out = _lif_step(state, J, dt, base, base.amplitude, sg)
    return {"voltage": v, "refractory_time": r}, out


@surrogate_step.register(AdaptiveLIF)
def _adaptive_lif(base, sg, state, J, dt, noise):
    n = state["adaptation"]
    v, r, out = _lif_step(state, J - n, dt, base, base.amplitude, sg)
    n = n + (dt / base.tau_n) * (base.inc_n * out - n)
    return {"voltage": v, "refractory_time": r, "adaptation": n}, out


@surrogate_step.register(SpikingRectifiedLinear)
def _spiking_rectified_linear(base, sg, state, J, dt, noise):
    voltage = state["voltage"] + jnp.maximum(J, 0) * dt
    n_spikes = spike_count(sg, voltage)
    return {"voltage": voltage - jax.lax.stop_gradient(n_spikes)}, (base.amplitude / dt) * n_spikes


@surrogate_step.register(RegularSpiking)
def _regular_spiking(base, sg, state, J, dt, noise):
    inner = base.base
    base_state, rate = inner.step({k: state[k] for k in inner.state_names}, J, dt, jnp)
    voltage = state["voltage"] + dt * rate
    n_spikes = spike_count(sg, voltage)
    return ({"voltage": voltage - jax.lax.stop_gradient(n_spikes), **base_state},
            (base.amplitude / dt) * n_spikes)


@surrogate_step.register(AdEx)
def _adex(base, sg, state, J, dt, noise):
    # AdEx.step with the threshold crossing through the surrogate (distance in units of
    # V_peak - V_T) and the reset of v detached, as SuperSpike does.  Above V_T the exponential
    # runs away (the spike itself): its slope, up to e^35 per mV, would blow up every gradient
    # that passes through a spike, so only the threshold crossing carries one there.
    def upswing(v, term):
        return jnp.where(v > base.V_T, jax.lax.stop_gradient(term), term)

    v, w = base.integrate(state["voltage"], state["adaptation"], J, dt, jnp, upswing=upswing)
    s = _exact_spikes(sg, v > base.V_peak, (v - base.V_peak) / (base.V_peak - base.V_T), v.dtype)
    v = jnp.where(jax.lax.stop_gradient(s) > 0, base.V_reset, v)
    return {"voltage": v, "adaptation": w + base.b * s}, s * (base.amplitude / dt)


@surrogate_step.register(PoissonSpiking)
def _poisson_spiking(base, sg, state, J, dt, noise):
    if noise is None:
        return base.step(state, J, dt, jnp, noise)  # raises the neuron type's error
    base_state, rate = base.base.step(state, J, dt, jnp)
    lam = jnp.abs(rate) * dt
    counts = _poisson_counts(lam, jnp.asarray(noise), jnp)
    counts = counts + (lam - jax.lax.stop_gradient(lam))  # straight through
    return base_state, (base.amplitude / dt) * counts * jnp.sign(rate)


@dataclass(frozen=True)
class SurrogateNeuron:
    """A spiking neuron type stepped with surrogate gradients (JAX only).

    Steps like ``base`` (same state, same forward values) with the rule
    :data:`surrogate_step` registers for its exact type (its own step
    where there is none, e.g. Izhikevich), and exposes the attributes a
    simulator reads (``spiking``, ``amplitude``, ``needs_noise``,
    ``init_state``...) from it.
    """

    base: NeuronType
    surrogate: Surrogate

    def __getattr__(self, name):
        # Only called for attributes not found normally: delegate to the base type.
        if name in ("base", "surrogate"):
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def spiking(self) -> bool:
        return self.base.spiking

    def label(self) -> str:
        return f"{self.base.label()} [surrogate {self.surrogate.label()}]"

    def init_state(self, n, rng=None):
        """The base type's state, plus what :data:`surrogate_state` adds (``refractory_trace`` for
        :class:`~spikec.models.neurons.RefractoryLIF`)."""
        state = self.base.init_state(n, rng)
        extend = surrogate_state.lookup(type(self.base))
        return state if extend is None else extend(self.base, state)

    def step(self, state, J, dt, xp=jnp, noise=None):
        J = jnp.asarray(J)
        rule = surrogate_step.lookup(type(self.base))
        if rule is None:
            return self.base.step(state, J, dt, jnp, noise)
        return rule(self.base, self.surrogate, state, J, dt, noise)


def surrogate_neuron(neuron_type: Any, surrogate: Any = None) -> Any:
    """``neuron_type`` stepped with surrogate gradients when it spikes (or is a
    :class:`~spikec.models.neurons.RefractoryLIF`); rate types as they are."""
    if isinstance(neuron_type, SurrogateNeuron):
        return neuron_type
    # Rate types pass as they are, unless a rule steps them (RefractoryLIF: a rate type whose state spikes).
    if not (getattr(neuron_type, "spiking", False) or type(neuron_type) in surrogate_step):
        return neuron_type
    return SurrogateNeuron(neuron_type, as_surrogate(surrogate))


def soft_lif(neuron_type: Any, sigma: float) -> Any:
    """LIF rate types as :class:`~spikec.models.neurons.SoftLIFRate` with smoothing ``sigma`` (others unchanged).

    ``LIFRate`` becomes ``SoftLIFRate(sigma, tau_rc, tau_ref, amplitude)``;
    adaptive and other types are returned as they are.
    """
    if type(neuron_type) is LIFRate:
        return SoftLIFRate(sigma=sigma, tau_rc=neuron_type.tau_rc, tau_ref=neuron_type.tau_ref,
                           amplitude=neuron_type.amplitude)
    return neuron_type
