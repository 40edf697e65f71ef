"""Import Brian2 2.9.0 under NumPy 2.4, for the AdEx cross-check in tests/test_neurons.py (test-only).

Brian2 2.9.0 fails to import with NumPy >= 2.4: the class body of
``brian2.units.fundamentalunits.Quantity`` reads ``np.ndarray.ptp``, a
method NumPy 2.4 removed (the function ``np.ptp`` remains).  That line is
the only use of the removed method in Brian2 (``unitsafefunctions`` wraps
the function ``np.ptp``), and it only defines ``Quantity.ptp``, which the
AdEx comparison never calls.  :func:`import_brian2` therefore loads that
one module with ``np.ndarray.ptp`` replaced by ``np.ptp`` (same result for
arrays; the wrapper passes the array as the first argument) and leaves the
rest of Brian2 untouched.  The shim is inert when NumPy still has the
method, and it is not used outside the tests: spikec does not depend on
Brian2.

Remove this file when a Brian2 release imports under NumPy 2.4.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys

import numpy as np
import pytest

_PATCHED = "brian2.units.fundamentalunits"


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    """Loads one module's source with ``np.ndarray.ptp`` -> ``np.ptp``; never reads or writes its bytecode cache."""

    def get_data(self, path):
        data = super().get_data(path)
        if path.endswith(".py"):
            data = data.replace(b"np.ndarray.ptp", b"np.ptp")
        return data

    def path_stats(self, path):
        # Without source stats the loader neither uses nor writes a .pyc: a
        # cached unpatched module is never loaded and the patch is never cached.
        raise OSError(path)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _PATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return spec
        return importlib.util.spec_from_file_location(name, spec.origin,
                                                      loader=_PatchedLoader(name, spec.origin))


def import_brian2():
    """``brian2``, imported (with the shim above where NumPy needs it), or skip the test when it is absent.

    Code generation targets NumPy (no C compiler, no Cython build cache).
    """
    if importlib.util.find_spec("brian2") is None:
        pytest.skip("brian2 is not installed (pip install -e '.[test]' installs it)")
    if not hasattr(np.ndarray, "ptp") and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    import brian2

    brian2.prefs.codegen.target = "numpy"
    return brian2
