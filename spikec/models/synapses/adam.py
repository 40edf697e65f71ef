"""Gradient descent as a synapse: :class:`Adam`."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy

from spikec.errors import BackendError, ConstantError
from spikec.models.synapses.base import Synapse, _filled, _positive, _zeros
from spikec.util.checks import check_dt as _check_dt
from spikec.util.checks import format_float as _fmt

__all__ = ["Adam"]


@dataclass(frozen=True)
class Adam(Synapse):
    """Gradient descent with Adam moments, as a synapse ("synaptic descent").

    The input ``u`` is the *descent direction*, i.e. minus the gradient, so
    ``integrate(lambda x: -grad(x), x0, synapse=Adam(...))`` minimises the
    loss, just as ``integrate(lambda x: -grad(x), x0, synapse=Integrator())``
    does plain gradient descent.  Each step, with ``g = -dt * u``::

        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        x -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    and the output is ``x``.

    Semantics match Gyrus's ``gyrus.Adam`` (``KerasOptimizerSynapse`` in
    ``gyrus/optional.py``), which applies Keras's Adam to the gradient
    ``-dt * u``: the input is scaled by ``dt`` like any synapse input
    (NEF principle 3), but because Adam normalises by the gradient's running
    RMS, ``lr`` is the size of a step *per time step*, not per second: the
    output moves by about ``lr`` each step while the direction is steady, and
    ``Adam(lr=1)`` here means what ``gyrus.Adam(1)`` means in Gyrus's
    spiking matrix-inversion example.  dt only matters relative to ``eps``
    (which is compared with ``dt * |u|``).  Two details differ from Keras,
    both only in the ``eps``-dominated regime: ``eps`` is added to the
    bias-corrected ``sqrt(vhat)`` (the Adam paper, PyTorch and optax; Keras
    adds it to the uncorrected ``sqrt(v)``), and the default is 1e-8 (Keras:
    1e-7).

    State: ``(x, m, v, t)``; ``t`` is a 0-d float array (a step count) so
    the step stays traceable under ``jax.jit``.  Adam is not linear and has
    no Nengo equivalent.
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        object.__setattr__(self, "lr", _positive("lr", self.lr, "Adam"))
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (is_real and 0 <= value < 1):
                raise ConstantError(f"Adam: {name} must be in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (
            math.isfinite(eps) and eps >= 0
        ):
            raise ConstantError(f"Adam: eps must be a finite number >= 0, got {eps!r}")
        object.__setattr__(self, "eps", float(eps))

    @property
    def is_linear(self) -> bool:
        """False: the update divides by the gradient's running RMS."""
        return False

    def init_state(self, shape, x0=None, xp=numpy):
        """``(x0, 0, 0, 0)``: start at ``x0`` with empty moments."""
        shape = tuple(shape)
        return (_filled(shape, x0, xp), _zeros(shape, xp), _zeros(shape, xp), _zeros((), xp))

    def output(self, state):
        """The current parameter value ``x``."""
        return state[0]

    def step(self, state, u, dt: float, xp=numpy):
        """One Adam update with gradient ``-dt * u``; returns the new ``x``."""
        dt = _check_dt(dt)
        x, m, v, t = state
        g = -dt * xp.asarray(u)
        t = t + 1.0
        m = self.beta1 * m + (1.0 - self.beta1) * g
        v = self.beta2 * v + (1.0 - self.beta2) * (g * g)
        # Bias corrections as array ops on t, never Python control flow.
        mhat = m / (1.0 - xp.power(self.beta1, t))
        vhat = v / (1.0 - xp.power(self.beta2, t))
        x = x - self.lr * mhat / (xp.sqrt(vhat) + self.eps)
        return (x, m, v, t), x

    def integrand_input(self, fx, x):
        """``f(x)``: the descent direction itself (as for an Integrator)."""
        return fx

    def to_nengo(self):
        """Always raises: Nengo has no Adam synapse."""
        raise BackendError(
            f"{self.label()} has no Nengo equivalent",
            hint="run programs that use an Adam synapse on the numpy or jax back end",
        )

    def label(self) -> str:
        """``Adam(lr=...)``, plus any non-default hyperparameters."""
        extra = "".join(
            f", {name}={_fmt(getattr(self, name))}"
            for name, default in (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8))
            if getattr(self, name) != default
        )
        return f"Adam(lr={_fmt(self.lr)}{extra})"

