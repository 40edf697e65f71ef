"""Synapses: the only way time enters a spikec program.

Every stateful op (``spikec.filter``, ``spikec.integrate``, ``spikec.lti``)
holds one of these objects, and every back end (the NumPy reference
simulator, the JAX simulator, Nengo) reads the *same* object.  So each
synapse is a frozen, hashable dataclass (it can sit inside a frozen IR node
and key caches) with a *functional* step written against an array module
``xp`` (``numpy`` or ``jax.numpy``): no in-place updates, and no Python
control flow on array values, so that the step traces under ``jax.jit``.

Timing convention (identical to Nengo's, see ``tests/test_synapses.py``)
-----------------------------------------------------------------------
``step(state, u[k], dt)`` returns ``y[k]``, which already includes ``u[k]``:
for a strictly proper filter (Lowpass, Alpha, DoubleExp, Integrator) this is
Nengo's ``LinearFilter.NoD`` step ``x[k] = A x[k-1] + B u[k]; y[k] = C x[k]``;
with a pass-through term it is Nengo's ``General`` step
``y[k] = C x[k] + D u[k]; x[k+1] = A x[k] + B u[k]``.  Inside a
``nengo.Simulator`` the synapse runs as an *update* operator, so the filtered
value that consumers and probes see at simulator step ``k`` is ``y[k-1]``
(and the initial output at step 0): a connection with a synapse delays its
signal by exactly one step, a connection without one does not.

A linear filter's state is a tuple of arrays whose first array has shape
``(order, *signal_shape)``.  Discretization uses zero-order hold through
Nengo's own ``tf2ss``/``cont2discrete``, so the numbers agree with Nengo's to
rounding.

The package holds one file per part: :mod:`.base` (:class:`Synapse`),
:mod:`.linear` (:class:`LinearFilter` and the named filters), :mod:`.adam`
and :mod:`.conversion` (:func:`as_synapse`).
"""

from spikec.models.synapses.adam import Adam
from spikec.models.synapses.base import Synapse
from spikec.models.synapses.conversion import as_synapse
from spikec.models.synapses.linear import Alpha, DoubleExp, Integrator, LinearFilter, Lowpass

__all__ = [
    "Adam",
    "Alpha",
    "DoubleExp",
    "Integrator",
    "LinearFilter",
    "Lowpass",
    "Synapse",
    "as_synapse",
]
