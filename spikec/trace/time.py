"""Where time enters a program: ``integrate``, ``filter`` and ``lti``.

All three create a stateful ``filter``/``lti`` node.  A stateful node's value
during a time step is its state after the previous step, so the integrand of
``integrate`` can read the very state it drives: the recurrence is traced
once, as a cycle through the state node, and never unrolled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from spikec.errors import ShapeError, UnsupportedOperationError
from spikec.ir.attrs import ConstArray
from spikec.ir.source import capture
from spikec.trace import api
from spikec.trace.context import as_constant, require
from spikec.trace.tracer import Tracer


def _initial_value(x0: Any, what: str) -> np.ndarray:
    if isinstance(x0, Tracer):
        raise UnsupportedOperationError(
            f"{what}: the initial value x0 must be a constant, not a signal",
            op=what, shapes=[x0.shape], loc=capture(),
            hint="start from a constant and add the signal inside the integrand",
        )
    return as_constant(x0, f"{what} x0")


def integrate(f: Callable[[Any], Any], x0: Any, synapse: Any = None) -> Tracer:
    """Integrate ``dx/dt = f(x)`` from ``x(0) = x0`` and return the signal ``x``.

    Parameters
    ----------
    f
        The integrand, written with NumPy operations on ``x`` (and on any
        other signals of the program).  It is traced once into a recurrence.
    x0
        Initial value (a constant array); it also fixes the shape of ``x``.
    synapse
        How the state is held: ``None`` or :class:`spikec.Integrator` for a
        pure integrator (Euler steps); :class:`spikec.Lowpass` for the NEF
        recurrence (``tau * f(x) + x`` fed back through the lowpass);
        :class:`spikec.Adam` for Adam steps along ``f(x)``, the descent
        direction.  nengo synapse objects are accepted too.

    Examples
    --------
    >>> x = spikec.integrate(lambda x: -x, x0=np.ones(3))   # exponential decay
    """
    from spikec.models.synapses import Integrator, as_synapse

    ctx = require("spikec.integrate")
    start = _initial_value(x0, "integrate")
    syn = as_synapse(synapse, default=Integrator())
    state = ctx.emit("filter", [], {"synapse": syn, "x0": ConstArray(start)}, shape=start.shape,
                     display_op="integrate")
    fx = f(state)
    fx_shape = api._shape(fx)
    if fx_shape != start.shape:
        raise ShapeError(
            f"integrate: the integrand returns shape {fx_shape} but x0 has shape {start.shape}; "
            "dx/dt must have the shape of x",
            op="integrate", shapes=[start.shape, fx_shape], loc=capture(),
        )
    driver = syn.integrand_input(fx, state)
    if not isinstance(driver, Tracer):  # a constant integrand still needs a node to read
        driver = api.broadcast_to(ctx.emit("const", [], {"value": ConstArray(as_constant(driver, "integrand"))}),
                                  start.shape)
    # node_id, not driver._node.id: it rejects a tracer escaped from another trace.
    ctx.builder.set_inputs(state._node.id, [ctx.node_id(driver)])
    state._node = ctx.builder.nodes[state._node.id]
    return state


def filter(x: Any, synapse: Any = 0.005, x0: Any = None) -> Any:
    """Filter signal ``x`` through ``synapse`` (a float is a lowpass time constant in seconds).

    ``synapse=None`` returns ``x`` unchanged.  The output starts at ``x0``
    (zero by default).
    """
    from spikec.models.synapses import as_synapse

    syn = as_synapse(synapse, default=None)
    if syn is None:
        return x
    if not isinstance(x, Tracer):
        ctx = require("spikec.filter")
        x = ctx.emit("const", [], {"value": ConstArray(as_constant(x, "filter input"))})
    start = None if x0 is None else ConstArray(np.broadcast_to(_initial_value(x0, "filter"), x.shape))
    return x._ctx.emit("filter", [x], {"synapse": syn, "x0": start})


def lti(x: Any, system: tuple[Any, Any], x0: Any = None) -> Tracer:
    """Pass ``u = x`` through the linear system ``ds/dt = A s + B u`` and return ``s``.

    ``system`` is ``(A, B)`` with ``A`` of shape ``(n, n)`` and ``B`` of shape
    ``(n,)`` (scalar input) or ``(n, m)`` (input of ``m`` elements).  The
    system is discretized with a zero-order hold.
    """
    try:
        a, b = system
    except (TypeError, ValueError):
        raise UnsupportedOperationError("spikec.lti needs system=(A, B)", op="lti", loc=capture()) from None
    a = as_constant(a, "lti A")
    b = as_constant(b, "lti B")
    if not isinstance(x, Tracer):
        ctx = require("spikec.lti")
        x = ctx.emit("const", [], {"value": ConstArray(as_constant(x, "lti input"))})
    start = None if x0 is None else ConstArray(_initial_value(x0, "lti"))
    return x._ctx.emit("lti", [x], {"A": ConstArray(a), "B": ConstArray(b), "x0": start})
