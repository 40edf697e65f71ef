"""``backend="jax"``: the netlist as one compiled JAX scan (CPU or GPU)."""

from spikec.backends.jax.backend import JaxBackend

__all__ = ["JaxBackend"]
