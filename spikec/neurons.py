"""``spikec.neurons``: the neuron models, and the explicit neuron layer when called.

Users write both ``spikec.neurons.LIF`` (``import spikec.neurons``) and
``spikec.neurons(x, spikec.LIF(amplitude=0.01), gain=1.0, bias=0.0)``.  The
models live in :mod:`spikec.models.neurons`; this module re-exports them and
makes itself callable (a module cannot define ``__call__``, so its class is
swapped for a :class:`types.ModuleType` subclass that adds one) so that one
name serves both spellings.  The layer itself is :func:`spikec.neuron_layer`.
"""

import sys
import types

from spikec.models.neurons import *  # noqa: F403
from spikec.models.neurons import __all__  # noqa: F401
from spikec.trace import neurons as _neuron_layer


class _CallableModule(types.ModuleType):
    def __call__(self, x, neuron_type, gain=1.0, bias=0.0):
        return _neuron_layer(x, neuron_type, gain, bias)

    __call__.__doc__ = _neuron_layer.__doc__


sys.modules[__name__].__class__ = _CallableModule
