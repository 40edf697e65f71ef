"""NIR, the Neuromorphic Intermediate Representation: :func:`export_nir` writes a netlist as a ``nir.NIRGraph``
(:mod:`~spikec.export.nir.write`), :func:`nir_function` reads any NIR graph as a spikec function
(:mod:`~spikec.export.nir.read`)."""

from spikec.export.nir.read import NIRImportError, nir_function
from spikec.export.nir.write import NIRExportError, export_nir

__all__ = ["NIRExportError", "NIRImportError", "export_nir", "nir_function"]
