"""Back ends: where a compiled program runs.

Back ends register under a name; :func:`get_backend` imports a back end's
module only when it is asked for, so that using the NumPy reference never
imports TensorFlow or JAX.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from spikec.backends.result import RunResult
from spikec.errors import BackendError

# name -> "module:attribute"; the attribute is a Backend.
_BACKENDS: dict[str, str] = {
    "numpy": "spikec.backends.numpy.backend:NumpyBackend",
    "nengo": "spikec.backends.nengo.build:NengoBackend",
    "nengo_dl": "spikec.backends.nengo_dl.backend:NengoDLBackend",
    "jax": "spikec.backends.jax.backend:JaxBackend",
}


class Backend(Protocol):
    """What every back end provides."""

    name: str
    modes: tuple[str, ...]
    default_mode: str

    def run(self, program, inputs, *, t: float, dt: float, mode: str, seed: int | None,
            progress: bool | None, **options) -> RunResult: ...


def register_backend(name: str, target: str) -> None:
    """Register a back end as ``"package.module:ClassName"`` (imported lazily)."""
    _BACKENDS[name] = target


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(name: str) -> Backend:
    """Instantiate the back end registered under ``name``."""
    try:
        target = _BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown back end {name!r}; available: {', '.join(available_backends())}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)()


__all__ = ["Backend", "RunResult", "available_backends", "get_backend", "register_backend"]
