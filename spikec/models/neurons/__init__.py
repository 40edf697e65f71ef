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
:class:`Tanh`                          ``nengo.Tanh``
:class:`SoftLIFRate`                   ``nengo_dl.SoftLIFRate``
:class:`Parabola`                      ``NengoParabola`` (nengo back end)
:class:`SymmetricParabola`             ``NengoSymmetricParabola`` (nengo back end)
:class:`AdEx`                          ``NengoAdEx`` (nengo back end)
:class:`RefractoryLIF`                 ``NengoRefractoryLIF`` (nengo back end:
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

Layout
------
One file per family (a new type is one new file): :mod:`.base`
(:class:`NeuronType`, parameters as data), :mod:`.lif`, :mod:`.rectified`,
:mod:`.tanh`, :mod:`.biophysical`, :mod:`.wrappers` (rate-to-spike) and
:mod:`.conversion` (:func:`as_neuron_type` and its table ``from_nengo``).
The nengo forms of the types are not here: they are a table in the nengo
back end (:mod:`spikec.backends.nengo.neurons`), so the models never import
a back end.
"""

from spikec.models.neurons.base import NeuronType, bind_parameters, neuron_parameters
from spikec.models.neurons.biophysical import AdEx, Izhikevich
from spikec.models.neurons.conversion import as_neuron_type
from spikec.models.neurons.lif import (
    LIF,
    AdaptiveLIF,
    AdaptiveLIFRate,
    LIFRate,
    RefractoryLIF,
    SoftLIFRate,
    is_refractory,
)
from spikec.models.neurons.rectified import Parabola, RectifiedLinear, SpikingRectifiedLinear, SymmetricParabola
from spikec.models.neurons.tanh import Tanh
from spikec.models.neurons.wrappers import PoissonSpiking, RatesToSpikes, RegularSpiking

__all__ = [
    "LIF",
    "AdEx",
    "AdaptiveLIF",
    "AdaptiveLIFRate",
    "Izhikevich",
    "LIFRate",
    "NeuronType",
    "Parabola",
    "PoissonSpiking",
    "RatesToSpikes",
    "RectifiedLinear",
    "RefractoryLIF",
    "RegularSpiking",
    "SoftLIFRate",
    "SpikingRectifiedLinear",
    "SymmetricParabola",
    "Tanh",
    "as_neuron_type",
    "bind_parameters",
    "is_refractory",
    "neuron_parameters",
]
