"""Training: fit a netlist's parameters with JAX and optax (or NengoDL), and evaluate it.

:mod:`~spikec.train.loop` has :func:`fit`, :func:`predict` and friends,
:mod:`~spikec.train.surrogate` the surrogate-gradient rules and
:mod:`~spikec.train.nengo_dl` the NengoDL trainer.
"""

from spikec.train.loop import *  # noqa: F403
from spikec.train.loop import __all__  # noqa: F401
