"""``Tanh``: a rate unit whose response is a hyperbolic tangent, exactly ``nengo.Tanh``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikec.errors import ConstantError
from spikec.models.neurons.base import NeuronType, _as_float
from spikec.models.neurons.conversion import from_nengo_named

__all__ = ["Tanh"]


@dataclass(frozen=True)
class Tanh(NeuronType):
    """Rate ``tanh(J) / tau_ref``, exactly ``nengo.Tanh``.

    The rate saturates at ``1 / tau_ref`` (Hz) and is negative for negative
    ``J`` (so the type is ``negative``, as in Nengo).  There is no
    ``amplitude`` (Nengo's Tanh has none).  Its spiking counterpart is
    ``RegularSpiking(Tanh())``, which emits negative spikes for negative rates.
    """

    tau_ref: float = 0.0025

    negative: ClassVar[bool] = True
    _bounds: ClassVar = {"tau_ref": (0.0, True, None)}

    def rates(self, J, xp=np):
        """``tanh(J) / tau_ref`` (Nengo's ``Tanh.step``)."""
        return (1.0 / self.tau_ref) * xp.tanh(_as_float(J, xp))

    def gain_bias(self, max_rates, intercepts):
        """Nengo's closed form: ``gain = arctanh(max_rate * tau_ref) / (1 - intercept)``,
        ``bias = -gain * intercept``; raises if a max rate reaches ``1/tau_ref``."""
        max_rates = np.asarray(np.atleast_1d(max_rates), dtype=float)
        intercepts = np.asarray(np.atleast_1d(intercepts), dtype=float)
        inv_tau_ref = 1.0 / self.tau_ref
        if not np.all(max_rates < inv_tau_ref):
            raise ConstantError(
                f"{self.label()}: max rates must be below the inverse refractory period "
                f"({inv_tau_ref:0.3f} Hz), got up to {max_rates.max():g} Hz",
                hint="lower max_rates or tau_ref",
            )
        inverse = np.arctanh(max_rates * self.tau_ref)
        gain = inverse / (1.0 - intercepts)
        bias = -gain * intercepts
        return gain, bias

    def max_rates_intercepts(self, gain, bias):
        """Nengo's closed form, the inverse of :meth:`gain_bias`."""
        gain = np.asarray(gain, dtype=float)
        bias = np.asarray(bias, dtype=float)
        intercepts = -bias / gain
        max_rates = (1.0 / self.tau_ref) * np.tanh(gain + bias)
        return max_rates, intercepts

    def step(self, state, J, dt, xp=np, noise=None):
        """No state: the output is the rate."""
        return {}, self.rates(J, xp)


@from_nengo_named("nengo", "Tanh")
def _from_nengo_tanh(obj) -> Tanh:
    return Tanh(obj.tau_ref)
