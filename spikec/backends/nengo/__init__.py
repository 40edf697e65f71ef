"""``backend="nengo"``: the netlist as a ``nengo.Network`` on nengo's reference simulator."""

from spikec.backends.nengo.build import NengoBackend, to_nengo

__all__ = ["NengoBackend", "to_nengo"]
