"""spikec: compile NumPy-style Python into spiking neural networks.

Quick start::

    import numpy as np
    import spikec

    @spikec.compile
    def inverse(A, dt=0.05):
        def gradient(M):
            return 2 * (M @ A - np.eye(A.shape[0])) @ A.T
        return spikec.integrate(lambda M: -dt / 1e-3 * gradient(M), x0=np.zeros(A.shape))

    prog = inverse.trace(np.random.RandomState(0).randn(2, 2))
    print(prog.graph)
    out = prog.run(t=1.0, backend="numpy")

The pipeline is trace -> ir -> passes -> lower -> netlist -> backends; see
DESIGN.md for the map.
"""

from spikec import ir  # noqa: F401  (fills the op registry before anything traces)
from spikec.backends import RunResult, available_backends
from spikec.errors import (
    BackendError,
    ConstantError,
    InPlaceError,
    RunError,
    ShapeError,
    SpikecError,
    TraceError,
    TracedControlFlowError,
    UnsupportedOperationError,
)
from spikec.ir import Graph
from spikec.program import Program
from spikec.synapses import Adam, Alpha, DoubleExp, Integrator, LinearFilter, Lowpass, Synapse
from spikec.trace import CompiledFunction, Input, compile, const, filter, integrate, lti

__version__ = "0.1.0"

__all__ = [
    "Adam", "Alpha", "BackendError", "CompiledFunction", "ConstantError", "DoubleExp", "Graph",
    "InPlaceError", "Input", "Integrator", "LinearFilter", "Lowpass", "Program", "RunError", "RunResult",
    "ShapeError", "SpikecError", "Synapse", "TraceError", "TracedControlFlowError",
    "UnsupportedOperationError", "available_backends", "compile", "const", "filter", "integrate", "lti",
]
