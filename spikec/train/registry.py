"""The trainers :meth:`spikec.Program.fit` can use, by back-end name.

A trainer is ``fit(netlist, x, y, *, loss, optimizer, epochs, batch_size, dt,
seed, progress, validation_data, **options) -> (values, History)``; the
keyword-only parameters of its signature declare the options it takes (the
program checks them against it).  Trainers register as ``"module:function"``
and are imported only when asked for, so that training with JAX never
imports TensorFlow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from spikec.errors import RunError

__all__ = ["available_trainers", "get_trainer", "register_trainer"]

# back-end name -> "module:function"
_TRAINERS: dict[str, str] = {
    "jax": "spikec.train.loop:fit",
    "nengo_dl": "spikec.train.nengo_dl:fit_nengo_dl",
}


def register_trainer(name: str, target: str) -> None:
    """Register a trainer for ``fit(backend=name)`` as ``"package.module:function"`` (imported lazily)."""
    _TRAINERS[name] = target


def available_trainers() -> list[str]:
    return sorted(_TRAINERS)


def get_trainer(name: str) -> Callable:
    """The trainer registered under ``name``."""
    try:
        target = _TRAINERS[name]
    except KeyError:
        names = " and ".join(f"backend={n!r}" for n in available_trainers())
        raise RunError(f"fit supports {names}, got {name!r}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
