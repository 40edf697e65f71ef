"""What a simulation run returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from spikec.errors import RunError


@dataclass
class RunResult:
    """Outputs of one run, sampled at every time step.

    Attributes
    ----------
    t
        Times of the samples, shape ``(steps,)``: sample ``k`` is taken during
        the step that ends at ``(k + 1) * dt``, as in nengo.  A stateful output
        shows the value its consumers saw in that step, so ``integrate``'s
        first sample is ``x0``.
    outputs
        One array per program output, each ``(steps, *shape)``, or
        ``(batch, steps, *shape)`` for batched runs.
    spikes
        Cumulative spike count over time, ``(steps,)`` (``(batch, steps)``
        when batched); all zeros for the ideal (non-neural) reference.
    backend, mode, dt
        How the run was made.
    info
        Back-end specific extras (per-population spike counts, timings...).
    """

    t: np.ndarray
    outputs: tuple[np.ndarray, ...]
    backend: str
    mode: str
    dt: float
    spikes: np.ndarray | None = None
    batched: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        """The program's output over time (its first output if it returns several)."""
        return self.outputs[0]

    @property
    def final(self) -> np.ndarray | tuple[np.ndarray, ...]:
        """Value of each output at the last time step."""
        last = tuple(o[:, -1] if self.batched else o[-1] for o in self.outputs)
        return last[0] if len(last) == 1 else last

    def __repr__(self) -> str:
        shapes = ", ".join(str(o.shape) for o in self.outputs)
        return f"<RunResult {self.backend}/{self.mode}: {len(self.t)} steps of dt={self.dt:g}; outputs {shapes}>"


def filter_outputs(result: RunResult, synapse: Any) -> RunResult:
    """``result`` with every output passed through ``synapse`` along time.

    Sample ``k`` of the filtered output includes raw sample ``k`` (nengo's
    ``Synapse.filt`` convention).  Only linear synapses make sense here.
    """
    from spikec.models.synapses import as_synapse

    syn = as_synapse(synapse)
    if not syn.is_linear:
        raise RunError(f"run(synapse=...) needs a linear synapse, got {syn.label()}")
    filtered = []
    for out in result.outputs:
        series = np.moveaxis(out, 1, 0) if result.batched else out
        state = syn.init_state(series.shape[1:])
        values = np.empty_like(series)
        for k, sample in enumerate(series):
            state, values[k] = syn.step(state, sample, result.dt)
        filtered.append(np.moveaxis(values, 0, 1) if result.batched else values)
    return replace(result, outputs=tuple(filtered), info={**result.info, "synapse": syn.label()})
