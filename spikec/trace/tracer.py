"""Tracer arrays: stand-ins for NumPy arrays that record what is done to them.

A :class:`Tracer` is handed to the user's function in place of each input
signal.  NumPy dispatches ufuncs (``__array_ufunc__``) and functions
(``__array_function__``) to it, and Python dispatches operators; every
supported operation appends a node to the graph being traced and returns a
new tracer.  Anything that would need a concrete value (``if x > 0:``,
``float(x)``) raises :class:`~spikec.errors.TracedControlFlowError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from spikec.errors import InPlaceError, TracedControlFlowError, UnsupportedOperationError
from spikec.ir.source import capture

if TYPE_CHECKING:  # pragma: no cover
    from spikec.ir.node import Node
    from spikec.trace.context import TraceContext


def _control_flow_error(what: str, x: Tracer, op: str) -> TracedControlFlowError:
    return TracedControlFlowError(
        f"{what} needs a concrete value, but this is a traced signal whose value changes over time",
        op=op,
        shapes=[x.shape],
        loc=capture(),
        hint="Python control flow cannot depend on a signal; use np.where(cond, a, b), "
        "np.maximum/np.minimum or np.clip instead",
    )


def _inplace_error(op: str, x: Tracer, other: Any) -> InPlaceError:
    return InPlaceError(
        f"in-place operation {op} on a traced signal",
        op=op,
        shapes=[x.shape, _shape_of(other)],
        loc=capture(),
        hint="signals are immutable: write `x = x + y` instead of `x += y`, "
        "and build arrays with np.concatenate/np.stack instead of assigning into them",
    )


def _shape_of(value: Any) -> tuple[int, ...]:
    """Shape of an operand for an error message, never raising (it may hold tracers)."""
    if isinstance(value, Tracer):
        return value.shape
    try:
        return np.shape(value)
    except Exception:
        return ()


class Tracer:
    """A symbolic float64 array of fixed shape whose value is a signal over time."""

    __slots__ = ("_ctx", "_node")
    # Make ndarray binary operators defer to us (ndarray + tracer -> our __radd__).
    __array_priority__ = 1000

    def __init__(self, ctx: TraceContext, node: Node):
        self._ctx = ctx
        self._node = node

    # -- array attributes -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._node.shape

    @property
    def ndim(self) -> int:
        return len(self._node.shape)

    @property
    def size(self) -> int:
        return self._node.size

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    @property
    def T(self) -> Tracer:
        from spikec.trace import api

        return api.transpose(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d signal")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d signal")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"Tracer(op={self._node.op}, shape={self.shape})"

    # -- NumPy protocols ------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from spikec.trace.numpy_dispatch import dispatch_ufunc

        return dispatch_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from spikec.trace.numpy_dispatch import dispatch_function

        return dispatch_function(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        raise _control_flow_error("converting to a NumPy array (np.asarray, np.array)", self, "np.asarray")

    # -- concrete-value conversions: all refused ------------------------------
    def __bool__(self):
        raise _control_flow_error("`if`/`while`/`and`/`or`/bool() on a signal", self, "bool")

    def __float__(self):
        raise _control_flow_error("float()", self, "float")

    def __int__(self):
        raise _control_flow_error("int()", self, "int")

    def __index__(self):
        raise _control_flow_error("using a signal as an index", self, "__index__")

    def __complex__(self):
        raise _control_flow_error("complex()", self, "complex")

    __hash__ = object.__hash__

    def __eq__(self, other):
        raise UnsupportedOperationError(
            "== on signals is not supported (an exact equality test has no useful spiking form)",
            op="==", loc=capture(), hint="compare with a tolerance via np.abs(x - y) < eps, or use x > y",
        )

    def __ne__(self, other):
        raise UnsupportedOperationError("!= on signals is not supported", op="!=", loc=capture())

    # -- operators --------------------------------------------------------------
    def __add__(self, other):
        return np.add(self, other)

    def __radd__(self, other):
        return np.add(other, self)

    def __sub__(self, other):
        return np.subtract(self, other)

    def __rsub__(self, other):
        return np.subtract(other, self)

    def __mul__(self, other):
        return np.multiply(self, other)

    def __rmul__(self, other):
        return np.multiply(other, self)

    def __truediv__(self, other):
        return np.true_divide(self, other)

    def __rtruediv__(self, other):
        return np.true_divide(other, self)

    def __pow__(self, other):
        return np.power(self, other)

    def __rpow__(self, other):
        return np.power(other, self)

    def __matmul__(self, other):
        return np.matmul(self, other)

    def __rmatmul__(self, other):
        return np.matmul(other, self)

    def __neg__(self):
        return np.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return np.abs(self)

    def __gt__(self, other):
        return np.greater(self, other)

    def __ge__(self, other):
        return np.greater_equal(self, other)

    def __lt__(self, other):
        return np.less(self, other)

    def __le__(self, other):
        return np.less_equal(self, other)

    def __floordiv__(self, other):
        raise UnsupportedOperationError("// (floor division) on signals is not supported",
                                        op="//", loc=capture())

    __rfloordiv__ = __floordiv__

    def __mod__(self, other):
        raise UnsupportedOperationError("% (modulo) on signals is not supported", op="%", loc=capture())

    __rmod__ = __mod__

    # -- in-place operators: refused -----------------------------------------------
    def __setitem__(self, key, value):
        raise _inplace_error("x[...] = value", self, value)

    def __iadd__(self, other):
        raise _inplace_error("+=", self, other)

    def __isub__(self, other):
        raise _inplace_error("-=", self, other)

    def __imul__(self, other):
        raise _inplace_error("*=", self, other)

    def __itruediv__(self, other):
        raise _inplace_error("/=", self, other)

    def __imatmul__(self, other):
        raise _inplace_error("@=", self, other)

    def __ipow__(self, other):
        raise _inplace_error("**=", self, other)

    # -- indexing and methods ---------------------------------------------------------
    def __getitem__(self, key):
        from spikec.trace import api

        return api.getitem(self, key)

    def reshape(self, *shape, order="C"):
        from spikec.trace import api

        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return api.reshape(self, shape, order=order)

    def ravel(self, order="C"):
        from spikec.trace import api

        return api.reshape(self, (-1,), order=order)

    flatten = ravel

    def transpose(self, *axes):
        from spikec.trace import api

        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            axes = axes[0]
        return api.transpose(self, axes or None)

    def swapaxes(self, axis1, axis2):
        return np.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        return np.squeeze(self, axis=axis)

    def sum(self, axis=None, keepdims=False, **kwargs):
        return np.sum(self, axis=axis, keepdims=keepdims, **kwargs)

    def mean(self, axis=None, keepdims=False, **kwargs):
        return np.mean(self, axis=axis, keepdims=keepdims, **kwargs)

    def max(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.max(self, axis=axis, out=out, keepdims=keepdims, **kwargs)

    def min(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.min(self, axis=axis, out=out, keepdims=keepdims, **kwargs)

    def cumsum(self, axis=None, dtype=None, out=None):
        return np.cumsum(self, axis=axis, dtype=dtype, out=out)

    def dot(self, other):
        return np.dot(self, other)

    def clip(self, a_min=None, a_max=None):
        return np.clip(self, a_min, a_max)

    def copy(self):
        return self

    def astype(self, dtype, **kwargs):
        if np.dtype(dtype).kind == "f":
            return self
        raise UnsupportedOperationError(
            f"astype({np.dtype(dtype)}): signals are real-valued", op="astype", loc=capture()
        )

    def filter(self, synapse=0.005, x0=None):
        """Filter this signal through a synapse (a float means a lowpass time constant)."""
        from spikec.trace.time import filter as filter_

        return filter_(self, synapse, x0=x0)

    def _unsupported_reduction(self, name):
        def method(*args, **kwargs):
            raise UnsupportedOperationError(
                f"x.{name}() on a signal is not supported", op=name, loc=capture(),
                hint="reductions other than sum/mean/max/min have no cheap spiking form; "
                "for two values use np.maximum/np.minimum",
            )

        return method

    def __getattr__(self, name):
        if name in {"argmax", "argmin", "prod", "std", "var", "sort", "round"}:
            return self._unsupported_reduction(name)
        raise AttributeError(name)
