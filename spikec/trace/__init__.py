"""The tracing front end: NumPy code in, :class:`~spikec.ir.Graph` out."""

from spikec.trace.compile import Input, InputSpec, const, trace_function
from spikec.trace.context import configure, current
from spikec.trace.layers import neurons
from spikec.trace.numpy_dispatch import supported_function_names
from spikec.trace.params import Param, avg_pool2d, conv2d, dense, param
from spikec.trace.time import filter, integrate, lti
from spikec.trace.tracer import Tracer

__all__ = [
    "Input",
    "InputSpec",
    "Param",
    "Tracer",
    "avg_pool2d",
    "configure",
    "const",
    "conv2d",
    "current",
    "dense",
    "filter",
    "integrate",
    "lti",
    "neurons",
    "param",
    "supported_function_names",
    "trace_function",
]
