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
    print(prog.graph)                      # the optimized graph (prog.traced_graph: as traced)
    out = prog.run(t=1.0, backend="numpy")

The pipeline is trace -> ir -> passes -> lower -> netlist -> backends.  The
documentation (``make docs`` builds it into docs/_build/html) has the user
guide and the API reference; docs/design.md is the map of the code.

Neurons: ``spikec.neurons`` is the module of neuron models (``spikec.neurons.LIF``,
``from spikec.neurons import as_neuron_type``) *and*, called, the explicit
neuron layer ``spikec.neurons(x, spikec.LIF(amplitude=0.01), gain=1.0,
bias=0.0)`` (also available as :func:`spikec.neuron_layer`).  The neuron
classes are re-exported here: ``spikec.LIF``, ``spikec.Parabola``...
"""

from spikec import (
    ir,  # noqa: F401  (fills the op registry before anything traces)
    neurons,
)
from spikec.api import CompiledFunction, compile
from spikec.backends import RunResult, available_backends
from spikec.errors import (
    BackendError,
    ConstantError,
    InPlaceError,
    RangeError,
    RangeWarning,
    RunError,
    ShapeError,
    SpikecError,
    TracedControlFlowError,
    TraceError,
    UnsupportedOperationError,
)
from spikec.ir import Graph
from spikec.models.neurons import (
    LIF,
    AdaptiveLIF,
    AdaptiveLIFRate,
    AdEx,
    Izhikevich,
    LIFRate,
    NeuronType,
    Parabola,
    PoissonSpiking,
    RectifiedLinear,
    RefractoryLIF,
    RegularSpiking,
    SoftLIFRate,
    SpikingRectifiedLinear,
    SymmetricParabola,
    Tanh,
)
from spikec.models.synapses import (
    Adam,
    Alpha,
    DoubleExp,
    Integrator,
    LinearFilter,
    Lowpass,
    Synapse,
)
from spikec.program import Program
from spikec.trace import (
    Input,
    Param,
    avg_pool2d,
    configure,
    const,
    conv2d,
    dense,
    filter,
    integrate,
    lti,
    param,
)
from spikec.trace import neurons as neuron_layer

__version__ = "0.1.0"


def from_nir(graph_or_path, *, spike: str = "impulse", dt: float = 1e-3, name: str | None = None,
             **options) -> Program:
    """A NIR graph (a ``nir.NIRGraph`` or a file path), written by any tool, as a spikec :class:`Program`.

    ``spike``: how the graph counts a spike, ``"impulse"`` (NIR's unit impulse) or ``"per_step"`` (1 in its
    step of ``dt``, as snnTorch and Norse simulate).  ``options`` go to :func:`compile`; the neurons start at
    rest (``spike_phase="rest"``), as NIR's do.  See :mod:`spikec.export.nir.read` for the node mapping.
    """
    from spikec.export.nir.read import nir_function, read_graph

    fn, examples = nir_function(read_graph(graph_or_path), spike=spike, dt=dt)
    options = {"spike_phase": "rest", "dt": dt, **options}
    fn.__name__ = name or "nir"
    return compile(fn, name=name or "nir", **options)(*examples)


__all__ = [
    "LIF",
    "AdEx",
    "Adam",
    "AdaptiveLIF",
    "AdaptiveLIFRate",
    "Alpha",
    "BackendError",
    "CompiledFunction",
    "ConstantError",
    "DoubleExp",
    "Graph",
    "InPlaceError",
    "Input",
    "Integrator",
    "Izhikevich",
    "LIFRate",
    "LinearFilter",
    "Lowpass",
    "NeuronType",
    "Parabola",
    "Param",
    "PoissonSpiking",
    "Program",
    "RangeError",
    "RangeWarning",
    "RectifiedLinear",
    "RefractoryLIF",
    "RegularSpiking",
    "RunError",
    "RunResult",
    "ShapeError",
    "SoftLIFRate",
    "SpikecError",
    "SpikingRectifiedLinear",
    "SymmetricParabola",
    "Synapse",
    "Tanh",
    "TraceError",
    "TracedControlFlowError",
    "UnsupportedOperationError",
    "available_backends",
    "avg_pool2d",
    "compile",
    "configure",
    "const",
    "conv2d",
    "dense",
    "filter",
    "from_nir",
    "integrate",
    "lti",
    "neuron_layer",
    "neurons",
    "param",
]
