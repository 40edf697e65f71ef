"""The nengo form of each spikec neuron type: the table :data:`nengo_adapter`.

``nengo_adapter(neuron_type)`` returns the nengo neuron type that simulates
``neuron_type`` in ``nengo.Simulator`` (the builder of this back end and
NengoDL use it).  Each rule is registered next to the others here with
``@nengo_adapter.register(SpikecType)`` and looked up along the class's MRO,
like nengo's ``Builder.register``: a subclass of a spikec type gets its
base's form unless it registers its own.

Where nengo has no equivalent, this module defines one:
:class:`NengoParabola`, :class:`NengoSymmetricParabola`, :class:`NengoAdEx` and
:class:`NengoRefractoryLIF`.
They also convert back (``as_neuron_type(NengoParabola(2))`` is
``Parabola(2)``): their entries in the conversion table are registered
here, with the classes, so they exist whenever such an object can.
"""

from __future__ import annotations

import dataclasses

import nengo
import numpy as np
from nengo.dists import Choice, Uniform
from nengo.params import NumberParam

from spikec.errors import BackendError
from spikec.models.neurons import (
    LIF,
    AdaptiveLIF,
    AdaptiveLIFRate,
    AdEx,
    Izhikevich,
    LIFRate,
    Parabola,
    PoissonSpiking,
    RectifiedLinear,
    RefractoryLIF,
    RegularSpiking,
    SoftLIFRate,
    SpikingRectifiedLinear,
    SymmetricParabola,
    Tanh,
)
from spikec.models.neurons.conversion import from_nengo
from spikec.util.typetable import TypeTable

__all__ = ["NengoAdEx", "NengoParabola", "NengoRefractoryLIF", "NengoSymmetricParabola", "nengo_adapter"]


def _no_adapter(neuron_type, *args, **kwargs):
    label = neuron_type.label() if hasattr(neuron_type, "label") else repr(neuron_type)
    raise BackendError(f"{label} has no nengo form",
                       hint="register one with @spikec.backends.nengo.neurons.nengo_adapter.register"
                            f"({type(neuron_type).__name__})")


#: spikec neuron type -> ``fn(neuron_type) -> nengo.neurons.NeuronType`` (MRO lookup).
nengo_adapter = TypeTable("nengo adapter", missing=_no_adapter)


# ---------------------------------------------------------------------- nengo's own types


@nengo_adapter.register(LIFRate)
def _lif_rate(t: LIFRate):
    return nengo.LIFRate(tau_rc=t.tau_rc, tau_ref=t.tau_ref, amplitude=t.amplitude)


@nengo_adapter.register(LIF)
def _lif(t: LIF):
    return nengo.LIF(tau_rc=t.tau_rc, tau_ref=t.tau_ref, min_voltage=t.min_voltage, amplitude=t.amplitude)


@nengo_adapter.register(AdaptiveLIFRate)
def _adaptive_lif_rate(t: AdaptiveLIFRate):
    return nengo.AdaptiveLIFRate(tau_n=t.tau_n, inc_n=t.inc_n, tau_rc=t.tau_rc, tau_ref=t.tau_ref,
                                 amplitude=t.amplitude)


@nengo_adapter.register(AdaptiveLIF)
def _adaptive_lif(t: AdaptiveLIF):
    return nengo.AdaptiveLIF(tau_n=t.tau_n, inc_n=t.inc_n, tau_rc=t.tau_rc, tau_ref=t.tau_ref,
                             min_voltage=t.min_voltage, amplitude=t.amplitude)


@nengo_adapter.register(SoftLIFRate)
def _soft_lif_rate(t: SoftLIFRate):
    # Imported here: NengoDL needs TensorFlow (slow, optional) and a compatibility shim.
    from spikec.backends.nengo_dl.compat import import_nengo_dl

    return import_nengo_dl().SoftLIFRate(sigma=t.sigma, tau_rc=t.tau_rc, tau_ref=t.tau_ref, amplitude=t.amplitude)


@nengo_adapter.register(RectifiedLinear)
def _rectified_linear(t: RectifiedLinear):
    return nengo.RectifiedLinear(amplitude=t.amplitude)


@nengo_adapter.register(SpikingRectifiedLinear)
def _spiking_rectified_linear(t: SpikingRectifiedLinear):
    return nengo.SpikingRectifiedLinear(amplitude=t.amplitude)


@nengo_adapter.register(Tanh)
def _tanh(t: Tanh):
    return nengo.Tanh(tau_ref=t.tau_ref)


@nengo_adapter.register(Izhikevich)
def _izhikevich(t: Izhikevich):
    return nengo.Izhikevich(tau_recovery=t.tau_recovery, coupling=t.coupling, reset_voltage=t.reset_voltage,
                            reset_recovery=t.reset_recovery)


@nengo_adapter.register(RegularSpiking)
def _regular_spiking(t: RegularSpiking):
    return nengo.RegularSpiking(nengo_adapter(t.base), amplitude=t.amplitude)


@nengo_adapter.register(PoissonSpiking)
def _poisson_spiking(t: PoissonSpiking):
    return nengo.PoissonSpiking(nengo_adapter(t.base), amplitude=t.amplitude)


# ------------------------------------------------------------------ types nengo lacks


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



@nengo_adapter.register(RefractoryLIF)
def _refractory_lif(t: RefractoryLIF):
    return NengoRefractoryLIF(tau_rc=t.tau_rc, tau_ref=t.tau_ref, min_voltage=t.min_voltage, amplitude=t.amplitude)


@from_nengo.register(NengoRefractoryLIF)
def _from_nengo_refractory_lif(obj: NengoRefractoryLIF) -> RefractoryLIF:
    return RefractoryLIF(obj.tau_rc, obj.tau_ref, obj.min_voltage, obj.amplitude)


class _NengoSquareRate(nengo.neurons.NeuronType):
    """Nengo form of a spikec square-law rate type (``MODEL``): ``amplitude`` and the model's tuning."""

    MODEL: type = Parabola
    negative = False
    spiking = False

    amplitude = NumberParam("amplitude", low=0, low_open=True)

    def __init__(self, amplitude=1.0, initial_state=None):
        super().__init__(initial_state)
        self.amplitude = amplitude

    def gain_bias(self, max_rates, intercepts):
        """As the spikec model's ``gain_bias``."""
        return self.MODEL().gain_bias(max_rates, intercepts)

    def max_rates_intercepts(self, gain, bias):
        """As the spikec model's ``max_rates_intercepts``."""
        return self.MODEL().max_rates_intercepts(gain, bias)


class NengoParabola(_NengoSquareRate):
    """Nengo form of :class:`Parabola`: ``amplitude * max(J, 0)**2``, a rate type.

    Runs in ``nengo.Simulator`` (and under ``nengo.RegularSpiking``) like
    any built-in rate type.
    """

    MODEL = Parabola

    def step(self, dt, J, output):
        """``output = amplitude * max(J, 0)**2``."""
        output[...] = self.amplitude * np.maximum(J, 0.0) ** 2


@nengo_adapter.register(Parabola)
def _parabola(t: Parabola):
    return NengoParabola(amplitude=t.amplitude)


@from_nengo.register(NengoParabola)
def _from_nengo_parabola(obj: NengoParabola) -> Parabola:
    return Parabola(obj.amplitude)


class NengoSymmetricParabola(_NengoSquareRate):
    """Nengo form of :class:`SymmetricParabola`: ``amplitude * J**2`` for either sign of ``J``, a rate type.

    Not a subclass of :class:`NengoParabola`, so that no table keyed by that
    class (NengoDL's TensorFlow builder) rectifies it by inheritance.
    """

    MODEL = SymmetricParabola

    def step(self, dt, J, output):
        """``output = amplitude * J**2``."""
        output[...] = self.amplitude * np.square(J)


@nengo_adapter.register(SymmetricParabola)
def _symmetric_parabola(t: SymmetricParabola):
    return NengoSymmetricParabola(amplitude=t.amplitude)


@from_nengo.register(NengoSymmetricParabola)
def _from_nengo_symmetric_parabola(obj: NengoSymmetricParabola) -> SymmetricParabola:
    return SymmetricParabola(obj.amplitude)


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



@nengo_adapter.register(AdEx)
def _adex(t: AdEx):
    return NengoAdEx(**{f.name: getattr(t, f.name) for f in dataclasses.fields(t)})


@from_nengo.register(NengoAdEx)
def _from_nengo_adex(obj: NengoAdEx) -> AdEx:
    return obj._spikec()
