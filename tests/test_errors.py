"""Errors speak the user's language: the op, the shapes, and the user's line.

Each offending line below carries a ``# HERE:tag`` comment; :func:`expect`
checks that the error points at exactly that line of this file (file name
and line number), besides its type, op and shapes.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest

import spikec
from spikec.errors import (
    BackendError,
    ConstantError,
    InPlaceError,
    RunError,
    ShapeError,
    SpikecError,
    TracedControlFlowError,
    TraceError,
    UnsupportedOperationError,
)
from spikec.trace.numpy_dispatch import UFUNCS, supported_function_names

X = np.ones((2, 3))
V = np.ones(3)

with open(__file__) as _f:
    _SOURCE = _f.read().splitlines()


def here(tag: str) -> int:
    """Line number of the line tagged ``# HERE:tag`` in this file."""
    lines = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(f"# HERE:{tag}")]
    assert len(lines) == 1, f"tag {tag!r} found {len(lines)} times"
    return lines[0]


def expect(exc_info, tag: str | None, *, op: str | None = None, shapes=None, contains=()) -> str:
    """Check where an error points and what its message says; return the message."""
    err = exc_info.value
    assert isinstance(err, SpikecError)
    text = str(err)
    if tag is not None:
        line = here(tag)
        assert err.loc is not None, text
        assert os.path.samefile(err.loc.filename, __file__), text
        assert err.loc.lineno == line, text
        assert f'File "{err.loc.filename}", line {line}' in text
        assert os.path.basename(__file__) in text
        assert err.loc.short == f"test_errors.py:{line}"
        assert _SOURCE[line - 1].strip() in text  # the offending source line itself
    if op is not None:
        assert err.op == op, text
        assert op in text
    if shapes is not None:
        assert err.shapes == [tuple(s) for s in shapes], text
        for s in shapes:
            assert str(tuple(s)) in text
    for fragment in contains:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


def trace(fn, *args):
    return spikec.compile(fn).trace(*args)


# ============================================================ unsupported NumPy


def test_unsupported_numpy_function_lists_what_is_supported():
    def fn(a):
        return np.sort(a)  # HERE:sort

    with pytest.raises(UnsupportedOperationError) as info:
        trace(fn, X)
    text = expect(info, "sort", op="np.sort", shapes=[(2, 3)], contains=["not supported"])
    for name in supported_function_names():
        assert name in text
    for ufunc in UFUNCS:
        assert f"np.{ufunc.__name__}" in text
    assert isinstance(info.value, TypeError) and isinstance(info.value, TraceError)


def test_unsupported_linalg_and_cumprod():
    def inv(a):
        return np.linalg.inv(a)  # HERE:inv

    def cumprod(a):
        return np.cumprod(a, axis=0)  # HERE:cumprod

    def norm(a):
        return np.linalg.norm(a, 2)  # HERE:norm

    with pytest.raises(UnsupportedOperationError) as info:
        trace(inv, np.eye(2))
    expect(info, "inv", op="np.linalg.inv", shapes=[(2, 2)], contains=["np.einsum"])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(cumprod, X)
    expect(info, "cumprod", op="np.cumprod", shapes=[(2, 3)])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(norm, X)
    expect(info, "norm", op="norm", shapes=[(2, 3)], contains=["Frobenius"])


@pytest.mark.parametrize("func", [np.median, np.prod, np.argmax, np.var, np.round, np.ediff1d])
def test_more_unsupported_functions(func):
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: func(a), X)  # HERE:more
    expect(info, "more", op=f"np.{func.__name__}", shapes=[(2, 3)])


def test_unsupported_ufunc_lists_supported_ufuncs():
    def fn(a):
        return np.log2(a)  # HERE:log2

    with pytest.raises(UnsupportedOperationError) as info:
        trace(fn, X)
    text = expect(info, "log2", op="np.log2", shapes=[(2, 3)], contains=["supported ufuncs"])
    for ufunc in UFUNCS:
        assert f"np.{ufunc.__name__}" in text


def test_unsupported_ufunc_method_and_keywords():
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: np.maximum.reduce(a), X)  # HERE:reduce
    expect(info, "reduce", op="np.maximum.reduce")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: np.add(a, 1, where=a), X)  # HERE:where_kw
    expect(info, "where_kw", contains=["where="])


@pytest.mark.parametrize("method", ["argmin", "var", "prod", "sort", "argmax", "std"])
def test_unsupported_methods(method):
    def fn(a):
        return getattr(a, method)()  # HERE:method

    with pytest.raises(UnsupportedOperationError) as info:
        trace(fn, X)
    expect(info, "method", op=method, contains=["np.maximum"])


def test_unsupported_operators():
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a == a, X)  # HERE:eq
    expect(info, "eq", op="==")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a != 1, X)  # HERE:ne
    expect(info, "ne", op="!=")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a // 2, X)  # HERE:floordiv
    expect(info, "floordiv", op="//")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a % 2, X)  # HERE:mod
    expect(info, "mod", op="%")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a, b: a**b, X, X)  # HERE:powss
    expect(info, "powss", op="power", shapes=[(2, 3), (2, 3)], contains=["np.exp"])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a ** np.array([1.0, 2.0, 3.0]), X)  # HERE:powarr
    expect(info, "powarr", op="power", shapes=[(2, 3), (3,)])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a.astype(int), X)  # HERE:astype
    expect(info, "astype", op="astype")
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: np.reshape(a, (3, 2), order="F"), X)  # HERE:order
    expect(info, "order", op="reshape", contains=["order='F'"])


def test_other_unsupported_constructs():
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: np.einsum("i,i,i->", a, a, a), V)  # HERE:einsum3
    expect(info, "einsum3", op="einsum", shapes=[(3,), (3,), (3,)], contains=["pairwise"])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a, b: np.clip(a, b, 1.0), X, X)  # HERE:clipsig
    expect(info, "clipsig", op="clip", contains=["np.maximum"])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: spikec.integrate(lambda x: -x, x0=a), X)  # HERE:x0sig
    expect(info, "x0sig", op="integrate", shapes=[(2, 3)])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a: a[a > 0], X)  # HERE:sigindex
    expect(info, "sigindex", op="getitem", shapes=[(2, 3), (2, 3)], contains=["compile time"])


# ================================================================ shape errors


def test_matmul_shape_mismatch():
    def fn(a, b):
        return a @ b  # HERE:matmul

    with pytest.raises(ShapeError) as info:
        trace(fn, X, X)
    expect(info, "matmul", op="matmul", shapes=[(2, 3), (2, 3)], contains=["(3)", "(2)"])
    assert isinstance(info.value, ValueError)
    with pytest.raises(ShapeError) as info:
        trace(lambda a: a @ np.ones((2, 4)), X)  # HERE:matmul_const
    expect(info, "matmul_const", op="matmul", shapes=[(2, 3), (2, 4)])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: np.ones((2, 5, 2)) @ a, np.ones((3, 2, 3)))  # HERE:matmul_batch
    expect(info, "matmul_batch", op="matmul", shapes=[(2, 5, 2), (3, 2, 3)])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: a @ 2.0, X)  # HERE:matmul_scalar
    expect(info, "matmul_scalar", op="matmul", shapes=[(2, 3), ()])


def test_broadcasting_mismatch():
    def fn(a, b):
        return a + b  # HERE:add

    with pytest.raises(ShapeError) as info:
        trace(fn, X, np.ones(2))
    expect(info, "add", op="add", shapes=[(2, 3), (2,)], contains=["broadcast"])
    for tag, f in [("mulc", lambda a: a * np.ones((4,))),  # HERE:mulc
                   ("subc", lambda a: np.ones((3, 3)) - a),  # HERE:subc
                   ("maxc", lambda a: np.maximum(a, np.ones(2)))]:  # HERE:maxc
        with pytest.raises(ShapeError) as info:
            trace(f, X)
        assert info.value.loc.lineno == here(tag)
        assert (2, 3) in info.value.shapes


def test_concatenate_and_stack_mismatch():
    with pytest.raises(ShapeError) as info:
        trace(lambda a, b: np.concatenate([a, b]), X, np.ones((2, 2)))  # HERE:concat
    expect(info, "concat", op="concatenate", shapes=[(2, 3), (2, 2)])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: np.concatenate([a, np.ones(3)]), X)  # HERE:concat_nd
    expect(info, "concat_nd", op="concatenate", shapes=[(2, 3), (3,)])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: np.stack([a, np.ones((3, 2))]), X)  # HERE:stack
    expect(info, "stack", op="stack", shapes=[(2, 3), (3, 2)])


def test_reshape_mismatch():
    def fn(a):
        return a.reshape(4, 2)  # HERE:reshape

    with pytest.raises(ShapeError) as info:
        trace(fn, X)
    expect(info, "reshape", op="reshape", shapes=[(2, 3)], contains=["(4, 2)", "size 6"])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: a.reshape(-1, 4), X)  # HERE:reshape_neg
    expect(info, "reshape_neg", op="reshape", shapes=[(2, 3)])
    with pytest.raises(ShapeError) as info:
        trace(lambda a: a.reshape(-1, -1), X)  # HERE:reshape_two
    expect(info, "reshape_two", op="reshape", shapes=[(2, 3)])


@pytest.mark.parametrize("tag, fn, op", [
    ("axis", lambda a: np.sum(a, axis=2), "sum"),  # HERE:axis
    ("swap", lambda a: np.swapaxes(a, 0, 5), "swapaxes"),  # HERE:swap
    ("perm", lambda a: np.transpose(a, (0, 0)), "transpose"),  # HERE:perm
    ("squeeze", lambda a: np.squeeze(a, 0), "squeeze"),  # HERE:squeeze
    ("index", lambda a: a[5], "getitem"),  # HERE:index
    ("bcast", lambda a: np.broadcast_to(a, (3, 3)), "broadcast_to"),  # HERE:bcast
    ("einsum", lambda a: np.einsum("ij,jk", a, np.ones((2, 2))), "einsum"),  # HERE:einsum
    ("tensordot", lambda a: np.tensordot(a, np.ones((2, 2)), 1), "tensordot"),  # HERE:tensordot
    ("trace1d", lambda a: np.trace(a[0]), "trace"),  # HERE:trace1d
    ("repeated", lambda a: np.sum(a, axis=(0, -2)), "sum"),  # HERE:repeated
    ("stackaxis", lambda a: np.stack([a, a], axis=4), "stack"),  # HERE:stackaxis
])
def test_more_shape_errors(tag, fn, op):
    with pytest.raises(ShapeError) as info:
        trace(fn, X)
    expect(info, tag, op=op)
    assert (2, 3) in info.value.shapes or (3,) in info.value.shapes


def test_lti_shape_errors():
    with pytest.raises(ShapeError) as info:
        trace(lambda a: spikec.lti(a, (np.eye(2), np.ones((2, 2)))), V)  # HERE:lti
    expect(info, "lti", op="lti", shapes=[(3,)], contains=["B"])


# ============================================================ control flow


def test_if_on_a_signal():
    def fn(a):
        if a > 0:  # HERE:if
            return a
        return -a

    with pytest.raises(TracedControlFlowError) as info:
        trace(fn, X)
    expect(info, "if", op="bool", shapes=[(2, 3)], contains=["np.where", "np.maximum"])
    assert isinstance(info.value, TypeError)


def test_while_and_boolean_operators():
    def loop(a):
        while a.sum() > 1:  # HERE:while
            a = a / 2
        return a

    with pytest.raises(TracedControlFlowError) as info:
        trace(loop, X)
    expect(info, "while", op="bool", shapes=[()])
    with pytest.raises(TracedControlFlowError) as info:
        trace(lambda a, b: (a > 0) and b, X, X)  # HERE:and
    expect(info, "and", op="bool", contains=["np.where"])


@pytest.mark.parametrize("tag, fn, op", [
    ("bool", lambda a: bool(a), "bool"),  # HERE:bool
    ("float", lambda a: float(a[0, 0]), "float"),  # HERE:float
    ("int", lambda a: int(a[0, 0]), "int"),  # HERE:int
    ("math", lambda a: math.sqrt(a[0, 0]), "float"),  # HERE:math
    ("listindex", lambda a: [1.0, 2.0][a[0, 0]], "__index__"),  # HERE:listindex
    ("range", lambda a: range(a[0, 0]), "__index__"),  # HERE:range
    ("asarray", lambda a: np.asarray(a), "np.asarray"),  # HERE:asarray
    ("array", lambda a: np.array([a[0], a[1]]), "np.asarray"),  # HERE:array
    ("complex", lambda a: complex(a[0, 0]), "complex"),  # HERE:complex
])
def test_concrete_value_conversions(tag, fn, op):
    with pytest.raises(TracedControlFlowError) as info:
        trace(fn, X)
    expect(info, tag, op=op, contains=["np.where"])


def test_signal_as_index_of_a_signal():
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a, i: a[i], X, np.array(1.0))  # HERE:sigidx
    expect(info, "sigidx", op="getitem", shapes=[(2, 3), ()], contains=["np.where"])
    with pytest.raises(UnsupportedOperationError) as info:
        trace(lambda a, i: a[1:i], X, np.array(1.0))  # HERE:sigslice
    expect(info, "sigslice", op="getitem")


# =========================================================== integrate shapes


def test_integrand_shape_must_match_x0():
    def fn(a):
        return spikec.integrate(lambda x: x.sum(axis=0), x0=np.zeros((2, 3)))  # HERE:integrand

    with pytest.raises(ShapeError) as info:
        trace(fn, X)
    expect(info, "integrand", op="integrate", shapes=[(2, 3), (3,)], contains=["x0"])


def test_integrand_returning_broadcastable_shape_is_still_an_error():
    with pytest.raises(ShapeError) as info:
        trace(lambda a: spikec.integrate(lambda x: a[0], x0=np.zeros((2, 3))), X)  # HERE:integrand2
    expect(info, "integrand2", op="integrate", shapes=[(2, 3), (3,)])


# ======================================================== non-finite constants


@pytest.mark.parametrize("tag, fn", [
    ("inf_add", lambda a: a + np.inf),  # HERE:inf_add
    ("nan_mul", lambda a: a * np.array([1.0, np.nan, 1.0])),  # HERE:nan_mul
    ("inf_matmul", lambda a: a @ np.full((3, 2), np.inf)),  # HERE:inf_matmul
    ("nan_where", lambda a: np.where(np.eye(2, 3, dtype=bool), a, np.nan)),  # HERE:nan_where
    ("nan_concat", lambda a: np.concatenate([a, np.full((1, 3), np.nan)])),  # HERE:nan_concat
    ("inf_div", lambda a: np.inf / a),  # HERE:inf_div
    ("nan_clip", lambda a: np.clip(a, np.nan, 1.0)),  # HERE:nan_clip
    ("nan_x0", lambda a: spikec.integrate(lambda x: -x, x0=np.array([np.nan]))),  # HERE:nan_x0
    ("inf_lti", lambda a: spikec.lti(a[0], (np.full((3, 3), np.inf), np.eye(3)))),  # HERE:inf_lti
])
def test_non_finite_constants(tag, fn):
    with pytest.raises(ConstantError) as info:
        trace(fn, X)
    expect(info, tag, contains=["non-finite"])
    assert isinstance(info.value, ValueError)


def test_non_finite_inputs():
    bad = np.array([1.0, np.inf, 2.0])
    with pytest.raises(ConstantError) as info:
        spikec.compile(lambda a: a * 2).trace(bad)  # HERE:inf_input
    expect(info, "inf_input", shapes=[(3,)], contains=["non-finite", "'a'"])
    with pytest.raises(ConstantError) as info:
        spikec.compile(lambda a, w: a @ w).trace(V, spikec.const(np.full((3, 3), np.nan)))  # HERE:nan_const_arg
    expect(info, "nan_const_arg", contains=["non-finite"])
    prog = trace(lambda a: a * 2, V)
    with pytest.raises(ConstantError) as info:
        prog.run(np.array([np.nan, 0.0, 0.0]), t=0.01)  # HERE:nan_run
    expect(info, "nan_run", contains=["non-finite", "'a'"])


def test_division_by_a_zero_constant():
    with pytest.raises(ConstantError) as info:
        trace(lambda a: a / np.array([1.0, 0.0, 2.0]), X)  # HERE:divzero
    expect(info, "divzero", op="divide", shapes=[(2, 3), (3,)], contains=["zero"])


# ===================================================================== in place


def _inplace(kind):
    def fn(a):
        if kind == "+=":
            a += 1  # HERE:iadd
        elif kind == "-=":
            a -= 1  # HERE:isub
        elif kind == "*=":
            a *= 2  # HERE:imul
        elif kind == "/=":
            a /= 2  # HERE:idiv
        elif kind == "@=":
            a @= np.eye(3)  # HERE:imatmul
        elif kind == "**=":
            a **= 2  # HERE:ipow
        elif kind == "x[...] = value":
            a[0] = 1  # HERE:setitem
        return a

    return fn


@pytest.mark.parametrize("kind, tag", [("+=", "iadd"), ("-=", "isub"), ("*=", "imul"), ("/=", "idiv"),
                                       ("@=", "imatmul"), ("**=", "ipow"), ("x[...] = value", "setitem")])
def test_in_place_operators(kind, tag):
    with pytest.raises(InPlaceError) as info:
        trace(_inplace(kind), X)
    expect(info, tag, op=kind, contains=["x = x + y"])
    assert info.value.shapes[0] == (2, 3)


@pytest.mark.parametrize("tag, fn", [
    ("out_add", lambda a: np.add(a, 1, out=a)),  # HERE:out_add
    ("out_exp", lambda a: np.exp(a, out=np.empty((2, 3)))),  # HERE:out_exp
    ("out_sum", lambda a: np.sum(a, axis=0, out=np.empty(3))),  # HERE:out_sum
    ("out_clip", lambda a: np.clip(a, 0, 1, out=np.empty((2, 3)))),  # HERE:out_clip
    ("out_concat", lambda a: np.concatenate([a, a], out=np.empty((4, 3)))),  # HERE:out_concat
    ("out_einsum", lambda a: np.einsum("ij->ji", a, out=np.empty((3, 2)))),  # HERE:out_einsum
])
def test_out_arguments(tag, fn):
    with pytest.raises(InPlaceError) as info:
        trace(fn, X)
    expect(info, tag, contains=["in place"])


# ============================================================= running errors


def test_running_with_an_input_of_the_wrong_shape():
    prog = trace(lambda a: a * 2, X)
    with pytest.raises(RunError) as info:
        prog.run(np.ones(3), t=0.01)  # HERE:wrong_shape
    expect(info, "wrong_shape", shapes=[(2, 3), (3,)], contains=["'a'", "trace the function again"])
    with pytest.raises(RunError) as info:
        prog.run(spikec.Input(4), t=0.01)  # HERE:wrong_input
    expect(info, "wrong_input", shapes=[(2, 3), (4,)])
    with pytest.raises(RunError) as info:
        prog.run(lambda t: np.ones(4), t=0.01)
    expect(info, None, contains=["(4,)", "(2, 3)"])


def test_other_run_errors():
    prog = trace(lambda a: a * 2, X)
    with pytest.raises(RunError, match="1 input signals"):
        prog.run(X, X, t=0.01)
    with pytest.raises(RunError, match="no input signal 'b'"):
        prog.run(inputs={"b": X}, t=0.01)
    with pytest.raises(RunError, match="t > 0"):
        prog.run(t=-1.0)
    with pytest.raises(RunError, match="shorter than one time step"):
        prog.run(t=1e-4, dt=1e-3)
    with pytest.raises(RunError, match="modes"):
        prog.run(t=0.01, mode="no-such-mode")
    with pytest.raises(RunError, match="batch"):
        trace(lambda a, b: a + b, X, X).run(np.ones((2, 2, 3)), np.ones((3, 2, 3)), batch=True, t=0.01)


def test_unknown_backend():
    prog = trace(lambda a: a * 2, X)
    with pytest.raises(BackendError) as info:
        prog.run(t=0.01, backend="no-such-backend")
    expect(info, None, contains=["'no-such-backend'", "numpy"])
    assert isinstance(info.value, RuntimeError)


# ============================================================ tracing misuse


def test_escaped_tracer_in_a_second_trace():
    leaked = []
    trace(lambda a: leaked.append(a) or a, X)

    with pytest.raises(TraceError) as info:
        trace(lambda a: a + leaked[0], X)  # HERE:escaped
    expect(info, "escaped", contains=["escaped", "arguments"])
    with pytest.raises(TraceError) as info:
        trace(lambda a: np.exp(leaked[0]), X)  # HERE:escaped_alone
    expect(info, "escaped_alone", contains=["escaped"])
    with pytest.raises(TraceError) as info:
        trace(lambda a: spikec.integrate(lambda x: leaked[0], x0=np.zeros((2, 3))), X)  # HERE:escaped_integrand
    expect(info, "escaped_integrand", contains=["escaped"])
    with pytest.raises(TraceError) as info:
        trace(lambda a: leaked[0], X)  # HERE:escaped_output
    expect(info, "escaped_output", contains=["escaped"])  # blamed on the function's definition


def test_escaped_tracer_used_outside_any_trace():
    leaked = []
    trace(lambda a: leaked.append(a) or a, X)
    with pytest.raises(TraceError) as info:
        leaked[0] * 2  # HERE:escaped_outside
    expect(info, "escaped_outside", contains=["escaped"])


@pytest.mark.parametrize("tag, call", [
    ("integrate_outside", lambda: spikec.integrate(lambda x: -x, x0=np.zeros(2))),  # HERE:integrate_outside
    ("filter_outside", lambda: spikec.filter(np.zeros(2), 0.01)),  # HERE:filter_outside
    ("lti_outside", lambda: spikec.lti(np.zeros(1), (np.eye(1), np.ones(1)))),  # HERE:lti_outside
])
def test_time_functions_outside_a_trace(tag, call):
    with pytest.raises(TraceError) as info:
        call()
    expect(info, tag, contains=["@spikec.compile"])


def test_returning_none():
    def forgot(a):  # HERE:none
        a * 2

    with pytest.raises(TraceError) as info:
        trace(forgot, X)
    expect(info, "none", contains=["returned None", "forgot", "return"])


@pytest.mark.parametrize("tag, fn, what", [
    ("empty", lambda a: (), "empty tuple"),  # HERE:empty
    ("dict", lambda a: {"y": a}, "dict"),  # HERE:dict
    ("none_in_tuple", lambda a: (a, None), "None"),  # HERE:none_in_tuple
])
def test_returning_other_non_signals(tag, fn, what):
    with pytest.raises(TraceError) as info:
        trace(fn, X)
    expect(info, tag, contains=[what])


def test_error_hierarchy():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, TraceError)
    assert issubclass(UnsupportedOperationError, TypeError)
    assert issubclass(TracedControlFlowError, TypeError)
    assert issubclass(InPlaceError, TypeError)
    assert issubclass(ConstantError, ValueError)
    assert issubclass(RunError, ValueError)
    assert issubclass(BackendError, RuntimeError)
    for cls in (ShapeError, UnsupportedOperationError, TracedControlFlowError, InPlaceError, ConstantError,
                RunError, BackendError, TraceError):
        assert issubclass(cls, SpikecError)


def test_error_rendering():
    err = ShapeError("bad", op="matmul", shapes=[(2, 3), (4,)], hint="try again")
    assert str(err) == "bad\n  op: matmul, operand shapes: (2, 3), (4,)\n  hint: try again"
    assert re.fullmatch(r"bad\n  shapes: \(1,\)", str(SpikecError("bad", shapes=[(1,)])))
    assert str(SpikecError("bad", op="x")) == "bad\n  op: x"


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_netlist_run_that_goes_non_finite_is_a_clear_error():
    """Spike counts of a diverging run are undefined: the NumPy netlist runner stops with the time and population."""
    prog = spikec.compile(lambda x: x * x).trace(np.ones(2))
    # finite (an inf input is refused as such: test_guards), but its square overflows in the neurons
    blow_up = lambda t: np.full(2, 1e200 if t > 0.0105 else 1.0)
    with pytest.raises(spikec.RunError, match=r"non-finite at t = 0.011 s \(step 11\) in population"):
        prog.run(blow_up, t=0.05, backend="numpy", mode="spiking")
