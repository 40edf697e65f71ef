"""The netlist: neurons, weights and synapses, the one thing every back end receives.

:mod:`~spikec.netlist.core` holds the objects (populations, sum nodes,
projections, outputs, the :class:`Netlist` itself), :mod:`~spikec.netlist.transforms`
the weight kinds, :mod:`~spikec.netlist.params` trainable-parameter bindings and
:mod:`~spikec.netlist.printer` the listing.
"""

from spikec.netlist.core import *  # noqa: F403
from spikec.netlist.core import __all__  # noqa: F401
