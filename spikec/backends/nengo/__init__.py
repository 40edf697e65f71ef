"""``backend="nengo"``: the netlist as a ``nengo.Network`` on nengo's reference simulator."""

from spikec.backends.nengo.network import SpikecNetwork, to_nengo
from spikec.backends.nengo.run import NengoBackend

__all__ = ["NengoBackend", "SpikecNetwork", "to_nengo"]
