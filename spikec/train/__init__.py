"""Training: fit a netlist's parameters with JAX and optax (or NengoDL), and evaluate it.

:mod:`~spikec.train.loop` has :func:`fit`, :func:`predict` and friends,
:mod:`~spikec.train.loss` the differentiable runs (:func:`make_loss_fn`,
:func:`with_params`), :mod:`~spikec.train.surrogate` the surrogate-gradient
rules, :mod:`~spikec.train.nengo_dl` the NengoDL trainer and
:mod:`~spikec.train.registry` the trainers by back-end name.
"""

from spikec.train.loop import *  # noqa: F403
from spikec.train.loop import __all__ as _loop_all
from spikec.train.registry import available_trainers, get_trainer, register_trainer

__all__ = [*_loop_all, "available_trainers", "get_trainer", "register_trainer"]
