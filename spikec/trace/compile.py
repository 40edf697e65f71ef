"""Tracing a function: its arguments become input signals (:class:`Input`, :class:`const`) and
:func:`trace_function` records what it computes as a :class:`~spikec.ir.Graph`."""

from __future__ import annotations

import dataclasses
import inspect
import linecache
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikec.errors import RunError, SpikecError, TraceError
from spikec.ir.domain import DEFAULT_COUNT, InputDomain
from spikec.ir.source import SourceLoc, capture
from spikec.trace.context import TraceContext, _escaped_error, as_constant
from spikec.trace.tracer import Tracer


@dataclass(frozen=True)
class const:
    """Mark an argument as a compile-time constant: ``prog = f.trace(spikec.const(W), x)``.

    Products of constants with signals are linear, so they cost no neurons.
    """

    value: Any


class Input:
    """An input signal: ``spikec.Input(shape, fn)``, and the values it may take (its domain).

    Parameters
    ----------
    shape
        Shape of the signal at each time step.
    fn
        ``fn(t) -> array of shape`` giving the value at time ``t`` (seconds).
        Omit it to have a constant signal given by ``value``.
    value
        A constant value used when ``fn`` is None; defaults to the centre of
        ``range``, else a draw of ``sample``, else zeros.
    range
        ``(lo, hi)``: every value the input may take, at any time of any run
        (scalars, or arrays broadcastable to ``shape`` for per-element
        bounds).  Units are tuned to the whole box (sound bounds where the
        graph allows, see :mod:`spikec.lower.ranges`), not to the example.
    sample
        ``sample(rng) -> array of shape``: draws a typical input from a
        ``numpy.random.Generator`` (``lambda rng: rng.standard_normal((5, 5))``);
        units are tuned over ``count`` draws (a fixed seed).
    count
        Draws of ``sample``, or points of ``range`` for ranges that must be
        measured by simulation (recurrences); default 8.
    """

    def __init__(self, shape: Sequence[int] | int, fn: Callable[[float], Any] | None = None,
                 value: Any = None, *, range: Any = None, sample: Callable[[np.random.Generator], Any] | None = None,
                 count: int = DEFAULT_COUNT):
        self.shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
        self.fn = fn
        self.range = range
        self.sample = sample
        self.count = int(count)
        if range is not None:
            try:
                lo, hi = range
            except (TypeError, ValueError):
                raise TraceError(f"Input(range={range!r}): give a pair (lo, hi)") from None
            self.domain: InputDomain | None = InputDomain.box("input", self.shape, lo, hi, count=self.count)
        elif sample is not None:
            if not callable(sample):
                raise TraceError(f"Input(sample={sample!r}): give a function of a numpy Generator")
            self.domain = InputDomain("input", self.shape, sampler=sample, count=self.count)
        else:
            self.domain = None
        if value is None and fn is None and self.domain is not None:
            bounds = self.domain.bounds()
            value = (bounds[0] + bounds[1]) / 2 if bounds is not None else \
                np.asarray(sample(np.random.default_rng(0)), dtype=np.float64)
        self.value = np.zeros(self.shape) if value is None else np.broadcast_to(
            as_constant(value, "Input value"), self.shape).copy()

    def __call__(self, t: float) -> np.ndarray:
        if self.fn is None:
            return self.value
        return np.asarray(self.fn(t), dtype=np.float64)

    def __repr__(self) -> str:
        extra = "" if self.domain is None else f", domain={self.domain.describe()!r}"
        return f"Input(shape={self.shape}, fn={getattr(self.fn, '__name__', self.fn)!r}{extra})"


@dataclass(frozen=True)
class InputSpec:
    """One input signal of a traced program."""

    name: str
    shape: tuple[int, ...]
    example: Any  # ndarray (constant over time) or Input

    def domain(self) -> InputDomain:
        """The values this input may take: the box or sampler its :class:`Input` declares, else its example's
        neighbourhood."""
        declared = getattr(self.example, "domain", None)
        if isinstance(self.example, Input) and declared is not None:
            return dataclasses.replace(declared, name=self.name)
        return InputDomain(self.name, self.shape)

    def domain_of(self, value: Any) -> InputDomain:
        """The :class:`InputDomain` that :meth:`spikec.Program.set_domain` reads ``value`` as (see there)."""
        if value is None:
            return InputDomain(self.name, self.shape)
        if isinstance(value, Input):
            if value.domain is None:
                raise SpikecError(f"set_domain: the Input for {self.name!r} declares neither range nor sample")
            if value.shape != self.shape:
                raise SpikecError(f"set_domain: input {self.name!r} has shape {self.shape}, the Input {value.shape}")
            return dataclasses.replace(value.domain, name=self.name)
        if isinstance(value, tuple):
            if len(value) != 2:
                raise SpikecError(f"set_domain: {self.name}={value!r}: a box is a pair (lo, hi)")
            return InputDomain.box(self.name, self.shape, *value)
        if isinstance(value, list):
            for v in value:
                self.provider(v)  # checks shapes
            return InputDomain(self.name, self.shape).with_samples(*value)
        if callable(value):
            return InputDomain(self.name, self.shape, sampler=value)
        raise SpikecError(f"set_domain: {self.name}={type(value).__name__}: give (lo, hi), a list of examples, "
                          "a sampler fn(rng), a spikec.Input with range or sample, or None")

    def provider(self, value: Any = None) -> Callable[[float], np.ndarray]:
        """A function of time giving this input's value, validating shape."""
        value = self.example if value is None else value
        if isinstance(value, Input):
            fn = value
            if value.shape != self.shape:
                raise RunError(f"input {self.name!r} has shape {self.shape}, got an Input of shape {value.shape}",
                               shapes=[self.shape, value.shape], loc=capture())
        elif callable(value):
            fn = value
        else:
            array = as_constant(value, f"input {self.name!r}")
            if array.shape != self.shape:
                raise RunError(
                    f"input {self.name!r} was traced with shape {self.shape} but got shape {array.shape}",
                    shapes=[self.shape, array.shape], loc=capture(),
                    hint="trace the function again for new shapes",
                )
            return ConstantInput(array)
        shape = self.shape

        def checked(t: float) -> np.ndarray:
            out = np.asarray(fn(t), dtype=np.float64)
            if out.shape != shape:
                out = np.broadcast_to(out, shape) if out.ndim == 0 else out
                if out.shape != shape:
                    raise RunError(f"input {self.name!r}: fn(t) returned shape {out.shape}, expected {shape}")
            return out

        return checked


def _is_signal_argument(value: Any) -> bool:
    # NumPy scalars (np.float64 from np.linalg.norm, say) are hyperparameters
    # as often as Python floats are, so both stay static; a 0-d *array* is a
    # deliberate signal.
    return isinstance(value, (np.ndarray, Input))


def trace_function(fn: Callable, args: tuple, kwargs: dict, static: frozenset, name: str):
    """Run ``fn`` on tracers; return the graph, the input specs and the output structure."""
    sig = inspect.signature(fn)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}{sig}: {exc}") from None
    ctx = TraceContext(name)
    # An input's source line is the function's `def`, whoever calls trace().
    ctx.definition = definition_loc(fn)
    specs: list[InputSpec] = []
    input_ids: list[int] = []
    call_args: dict[str, Any] = {}
    with ctx.active():
        for pname, value in bound.arguments.items():
            kind = sig.parameters[pname].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                call_args[pname] = tuple(
                    _argument(ctx, f"{pname}[{i}]", v, static, pname, specs, input_ids) for i, v in enumerate(value))
            elif kind is inspect.Parameter.VAR_KEYWORD:
                call_args[pname] = {k: _argument(ctx, k, v, static, pname, specs, input_ids) for k, v in value.items()}
            else:
                call_args[pname] = _argument(ctx, pname, value, static, pname, specs, input_ids)
        bound.arguments.update(call_args)
        result = fn(*bound.args, **bound.kwargs)
        outputs, structure = _collect_outputs(ctx, result, name, _function_loc(fn))
    graph = ctx.builder.build(input_ids, outputs)
    return graph, tuple(specs), structure


def definition_loc(fn: Callable) -> SourceLoc | None:
    """Where ``fn`` is defined (its ``def`` line), for the input nodes' listing."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    return SourceLoc(code.co_filename, code.co_firstlineno, code.co_name, line)


def _argument(ctx, name, value, static, pname, specs, input_ids):
    if isinstance(value, const):
        return value.value
    if pname in static or not _is_signal_argument(value):
        return value
    if isinstance(value, Input):
        shape, example = value.shape, value
    else:
        example = as_constant(value, f"argument {name!r}")
        shape = example.shape
    tracer = ctx.emit("input", [], {"shape": shape, "name": name, "index": len(specs)}, name=name,
                      loc=ctx.definition)
    specs.append(InputSpec(name, shape, example))
    input_ids.append(tracer._node.id)
    return tracer


def _function_loc(fn: Callable) -> SourceLoc | None:
    """Where ``fn`` is defined: the best line to blame for what it returns."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    return SourceLoc(code.co_filename, code.co_firstlineno, code.co_name, line)


def _collect_outputs(ctx: TraceContext, result: Any, name: str,
                     loc: SourceLoc | None = None) -> tuple[list[int], str]:
    if isinstance(result, (tuple, list)):
        if not result:
            raise TraceError(f"{name} returned an empty {type(result).__name__}; return at least one signal",
                             loc=loc)
        return [_output_id(ctx, r, name, loc) for r in result], "tuple"
    return [_output_id(ctx, result, name, loc)], "single"


def _output_id(ctx: TraceContext, value: Any, name: str, loc: SourceLoc | None = None) -> int:
    if value is None:
        raise TraceError(f"{name} returned None; a compiled function must return its result signal(s)",
                         loc=loc, hint="did the function forget its `return` statement?")
    if isinstance(value, (dict, set)):
        raise TraceError(f"{name} returned a {type(value).__name__}; return an array or a tuple of arrays",
                         loc=loc)
    if isinstance(value, Tracer) and value._ctx is not ctx:
        raise _escaped_error(loc)  # blame the function, not spikec's call of it
    return ctx.node_id(value)


__all__ = ["Input", "InputSpec", "const", "trace_function"]


class ConstantInput:
    """An input held at one value: a function of time that the range measurement knows to be constant (a
    run whose inputs are all constant can stop once its state has settled; see :mod:`spikec.lower.ranges`)."""

    constant = True

    def __init__(self, value: np.ndarray):
        self.value = value

    def __call__(self, t: float) -> np.ndarray:
        return self.value
