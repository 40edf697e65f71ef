"""The trainers :meth:`spikec.Program.fit` can use, by back-end name.

A trainer is ``fit(netlist, x, y, *, loss, optimizer, epochs, batch_size, dt,
seed, progress, validation_data, **options) -> (values, History)``; the
keyword-only parameters of its signature declare the options it takes (the
program checks them against it).  Trainers register as ``"module:function"``
and are imported only when asked for, so that training with JAX never
imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable

from spikec.errors import RunError
from spikec.util.nametable import NameTable, import_object

__all__ = ["available_trainers", "get_trainer", "register_trainer"]

#: back-end name -> ``"module:function"``, imported when asked for.
_TRAINERS: NameTable[str] = NameTable("trainer", error=RunError, asked="fit(backend={name!r}) has no trainer")
_TRAINERS.register("jax", "spikec.train.loop:fit")
_TRAINERS.register("nengo_dl", "spikec.train.nengo_dl:fit_nengo_dl")


def register_trainer(name: str, target: str) -> None:
    """Register a trainer for ``fit(backend=name)`` as ``"package.module:function"`` (imported lazily, once)."""
    _TRAINERS.register(name, target)


def available_trainers() -> list[str]:
    """The back ends :meth:`spikec.Program.fit` can train on, sorted."""
    return _TRAINERS.names()


def get_trainer(name: str) -> Callable:
    """The trainer registered under ``name``."""
    return import_object(_TRAINERS.lookup(name))
