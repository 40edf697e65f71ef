"""Biophysical models simulated by forward Euler: :class:`Izhikevich` and :class:`AdEx`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spikec.errors import ConstantError
from spikec.models.neurons.base import NeuronType, _as_float
from spikec.models.neurons.conversion import from_nengo_named
from spikec.util.checks import check_dt as _check_dt

__all__ = ["AdEx", "Izhikevich"]


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


# ------------------------------------------------------------------------------ from nengo


@from_nengo_named("nengo", "Izhikevich")
def _from_nengo_izhikevich(obj) -> Izhikevich:
    return Izhikevich(obj.tau_recovery, obj.coupling, obj.reset_voltage, obj.reset_recovery)
