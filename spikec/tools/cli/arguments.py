"""Example arguments: ``--arg NAME=SHAPE | NAME=@file.npy`` and ``--const NAME=VALUE``, and the options that take them.

Shared by the commands that trace a function (graph, stats, run, bench).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikec.tools.cli.errors import CLIError
from spikec.tools.cli.targets import Target, find_function, load_module

ARG_HELP = """\
writing example arguments:
  --arg NAME=SHAPE      a random normal array of that shape (2x2, 3, 2x3x4, scalar)
                        drawn from --seed, in parameter order: the first one equals
                        np.random.RandomState(seed).randn(*shape)
  --arg NAME=@FILE.npy  an array loaded from a .npy file (or a one-array .npz)
  --const NAME=VALUE    a compile-time constant: a Python literal (0.1, 3, [1, 2])
                        or @FILE.npy; arrays are wrapped in spikec.const
  Parameters with defaults may be omitted.
"""

_SHAPE_HELP = "SHAPE must look like 2x2, 3, 2x3x4 or scalar (or @file.npy to load an array)"


def parse_shape(text: str) -> tuple[int, ...]:
    """``"2x3"`` -> (2, 3); ``"3"`` -> (3,); ``"scalar"`` or ``"()"`` -> ()."""
    text = text.strip().lower()
    if text in ("scalar", "()", ""):
        if text == "":
            raise ValueError("empty shape")
        return ()
    text = text.strip("()[]")
    parts = [p.strip() for p in re.split(r"[x\N{MULTIPLICATION SIGN},*]", text)]
    if parts and parts[-1] == "":
        parts.pop()  # "3," like a Python tuple
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"bad shape {text!r}")
    return tuple(int(p) for p in parts)


def split_assignment(text: str, option: str) -> tuple[str, str]:
    """``NAME=VALUE`` of an option (``--arg``, ``--const``, ``--option``) as (name, value)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not value.strip():
        form, example = ("NAME=SHAPE", "A=2x2") if option == "--arg" else ("NAME=VALUE", "dt=0.1")
        raise CLIError(f"{option} {text!r}: write {option} {form}, e.g. {option} {example}")
    return name, value.strip()


def load_array(path: str, option: str, name: str) -> np.ndarray:
    """The float64 array in a .npy file (or a one-array .npz) named by ``option NAME=@path``."""
    if not os.path.exists(path):
        raise CLIError(f"{option} {name}=@{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise CLIError(f"{option} {name}=@{path}: cannot load it with np.load ({exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if len(data.files) != 1:
                raise CLIError(f"{option} {name}=@{path}: the .npz holds {len(data.files)} arrays "
                               f"({', '.join(data.files)}); save the one you want as .npy")
            data = data[data.files[0]]
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise CLIError(f"{option} {name}=@{path}: not a numeric array (dtype {data.dtype})") from None


@dataclass
class ArgSpec:
    """One parsed --arg or --const: a shape to draw, an array or a constant."""

    kind: str  # "shape" | "array" | "const"
    value: Any


def parse_arg_options(args: Sequence[str], consts: Sequence[str]) -> dict[str, ArgSpec]:
    """Parse ``--arg`` and ``--const`` strings into specs, by parameter name."""
    import spikec

    specs: dict[str, ArgSpec] = {}

    def put(name: str, spec: ArgSpec, option: str) -> None:
        if name in specs:
            raise CLIError(f"{option} {name}=...: {name!r} is given twice")
        specs[name] = spec

    for text in args:
        name, value = split_assignment(text, "--arg")
        if value.startswith("@"):
            put(name, ArgSpec("array", load_array(value[1:], "--arg", name)), "--arg")
            continue
        try:
            put(name, ArgSpec("shape", parse_shape(value)), "--arg")
        except ValueError:
            hint = f"; for a constant write --const {name}={value}" if _looks_like_literal(value) else ""
            raise CLIError(f"--arg {text!r}: {_SHAPE_HELP}{hint}") from None
    for text in consts:
        name, value = split_assignment(text, "--const")
        if value.startswith("@"):
            put(name, ArgSpec("const", spikec.const(load_array(value[1:], "--const", name))), "--const")
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            literal = value  # a bare word: pass the string
        if isinstance(literal, (list, tuple)):
            try:
                literal = spikec.const(np.asarray(literal, dtype=np.float64))
            except (TypeError, ValueError):
                raise CLIError(f"--const {text!r}: a list must be a numeric array") from None
        put(name, ArgSpec("const", literal), "--const")
    return specs


def _looks_like_literal(value: str) -> bool:
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, SyntaxError):
        return False


def _describe_signature(cf) -> str:
    return f"{cf.name}{cf.signature}"


def build_arguments(cf, specs: dict[str, ArgSpec], seed: int) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for ``cf.trace`` from parsed ``--arg``/``--const`` specs.

    Random values are drawn from one ``RandomState(seed)`` in parameter order,
    so the first shaped argument equals ``RandomState(seed).randn(*shape)``.
    """
    params = cf.signature.parameters
    P = inspect.Parameter
    var_kw = any(p.kind is P.VAR_KEYWORD for p in params.values())
    for name in specs:
        p = params.get(name)
        if (p is None and not var_kw) or (p is not None and p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD)):
            names = ", ".join(n for n, q in params.items() if q.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD))
            raise CLIError(f"{_describe_signature(cf)} has no parameter {name!r}; parameters: {names or 'none'}")
    missing = [n for n, p in params.items()
               if p.default is P.empty and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD) and n not in specs]
    if missing:
        flags = " ".join(f"--arg {n}=SHAPE" for n in missing)
        raise CLIError(f"{_describe_signature(cf)} needs a value for {', '.join(missing)}: "
                       f"add {flags} (a shape like 2x2, 3 or scalar, or @file.npy)")
    rng = np.random.RandomState(seed)

    def make(spec: ArgSpec) -> Any:
        if spec.kind == "shape":
            return np.asarray(rng.randn(*spec.value), dtype=np.float64)
        return spec.value

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    ordered = [n for n in params if n in specs] + [n for n in specs if n not in params]
    values = {n: make(specs[n]) for n in ordered}
    positional_only = [n for n, p in params.items() if p.kind is P.POSITIONAL_ONLY]
    last_given = max((i for i, n in enumerate(positional_only) if n in values), default=-1)
    for n in positional_only[:last_given + 1]:
        args.append(values.pop(n) if n in values else params[n].default)
    kwargs.update(values)
    return args, kwargs


def trace_target(ns: argparse.Namespace, target: Target):
    """Import the target file, find its function and trace it with the options' example arguments."""
    module = load_module(target.path)
    cf = find_function(module, target)
    specs = parse_arg_options(ns.arg or [], ns.const or [])
    args, kwargs = build_arguments(cf, specs, ns.seed if ns.seed is not None else 0)
    return cf.trace(*args, **kwargs)

def add_common(p: argparse.ArgumentParser) -> None:
    """``--traceback`` on a subcommand too (``spikec run ... --traceback``)."""
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback of errors")


def add_trace_options(p: argparse.ArgumentParser, run: bool = False) -> None:
    """The example-argument group: ``--arg``, ``--const`` and ``--seed`` (which also seeds the back end in ``run``)."""
    g = p.add_argument_group("example arguments")
    g.add_argument("--arg", action="append", metavar="NAME=SHAPE",
                   help="an input signal: NAME=2x2 (random, from --seed) or NAME=@file.npy; repeatable")
    g.add_argument("--const", action="append", metavar="NAME=VALUE",
                   help="a compile-time constant: NAME=0.1, NAME=[1,2] or NAME=@file.npy; repeatable")
    g.add_argument("--seed", type=int, default=None,
                   help="seed for random --arg values" + (" and the back end" if run else "") + " (default: 0)")

