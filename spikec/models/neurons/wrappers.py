"""Rate-to-spike wrappers: :class:`RegularSpiking` and :class:`PoissonSpiking` around a rate type."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikec.errors import ConstantError, RunError
from spikec.models.neurons.base import NeuronType, _nengo_samples, _shape
from spikec.models.neurons.conversion import as_neuron_type, from_nengo_named
from spikec.util.checks import check_dt as _check_dt
from spikec.util.checks import format_float as _fmt

__all__ = ["POISSON_EXACT_MAX", "PoissonSpiking", "RatesToSpikes", "RegularSpiking"]


# ------------------------------------------------------------------------------ Poisson counts


# Above this many expected spikes per step, PoissonSpiking switches from the
# exact inverse CDF to a skew-corrected normal quantile (see _poisson_counts).
POISSON_EXACT_MAX = 10.0
# Terms of the exact inverse CDF: P(Poisson(10) >= 40) is 7e-13.
_POISSON_TERMS = 40

# Acklam's rational approximation of the standard normal quantile (relative
# error below 1.2e-9); NumPy has no ndtri and jax.scipy is not xp-generic.
_ACKLAM_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
             1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_ACKLAM_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
             6.680131188771972e01, -1.328068155288572e01)
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
             -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
             3.754408661907416e00)
_ACKLAM_LOW = 0.02425


def _polyval(coefs, x):
    """Horner evaluation with Python-float coefficients (highest power first)."""
    out = coefs[0]
    for c in coefs[1:]:
        out = out * x + c
    return out


def _normal_quantile(u, xp):
    """Standard normal quantile of ``u`` in ``(0, 1)``, elementwise, xp-generic."""
    # u == 0 can come out of a uniform generator; the quantile is then merely
    # very negative instead of -inf.
    u = xp.maximum(u, 1e-30)
    q = u - 0.5
    r = q * q
    central = _polyval(_ACKLAM_A, r) * q / (_polyval(_ACKLAM_B, r) * r + 1.0)
    # The tails evaluate log(u) and log(1 - u) everywhere (where() keeps both
    # branches), which is finite because 1e-30 <= u < 1.
    ql = xp.sqrt(-2.0 * xp.log(u))
    lower = _polyval(_ACKLAM_C, ql) / (_polyval(_ACKLAM_D, ql) * ql + 1.0)
    qu = xp.sqrt(-2.0 * xp.log1p(-u))
    upper = -_polyval(_ACKLAM_C, qu) / (_polyval(_ACKLAM_D, qu) * qu + 1.0)
    return xp.where(u < _ACKLAM_LOW, lower, xp.where(u > 1.0 - _ACKLAM_LOW, upper, central))


def _poisson_counts(lam, u, xp):
    """Poisson(``lam``) samples from uniform samples ``u``, one per element.

    For ``lam <= POISSON_EXACT_MAX`` this is the exact inverse CDF, the
    smallest ``k`` with ``u < P(X <= k)``, summed over the first 40 terms of
    the pmf (missing mass below 1e-12).  Above, it is the normal quantile with
    Cornish-Fisher skew correction ``lam + sqrt(lam) z + (z^2 - 1)/6``,
    rounded to the nearest count and floored at 0: mean and variance agree
    with Poisson to O(1/sqrt(lam)) of a count.
    """
    exact = lam <= POISSON_EXACT_MAX
    # Clamp so the exact branch stays finite where the other one is used.
    lam_e = xp.minimum(lam, POISSON_EXACT_MAX)
    pmf = xp.exp(-lam_e)
    cdf = pmf
    count = (u >= cdf) * 1.0
    for k in range(1, _POISSON_TERMS):
        if xp is np and bool(np.all((u < cdf) | ~exact)):
            # NumPy only: every count is settled, so the remaining terms
            # would add zeros (cdf never decreases); stop early.
            break
        pmf = pmf * lam_e / k
        cdf = cdf + pmf
        count = count + (u >= cdf)
    z = _normal_quantile(u, xp)
    lam_n = xp.maximum(lam, POISSON_EXACT_MAX)
    approx = xp.maximum(xp.floor(lam_n + xp.sqrt(lam_n) * z + (z * z - 1.0) / 6.0 + 0.5), 0.0)
    return xp.where(exact, count, approx)

# -------------------------------------------------------------------- rate-to-spike wrappers


def _wrapper_base(owner: str, base) -> NeuronType:
    base = as_neuron_type(base)
    if base.spiking:
        raise ConstantError(
            f"{owner} turns a rate neuron type into a spiking one, but {base.label()} is spiking",
            hint=f"wrap its rate form instead: {owner}({_safe_rate_label(base)})",
        )
    return base


def _safe_rate_label(base: NeuronType) -> str:
    try:
        return base.as_rate().label()
    except ConstantError:
        return "a rate type"


def _wrapper_as_rate(wrapper) -> NeuronType:
    # The wrapper's mean output is amplitude * base rate: fold the amplitude
    # into the base so the rate counterpart has the same mean output.
    if wrapper.amplitude == 1.0 or not hasattr(wrapper.base, "amplitude"):
        return wrapper.base
    return dataclasses.replace(wrapper.base, amplitude=wrapper.base.amplitude * wrapper.amplitude)


@dataclass(frozen=True)
class RatesToSpikes(NeuronType):
    """Base of the wrappers that turn a rate type into a spiking one (as in Nengo).

    Rates, tuning and sign are the base type's, so a population keeps its
    tuning when it switches between rate and spiking mode; ``amplitude``
    scales each spike.  Subclasses define how spikes are drawn (``step``).
    """

    base: NeuronType
    amplitude: float = 1.0

    spiking: ClassVar[bool] = True
    _bounds: ClassVar = {"amplitude": (0.0, True, None)}

    def __post_init__(self):
        object.__setattr__(self, "base", _wrapper_base(type(self).__name__, self.base))
        super().__post_init__()

    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The base type's state."""
        return tuple(self.base.state_names)

    @property
    def negative(self) -> bool:  # type: ignore[override]
        """As the base type."""
        return self.base.negative

    def rates(self, J, xp=np):
        """The base type's rates."""
        return self.base.rates(J, xp)

    def gain_bias(self, max_rates, intercepts):
        """The base type's gain and bias."""
        return self.base.gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """The base type's."""
        return self.base.max_rates_intercepts(gain, bias)

    def init_state(self, n, rng=None):
        """The base type's state."""
        return self.base.init_state(n, rng)

    def as_rate(self):
        """The base type (with ``amplitude`` folded into it when it is not 1)."""
        return _wrapper_as_rate(self)

    def label(self):
        """``Wrapper(<base label>)``, plus a non-default amplitude."""
        extra = f", amplitude={_fmt(self.amplitude)}" if self.amplitude != 1.0 else ""
        return f"{type(self).__name__}({self.base.label()}{extra})"


@dataclass(frozen=True)
class RegularSpiking(RatesToSpikes):
    """Spikes at regular intervals at the rate of a rate type: ``nengo.RegularSpiking``.

    Each step the base type's output ``r`` (Hz) is added to a voltage as
    ``r * dt``, and ``floor(voltage)`` spikes are emitted (and subtracted).
    State: ``voltage`` plus the base type's state.  :meth:`rates` and
    :meth:`gain_bias` are the base type's (so ``amplitude`` is not in them,
    as in Nengo).  Nengo objects passed as ``base`` are converted.
    """

    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """``voltage`` followed by the base type's state."""
        return ("voltage",) + tuple(self.base.state_names)

    def init_state(self, n, rng=None):
        """The base type's state, then ``voltage`` ~ Uniform(0, 1) (Nengo's builder order)."""
        base_state = self.base.init_state(n, rng)
        return {"voltage": _nengo_samples(rng, _shape(n), 0.0, 1.0), **base_state}

    def step(self, state, J, dt, xp=np, noise=None):
        """The base type's step, then Nengo's ``RegularSpiking.step`` on its rate."""
        dt = _check_dt(dt)
        base_state, rate = self.base.step({k: state[k] for k in self.base.state_names}, J, dt, xp)
        voltage = state["voltage"] + dt * rate
        n_spikes = xp.floor(voltage)
        return {"voltage": voltage - n_spikes, **base_state}, (self.amplitude / dt) * n_spikes


@dataclass(frozen=True)
class PoissonSpiking(RatesToSpikes):
    """Poisson spike counts at the rate of a rate type: ``nengo.PoissonSpiking``.

    Each step emits ``k ~ Poisson(|r| * dt)`` spikes of sign ``sign(r)``,
    where ``r`` is the base type's output.  Nengo draws ``k`` with
    ``rng.poisson``; here the simulator supplies one uniform sample ``u`` per
    neuron and step (``noise``), and ``k`` is the exact inverse Poisson CDF
    of ``u`` while ``|r| dt <= POISSON_EXACT_MAX`` (10 spikes per step, far
    beyond any sensible rate), a skew-corrected normal quantile above.  So
    the spike statistics are Poisson's, not Nengo's sample path.  State: the
    base type's.
    """

    needs_noise: ClassVar[bool] = True

    def step(self, state, J, dt, xp=np, noise=None):
        """The base type's step, then a Poisson spike count drawn from ``noise``."""
        dt = _check_dt(dt)
        if noise is None:
            raise RunError(
                f"{self.label()} needs uniform noise samples for each step",
                hint="the simulator must pass noise=<uniform [0, 1) array of the output's shape>",
            )
        base_state, rate = self.base.step(state, J, dt, xp)
        counts = _poisson_counts(xp.abs(rate) * dt, xp.asarray(noise), xp)
        return base_state, (self.amplitude / dt) * counts * xp.sign(rate)


# ------------------------------------------------------------------------------ from nengo


@from_nengo_named("nengo", "RegularSpiking")
def _from_nengo_regular_spiking(obj) -> RegularSpiking:
    return RegularSpiking(as_neuron_type(obj.base_type), obj.amplitude)


@from_nengo_named("nengo", "PoissonSpiking")
def _from_nengo_poisson_spiking(obj) -> PoissonSpiking:
    return PoissonSpiking(as_neuron_type(obj.base_type), obj.amplitude)
