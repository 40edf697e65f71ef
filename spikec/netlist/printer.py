"""Readable listing of a netlist: populations, sum nodes, projections, outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spikec.ir.attrs import format_array

if TYPE_CHECKING:  # pragma: no cover
    from spikec.netlist import Netlist


def _range(values: np.ndarray) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return f"{lo:.4g}" if np.isclose(lo, hi) else f"{lo:.4g}..{hi:.4g}"


def format_netlist(net: Netlist) -> str:
    """One line per object and per projection, grouped by kind; the domain the netlist was tuned for, and under
    each population the range each operand was tuned to and where that range came from."""
    lines = [f"netlist {net.name}"]
    if net.domain is not None:
        lines.append(f"  {net.domain.describe()}")
    for inp in net.inputs:
        lines.append(f"  input      {inp.name}[{inp.size}]  (program input {inp.index}, shape {inp.shape})")
    for pop in net.populations:
        info = dict(pop.info)
        extra = "".join(f", {k}={v}" for k, v in info.items())
        label = pop.neuron_type.label() if hasattr(pop.neuron_type, "label") else type(pop.neuron_type).__name__
        lines.append(
            f"  population {pop.name}[{pop.n}] {label}  gain {_range(pop.gain.value)}, "
            f"bias {_range(pop.bias.value)}{extra}"
            + (f"  <- {', '.join(pop.computes)}" if pop.computes else "")
        )
        for port, lo, hi, origin in net.info.get("ranges", {}).get(pop.name, ()):
            lines.append(f"      tuned operand {port}: [{_range(lo)}, {_range(hi)}]  ({origin})")
    for node in net.nodes:
        parts = []
        if node.synapse is not None:
            parts.append(f"synapse {node.synapse.label()}")
        if node.x0 is not None and node.x0.value.any():
            parts.append(f"x0 {format_array(node.x0.value)}")
        if node.offset is not None:
            parts.append(f"offset {format_array(node.offset.value)}")
        lines.append(f"  node       {node.name}[{node.size}]" + (f"  {', '.join(parts)}" if parts else "")
                     + (f"  <- {', '.join(node.computes)}" if node.computes else ""))
    for p in net.projections:
        syn = f"  synapse {p.synapse.label()}" if p.synapse is not None else ""
        lines.append(f"  {p.pre} -> {p.post}  {p.transform.label()}{syn}")
    for out in net.outputs:
        lines.append(f"  output     {out.name}{list(out.shape)} = {out.source}")
    return "\n".join(lines)
