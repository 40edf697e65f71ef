"""The trace context: the graph being recorded while a user function runs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spikec.errors import ConstantError, TraceError
from spikec.ir.attrs import Attrs, ConstArray
from spikec.ir.graph import GraphBuilder
from spikec.ir.source import SourceLoc, capture

if TYPE_CHECKING:  # pragma: no cover
    from spikec.trace.tracer import Tracer

_local = threading.local()


def current_config() -> Attrs:
    """Lowering overrides of the innermost ``spikec.configure`` scopes, merged."""
    merged: dict[str, Any] = {}
    for scope in getattr(_local, "config", []):
        merged.update(scope)
    return Attrs(merged)


@contextlib.contextmanager
def configure(**overrides: Any) -> Iterator[None]:
    """Scope in which traced ops carry lowering overrides.

    Inside a compiled function::

        with spikec.configure(n_neurons=200, range=(-2, 2)):
            y = np.exp(x)

    ``range`` fixes the value range of the operands of the nonlinear ops in
    the scope instead of measuring it; every other key is a lowering option
    (see :class:`spikec.lower.LowerOptions`) applied to those ops only.
    Scopes nest; inner values win.
    """
    stack = _local.__dict__.setdefault("config", [])
    stack.append(dict(overrides))
    try:
        yield
    finally:
        stack.pop()


def current() -> TraceContext | None:
    """The innermost active trace context, or None outside tracing."""
    stack = getattr(_local, "stack", [])
    return stack[-1] if stack else None


def require(what: str) -> TraceContext:
    """The active context, or a clear error naming the function that needs one."""
    ctx = current()
    if ctx is None:
        raise TraceError(
            f"{what} can only be used inside a function compiled with @spikec.compile while it is traced",
            loc=capture(),
            hint="decorate the function with @spikec.compile and call .trace(...) on it",
        )
    return ctx


class TraceContext:
    """Records operations on tracers into a :class:`GraphBuilder`."""

    def __init__(self, name: str):
        self.builder = GraphBuilder(name)
        self.definition: SourceLoc | None = None
        self._consts: dict[ConstArray, int] = {}

    @contextlib.contextmanager
    def active(self) -> Iterator[TraceContext]:
        stack = _local.__dict__.setdefault("stack", [])
        stack.append(self)
        try:
            yield self
        finally:
            stack.pop()

    # -- node creation ------------------------------------------------------
    def emit(
        self,
        op: str,
        operands: Sequence[Any] = (),
        attrs: dict[str, Any] | Attrs | None = None,
        *,
        display_op: str | None = None,
        shape: tuple[int, ...] | None = None,
        name: str | None = None,
        loc: SourceLoc | None = None,
    ) -> Tracer:
        """Record ``op`` applied to ``operands`` (tracers or constants); return the result tracer."""
        from spikec.trace.tracer import Tracer

        if current() is not self:
            # An op on a tracer whose trace has ended (or that belongs to an
            # outer trace): recording it would silently edit a dead graph.
            raise _escaped_error()
        ids = [self.node_id(x) for x in operands]
        node = self.builder.add(
            op, ids, attrs, shape=shape, loc=loc or capture(), name=name, display_op=display_op,
            config=current_config(),
        )
        return Tracer(self, node)

    def node_id(self, value: Any) -> int:
        """Node id for an operand, adding a ``const`` node for constants."""
        from spikec.trace.tracer import Tracer

        if isinstance(value, Tracer):
            if value._ctx is not self:
                raise _escaped_error()
            return value._node.id
        const = ConstArray(as_constant(value, "operand"))
        if const not in self._consts:
            self._consts[const] = self.builder.add("const", (), {"value": const}, loc=capture()).id
        return self._consts[const]

    def node(self, tracer: Tracer):
        return self.builder.nodes[tracer._node.id]


def _escaped_error(loc: SourceLoc | None = None) -> TraceError:
    return TraceError(
        "a traced signal escaped from another trace (stored in a global or a closure?)",
        loc=loc or capture(),
        hint="pass values into the compiled function as arguments instead",
    )


def as_constant(value: Any, what: str, loc: SourceLoc | None = None) -> np.ndarray:
    """A constant operand as a finite float64 array, or a clear error."""
    from spikec.trace.tracer import Tracer

    if isinstance(value, Tracer):  # pragma: no cover - callers check first
        raise TypeError("expected a constant, got a traced signal")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConstantError(
            f"cannot use {type(value).__name__} {value!r:.60} as a numeric constant ({what})",
            loc=loc or capture(),
        ) from None
    if not np.all(np.isfinite(array)):
        raise ConstantError(
            f"constant {what} contains non-finite values (nan or inf)",
            shapes=[array.shape],
            loc=loc or capture(),
            hint="a spiking network cannot represent inf or nan; check the constant",
        )
    return array
