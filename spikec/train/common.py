"""What the trainers share: the training :class:`History` and the checks of what they can train."""

from __future__ import annotations

import dataclasses

import numpy as np

from spikec.errors import RunError
from spikec.netlist import Netlist

__all__ = ["History", "check_single_input", "is_feedforward"]


@dataclasses.dataclass
class History:
    """What :meth:`spikec.Program.fit` did, one entry per epoch.

    ``loss`` is the mean training loss over the epoch's batches,
    ``accuracy`` the training accuracy of the network being trained (rate or spiking) on those batches
    (classification only: integer labels), ``val_accuracy`` the rate
    accuracy on ``validation_data`` when given, ``epoch_time`` the seconds
    each epoch took (the first one includes compiling).
    """

    loss: list[float] = dataclasses.field(default_factory=list)
    accuracy: list[float] = dataclasses.field(default_factory=list)
    val_accuracy: list[float] = dataclasses.field(default_factory=list)
    epoch_time: list[float] = dataclasses.field(default_factory=list)
    backend: str = "jax"

    @property
    def history(self) -> dict[str, list[float]]:
        """Keras-style dict of the per-epoch lists that were recorded."""
        return {k: v for k, v in dataclasses.asdict(self).items() if isinstance(v, list) and v}


def is_feedforward(net: Netlist) -> bool:
    """No synapse anywhere: rate mode settles in one step, which is how the trainers run it."""
    return all(p.synapse is None for p in net.projections) and all(n.synapse is None for n in net.nodes)


def check_single_input(net: Netlist, x: np.ndarray) -> np.ndarray:
    """``x`` as float32 examples ``(n, *input_shape)`` of a one-input, one-output netlist."""
    if len(net.inputs) != 1 or len(net.outputs) != 1:
        raise RunError(f"fit/predict need a program with one input and one output; {net.name} has "
                       f"{len(net.inputs)} inputs and {len(net.outputs)} outputs")
    shape = net.inputs[0].shape
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1:] != tuple(shape):
        raise RunError(f"input data of shape {x.shape}: expected (n_examples, *{tuple(shape)})")
    return x
