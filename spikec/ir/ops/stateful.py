"""Stateful ops: synapses and linear systems that hold state across time steps.

They read their operands one step late, which is what lets recurrences
close.  Their simulation rule (:class:`~spikec.ir.registry.StatefulRule`)
is written against an array module, so every back end steps them alike.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from spikec.ir.attrs import ConstArray
from spikec.ir.ops._common import fmt, same_shape
from spikec.ir.registry import OpDef, OpKind, StatefulRule, register

T = OpKind.STATEFUL


def _filter_init(attrs, shape, input_shape, xp):
    x0 = attrs["x0"]
    return attrs["synapse"].init_state(shape, None if x0 is None else xp.asarray(x0.value), xp=xp)


register(OpDef(
    "filter", T,
    "a synapse applied to x over time (also the state of integrate); operands are read one step late",
    shape_rule=same_shape,
    stateful=StatefulRule(
        init=_filter_init,
        output=lambda attrs, state: attrs["synapse"].output(state),
        step=lambda attrs, state, u, dt, xp: attrs["synapse"].step(state, u, dt, xp=xp)[0],
    ),
    format_attrs=fmt("synapse", "x0"),
    numpy_names=("spikec.filter", "spikec.integrate", "x.filter"),
))


@functools.lru_cache(maxsize=256)
def lti_discrete(a: ConstArray, b: ConstArray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretization ``(Ad, Bd)``, via the exponential of the augmented matrix."""
    n = a.shape[0]
    bm = b.value.reshape(n, -1)
    m = bm.shape[1]
    aug = np.zeros((n + m, n + m))
    aug[:n, :n] = a.value
    aug[:n, n:] = bm
    import scipy.linalg  # here: only lti needs it, and importing it costs more than tracing

    expm = scipy.linalg.expm(aug * dt)
    return expm[:n, :n], expm[:n, n:]


def _lti_step(attrs, state, u, dt, xp):
    ad, bd = lti_discrete(attrs["A"], attrs["B"], float(dt))
    return xp.asarray(ad) @ state + xp.asarray(bd) @ xp.reshape(u, (-1,))


def _lti_shape(attrs, shape):
    a, b = attrs["A"].shape, attrs["B"].shape
    n = a[0]
    m = 1 if len(b) == 1 else b[1]
    if len(a) != 2 or a[1] != n or b[0] != n or len(b) > 2:
        raise ValueError(f"lti needs A of shape (n, n) and B of shape (n,) or (n, m); got A{a}, B{b}")
    if math.prod(shape) != m:
        raise ValueError(f"lti input of shape {shape} does not match B of shape {b} ({m} inputs expected)")
    return (n,)


def _lti_init(attrs, shape, input_shape, xp):
    x0 = attrs["x0"]
    return xp.zeros(shape) if x0 is None else xp.asarray(x0.value, dtype=float).reshape(shape)


register(OpDef(
    "lti", T, "linear time-invariant system dx/dt = A x + B u (zero-order hold); operands read one step late",
    shape_rule=_lti_shape,
    stateful=StatefulRule(init=_lti_init, output=lambda attrs, state: state, step=_lti_step),
    format_attrs=fmt("A", "B"),
    numpy_names=("spikec.lti",),
))
