"""Back ends: where a lowered program (a :class:`~spikec.netlist.Netlist`) runs.

A back end's ``run(netlist, inputs, t=..., dt=..., mode=..., **options)``
checks its settings into a :class:`~spikec.backends.common.RunSpec` and
``execute(netlist, inputs, spec)`` runs it (see
:class:`~spikec.backends.common.NetlistBackend`); it never sees the program.
Back ends register under a name; :func:`get_backend` imports a back end's
module only when it is asked for, so that using the NumPy reference never
imports TensorFlow or JAX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from spikec.backends.common import RunSpec
from spikec.backends.result import RunResult
from spikec.errors import BackendError
from spikec.util.nametable import NameTable, import_object

#: back-end name -> ``"module:attribute"``, the attribute a :class:`Backend` class, imported when asked for.
_BACKENDS: NameTable[str] = NameTable("back end", error=BackendError)
_BACKENDS.register("numpy", "spikec.backends.numpy.backend:NumpyBackend")
_BACKENDS.register("nengo", "spikec.backends.nengo.run:NengoBackend")
_BACKENDS.register("nengo_dl", "spikec.backends.nengo_dl.backend:NengoDLBackend")
_BACKENDS.register("jax", "spikec.backends.jax.backend:JaxBackend")


class Backend(Protocol):
    """What every back end provides."""

    name: str
    modes: tuple[str, ...]
    default_mode: str
    graph_modes: tuple[str, ...]  # modes that run the program's graph (the program runs those itself)
    options: Mapping[str, Any]  # the back end's own run options and their defaults

    def spec(self, *, t: float, dt: float, mode: str | None = None, seed: int | None = 0,
             progress: bool | None = None, batch_size: int | None = None,
             options: Mapping[str, Any] | None = None) -> RunSpec: ...

    def execute(self, netlist, inputs: Sequence[Any], spec: RunSpec) -> RunResult: ...

    def run(self, netlist, inputs: Sequence[Any], *, t: float, dt: float, mode: str | None = None,
            seed: int | None = 0, progress: bool | None = None, batch_size: int | None = None,
            **options: Any) -> RunResult: ...


def register_backend(name: str, target: str) -> None:
    """Register a back end as ``"package.module:ClassName"`` (imported lazily; a name may be registered once)."""
    _BACKENDS.register(name, target)


def available_backends() -> list[str]:
    """The registered back ends' names, sorted."""
    return _BACKENDS.names()


def get_backend(name: str) -> Backend:
    """Instantiate the back end registered under ``name``."""
    return import_object(_BACKENDS.lookup(name))()


__all__ = ["Backend", "RunResult", "RunSpec", "available_backends", "get_backend", "register_backend"]
