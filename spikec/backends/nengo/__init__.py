"""``backend="nengo"``: the netlist as a ``nengo.Network`` on nengo's reference simulator."""

from spikec.backends.nengo.build import to_nengo
from spikec.backends.nengo.run import NengoBackend

__all__ = ["NengoBackend", "to_nengo"]
