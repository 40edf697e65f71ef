"""Neuron models: what a :class:`~spikec.netlist.Population` computes.

Every back end (the NumPy and JAX simulators, Nengo, NengoDL) reads the
*same* neuron object, so each type is a frozen, hashable dataclass (it sits
inside frozen netlist populations and keys caches) with a *functional* step
written against an array module ``xp`` (``numpy`` or ``jax.numpy``): no
in-place updates and no Python control flow on array values, so the step
traces under ``jax.jit`` and ``jax.lax.scan``.

Where Nengo 4.1 defines a model, the equations, parameters, defaults, state
variables and even the order of floating-point operations are Nengo's, so a
spikec step reproduces ``nengo_type.step`` bit for bit in float64 (see
``tests/test_neurons.py``):

=====================================  ==========================================
spikec                                 Nengo
=====================================  ==========================================
:class:`LIFRate`, :class:`LIF`         ``nengo.LIFRate``, ``nengo.LIF``
:class:`AdaptiveLIFRate`,              ``nengo.AdaptiveLIFRate``,
:class:`AdaptiveLIF`                   ``nengo.AdaptiveLIF``
:class:`RectifiedLinear`,              ``nengo.RectifiedLinear``,
:class:`SpikingRectifiedLinear`        ``nengo.SpikingRectifiedLinear``
:class:`Izhikevich`                    ``nengo.Izhikevich``
:class:`RegularSpiking`,               ``nengo.RegularSpiking``,
:class:`PoissonSpiking`                ``nengo.PoissonSpiking`` (statistically)
:class:`SoftLIFRate`                   ``nengo_dl.SoftLIFRate``
:class:`Parabola`                      :class:`NengoParabola` (defined here)
:class:`AdEx`                          :class:`NengoAdEx` (defined here)
:class:`RefractoryLIF`                 :class:`NengoRefractoryLIF` (defined here:
                                       ``nengo.LIF`` whose output is its
                                       refractory state)
=====================================  ==========================================

Conventions
-----------
* ``J`` is the input current, ``J = gain * x + bias`` (Nengo's ``current``).
  It may have leading batch axes, e.g. ``(batch, n)``; everything is
  elementwise and broadcasts, and the returned state then has the broadcast
  shape.  (Under ``lax.scan`` the carried state must keep its shape, so give
  the initial state ``J``'s shape, e.g. with ``xp.broadcast_to``.)
* ``step(state, J, dt)`` returns ``(new_state, output)``.  ``output`` is in Hz
  for rate types and ``amplitude / dt`` times the number of spikes in this
  step for spiking types, exactly as Nengo's neuron output signal, so that a
  synapse turns it into a rate.
* As in Nengo, ``amplitude`` scales the output *after* tuning:
  :meth:`NeuronType.gain_bias` ignores it, and the wrappers' ``rates`` are
  their base type's.
* State arrays come from :meth:`NeuronType.init_state`; given a
  ``np.random.RandomState`` it draws exactly what Nengo's ``make_state``
  (and so Nengo's builder) draws from the same generator.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import nengo
import numpy as np
from nengo.dists import Choice, Uniform
from nengo.params import NumberParam

from spikec.errors import ConstantError, RunError
from spikec.util.checks import check_dt as _check_dt
from spikec.util.checks import format_float as _fmt

__all__ = [
    "LIF",
    "AdEx",
    "AdaptiveLIF",
    "AdaptiveLIFRate",
    "Izhikevich",
    "LIFRate",
    "NengoAdEx",
    "NengoParabola",
    "NengoRefractoryLIF",
    "NeuronType",
    "Parabola",
    "PoissonSpiking",
    "RatesToSpikes",
    "RectifiedLinear",
    "RefractoryLIF",
    "RegularSpiking",
    "SoftLIFRate",
    "SpikingRectifiedLinear",
    "as_neuron_type",
    "bind_parameters",
    "is_refractory",
    "neuron_parameters",
]


# ------------------------------------------------------------------------------ helpers




def _as_float(J, xp):
    """``J`` as a floating-point array of ``xp`` (integer input is promoted)."""
    J = xp.asarray(J)
    # A dtype test is static, so this is fine under jit; adding 0.0 rather
    # than asking for float64 keeps JAX at its default float without a warning.
    return J if xp.issubdtype(J.dtype, xp.floating) else J + 0.0


def _shape(n) -> tuple[int, ...]:
    """``n`` neurons, or an explicit state shape such as ``(batch, n)``."""
    if isinstance(n, numbers.Integral) and not isinstance(n, bool):
        shape = (int(n),)
    else:
        try:
            shape = tuple(int(d) for d in n)
        except TypeError:
            raise ConstantError(f"init_state needs a neuron count or a shape, got {n!r}") from None
    if any(d < 0 for d in shape):
        raise ConstantError(f"init_state: negative size in {shape}")
    return shape


def _nengo_samples(rng, shape, low: float, high: float) -> np.ndarray:
    """What Nengo's ``Uniform(low, high)`` (or ``Choice([low])`` when equal) draws.

    Both consume one uniform draw per neuron from ``rng``
    (``Choice.sample`` calls ``rng.rand(n)``), so the generator ends where
    Nengo's ``make_state`` leaves it and later draws agree too.
    """
    if rng is None:
        return np.full(shape, low, dtype=np.float64)
    u = rng.uniform(low, high, size=shape)
    return np.asarray(u, dtype=np.float64) if low != high else np.full(shape, low, dtype=np.float64)


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


def _lif_step(voltage, refractory_time, J, dt: float, tau_rc: float, tau_ref: float,
              min_voltage: float, amplitude: float, xp):
    """Nengo's ``LIF.step`` without in-place updates; same operations, same order.

    Returns ``(voltage, refractory_time, output)``.
    """
    refractory_time = refractory_time - dt
    # A neuron whose refractory period ends within this step integrates only
    # for the remainder of the step.
    delta_t = xp.clip(dt - refractory_time, 0.0, dt)
    # Exact solution of tau_rc dv/dt = J - v for J constant over delta_t.
    voltage = voltage - (J - voltage) * xp.expm1(-delta_t / tau_rc)
    spiked = voltage > 1
    output = spiked * (amplitude / dt)
    # Sub-step spike time from v(t_spike) = 1; where a neuron did not spike
    # the ratio is 0 (and the denominator 1), so log1p stays finite there.
    ratio = xp.where(spiked, (voltage - 1) / xp.where(spiked, J - 1, 1.0), 0.0)
    t_spike = dt + tau_rc * xp.log1p(-ratio)
    voltage = xp.where(spiked, 0.0, xp.maximum(voltage, min_voltage))
    refractory_time = xp.where(spiked, tau_ref + t_spike, refractory_time)
    return voltage, refractory_time, output


# ------------------------------------------------------------------------------ parameters as data

#: Not offered for training: amplitude only rescales the output (train the
#: outgoing weights instead), and simulators count spikes as output * dt / amplitude.
_FIXED_PARAMETERS = frozenset({"amplitude"})


def neuron_parameters(neuron_type: Any) -> dict[str, float]:
    """The trainable parameters of a neuron type, by name: its finite float fields.

    Wrapped models are searched too (``RegularSpiking(Parabola())``'s
    ``"base.…"``; a surrogate-gradient wrapper's base), so the names are
    paths of fields.  ``amplitude`` is left out (see :data:`_FIXED_PARAMETERS`).
    """
    found: dict[str, float] = {}

    def visit(obj, prefix):
        if not dataclasses.is_dataclass(obj):
            return
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "base":
                visit(value, prefix + "base.")
            elif (isinstance(obj, NeuronType) and isinstance(value, float) and math.isfinite(value)
                  and f.name not in _FIXED_PARAMETERS):
                found[prefix + f.name] = value

    visit(neuron_type, "")
    return found


def bind_parameters(neuron_type: Any, values: Mapping[str, Any], *, check: bool = False) -> Any:
    """A copy of ``neuron_type`` with the parameters named in ``values`` replaced.

    Names are those of :func:`neuron_parameters` (``"tau_rc"``,
    ``"base.tau_rc"``...).  By default the values are stored *unchecked*, so
    they may be arrays (one value per neuron) or JAX tracers: that is how a
    simulator differentiates with respect to neuron parameters (the step
    functions only do arithmetic on them).  Such a copy is for stepping
    only: it is neither hashable nor a valid netlist parameter.  With
    ``check=True`` the values must be scalars and the copy is validated
    like a freshly made neuron type (for writing trained values back).
    """
    grouped: dict[str, dict[str, Any]] = {}
    direct: dict[str, Any] = {}
    for name, value in values.items():
        head, dot, rest = name.partition(".")
        if dot:
            grouped.setdefault(head, {})[rest] = value
        else:
            direct[name] = value
    names = {f.name for f in dataclasses.fields(neuron_type)}
    unknown = (set(direct) | set(grouped)) - names
    if unknown:
        raise ConstantError(f"{type(neuron_type).__name__} has no parameter {', '.join(sorted(unknown))}; "
                            f"its trainable parameters are {', '.join(neuron_parameters(neuron_type)) or 'none'}")
    changes = dict(direct)
    for head, sub in grouped.items():
        changes[head] = bind_parameters(getattr(neuron_type, head), sub, check=check)
    if check:
        for name, value in direct.items():
            arr = np.asarray(value)
            if arr.size != 1:
                raise ConstantError(f"{type(neuron_type).__name__}.{name}: a netlist neuron type takes one value "
                                    f"per population, got shape {arr.shape}")
            changes[name] = float(arr.reshape(()))
        return dataclasses.replace(neuron_type, **changes)
    copy = object.__new__(type(neuron_type))
    for f in dataclasses.fields(neuron_type):
        object.__setattr__(copy, f.name, changes.get(f.name, getattr(neuron_type, f.name)))
    return copy


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


# ----------------------------------------------------------------------------- the base


@dataclass(frozen=True)
class NeuronType(abc.ABC):
    """Abstract base of every neuron model.

    Subclasses are frozen dataclasses of float parameters (validated and
    stored as floats), so equal parameters mean equal, equally hashed types.
    All array work in :meth:`step` and :meth:`rates` goes through ``xp``.
    """

    #: Whether the output is spikes (``amplitude/dt`` per spike) or a rate.
    spiking: ClassVar[bool] = False
    #: Whether :meth:`step` needs uniform ``noise`` from the simulator.
    needs_noise: ClassVar[bool] = False
    #: Whether the output can be negative (Nengo's ``negative``).
    negative: ClassVar[bool] = False
    #: Names of the state variables, in Nengo's order.
    state_names: ClassVar[tuple[str, ...]] = ()

    # Per-field bounds checked by __post_init__: name -> (low, low_open, high).
    _bounds: ClassVar[dict[str, tuple[float | None, bool, float | None]]] = {}
    # Fields that may be infinite (LIF's min_voltage=-inf: never clip).
    _may_be_infinite: ClassVar[tuple[str, ...]] = ()
    # Fields shown in label() even at their default value.
    _label_always: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        owner = type(self).__name__
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, NeuronType) or f.name == "base":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ConstantError(f"{owner}: {f.name} must be a real number, got {value!r}")
            value = float(value)
            if math.isnan(value) or (math.isinf(value) and f.name not in self._may_be_infinite):
                raise ConstantError(f"{owner}: {f.name} must be finite, got {value!r}")
            low, low_open, high = self._bounds.get(f.name, (None, False, None))
            if low is not None and (value < low or (low_open and value == low)):
                relation = ">" if low_open else ">="
                raise ConstantError(f"{owner}: {f.name} must be {relation} {_fmt(low)}, got {value!r}")
            if high is not None and value > high:
                raise ConstantError(f"{owner}: {f.name} must be <= {_fmt(high)}, got {value!r}")
            object.__setattr__(self, f.name, value)

    # -- tuning ---------------------------------------------------------------------------
    @abc.abstractmethod
    def rates(self, J, xp=np):
        """Steady-state activity (Hz, times ``amplitude``) for a constant input current ``J``.

        Equals Nengo's ``rates(x, gain, bias)`` for ``J = gain * x + bias``.
        """

    def gain_bias(self, max_rates, intercepts) -> tuple[np.ndarray, np.ndarray]:
        """Gain and bias such that, with ``J = gain * x + bias`` for ``x`` in [-1, 1],
        each neuron starts firing at ``x = intercept`` and fires at ``max_rate`` at ``x = 1``.

        This default is Nengo's numerical ``NeuronType.gain_bias`` (a search
        over :meth:`rates` and linear interpolation); types with a closed
        form override it.
        """
        max_rates = np.asarray(np.atleast_1d(max_rates), dtype=float)
        intercepts = np.asarray(np.atleast_1d(intercepts), dtype=float)
        owner = self.label()
        J_steps = 101  # odd, so that 0 is a sample
        max_rate = max_rates.max()
        J_threshold = J_max = None
        Jr = 10.0
        for _ in range(10):
            J = np.linspace(-Jr, Jr, J_steps)
            rate = np.asarray(self.rates(J[:, None]))
            if J_threshold is None and (rate <= 0).any():
                J_threshold = J[np.where(rate <= 0)[0][-1]]
            if J_max is None and (rate >= max_rate).any():
                J_max = J[np.where(rate >= max_rate)[0][0]]
            if J_threshold is not None and J_max is not None:
                break
            Jr *= 2
        else:
            what = "firing threshold" if J_threshold is None else "current reaching the max rate"
            raise ConstantError(f"{owner}: could not find the {what} (searched |J| <= {Jr / 2:g})",
                                hint="lower max_rates")
        J = np.linspace(J_threshold, J_max, J_steps)
        rate = np.asarray(self.rates(J[:, None])).squeeze(axis=1)
        J_tops = np.interp(max_rates, rate, J)
        gain = (J_threshold - J_tops) / (intercepts - 1)
        bias = J_tops - gain
        return gain, bias

    def max_rates_intercepts(self, gain, bias) -> tuple[np.ndarray, np.ndarray]:
        """The inverse of :meth:`gain_bias`: rate at ``x = 1`` and firing onset.

        This default is Nengo's numerical one (onset to a grid of 101 points).
        """
        gain = np.asarray(gain, dtype=float)
        bias = np.asarray(bias, dtype=float)
        max_rates = np.asarray(self.rates((gain * 1.0 + bias)[None, :]))[0]
        x_range = np.linspace(-1, 1, 101)
        rates = np.asarray(self.rates(gain * x_range[:, None] + bias))
        last_zeros = np.maximum(np.argmax(rates > 0, axis=0) - 1, 0)
        return max_rates, x_range[last_zeros]

    # -- simulation -----------------------------------------------------------------------
    def _state_dists(self) -> tuple[tuple[str, float, float], ...]:
        """``(name, low, high)`` per state variable: Uniform, or a constant if equal."""
        return ()

    def init_state(self, n, rng: np.random.Generator | np.random.RandomState | None = None
                   ) -> dict[str, np.ndarray]:
        """Initial state of ``n`` neurons (``n`` may also be a shape like ``(batch, n)``).

        Values follow Nengo's defaults (LIF voltage ~ Uniform(0, 1), zero
        refractory time...), drawn from ``rng``; with a ``RandomState`` the
        draws are exactly those of Nengo's ``make_state``.  Without ``rng``
        each variable takes the low end of its range (zeros for LIF).
        """
        shape = _shape(n)
        return {name: _nengo_samples(rng, shape, low, high) for name, low, high in self._state_dists()}

    @abc.abstractmethod
    def step(self, state: dict, J, dt: float, xp=np, noise=None) -> tuple[dict, Any]:
        """Advance ``state`` by one step of ``dt`` seconds under input current ``J``.

        Returns ``(new_state, output)``: Hz for rate types, ``amplitude/dt``
        times the number of spikes for spiking types.  ``noise`` (uniform
        samples in [0, 1) of the output's shape) is required when
        :attr:`needs_noise` and ignored otherwise.
        """

    # -- conversions ----------------------------------------------------------------------
    @abc.abstractmethod
    def to_nengo(self) -> nengo.neurons.NeuronType:
        """The equivalent Nengo neuron type."""

    def as_rate(self) -> NeuronType:
        """The rate counterpart (the type itself for rate types)."""
        if not self.spiking:
            return self
        raise ConstantError(f"{self.label()} has no rate counterpart",
                            hint="use rates() for its simulated tuning curve")

    def as_spiking(self) -> NeuronType:
        """The spiking counterpart (the type itself for spiking types)."""
        if self.spiking:
            return self
        return RegularSpiking(self)

    def label(self) -> str:
        """Short text such as ``LIF(tau_rc=0.02)``: the key and all non-default parameters."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._label_always or value != f.default:
                parts.append(f"{f.name}={_fmt(value)}")
        name = type(self).__name__
        return f"{name}({', '.join(parts)})" if parts else name


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

    def to_nengo(self):
        """``nengo.LIFRate(tau_rc, tau_ref, amplitude)``."""
        return nengo.LIFRate(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)

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
        v, r, out = _lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp), dt,
                              self.tau_rc, self.tau_ref, self.min_voltage, self.amplitude, xp)
        return {"voltage": v, "refractory_time": r}, out

    def to_nengo(self):
        """``nengo.LIF(...)`` with the same parameters."""
        return nengo.LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, min_voltage=self.min_voltage,
                         amplitude=self.amplitude)

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
        v, r, _ = _lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp), dt,
                            self.tau_rc, self.tau_ref, self.min_voltage, 1.0, xp)
        return {"voltage": v, "refractory_time": r}, (r > dt) * self.amplitude

    def to_nengo(self):
        """:class:`NengoRefractoryLIF` with the same parameters."""
        return NengoRefractoryLIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, min_voltage=self.min_voltage,
                                  amplitude=self.amplitude)

    def as_rate(self):
        """The expected refractory fraction: :class:`LIFRate` with ``amplitude * tau_ref``."""
        return LIFRate(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude * self.tau_ref)

    def as_spiking(self):
        """The type itself (it steps like a spiking LIF)."""
        return self

    def as_lif(self) -> LIF:
        """The :class:`LIF` with the same dynamics (its output the spikes)."""
        return LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, min_voltage=self.min_voltage, amplitude=1.0)


class NengoRefractoryLIF(nengo.LIF):
    """``nengo.LIF`` whose output is ``amplitude`` while refractory (see :class:`RefractoryLIF`)."""

    spiking = False

    def rates(self, x, gain, bias):
        """Expected refractory fraction times ``amplitude``."""
        return super().rates(x, gain, bias) * self.tau_ref

    def step(self, dt, J, output, voltage, refractory_time):
        """``nengo.LIF.step``, then the refractory indicator written to ``output``."""
        super().step(dt, J, output, voltage, refractory_time)
        output[...] = (refractory_time > dt) * self.amplitude


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

    def to_nengo(self):
        """``nengo.AdaptiveLIFRate(...)`` with the same parameters."""
        return nengo.AdaptiveLIFRate(tau_n=self.tau_n, inc_n=self.inc_n, tau_rc=self.tau_rc,
                                     tau_ref=self.tau_ref, amplitude=self.amplitude)

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
        v, r, out = _lif_step(state["voltage"], state["refractory_time"], _as_float(J, xp) - n, dt,
                              self.tau_rc, self.tau_ref, self.min_voltage, self.amplitude, xp)
        n = n + (dt / self.tau_n) * (self.inc_n * out - n)
        return {"voltage": v, "refractory_time": r, "adaptation": n}, out

    def to_nengo(self):
        """``nengo.AdaptiveLIF(...)`` with the same parameters."""
        return nengo.AdaptiveLIF(tau_n=self.tau_n, inc_n=self.inc_n, tau_rc=self.tau_rc,
                                 tau_ref=self.tau_ref, min_voltage=self.min_voltage,
                                 amplitude=self.amplitude)

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

    def to_nengo(self):
        """``nengo_dl.SoftLIFRate(...)`` (imports NengoDL, which is slow and optional)."""
        # Imported here: NengoDL needs TensorFlow and a compatibility shim.
        from spikec.backends.nengo_dl.compat import import_nengo_dl

        return import_nengo_dl().SoftLIFRate(sigma=self.sigma, tau_rc=self.tau_rc,
                                             tau_ref=self.tau_ref, amplitude=self.amplitude)

    def as_spiking(self):
        """:class:`LIF` with the same time constants (what a trained network runs with)."""
        return LIF(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)


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

    def to_nengo(self):
        """``nengo.RectifiedLinear(amplitude)``."""
        return nengo.RectifiedLinear(amplitude=self.amplitude)

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

    def to_nengo(self):
        """``nengo.SpikingRectifiedLinear(amplitude)``."""
        return nengo.SpikingRectifiedLinear(amplitude=self.amplitude)

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
    mode.  Its Nengo form is :class:`NengoParabola`; its spiking counterpart
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

    def to_nengo(self):
        """:class:`NengoParabola` with the same amplitude."""
        return NengoParabola(amplitude=self.amplitude)


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


class NengoParabola(nengo.neurons.NeuronType):
    """Nengo form of :class:`Parabola`: ``amplitude * max(J, 0)**2``, a rate type.

    Runs in ``nengo.Simulator`` (and under ``nengo.RegularSpiking``) like
    any built-in rate type.
    """

    negative = False
    spiking = False

    amplitude = NumberParam("amplitude", low=0, low_open=True)

    def __init__(self, amplitude=1.0, initial_state=None):
        super().__init__(initial_state)
        self.amplitude = amplitude

    def gain_bias(self, max_rates, intercepts):
        """As :meth:`Parabola.gain_bias`."""
        return _parabola_gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """As :meth:`Parabola.max_rates_intercepts`."""
        return _parabola_max_rates_intercepts(gain, bias)

    def step(self, dt, J, output):
        """``output = amplitude * max(J, 0)**2``."""
        output[...] = self.amplitude * np.maximum(J, 0.0) ** 2


# -------------------------------------------------------------------- biophysical models


def _settled_rates(neuron: NeuronType, J, state: dict, dt: float, settle_time: float,
                   sim_time: float) -> np.ndarray:
    """Mean output over ``sim_time`` after ``settle_time`` (Nengo's ``settled_firingrate``)."""
    J = np.asarray(J, dtype=float)
    total = np.zeros_like(J)
    state = {k: np.broadcast_to(v, J.shape).astype(float) for k, v in state.items()}
    for _ in range(int(settle_time / dt)):
        state, _ = neuron.step(state, J, dt)
    steps = int(sim_time / dt)
    for _ in range(steps):
        state, out = neuron.step(state, J, dt)
        total += out
    return total / float(steps)


@dataclass(frozen=True)
class Izhikevich(NeuronType):
    """Izhikevich's simple model, exactly ``nengo.Izhikevich``.

    ``v`` in mV and ``u`` follow Izhikevich's equations (time in ms, so
    derivatives are scaled by 1000 for ``dt`` in seconds), integrated by
    forward Euler; a spike at ``v >= 30`` resets ``v`` to ``reset_voltage``
    *before* ``u`` is updated (Nengo's order), then ``u += reset_recovery``.
    ``J`` is clipped below at -30.  Output ``1/dt`` per spike (no amplitude,
    as Nengo).  :meth:`rates` simulates for 1 s with NumPy, as Nengo does.
    """

    tau_recovery: float = 0.02
    coupling: float = 0.2
    reset_voltage: float = -65.0
    reset_recovery: float = 8.0

    spiking: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("voltage", "recovery")
    _bounds: ClassVar = {"tau_recovery": (0.0, True, None), "coupling": (0.0, False, None)}

    def rates(self, J, xp=np):
        """Simulated (NumPy) steady-state rates: Nengo's procedure, 1 ms settle + 1 s."""
        J = np.asarray(J, dtype=float)
        zeros = np.zeros_like(J)
        return _settled_rates(self, J, {"voltage": zeros, "recovery": zeros}, 0.001, 0.001, 1.0)

    def _state_dists(self):
        # Nengo's defaults (a voltage in [0, 1) mV is far from rest, but it
        # is what nengo.Izhikevich starts from).
        return (("voltage", 0.0, 1.0), ("recovery", 0.0, 0.0))

    def step(self, state, J, dt, xp=np, noise=None):
        """Nengo's ``Izhikevich.step``."""
        dt = _check_dt(dt)
        voltage, recovery = state["voltage"], state["recovery"]
        # Nengo clips very negative inputs, which make the Euler step unstable.
        J = xp.maximum(-30.0, _as_float(J, xp))
        dV = (0.04 * voltage**2 + 5 * voltage + 140 - recovery + J) * 1000
        voltage = voltage + dV * dt
        spiked = voltage >= 30
        output = spiked / dt
        voltage = xp.where(spiked, self.reset_voltage, voltage)
        dU = (self.tau_recovery * (self.coupling * voltage - recovery)) * 1000
        recovery = recovery + dU * dt
        recovery = xp.where(spiked, recovery + self.reset_recovery, recovery)
        return {"voltage": voltage, "recovery": recovery}, output

    def to_nengo(self):
        """``nengo.Izhikevich(...)`` with the same parameters."""
        return nengo.Izhikevich(tau_recovery=self.tau_recovery, coupling=self.coupling,
                                reset_voltage=self.reset_voltage, reset_recovery=self.reset_recovery)


@dataclass(frozen=True)
class AdEx(NeuronType):
    """Adaptive exponential integrate-and-fire (Brette & Gerstner 2005), forward Euler.

    ::

        C dV/dt = -g_L (V - E_L) + g_L delta_T exp((V - V_T)/delta_T) + J - w
        tau_w dw/dt = a (V - E_L) - w
        if V > V_peak:  V = V_reset,  w += b

    Units form one consistent set: mV, ms, nA, nF, uS (uS * mV = nA,
    nA / nF = mV/ms), so ``J`` is in nA; the step's ``dt`` is in seconds as
    everywhere else and is converted to ms.  Defaults are the paper's
    regular-spiking cell (C = 281 pF, g_L = 30 nS, E_L = -70.6 mV,
    V_T = -50.4 mV, delta_T = 2 mV, tau_w = 144 ms, a = 4 nS, b = 0.0805 nA,
    V_reset = E_L, V_peak = 20 mV); its rheobase is about 0.5 nA.

    Each step is one plain forward-Euler update of both variables from the
    old values, then threshold and reset, which is what Brian2's
    ``method='euler'`` with ``threshold='V > V_peak'`` and
    ``reset='V = V_reset; w += b'`` does (same spike steps up to rounding;
    use dt of about 0.1 ms).  State: ``voltage`` (mV) and ``adaptation`` (w,
    nA).  Without ``rng`` the voltage starts at ``E_L``; with one, uniform in
    ``[E_L, V_T)`` (by analogy with Nengo's LIF).  :meth:`rates` simulates
    (NumPy, dt 0.1 ms, 1 s settling then 1 s counted) and
    :meth:`gain_bias` is Nengo's numerical search over it (a few seconds).
    """

    C: float = 0.281
    g_L: float = 0.030
    E_L: float = -70.6
    V_T: float = -50.4
    delta_T: float = 2.0
    tau_w: float = 144.0
    a: float = 0.004
    b: float = 0.0805
    V_reset: float = -70.6
    V_peak: float = 20.0
    amplitude: float = 1.0

    spiking: ClassVar[bool] = True
    state_names: ClassVar[tuple[str, ...]] = ("voltage", "adaptation")
    _bounds: ClassVar = {"C": (0.0, True, None), "g_L": (0.0, True, None),
                         "delta_T": (0.0, True, None), "tau_w": (0.0, True, None),
                         "amplitude": (0.0, True, None)}

    #: Integration step (s) and durations (s) used by :meth:`rates`.
    rate_dt: ClassVar[float] = 1e-4
    rate_settle_time: ClassVar[float] = 1.0
    rate_sim_time: ClassVar[float] = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.V_peak > self.V_T:
            raise ConstantError(f"AdEx: V_peak ({self.V_peak:g}) must be above V_T ({self.V_T:g})")

    def rates(self, J, xp=np):
        """Simulated (NumPy) steady-state rate including adaptation, times ``amplitude``."""
        J = np.asarray(J, dtype=float)
        dt_ms = self.rate_dt * 1000.0
        v = np.full_like(J, self.E_L)
        w = np.zeros_like(J)
        count = np.zeros_like(J)
        settle = int(self.rate_settle_time / self.rate_dt)
        steps = int(self.rate_sim_time / self.rate_dt)
        # step()'s equations, updated in place: this loop runs 20000 times and
        # the functional step costs several times more per call.
        for i in range(settle + steps):
            dv = np.exp((v - self.V_T) / self.delta_T)
            dv *= self.g_L * self.delta_T
            dv += self.g_L * (self.E_L - v) + J - w
            dw = self.a * (v - self.E_L) - w
            v += (dt_ms / self.C) * dv
            w += (dt_ms / self.tau_w) * dw
            spiked = v > self.V_peak
            v[spiked] = self.V_reset
            w[spiked] += self.b
            if i >= settle:
                count += spiked
        return count * (self.amplitude / self.rate_sim_time)

    def _state_dists(self):
        return (("voltage", self.E_L, self.V_T), ("adaptation", 0.0, 0.0))

    def integrate(self, v, w, J, dt: float, xp=np, upswing: Any = None):
        """One forward-Euler step of ``(v, w)``, before threshold and reset.

        ``upswing``, if given, is applied to the exponential term
        ``exp((v - V_T) / delta_T)`` as ``upswing(v, term)`` (the surrogate-
        gradient step detaches its slope above ``V_T``); values are unchanged.
        """
        dt_ms = dt * 1000.0
        term = xp.exp((v - self.V_T) / self.delta_T)
        if upswing is not None:
            term = upswing(v, term)
        dv = (self.g_L * (self.E_L - v) + self.g_L * self.delta_T * term + J - w) / self.C
        dw = (self.a * (v - self.E_L) - w) / self.tau_w
        return v + dt_ms * dv, w + dt_ms * dw

    def step(self, state, J, dt, xp=np, noise=None):
        """One forward-Euler step (:meth:`integrate`), then threshold and reset."""
        dt = _check_dt(dt)
        v, w = self.integrate(state["voltage"], state["adaptation"], _as_float(J, xp), dt, xp)
        spiked = v > self.V_peak
        v = xp.where(spiked, self.V_reset, v)
        w = xp.where(spiked, w + self.b, w)
        return {"voltage": v, "adaptation": w}, spiked * (self.amplitude / dt)

    def to_nengo(self):
        """:class:`NengoAdEx` with the same parameters."""
        return NengoAdEx(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})


class NengoAdEx(nengo.neurons.NeuronType):
    """Nengo form of :class:`AdEx`, so AdEx populations run in ``nengo.Simulator``.

    Parameters and units as :class:`AdEx`; the step calls :meth:`AdEx.step`.
    """

    negative = False
    spiking = True

    C = NumberParam("C", low=0, low_open=True)
    g_L = NumberParam("g_L", low=0, low_open=True)
    E_L = NumberParam("E_L")
    V_T = NumberParam("V_T")
    delta_T = NumberParam("delta_T", low=0, low_open=True)
    tau_w = NumberParam("tau_w", low=0, low_open=True)
    a = NumberParam("a")
    b = NumberParam("b")
    V_reset = NumberParam("V_reset")
    V_peak = NumberParam("V_peak")
    amplitude = NumberParam("amplitude", low=0, low_open=True)

    def __init__(self, C=0.281, g_L=0.030, E_L=-70.6, V_T=-50.4, delta_T=2.0, tau_w=144.0,
                 a=0.004, b=0.0805, V_reset=-70.6, V_peak=20.0, amplitude=1.0, initial_state=None):
        # Per instance: the default voltage range depends on E_L and V_T.
        self.state = {"voltage": Uniform(E_L, V_T), "adaptation": Choice([0.0])}
        super().__init__(initial_state)
        self.C, self.g_L, self.E_L, self.V_T, self.delta_T = C, g_L, E_L, V_T, delta_T
        self.tau_w, self.a, self.b, self.V_reset, self.V_peak = tau_w, a, b, V_reset, V_peak
        self.amplitude = amplitude

    def _spikec(self) -> AdEx:
        # Cached: step() runs every time step, and parameters are frozen.
        cached = self.__dict__.get("_spikec_type")
        if cached is None:
            cached = AdEx(self.C, self.g_L, self.E_L, self.V_T, self.delta_T, self.tau_w, self.a,
                          self.b, self.V_reset, self.V_peak, self.amplitude)
            self.__dict__["_spikec_type"] = cached
        return cached

    def rates(self, x, gain, bias):
        """As :meth:`AdEx.rates` for ``J = gain * x + bias``."""
        return self._spikec().rates(self.current(x, gain, bias))

    def step(self, dt, J, output, voltage, adaptation):
        """:meth:`AdEx.step`, written into Nengo's signals."""
        state, out = self._spikec().step({"voltage": voltage, "adaptation": adaptation}, J, dt)
        voltage[...] = state["voltage"]
        adaptation[...] = state["adaptation"]
        output[...] = out


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
    _nengo_wrapper: ClassVar[type]

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

    def to_nengo(self):
        """The matching nengo wrapper around ``base.to_nengo()``."""
        return self._nengo_wrapper(self.base.to_nengo(), amplitude=self.amplitude)

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

    _nengo_wrapper: ClassVar[type] = nengo.RegularSpiking

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
    _nengo_wrapper: ClassVar[type] = nengo.PoissonSpiking

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


# ------------------------------------------------------------------------------ conversion


_ACCEPTED = (
    "a spikec neuron type (LIF, LIFRate, AdaptiveLIF, AdaptiveLIFRate, RectifiedLinear, "
    "SpikingRectifiedLinear, Parabola, SoftLIFRate, Izhikevich, AdEx, RegularSpiking, "
    "PoissonSpiking) or a nengo neuron type instance (nengo.LIF, LIFRate, AdaptiveLIF, "
    "AdaptiveLIFRate, RectifiedLinear, SpikingRectifiedLinear, Izhikevich, "
    "RegularSpiking(...), PoissonSpiking(...), nengo_dl.SoftLIFRate, spikec's "
    "NengoParabola or NengoAdEx)"
)


def as_neuron_type(obj) -> NeuronType:
    """Normalise what a user passed as a neuron type.

    A spikec :class:`NeuronType` is returned as is; an instance of a Nengo
    neuron type listed in the error message becomes its spikec equivalent
    (matched by exact class: a subclass may change the model).  Anything
    else, a Nengo type with ``initial_state`` set (the netlist carries
    initial states separately), or a class instead of an instance raises
    :class:`~spikec.errors.ConstantError` naming what is accepted.
    """
    if isinstance(obj, NeuronType):
        return obj
    if isinstance(obj, type) and issubclass(obj, (NeuronType, nengo.neurons.NeuronType)):
        raise ConstantError(f"got the class {obj.__name__}, not a neuron type instance",
                            hint=f"write {obj.__name__}()")
    if isinstance(obj, nengo.neurons.NeuronType):
        if obj.initial_state:
            raise ConstantError(
                f"cannot convert {obj!r}: spikec neuron types do not carry initial_state",
                hint="drop initial_state; populations draw their initial state from the seed",
            )
        converted = _from_nengo(obj)
        if converted is not None:
            return converted
        raise ConstantError(f"spikec has no equivalent of the nengo neuron type {obj!r}",
                            hint=f"pass {_ACCEPTED}")
    raise ConstantError(f"cannot use {obj!r} (of type {type(obj).__name__}) as a neuron type",
                        hint=f"pass {_ACCEPTED}")


def _from_nengo(obj) -> NeuronType | None:
    """The spikec equivalent of a Nengo neuron type, or None if there is none."""
    nn = nengo.neurons
    t = type(obj)
    if t is nn.LIF:
        return LIF(obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)
    if t is nn.LIFRate:
        return LIFRate(obj.tau_rc, obj.tau_ref, obj.amplitude)
    if t is nn.AdaptiveLIF:
        return AdaptiveLIF(obj.tau_n, obj.inc_n, obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)
    if t is nn.AdaptiveLIFRate:
        return AdaptiveLIFRate(obj.tau_n, obj.inc_n, obj.tau_rc, obj.tau_ref, obj.amplitude)
    if t is nn.RectifiedLinear:
        return RectifiedLinear(obj.amplitude)
    if t is nn.SpikingRectifiedLinear:
        return SpikingRectifiedLinear(obj.amplitude)
    if t is nn.Izhikevich:
        return Izhikevich(obj.tau_recovery, obj.coupling, obj.reset_voltage, obj.reset_recovery)
    if t is nn.RegularSpiking:
        return RegularSpiking(as_neuron_type(obj.base_type), obj.amplitude)
    if t is nn.PoissonSpiking:
        return PoissonSpiking(as_neuron_type(obj.base_type), obj.amplitude)
    if t is NengoParabola:
        return Parabola(obj.amplitude)
    if t is NengoAdEx:
        return obj._spikec()
    if t is NengoRefractoryLIF:
        return RefractoryLIF(obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)
    # Recognised by name so that converting never imports NengoDL (slow).
    if t.__name__ == "SoftLIFRate" and t.__module__.split(".")[0] == "nengo_dl":
        return SoftLIFRate(obj.sigma, obj.tau_rc, obj.tau_ref, obj.amplitude)
    return None
