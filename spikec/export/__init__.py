"""Exchange formats: NIR (:mod:`~spikec.export.nir`)."""
