"""What every neuron model shares: :class:`NeuronType`, parameters as data, and small helpers.

A new model subclasses :class:`NeuronType` in a file of its own (see
``spikec/models/neurons/__init__.py`` for the conventions every step follows).
"""

from __future__ import annotations

import abc
import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spikec.errors import ConstantError
from spikec.util.checks import format_float as _fmt

__all__ = ["NeuronType", "bind_parameters", "neuron_parameters"]


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
    # The nengo form of a type is not a method: the nengo back end keeps a table of adapters
    # (spikec.backends.nengo.neurons.nengo_adapter), so the models never import a back end.

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
        # Imported here: the wrappers subclass NeuronType, so this module cannot import them first.
        from spikec.models.neurons.wrappers import RegularSpiking

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


