"""Batches spread over devices: the batch axis of a run sharded with ``jax.sharding``.

A batched run (``prog.run(..., batch=True, backend="jax")``) places its batch
axis on a 1-D mesh of devices (:class:`jax.sharding.Mesh` named ``"batch"``)
with :class:`jax.sharding.NamedSharding`: inputs, the carried state and the
per-step results are split by batch element, weights are replicated, and XLA
partitions the compiled chunk (GSPMD) so that each device steps its own batch
elements.  Batch elements never interact, so the result equals the run on one
device (bit for bit in float64).  A batch that the device count does not
divide is padded (repeating the last element) and trimmed afterwards.

``devices=`` (a back-end option) chooses the devices: None (default) for
every local device (``jax.local_devices()``), an int ``n`` for the first
``n`` of them, or a sequence of :class:`jax.Device`.

Several hosts: start every host's process with
``jax.distributed.initialize(coordinator_address, num_processes, process_id)``
before the first run and pass ``devices=jax.devices()`` (the global device
list); the same mesh and shardings then span the hosts, each host feeding
and reading back the batch elements on its devices.  (This path is the same
code but is not tested here: the tests run 4 CPU devices in one process with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from spikec.errors import RunError

__all__ = ["Placement", "choose_devices", "placement"]


def choose_devices(devices: Any) -> tuple:
    """The devices a batched run uses, from the ``devices`` option (see the module docstring)."""
    local = jax.local_devices()
    if devices is None:
        return tuple(local)
    if isinstance(devices, (int, np.integer)):
        if not 1 <= devices <= len(local):
            raise RunError(f"backend 'jax': devices={devices}, but there are {len(local)} local devices")
        return tuple(local[: int(devices)])
    if isinstance(devices, Sequence) and devices and all(isinstance(d, jax.Device) for d in devices):
        return tuple(devices)
    raise RunError(f"backend 'jax': devices must be None, a count or a list of jax devices; got {devices!r}")


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a run's arrays live: one device (``mesh`` None) or a batch axis split over a mesh."""

    batch: int  # the caller's batch size
    padded: int  # the batch size compiled (a multiple of the device count)
    mesh: Any = None

    @property
    def key(self) -> tuple:
        """What a compiled run depends on: the padded batch and the devices."""
        return (self.padded,) if self.mesh is None else (self.padded, tuple(d.id for d in self.mesh.devices.flat))

    def pad(self, a: np.ndarray, axis: int) -> np.ndarray:
        """``a`` with its batch ``axis`` padded to :attr:`padded` by repeating the last element."""
        extra = self.padded - a.shape[axis]
        if extra == 0:
            return a
        last = np.take(a, [a.shape[axis] - 1], axis=axis)
        return np.concatenate([a, np.repeat(last, extra, axis=axis)], axis=axis)

    def sharding(self, shape: tuple[int, ...], batch_axis: int | None):
        """The sharding of an array of ``shape``: split at ``batch_axis`` when that is the batch, else replicated."""
        from jax.sharding import NamedSharding, PartitionSpec
        if batch_axis is not None and len(shape) > batch_axis and shape[batch_axis] == self.padded:
            return NamedSharding(self.mesh, PartitionSpec(*([None] * batch_axis), "batch"))
        return NamedSharding(self.mesh, PartitionSpec())

    def put(self, tree, batch_axis: int | None = None):
        """``tree`` on the device(s): leaves with the padded batch at ``batch_axis`` split over the mesh."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.tree_util.tree_map(lambda a: jax.device_put(a, self.sharding(np.shape(a), batch_axis)), tree)

    def constrain(self, tree, batch_axis: int):
        """Inside a traced function: ``tree`` laid out as :meth:`put` lays it out.

        The carried state leaves a chunk as it entered it, so the next call's
        arguments match the shardings the chunk was compiled for.
        """
        if self.mesh is None:
            return tree
        return jax.tree_util.tree_map(
            lambda a: jax.lax.with_sharding_constraint(a, self.sharding(a.shape, batch_axis)), tree)

    def trim(self, tree, batch_axis: int):
        """Host arrays of ``tree`` without the padding's batch elements."""
        if self.padded == self.batch:
            return tree

        def one(a):
            a = np.asarray(a)
            if a.ndim > batch_axis and a.shape[batch_axis] == self.padded:
                return np.take(a, np.arange(self.batch), axis=batch_axis)
            return a
        return jax.tree_util.tree_map(one, tree)


def placement(batch: int, devices: Any, batched: bool) -> Placement:
    """How a run of ``batch`` elements is placed: sharded when batched and more than one device is chosen."""
    if not batched:
        return Placement(batch, batch)
    chosen = choose_devices(devices)
    if len(chosen) == 1:
        return Placement(batch, batch)
    from jax.sharding import Mesh
    padded = -(-batch // len(chosen)) * len(chosen)
    return Placement(batch, padded, Mesh(np.array(chosen), ("batch",)))
