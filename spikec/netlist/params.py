"""Trainable parameters of a lowered program: read them, write them into a netlist, save and load them.

The lowering records where each :func:`spikec.param` lives
(``Netlist.info["params"]``, name -> :class:`~spikec.netlist.ParamBinding`).
These functions use that map and NumPy only, so every back end (and
:mod:`spikec.train`) sees trained values the same way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from spikec.errors import SpikecError
from spikec.ir.attrs import ConstArray
from spikec.netlist import Convolution, Dense, Netlist, ParamBinding


def bindings(net: Netlist) -> dict[str, ParamBinding]:
    """Name -> binding of every trainable parameter of ``net`` (empty when it has none)."""
    return dict(net.info.get("params", {}))


def read_params(net: Netlist) -> dict[str, np.ndarray]:
    """The current value of every parameter, read back from the netlist's weights, gains and biases."""
    out = {}
    for name, b in bindings(net).items():
        if b.kind == "weights":
            tr = net.projections[b.target].transform
            array = tr.kernel.value if isinstance(tr, Convolution) else tr.to_dense()
        else:
            array = getattr(net[b.target], b.kind).value
        out[name] = b.from_netlist(array)
    return out


def write_params(net: Netlist, values: Mapping[str, np.ndarray]) -> Netlist:
    """``net`` with the given parameters' values written into its projections and populations.

    Unknown names and wrong shapes raise :class:`~spikec.errors.SpikecError`;
    parameters not given keep their values.
    """
    table = bindings(net)
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise SpikecError(f"netlist {net.name} has no parameter {', '.join(map(repr, unknown))}; "
                          f"its parameters: {', '.join(sorted(table)) or 'none'}")
    projections = list(net.projections)
    populations = {p.name: p for p in net.populations}
    for name, value in values.items():
        b = table[name]
        value = np.asarray(value, dtype=np.float64)
        if value.shape != tuple(b.shape):
            raise SpikecError(f"parameter {name!r} has shape {tuple(b.shape)}, got a value of shape {value.shape}")
        array = np.asarray(b.to_netlist(value), dtype=np.float64)
        if b.kind == "weights":
            proj = projections[b.target]
            tr = proj.transform
            if isinstance(tr, Convolution):
                new = dataclasses.replace(tr, kernel=ConstArray(array))
            elif isinstance(tr, Dense):
                new = Dense(ConstArray(array))
            else:  # pragma: no cover - parameters are bound to convolution and dense projections only
                raise SpikecError(f"parameter {name!r}: cannot write into a {type(tr).__name__} transform")
            projections[b.target] = dataclasses.replace(proj, transform=new)
        else:
            pop = populations[b.target]
            populations[b.target] = dataclasses.replace(pop, **{b.kind: ConstArray(array)})
    return dataclasses.replace(net, populations=tuple(populations[p.name] for p in net.populations),
                               projections=tuple(projections))


def structure_key(net: Netlist) -> tuple:
    """A hashable key, equal for netlists that differ only in the values of their trainable parameters.

    Compiled training steps and spiking runs take the parameters as
    arguments, so one compilation serves every netlist with this key (the
    same program before and after training, say).
    """
    table = bindings(net)
    blank = write_params(net, {name: np.zeros(b.shape) for name, b in table.items()})
    where = tuple(sorted((name, b.kind, str(b.target), tuple(b.shape), b.transpose, tuple(b.broadcast),
                          None if b.offset is None else np.asarray(b.offset, dtype=np.float64).tobytes())
                         for name, b in table.items()))
    return blank, where


def save_params(path: str | os.PathLike, values: Mapping[str, np.ndarray]) -> None:
    """Save parameters to an ``.npz`` file (one array per name)."""
    np.savez(path, **{k: np.asarray(v) for k, v in values.items()})


def load_params(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parameters saved by :func:`save_params`."""
    with np.load(path) as data:
        return {k: np.array(data[k]) for k in data.files}


__all__ = ["bindings", "load_params", "read_params", "save_params", "write_params"]
