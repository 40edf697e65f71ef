"""``backend="numpy"``: the netlist simulated step by step in NumPy (and the ideal reference)."""

from spikec.backends.numpy.backend import NumpyBackend

__all__ = ["NumpyBackend"]
