"""Explicit neuron layers: ``spikec.models.neurons(x, neuron_type, gain, bias)``.

Every other nonlinear op leaves the choice of neurons to the lowering; a
neuron layer fixes it: one neuron of ``neuron_type`` per element of ``x``,
driven by the current ``J = gain * x + bias``, whose activity *is* the
value (rates in Hz in rate mode, ``amplitude / dt`` per spike in spiking
mode).  This is how a spiking classifier puts LIF layers between its
convolutions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikec.errors import ShapeError, UnsupportedOperationError
from spikec.ir.attrs import ConstArray
from spikec.ir.ops import neuron_rates
from spikec.ir.source import capture
from spikec.trace.context import as_constant
from spikec.trace.tracer import Tracer


def neurons(x: Any, neuron_type: Any, gain: Any = 1.0, bias: Any = 0.0) -> Any:
    """One neuron per element of ``x``; returns their activity, of ``x``'s shape.

    Parameters
    ----------
    x
        The signal driving the layer (any shape).
    neuron_type
        A spikec neuron type (``spikec.LIF(amplitude=0.01)``,
        ``spikec.RectifiedLinear()``...) or a nengo one (``nengo.LIF()``),
        converted with :func:`spikec.models.neurons.as_neuron_type`.  In rate mode
        the layer runs its rate counterpart, in spiking mode its spiking
        counterpart (a rate type is wrapped in ``RegularSpiking``).
    gain, bias
        Constants (scalars or arrays that broadcast to ``x.shape``) or
        trainable :func:`spikec.param` s: the neuron input current is
        ``J = gain * x + bias``.

    Returns
    -------
    The neurons' activity: in the NumPy reference (``mode="ideal"``) and in
    rate mode the steady-state rate ``neuron_type.as_rate().rates(J)``, in
    Hz times ``amplitude``; in spiking mode the spikes, ``amplitude / dt`` in
    a step with a spike (filter them, e.g. ``spikec.filter(y, 0.005)``, to
    read a rate).  On plain arrays it returns the steady-state rates.

    Examples
    --------
    >>> h = spikec.models.neurons(W @ x, spikec.LIF(amplitude=0.01), gain=2.0, bias=1.0)
    """
    from spikec.models.neurons import as_neuron_type
    from spikec.trace.params import Param

    ntype = as_neuron_type(neuron_type)
    names = {}
    for what in ("gain", "bias"):
        value = gain if what == "gain" else bias
        if isinstance(value, Param):
            names[what] = value.name
    gain = gain.value if isinstance(gain, Param) else gain
    bias = bias.value if isinstance(bias, Param) else bias
    for what, value in (("gain", gain), ("bias", bias)):
        if isinstance(value, Tracer):
            raise UnsupportedOperationError(
                f"spikec.models.neurons: the {what} must be a constant, not a signal",
                op="neurons", shapes=[value.shape], loc=capture(),
                hint=f"fold the signal into x instead (x * {what} or x + {what})",
            )
    g = as_constant(gain, "neuron gain")
    b = as_constant(bias, "neuron bias")
    if not isinstance(x, Tracer):
        return neuron_rates(ntype, g * as_constant(x, "neuron layer input") + b)
    try:
        shape = np.broadcast_shapes(x.shape, g.shape, b.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ShapeError(
            "spikec.models.neurons: gain and bias must broadcast to the shape of x (one neuron per element of x)",
            op="neurons", shapes=[x.shape, g.shape, b.shape], loc=capture(),
        )
    attrs = {"neuron_type": ntype, "gain": ConstArray(g), "bias": ConstArray(b)}
    attrs.update({f"{what}_param": name for what, name in names.items()})
    return x._ctx.emit("neurons", [x], attrs)
