"""``@spikec.compile``: a NumPy function becomes a :class:`CompiledFunction`, whose
``.trace(*examples)`` gives a :class:`~spikec.program.Program`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from spikec.program import Program
from spikec.trace.compile import trace_function


class CompiledFunction:
    """A user function wrapped by :func:`compile`; ``.trace(*args)`` gives a :class:`Program`."""

    def __init__(self, fn: Callable, *, static: Sequence[str] = (), name: str | None = None, **options: Any):
        self.fn = fn
        self.static = frozenset(static)
        self.name = name or fn.__name__
        self.options = options
        self.signature = inspect.signature(fn)
        unknown = self.static - set(self.signature.parameters)
        if unknown:
            raise TypeError(f"static={sorted(unknown)} names no parameter of {self.name}")
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<spikec.compile {self.name}{self.signature}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Program:
        """Same as :meth:`trace`."""
        return self.trace(*args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> Program:
        """Trace the function with example arguments and return the compiled :class:`Program`.

        NumPy arrays and :class:`Input` arguments become input signals (their
        shapes are fixed by the examples); :class:`const`-wrapped values and
        arguments named in ``static=`` stay compile-time constants; Python
        scalars (Python or NumPy) and other objects are passed through unchanged.
        """
        graph, specs, structure = trace_function(self.fn, args, kwargs, self.static, self.name)
        return Program(graph, specs, structure, name=self.name, options=self.options)

    def run(self, *args: Any, t: float = 1.0, **run_options: Any):
        """Trace with ``args`` and run at once: ``f.run(A, t=1.0, backend="numpy")``."""
        return self.trace(*args).run(t=t, **run_options)


def compile(fn: Callable | None = None, *, static: Sequence[str] = (), name: str | None = None,
            **options: Any):
    """Decorator: compile a NumPy-style function into a spiking-network program.

    Use bare (``@spikec.compile``) or with options
    (``@spikec.compile(static=("n",))``).  See :class:`CompiledFunction`.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, static=static, name=name, **options)
    return CompiledFunction(fn, static=static, name=name, **options)

__all__ = ["CompiledFunction", "compile"]
