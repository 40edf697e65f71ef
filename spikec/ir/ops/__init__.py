"""Every operation spikec can trace, with its shape rule, NumPy meaning and matrix form.

One module per family; importing this package fills the registry
(:mod:`spikec.ir.registry`) in the order listed:

* :mod:`~spikec.ir.ops.sources` — ``input``, ``const``;
* :mod:`~spikec.ir.ops.linear` — arithmetic, structural ops, reductions, ``affine``;
* :mod:`~spikec.ir.ops.bilinear` — products of two signals;
* :mod:`~spikec.ir.ops.elementwise` — scalar functions, one line each;
* :mod:`~spikec.ir.ops.stateful` — ``filter``, ``lti``;
* :mod:`~spikec.ir.ops.layers` — ``neurons`` and the projection ops.

Conventions for references: ``reference(attrs, *operands)`` takes unbatched
float64 arrays and returns what NumPy returns.  Constants live in ``attrs``
as :class:`~spikec.ir.attrs.ConstArray` (``.value`` is the array).
"""

# isort: off  (the import order is the registration order, which listings show)
import importlib

#: The family modules, in registration order (the order listings show).
FAMILIES = ("sources", "linear", "bilinear", "elementwise", "stateful", "layers")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

from spikec.ir.ops.layers import neuron_rates
from spikec.ir.ops.linear import thaw_index

__all__ = ["FAMILIES", "neuron_rates", "thaw_index"]
