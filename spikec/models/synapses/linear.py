"""Linear time-invariant synapses: :class:`LinearFilter` and the named filters
:class:`Lowpass`, :class:`Alpha`, :class:`DoubleExp` and :class:`Integrator`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy
import numpy as np

from spikec.errors import ConstantError
from spikec.models.synapses.base import Synapse, _filled, _fmt_tuple, _positive, _zeros
from spikec.util.checks import check_dt as _check_dt
from spikec.util.checks import format_float as _fmt

__all__ = ["Alpha", "DoubleExp", "Integrator", "LinearFilter", "Lowpass"]


class _SS(NamedTuple):
    """A state-space system ``(A, B, C, D)`` with read-only NumPy float64 parts.

    ``A`` is ``(order, order)``, ``B`` is ``(order,)``, ``C`` is ``(order,)``
    and ``D`` a float: the filters are single-input single-output and act
    elementwise on the signal.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: float


def _frozen(a) -> np.ndarray:
    # The cached matrices are shared by every caller: make accidental
    # in-place edits fail loudly instead of corrupting later steps.
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=1024)
def _base_ss(filt: LinearFilter) -> _SS:
    """The filter's state space before discretization (cached per filter)."""
    from nengo.utils.filter_design import tf2ss  # here: importing nengo is slow; lowering only

    A, B, C, D = tf2ss(np.asarray(filt.num), np.asarray(filt.den))
    order = len(A)
    if order == 0:
        # tf2ss returns 1-D empties for a pure gain; give them real shapes.
        empty = _frozen(np.zeros(0))
        return _SS(_frozen(np.zeros((0, 0))), empty, empty, float(np.asarray(D).item()))
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64).reshape(order)
    C = np.asarray(C, dtype=np.float64).reshape(order)
    D = float(np.asarray(D).item())
    if order == 1 and D == 0 and C[0] != 0:
        # Change coordinates so that the single state *is* the output (as
        # Nengo's OneX step does): a Lowpass's state then reads directly as
        # its value, and the step needs no output multiply.
        B, C = B * C[0], np.ones(1)
    return _SS(_frozen(A), _frozen(B), _frozen(C), D)


@functools.lru_cache(maxsize=1024)
def _discrete_ss(filt: LinearFilter, dt: float) -> _SS:
    """Zero-order-hold discretization, cached per (filter, dt).

    The step runs every time step, so the matrix exponential must not.
    """
    ss = _base_ss(filt)
    if not filt.analog or len(ss.A) == 0:
        # Already discrete, or stateless: nothing to discretize (as Nengo).
        return ss
    from nengo.utils.filter_design import cont2discrete  # here: importing nengo is slow

    A, B, C, D, _ = cont2discrete(
        (ss.A, ss.B[:, None], ss.C[None, :], np.array([ss.D])), dt, method="zoh"
    )
    order = len(ss.A)
    return _SS(
        _frozen(A),
        _frozen(np.reshape(B, order)),
        _frozen(np.reshape(C, order)),
        float(np.asarray(D).item()),
    )


@functools.lru_cache(maxsize=1024)
def _init_coefficients(filt: LinearFilter) -> np.ndarray:
    """State per unit of initial output: the state for output ``x0`` is ``coef * x0``.

    Computed from the undiscretized system: zero-order hold
    preserves equilibria, so the answer does not depend on dt.
    """
    ss = _base_ss(filt)
    order = len(ss.A)
    if order == 0:
        return _frozen(np.zeros(0))
    # Equilibrium under constant input u0: A x + B u0 = 0 (continuous) or
    # x = A x + B u0 (discrete).
    M = -ss.A if filt.analog else np.eye(order) - ss.A
    if np.linalg.cond(M) < 1e12:
        x_per_u = np.linalg.solve(M, ss.B)
        dc_gain = float(ss.C @ x_per_u) + ss.D
        if abs(dc_gain) > 1e-8:
            return _frozen(x_per_u / dc_gain)
    # No usable equilibrium (an integrator, or zero DC gain): take the
    # smallest state whose output is x0; it holds while the input is zero.
    if ss.D != 0 or not np.any(ss.C):
        return _frozen(np.zeros(order))
    return _frozen(ss.C / float(ss.C @ ss.C))


def _lead_shape(order: int, ndim: int) -> tuple[int, ...]:
    """Shape that broadcasts an ``(order,)`` vector over ``(order, *signal)``."""
    return (order,) + (1,) * ndim


@dataclass(frozen=True)
class LinearFilter(Synapse):
    """General linear time-invariant filter with transfer function ``num/den``.

    Parameters
    ----------
    num, den
        Polynomial coefficients in ``s`` (highest power first), or in ``z``
        when ``analog`` is False.  Stored as tuples of floats with leading
        zeros removed, so equal filters compare equal.
    analog
        True for a continuous-time transfer function, discretized with
        zero-order hold at the simulator's dt exactly as
        ``nengo.LinearFilter(num, den, method="zoh")`` does; False for one
        already in discrete time.

    The state is ``(X,)`` for strictly proper filters and ``(X, Y)`` when
    there is a pass-through term (``len(num) == len(den)``), where ``X`` has
    shape ``(order, *signal_shape)`` and ``Y`` is the last output.
    """

    num: tuple[float, ...]
    den: tuple[float, ...]
    analog: bool = True

    def __post_init__(self):
        object.__setattr__(self, "num", self._coefficients("num", self.num))
        object.__setattr__(self, "den", self._coefficients("den", self.den))
        object.__setattr__(self, "analog", bool(self.analog))
        for name in ("num", "den"):
            if all(c == 0 for c in getattr(self, name)):
                raise ConstantError(
                    f"LinearFilter: {name} must not be all zeros, got {getattr(self, name)}"
                )
        if len(self.num) > len(self.den):
            raise ConstantError(
                f"LinearFilter: improper transfer function, num {self.num} is longer "
                f"than den {self.den}",
                hint="a synapse needs len(num) <= len(den)",
            )

    @staticmethod
    def _coefficients(name, values) -> tuple[float, ...]:
        try:
            arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ConstantError(
                f"LinearFilter: {name} must be a sequence of numbers, got {values!r}"
            ) from exc
        if arr.ndim != 1 or arr.size == 0:
            raise ConstantError(
                f"LinearFilter: {name} must be a non-empty 1-D sequence, got {values!r}"
            )
        if not np.all(np.isfinite(arr)):
            raise ConstantError(f"LinearFilter: {name} must be finite, got {values!r}")
        nonzero = np.flatnonzero(arr)
        # Leading zeros change nothing but equality (and trip a warning in
        # nengo's normalize), so drop them; keep one for the zero polynomial.
        arr = arr[nonzero[0]:] if nonzero.size else arr[-1:]
        return tuple(float(v) for v in arr)

    @property
    def order(self) -> int:
        """Number of state variables per signal element."""
        return len(_base_ss(self).A)

    @property
    def has_passthrough(self) -> bool:
        """Whether the input reaches the output within the same step (D != 0)."""
        return _base_ss(self).D != 0

    def discretize(self, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The discrete system ``(A, B, C, D)`` this filter steps with at ``dt``.

        ``A`` is ``(order, order)``, ``B`` and ``C`` are ``(order,)``, ``D`` a
        float; cached per ``(self, dt)`` and read-only.  Back ends that
        compile their own loop can use this instead of :meth:`step`.
        """
        return tuple(_discrete_ss(self, _check_dt(dt)))

    @property
    def is_linear(self) -> bool:
        """Always True: a linear filter."""
        return True

    def init_state(self, shape, x0=None, xp=numpy):
        """State whose output is ``x0`` (0 if None).

        With unit DC gain this is the steady state under constant input
        ``x0``; with another nonzero DC gain ``g`` it is the steady state
        under input ``x0 / g`` (as Nengo's ``make_state(y0=...)``).  When no
        equilibrium gives ``x0`` (an integrator, zero DC gain) the state
        still outputs ``x0`` and holds it while the input is zero.
        """
        shape = tuple(shape)
        ss = _base_ss(self)
        order = len(ss.A)
        X = _zeros((order,) + shape, xp)
        if x0 is not None and order > 0:
            coef = _init_coefficients(self).reshape(_lead_shape(order, len(shape)))
            X = X + xp.asarray(coef) * xp.asarray(x0)
        if ss.D == 0:
            return (X,)
        return (X, _filled(shape, x0, xp))

    def output(self, state):
        """The filtered value held in ``state``."""
        if len(state) == 2:
            return state[1]
        X = state[0]
        ss = _base_ss(self)
        if len(ss.C) == 1 and ss.C[0] == 1.0:
            return X[0]
        # Contract the leading (order) axis; constants are NumPy, so this
        # works for both NumPy and JAX arrays.
        return (X * ss.C.reshape(_lead_shape(len(ss.C), X.ndim - 1))).sum(axis=0)

    def step(self, state, u, dt: float, xp=numpy):
        """One zero-order-hold step; ``y`` includes ``u`` (Nengo's convention)."""
        A, B, C, D = _discrete_ss(self, _check_dt(dt))
        X = state[0]
        order = len(A)
        u = xp.asarray(u)
        if order == 0:
            # A pure gain has no memory: only the pass-through acts.
            y = D * u
            return ((X, y) if len(state) == 2 else (X,)), y
        if order == 1:
            # Scalar coefficients as Python floats: cheapest on NumPy, and
            # weakly typed under JAX so float32 signals stay float32.
            a, b, c = float(A[0, 0]), float(B[0]), float(C[0])
            if D == 0:
                X_new = a * X + b * u
                return (X_new,), (X_new[0] if c == 1.0 else c * X_new[0])
            y = c * X[0] + D * u
            return (a * X + b * u, y), y
        # Flatten the signal axes so one small matmul does the update
        # (several times faster than tensordot on NumPy); the sizes are
        # static shapes, so this is fine under jit.
        shape = tuple(X.shape[1:])
        size = math.prod(shape)
        X2 = X.reshape((order, size))
        u2 = xp.broadcast_to(u, shape).reshape((1, size))  # tolerate a scalar u
        A_, B_, C_ = xp.asarray(A), xp.asarray(B[:, None]), xp.asarray(C[None, :])
        X2_new = xp.matmul(A_, X2) + B_ * u2
        if D == 0:
            # Nengo's NoD: advance with u[k] first, then read out, so there
            # is no needless one-step delay.
            # Read out exactly as output() does, so y == output(new_state) to the last bit.
            new_state = (X2_new.reshape(X.shape),)
            return new_state, self.output(new_state)
        # Nengo's General: read out from the old state plus pass-through.
        y = xp.matmul(C_, X2).reshape(shape) + D * u
        return (X2_new.reshape(X.shape), y), y

    def integrand_input(self, fx, x):
        """Input that makes the output follow ``dx/dt = f(x)``.

        Defined for first-order, strictly proper analog filters
        ``k / (a s + b)``: the input is ``(a/k) f(x) + (b/k) x``, i.e.
        ``tau*f(x) + x`` for ``Lowpass(tau)`` and ``f(x)`` for
        ``Integrator()``.  Higher orders need derivatives of ``f``, which a
        recurrence cannot supply.
        """
        if not self.analog or self.order != 1 or self.has_passthrough:
            return super().integrand_input(fx, x)
        # Strictly proper first order: num == (k,), den == (a, b), and the
        # output x obeys a x' + b x = k input.
        (k,), (a, b) = self.num, self.den
        if k == 0:
            return super().integrand_input(fx, x)
        return _affine(a / k, fx, b / k, x)

    def to_nengo(self):
        """The equal ``nengo.LinearFilter`` (zero-order hold)."""
        import nengo

        return nengo.LinearFilter(list(self.num), list(self.den), analog=self.analog)

    def label(self) -> str:
        """``LinearFilter(num=(...), den=(...))``."""
        tail = "" if self.analog else ", analog=False"
        return f"LinearFilter(num={_fmt_tuple(self.num)}, den={_fmt_tuple(self.den)}{tail})"


def _affine(cf, fx, cx, x):
    """``cf*fx + cx*x`` built with as few tracer ops as possible.

    Unit and zero coefficients are skipped so a traced integrate gets no
    pointless scale or add nodes.
    """
    terms = []
    for coef, val in ((cf, fx), (cx, x)):
        if coef == 0:
            continue
        terms.append(val if coef == 1 else coef * val)
    if not terms:
        return 0.0 * fx
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


# The subclasses below fix num/den from their own parameters: those fields
# are recomputed in __post_init__ and left out of __init__, repr, eq and
# hash, so Lowpass(0.005) == Lowpass(0.005) but != LinearFilter((1,), (0.005, 1)).
def _derived(default=None):
    return field(init=False, repr=False, compare=False, default=default)


@dataclass(frozen=True)
class Lowpass(LinearFilter):
    """First-order lowpass ``1 / (tau s + 1)``; impulse response ``exp(-t/tau)/tau``.

    Identical to ``nengo.Lowpass(tau)``.  ``tau`` must be positive (use
    ``synapse=None`` for no filtering).
    """

    tau: float
    num: tuple[float, ...] = _derived()
    den: tuple[float, ...] = _derived()
    analog: bool = _derived(True)

    def __post_init__(self):
        tau = _positive("tau", self.tau, "Lowpass")
        object.__setattr__(self, "tau", tau)
        object.__setattr__(self, "num", (1.0,))
        object.__setattr__(self, "den", (tau, 1.0))

    def integrand_input(self, fx, x):
        """``tau*f(x) + x``: the NEF mapping of ``dx/dt = f(x)`` onto a lowpass."""
        return self.tau * fx + x

    def to_nengo(self):
        """``nengo.Lowpass(tau)``."""
        import nengo

        return nengo.Lowpass(self.tau)

    def label(self) -> str:
        """``Lowpass(tau=...)``."""
        return f"Lowpass(tau={_fmt(self.tau)})"


@dataclass(frozen=True)
class Alpha(LinearFilter):
    """Alpha synapse ``1 / (tau s + 1)^2``; impulse response ``t exp(-t/tau)/tau^2``.

    Identical to ``nengo.Alpha(tau)``.
    """

    tau: float
    num: tuple[float, ...] = _derived()
    den: tuple[float, ...] = _derived()
    analog: bool = _derived(True)

    def __post_init__(self):
        tau = _positive("tau", self.tau, "Alpha")
        object.__setattr__(self, "tau", tau)
        object.__setattr__(self, "num", (1.0,))
        # Same coefficients, in the same order, as nengo.Alpha.
        object.__setattr__(self, "den", (tau**2, 2 * tau, 1.0))

    def to_nengo(self):
        """``nengo.Alpha(tau)``."""
        import nengo

        return nengo.Alpha(self.tau)

    def label(self) -> str:
        """``Alpha(tau=...)``."""
        return f"Alpha(tau={_fmt(self.tau)})"


@dataclass(frozen=True)
class DoubleExp(LinearFilter):
    """Double exponential ``1 / ((tau_rise s + 1)(tau_decay s + 1))``, unit DC gain.

    Nengo 4.1 has no ``DoubleExp`` class, so :meth:`to_nengo` returns the
    equal ``nengo.LinearFilter``.  ``tau_rise == tau_decay`` is an Alpha.
    """

    tau_rise: float
    tau_decay: float
    num: tuple[float, ...] = _derived()
    den: tuple[float, ...] = _derived()
    analog: bool = _derived(True)

    def __post_init__(self):
        tr = _positive("tau_rise", self.tau_rise, "DoubleExp")
        td = _positive("tau_decay", self.tau_decay, "DoubleExp")
        object.__setattr__(self, "tau_rise", tr)
        object.__setattr__(self, "tau_decay", td)
        object.__setattr__(self, "num", (1.0,))
        object.__setattr__(self, "den", (tr * td, tr + td, 1.0))

    def to_nengo(self):
        """``nengo.LinearFilter([1], [tau_rise*tau_decay, tau_rise+tau_decay, 1])``."""
        import nengo

        return nengo.LinearFilter(list(self.num), list(self.den))

    def label(self) -> str:
        """``DoubleExp(tau_rise=..., tau_decay=...)``."""
        return f"DoubleExp(tau_rise={_fmt(self.tau_rise)}, tau_decay={_fmt(self.tau_decay)})"


@dataclass(frozen=True)
class Integrator(LinearFilter):
    """Integrator ``1/s``: each step adds ``u * dt`` to the output.

    Identical to ``nengo.LinearFilter([1], [1, 0])`` (zero-order hold of
    ``1/s`` is exactly forward Euler), which is also what Gyrus's
    ``integrate`` uses.  ``init_state(x0=...)`` starts the output at ``x0``.
    """

    num: tuple[float, ...] = _derived()
    den: tuple[float, ...] = _derived()
    analog: bool = _derived(True)

    def __post_init__(self):
        object.__setattr__(self, "num", (1.0,))
        object.__setattr__(self, "den", (1.0, 0.0))

    def integrand_input(self, fx, x):
        """``f(x)`` itself: an integrator already computes ``x = ∫ f(x) dt``."""
        return fx

    def to_nengo(self):
        """``nengo.LinearFilter([1], [1, 0])``."""
        import nengo

        return nengo.LinearFilter([1], [1, 0])

    def label(self) -> str:
        """``Integrator``."""
        return "Integrator"


