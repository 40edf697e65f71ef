"""The ``spikec`` command: inspect, count and run compiled programs from the shell.

::

    spikec graph examples/matrix_inversion.py --arg A=2x2     # the traced graph
    spikec stats examples/matrix_inversion.py --arg A=3x3     # op and unit counts
    spikec run examples/matrix_inversion.py:inverse --arg A=2x2 -t 1
    spikec run examples/matrix_inversion.py --n 3             # run the example's main()
    spikec ops                                                # supported NumPy operations
    spikec backends

A target is ``FILE.py[:FUNC]``.  The file is imported by path (its
``if __name__ == "__main__":`` block does not run) and ``FUNC`` names a
function decorated with ``@spikec.compile`` (a plain function named
explicitly is compiled on the fly).  Example arguments come from
``--arg NAME=SHAPE`` (random normal values from ``--seed``) or
``--arg NAME=@file.npy``; ``--const NAME=VALUE`` passes a compile-time
constant.

Errors spikec raises on purpose print as ``spikec: error: ...`` with exit
status 2 and no traceback (``--traceback`` shows it).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import json
import os
import re
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROG = "spikec"
_SPIKEC_DIR = os.path.dirname(os.path.abspath(__file__))


class CLIError(Exception):
    """A usage error the command reports in one line (exit status 2)."""


class UserCodeError(Exception):
    """The user's file raised while being imported; carries the user-frame traceback text."""

    def __init__(self, message: str, details: str):
        super().__init__(message)
        self.details = details


# -- targets: FILE.py[:FUNC] ------------------------------------------------------------


@dataclass
class Target:
    path: str
    func: str | None

    @property
    def display(self) -> str:
        return self.path + (f":{self.func}" if self.func else "")


def parse_target(text: str) -> Target:
    """Split ``FILE.py[:FUNC]``; the file must exist."""
    path, func = text, None
    head, sep, tail = text.rpartition(":")
    if sep and head and not os.path.exists(text):
        if not tail:
            raise CLIError(f"{text!r}: nothing after ':'; write FILE.py:FUNC or just FILE.py")
        if not tail.isidentifier():
            raise CLIError(f"{text!r}: {tail!r} is not a function name; write FILE.py:FUNC")
        path, func = head, tail
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory; give a Python file (FILE.py[:FUNC])")
    return Target(path, func)


def _module_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() else "_spikec_user_" + re.sub(r"\W", "_", stem)
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) != os.path.abspath(path):
        name = "_spikec_user_" + name  # never shadow an installed module (numpy.py, spikec.py...)
    return name


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without frames from importlib and the CLI itself."""
    tb = traceback.TracebackException.from_exception(exc)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not (f.filename.startswith("<frozen") or
                                     os.path.abspath(f.filename).startswith(_SPIKEC_DIR + os.sep + "cli.py"))])
    return "".join(tb.format())


def load_module(path: str):
    """Import the Python file at ``path`` as a module (its ``__main__`` block does not run)."""
    import importlib.util

    from spikec.errors import SpikecError

    path = os.path.abspath(path)
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SpikecError:
        raise
    except SystemExit as exc:
        raise CLIError(f"{path} called sys.exit({exc.code!r}) while being imported; "
                       "move script code under `if __name__ == \"__main__\":`") from None
    except Exception as exc:
        raise UserCodeError(f"importing {path} failed: {type(exc).__name__}: {exc}", _user_traceback(exc)) from exc
    return module


def compiled_functions(module) -> dict[str, Any]:
    """Every ``@spikec.compile`` function in a module, by the first name it is bound to."""
    from spikec.api import CompiledFunction

    found: dict[str, Any] = {}
    seen: set[int] = set()
    for name, obj in vars(module).items():
        if isinstance(obj, CompiledFunction) and id(obj) not in seen:
            found[name] = obj
            seen.add(id(obj))
    return found


def find_function(module, target: Target):
    """The compiled function a target names (or the file's only one)."""
    import spikec
    from spikec.api import CompiledFunction

    candidates = compiled_functions(module)
    listing = ", ".join(candidates) or "none"
    if target.func is not None:
        if target.func not in vars(module):
            raise CLIError(f"{target.path} has no function {target.func!r}; "
                           f"@spikec.compile functions in it: {listing}")
        obj = vars(module)[target.func]
        if isinstance(obj, CompiledFunction):
            return obj
        if inspect.isfunction(obj):
            return spikec.compile(obj)  # a plain NumPy function named explicitly: compile it now
        raise CLIError(f"{target.display} is a {type(obj).__name__}, not a function")
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if not candidates:
        raise CLIError(f"{target.path} defines no @spikec.compile function; decorate one, "
                       "or name a function with FILE.py:FUNC")
    first = next(iter(candidates))
    raise CLIError(f"{target.path} defines {len(candidates)} compiled functions ({listing}); "
                   f"pick one with {target.path}:FUNC, e.g. {target.path}:{first}")


def script_entry(path: str) -> str | None:
    """``"main_block"`` if the file has ``if __name__ == "__main__":``, ``"main"`` if it defines main(), else None."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None  # importing it will report the problem properly
    has_main = False
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            return "main_block"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            has_main = True
    return "main" if has_main else None


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


# -- example arguments: --arg NAME=SHAPE | NAME=@file.npy, --const NAME=VALUE -----------------

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


def _split_assignment(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not value.strip():
        form, example = ("NAME=SHAPE", "A=2x2") if option == "--arg" else ("NAME=VALUE", "dt=0.1")
        raise CLIError(f"{option} {text!r}: write {option} {form}, e.g. {option} {example}")
    return name, value.strip()


def _load_array(path: str, option: str, name: str) -> np.ndarray:
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
        name, value = _split_assignment(text, "--arg")
        if value.startswith("@"):
            put(name, ArgSpec("array", _load_array(value[1:], "--arg", name)), "--arg")
            continue
        try:
            put(name, ArgSpec("shape", parse_shape(value)), "--arg")
        except ValueError:
            hint = f"; for a constant write --const {name}={value}" if _looks_like_literal(value) else ""
            raise CLIError(f"--arg {text!r}: {_SHAPE_HELP}{hint}") from None
    for text in consts:
        name, value = _split_assignment(text, "--const")
        if value.startswith("@"):
            put(name, ArgSpec("const", spikec.const(_load_array(value[1:], "--const", name))), "--const")
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


# -- commands ---------------------------------------------------------------------------------


def cmd_graph(ns: argparse.Namespace) -> int:
    prog = trace_target(ns, parse_target(ns.target))
    graph = _selected_graph(prog, ns)
    if ns.passes:
        print(prog.pass_report())
        return 0
    if ns.dot == "-":
        print(graph.to_dot())
        return 0
    print(graph.pretty(show_loc=not ns.no_loc))
    if ns.dot:
        _write_text(ns.dot, graph.to_dot() + "\n")
        print(f"wrote DOT to {ns.dot} (render with: dot -Tsvg {ns.dot} -o graph.svg)", file=sys.stderr)
    return 0


def _selected_graph(prog, ns: argparse.Namespace):
    """The traced graph (default), the optimized one, or the graph after a named pass."""
    if ns.after:
        records = prog.pass_log.by_name(ns.after)
        if not records:
            names = ", ".join(dict.fromkeys(r.name for r in prog.pass_log)) or "none"
            raise CLIError(f"--after {ns.after}: no such pass in this program's pipeline (passes: {names})")
        return records[0].graph
    return prog.graph if ns.optimized else prog.traced_graph


def cmd_stats(ns: argparse.Namespace) -> int:
    prog = trace_target(ns, parse_target(ns.target))
    if ns.traced:
        stats = prog.traced_graph.stats()
    else:
        stats = prog.stats(lowered=not ns.no_lower)
    if ns.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        print(stats)
    return 0


_RUN_FLAGS = {"arg": "--arg", "const": "--const", "t": "-t", "dt": "--dt", "backend": "--backend", "mode": "--mode",
              "seed": "--seed", "save": "--save", "progress": "--progress", "precision": "--precision"}
_RUN_DEFAULTS = {"t": 1.0, "dt": 1e-3, "backend": "numpy", "seed": 0, "precision": 4}


def cmd_run(ns: argparse.Namespace) -> int:
    target = parse_target(ns.target)
    rest = list(ns.rest or [])
    entry = script_entry(target.path) if target.func is None else None
    if entry is not None:
        given = [flag for dest, flag in _RUN_FLAGS.items() if getattr(ns, dest, None) is not None]
        if given:
            raise CLIError(f"{target.path} runs as a script (it has "
                           f"{'a __main__ block' if entry == 'main_block' else 'main()'}), so spikec's "
                           f"{', '.join(given)} would be ignored; put the script's own options after the file, "
                           f"or name a function with {target.path}:FUNC")
        return run_script(target.path, rest, entry)
    # Function mode: the options after FILE are spikec's own.
    if rest and rest[0] == "--":
        rest = rest[1:]
    ns.function_parser.parse_args(rest, namespace=ns)
    for key, value in _RUN_DEFAULTS.items():
        if getattr(ns, key, None) is None:
            setattr(ns, key, value)
    prog = trace_target(ns, target)
    start = time.perf_counter()
    result = prog.run(t=ns.t, dt=ns.dt, backend=ns.backend, mode=ns.mode, seed=ns.seed,
                      progress=True if ns.progress else None)
    wall = time.perf_counter() - start
    print(f"ran {prog.name} on {result.backend}/{result.mode}: {len(result.t)} steps of dt={result.dt:g} "
          f"(t={ns.t:g} s) in {wall:.3g} s wall time")
    names = _output_names(prog)
    finals = result.final if len(result.outputs) > 1 else (result.final,)
    with np.printoptions(precision=ns.precision, suppress=True):
        for name, value in zip(names, finals):
            value = np.asarray(value)
            label = f"{name} [{','.join(map(str, value.shape))}] at t={result.t[-1]:g}:"
            text = np.array2string(value)
            print(f"{label} {text}" if "\n" not in text else f"{label}\n{text}")
    if result.spikes is not None and result.spikes.size and np.any(result.spikes[..., -1] > 0):
        total = int(np.sum(result.spikes[..., -1]))
        print(f"spikes: {total} ({total / ns.t:.4g} per second)")
    if ns.save:
        saved = save_result(ns.save, result, names)
        print(f"saved t, {', '.join(_save_keys(names))}{', spikes' if result.spikes is not None else ''} to {saved}")
    return 0


def _output_names(prog) -> list[str]:
    n = len(prog.graph.outputs)
    return ["output"] if prog.structure == "single" and n == 1 else [f"output[{i}]" for i in range(n)]


def _save_keys(names: list[str]) -> list[str]:
    return [re.sub(r"\[(\d+)\]", r"_\1", n) for n in names]


def save_result(path: str, result, names: list[str]) -> str:
    """Write ``t``, each output (``output`` or ``output_0``, ``output_1``...) and ``spikes`` to .npz."""
    arrays = {"t": result.t, **dict(zip(_save_keys(names), result.outputs))}
    if result.spikes is not None:
        arrays["spikes"] = result.spikes
    if not path.endswith(".npz"):
        path += ".npz"  # what np.savez would do anyway; say so
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"--save {path}: no such directory {directory}")
    np.savez(path, **arrays)
    return path


def run_script(path: str, argv: list[str], entry: str) -> int:
    """Run a file as ``python FILE ARGS...`` would (its __main__ block), or call its main()."""
    import runpy

    if argv and argv[0] == "--":
        argv = argv[1:]
    saved_argv = sys.argv
    sys.argv = [path, *argv]
    try:
        if entry == "main_block":
            runpy.run_path(path, run_name="__main__")
            return 0
        module = load_module(path)
        main = module.main
        try:
            takes_argv = bool(inspect.signature(main).parameters)
        except (TypeError, ValueError):
            takes_argv = False
        code = main(argv) if takes_argv else main()
        return _exit_code(code)
    except SystemExit as exc:
        return _exit_code(exc.code)
    finally:
        sys.argv = saved_argv


def _exit_code(code: Any) -> int:
    if code is None or code is True:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def cmd_ops(ns: argparse.Namespace) -> int:
    from spikec.ir import all_ops
    from spikec.trace import supported_function_names

    ops = [op for op in all_ops().values() if ns.kind is None or op.kind.value == ns.kind]
    functions = supported_function_names()
    ufuncs = _supported_ufunc_names()
    if ns.format == "json":
        print(json.dumps({
            "ops": [{"name": op.name, "kind": op.kind.value, "numpy_names": list(op.numpy_names), "doc": op.doc}
                    for op in ops],
            "functions": functions, "ufuncs": ufuncs,
        }, indent=2))
        return 0
    if ns.format == "markdown":
        print("| op | kind | NumPy spellings | computes |")
        print("|---|---|---|---|")
        for op in ops:
            spellings = ", ".join(f"`{s}`" for s in op.numpy_names)
            doc = op.doc.replace("|", "\\|")
            print(f"| `{op.name}` | {op.kind.value} | {spellings} | {doc} |")
        print()
        print("NumPy functions that accept signals: " + ", ".join(f"`{f}`" for f in functions) + ".")
        print()
        print("ufuncs: " + ", ".join(f"`{u}`" for u in ufuncs) + ".")
        return 0
    rows = [(op.name, op.kind.value, ", ".join(op.numpy_names), op.doc) for op in ops]
    header = ("op", "kind", "NumPy spellings", "computes")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())
    print()
    print("linear ops cost no neurons (fused into weights); nonlinear ops cost neurons; "
          "stateful ops hold state over time.")
    print(_wrapped(f"NumPy functions that accept signals ({len(functions)}): ", functions))
    print(_wrapped(f"ufuncs ({len(ufuncs)}): ", ufuncs))
    return 0


def _supported_ufunc_names() -> list[str]:
    from spikec.trace import numpy_dispatch

    names = getattr(numpy_dispatch, "supported_ufunc_names", None)
    if callable(names):
        return list(names())
    return sorted(f"np.{u.__name__}" for u in getattr(numpy_dispatch, "UFUNCS", {}))


def _wrapped(head: str, items: list[str]) -> str:
    return textwrap.fill(", ".join(items), width=100, initial_indent=head, subsequent_indent="  ",
                         break_on_hyphens=False)


def cmd_backends(ns: argparse.Namespace) -> int:
    from spikec.backends import available_backends, get_backend

    rows = []
    for name in available_backends():
        try:
            engine = get_backend(name)
            rows.append((name, engine.default_mode, ", ".join(engine.modes), "available"))
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else ""
            rows.append((name, "-", "-", f"unavailable ({type(exc).__name__}: {reason})"))
    header = ("backend", "default mode", "modes", "status")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    return 0


# ---- bench (spikec/bench.py): spikes versus accuracy against a NumPy reference ----
_BENCH_EPILOG = """
the reference:
  --reference FUNC      a function of the inputs giving the right answer: a dotted
                        name (numpy.linalg.inv, np.linalg.inv, scipy.linalg.expm) or
                        FILE.py:FUNC / MODULE:FUNC
  --target @FILE.npy    or the right answer itself

examples:
  spikec bench examples/matrix_inversion.py:inverse --arg A=2x2 --reference np.linalg.inv
  spikec bench examples/matrix_inversion.py:inverse --arg A=2x2 --reference np.linalg.inv \\
      --sweep max_rate=250,500,1000 --plot spikes.png
  spikec bench examples/matrix_inversion.py:inverse_adam --arg A=5x5 --reference np.linalg.inv \\
      --sweep lr=0.01,0.03 --synapse 0.05 -t 2 --json
"""


def _load_reference(text: str):
    """A callable from ``numpy.linalg.inv``, ``np.linalg.inv``, ``MODULE:FUNC`` or ``FILE.py:FUNC``."""
    import importlib

    if ":" in text:
        where, _, attr = text.rpartition(":")
        module = load_module(where) if where.endswith(".py") else importlib.import_module(where)
        path = attr.split(".")
    else:
        parts = text.split(".")
        if parts[0] == "np":
            parts[0] = "numpy"
        module, path = None, []
        for i in range(len(parts), 0, -1):
            try:
                module = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            path = parts[i:]
            break
        if module is None:
            raise CLIError(f"--reference {text!r}: cannot import it; write e.g. numpy.linalg.inv or FILE.py:FUNC")
    obj = module
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            raise CLIError(f"--reference {text!r}: {getattr(module, '__name__', module)} has no {'.'.join(path)}")
    if not callable(obj):
        raise CLIError(f"--reference {text!r} is not callable")
    return obj


def cmd_bench(ns: argparse.Namespace) -> int:
    import json

    from spikec.tools.bench import parse_sweep, spikes_vs_accuracy

    target = parse_target(ns.target)
    module = load_module(target.path)
    cf = find_function(module, target)
    specs = parse_arg_options(ns.arg or [], ns.const or [])
    args, kwargs = build_arguments(cf, specs, ns.seed if ns.seed is not None else 0)
    if (ns.reference is None) == (ns.target_value is None):
        raise CLIError("bench needs the right answer: --reference FUNC (e.g. np.linalg.inv) or --target @FILE.npy")
    reference = _load_reference(ns.reference) if ns.reference else None
    target_value = _load_array(ns.target_value[1:], "--target", "target") if ns.target_value else None
    sweep: dict[str, list] = {}
    for text in ns.sweep or []:
        try:
            name, values = parse_sweep(text)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        sweep[name] = values
    options: dict[str, Any] = {}
    for text in ns.option or []:
        name, value = _split_assignment(text, "--option")
        try:
            options[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name] = value
    # inputs: the traced arrays (signals), by name; other arguments stay static
    import spikec

    params = list(cf.signature.parameters)
    values = dict(zip(params, args))
    values.update(kwargs)
    inputs = {k: v for k, v in values.items() if isinstance(v, (np.ndarray, spikec.Input))}
    static = {k: v for k, v in values.items() if k not in inputs}
    synapse = None if str(ns.synapse).lower() == "none" else float(ns.synapse)
    result = spikes_vs_accuracy(
        cf, inputs, reference=(lambda *a: reference(*a)) if reference else None, target=target_value,
        t=ns.t, dt=ns.dt, backend=ns.backend, mode=ns.mode, synapse=synapse,
        seed=ns.seed if ns.seed is not None else 0, sweep=sweep or None, static=static,
        levels=[float(x) for x in ns.levels.split(",")], plot=ns.plot, **options)
    if ns.json:
        print(json.dumps(result.as_dicts(), indent=2, default=str))
    else:
        print(result)
    if ns.plot:
        print(f"wrote {ns.plot}", file=sys.stderr if ns.json else sys.stdout)
    return 0
# ---- end bench ----


def cmd_help(ns: argparse.Namespace) -> int:
    parser = build_parser()
    if ns.command_name is None:
        parser.print_help()
        return 0
    sub = parser._spikec_subparsers.get(ns.command_name)
    if sub is None:
        raise CLIError(f"no command {ns.command_name!r}; commands: {', '.join(_COMMANDS)}")
    sub.print_help()
    return 0


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None


# -- the parser --------------------------------------------------------------------------------

_COMMANDS = ("graph", "stats", "run", "bench", "ops", "backends", "help")

_MAIN_EPILOG = """\
targets:
  FILE.py[:FUNC]   a Python file and a function in it decorated with @spikec.compile
                   (FUNC may be omitted when the file has exactly one)

examples:
  spikec graph examples/matrix_inversion.py --arg A=2x2
  spikec graph examples/matrix_inversion.py:inverse --arg A=3x3 --dot inverse.dot
  spikec stats examples/matrix_inversion.py --arg A=4x4 --json
  spikec run examples/matrix_inversion.py:inverse --arg A=2x2 -t 1 --save out.npz
  spikec run examples/matrix_inversion.py --n 3 --plot inverse.png
  spikec ops
  spikec CMD --help                 options of one command
"""

_ARG_HELP = """\
writing example arguments:
  --arg NAME=SHAPE      a random normal array of that shape (2x2, 3, 2x3x4, scalar)
                        drawn from --seed, in parameter order: the first one equals
                        np.random.RandomState(seed).randn(*shape)
  --arg NAME=@FILE.npy  an array loaded from a .npy file (or a one-array .npz)
  --const NAME=VALUE    a compile-time constant: a Python literal (0.1, 3, [1, 2])
                        or @FILE.npy; arrays are wrapped in spikec.const
  Parameters with defaults may be omitted.
"""

_GRAPH_EPILOG = _ARG_HELP + """
examples:
  spikec graph examples/matrix_inversion.py --arg A=2x2
  spikec graph examples/matrix_inversion.py:inverse --arg A=2x2 --const dt=0.1 --no-loc
  spikec graph examples/matrix_inversion.py --arg A=2x2 --dot - | dot -Tsvg -o inverse.svg
  spikec graph examples/matrix_inversion.py --arg A=2x2 --optimized       # after all passes
  spikec graph examples/matrix_inversion.py --arg A=2x2 --after fuse_linear
  spikec graph examples/matrix_inversion.py --arg A=2x2 --passes          # what each pass did
"""

_STATS_EPILOG = _ARG_HELP + """
examples:
  spikec stats examples/matrix_inversion.py --arg A=3x3
  spikec stats examples/matrix_inversion.py --arg A=3x3 --json
  spikec stats examples/matrix_inversion.py --arg A=3x3 --no-lower   # graph counts only
"""

_RUN_EPILOG = """\
two ways to run:
  FILE.py:FUNC, or FILE.py with exactly one compiled function and no main():
      trace FUNC with the example arguments and simulate it; prints the final
      value of each output.  spikec's options may come before or after FILE.
  FILE.py that has an `if __name__ == "__main__":` block or a main():
      run it as `python FILE.py ARGS...` would; everything after FILE goes to
      the script (use FILE.py:FUNC to run one of its functions instead).

""" + _ARG_HELP + """
examples:
  spikec run examples/matrix_inversion.py:inverse --arg A=2x2
  spikec run examples/matrix_inversion.py:inverse --arg A=3x3 -t 2 --save out.npz
  spikec run examples/matrix_inversion.py --n 3 --seed 2    # the example's own main()
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=28)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback of errors")


def _add_trace_options(p: argparse.ArgumentParser, run: bool = False) -> None:
    g = p.add_argument_group("example arguments")
    g.add_argument("--arg", action="append", metavar="NAME=SHAPE",
                   help="an input signal: NAME=2x2 (random, from --seed) or NAME=@file.npy; repeatable")
    g.add_argument("--const", action="append", metavar="NAME=VALUE",
                   help="a compile-time constant: NAME=0.1, NAME=[1,2] or NAME=@file.npy; repeatable")
    g.add_argument("--seed", type=int, default=None,
                   help="seed for random --arg values" + (" and the back end" if run else "") + " (default: 0)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_trace_options(p, run=True)
    g = p.add_argument_group("simulation")
    g.add_argument("-t", "--time", dest="t", type=float, default=None, metavar="SECONDS",
                   help="simulated time (default: 1.0)")
    g.add_argument("--dt", type=float, default=None, metavar="SECONDS", help="time step (default: 0.001)")
    g.add_argument("--backend", default=None, help="back end (default: numpy; see `spikec backends`)")
    g.add_argument("--mode", default=None, help="the back end's simulation mode (default: its default)")
    g.add_argument("--save", metavar="OUT.npz", help="write t, the outputs and spike counts to a .npz file")
    g.add_argument("--progress", action="store_true", default=None, help="always show a progress bar")
    g.add_argument("--precision", type=int, default=None, metavar="DIGITS",
                   help="digits shown for output values (default: 4)")


def build_parser() -> argparse.ArgumentParser:
    from spikec import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter, epilog=_MAIN_EPILOG,
        description="Compile NumPy-style Python into spiking neural networks: inspect, count and run programs.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--traceback", action="store_true", default=False, help="show the Python traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subs: dict[str, argparse.ArgumentParser] = {}

    def add(name: str, aliases: list[str], summary: str, description: str, epilog: str | None,
            func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, aliases=aliases, help=summary, description=description, epilog=epilog,
                           formatter_class=_Formatter)
        p.set_defaults(func=func)
        _add_common(p)
        subs[name] = p
        for alias in aliases:
            subs[alias] = p
        return p

    p = add("graph", ["trace"], "print the traced graph of a compiled function",
            "Trace a compiled function with example arguments and print its graph: one line per op with its\n"
            "shape, operands and the file:line that created it.", _GRAPH_EPILOG, cmd_graph)
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    _add_trace_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--dot", metavar="OUT.dot", help="also write Graphviz DOT text to a file ('-': print only DOT)")
    g.add_argument("--no-loc", action="store_true", help="leave out the # file:line comments")
    g.add_argument("--optimized", action="store_true", help="show the graph after all optimization passes")
    g.add_argument("--after", metavar="PASS", help="show the graph after the named pass (e.g. fuse_linear)")
    g.add_argument("--passes", action="store_true", help="print what each optimization pass did, as a table")

    p = add("stats", ["stat"], "print op, node and nonlinear-unit counts",
            "Trace a compiled function and print its graph statistics: nodes, edges, op counts by kind,\n"
            "nonlinear units (what costs neurons) and state elements.", _STATS_EPILOG, cmd_stats)
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    _add_trace_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="machine-readable JSON")
    g.add_argument("--traced", action="store_true", help="count the graph as traced, before optimization passes")
    g.add_argument("--no-lower", action="store_true", help="graph statistics only (skip neurons and weights)")

    p = add("run", ["sim"], "simulate a compiled function, or run an example script",
            "Trace a compiled function and simulate it, printing the final value of each output;\n"
            "or run a script's main().", _RUN_EPILOG, cmd_run)
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file, and the compiled function to run")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="...",
                   help="options (function mode) or the script's own arguments (script mode)")
    _add_run_options(p)
    # Function mode parses what follows FILE again with the same options.
    fp = argparse.ArgumentParser(prog=f"{PROG} run FILE.py:FUNC", formatter_class=_Formatter,
                                 description=p.description, epilog=_RUN_EPILOG)
    _add_common(fp)
    _add_run_options(fp)


    # ---- bench (spikec/bench.py) ----
    p = add("bench", ["benchmark"], "measure NRMSE against spikes versus a NumPy reference",
            "Trace a compiled function, run it (spiking by default) and compare its output with a NumPy\n"
            "reference over time: spikes needed to reach each NRMSE level, final NRMSE (read through a\n"
            "readout filter, and raw), build and run time; optionally sweep a parameter.",
            _ARG_HELP + _BENCH_EPILOG, cmd_bench)
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    _add_trace_options(p, run=True)
    g = p.add_argument_group("reference")
    g.add_argument("--reference", "--ref", metavar="FUNC", help="NumPy function of the inputs (np.linalg.inv...)")
    g.add_argument("--target", dest="target_value", metavar="@FILE.npy", help="the right answer, from a file")
    g = p.add_argument_group("simulation")
    g.add_argument("-t", "--time", dest="t", type=float, default=1.0, metavar="SECONDS",
                   help="simulated time (default: 1.0)")
    g.add_argument("--dt", type=float, default=1e-3, metavar="SECONDS", help="time step (default: 0.001)")
    g.add_argument("--backend", default="numpy", help="back end (default: numpy)")
    g.add_argument("--mode", default="spiking", help="simulation mode (default: spiking)")
    g.add_argument("--synapse", default="0.01", metavar="TAU",
                   help="readout lowpass time constant NRMSE is read through, or none (default: 0.01)")
    g.add_argument("--option", "-O", action="append", metavar="NAME=VALUE",
                   help="a lowering option for every run (max_rate=500, range_margin=1.5); repeatable")
    g = p.add_argument_group("measurement")
    g.add_argument("--sweep", action="append", metavar="NAME=V1,V2,...",
                   help="one row per value: a run parameter (t, dt, seed, synapse), a lowering option "
                   "(max_rate, range_margin, n_neurons...) or a static argument of FUNC; repeatable")
    g.add_argument("--levels", default="0.1,0.05,0.01,0.005", metavar="L1,L2,...",
                   help="NRMSE levels to count spikes to (default: 0.1,0.05,0.01,0.005)")
    g.add_argument("--plot", metavar="PATH", help="save NRMSE against cumulative spikes (log-log)")
    g.add_argument("--json", action="store_true", help="machine-readable JSON rows")
    # ---- end bench ----

    p = add("ops", ["operations"], "list the supported NumPy operations",
            "The op registry: every operation spikec compiles, its kind (what it costs), the NumPy\n"
            "spellings that trace to it, and the NumPy functions and ufuncs accepted on signals.",
            "examples:\n  spikec ops\n  spikec ops --kind nonlinear\n  spikec ops --format markdown > ops.md\n",
            cmd_ops)
    p.add_argument("--kind", choices=["source", "linear", "nonlinear", "stateful"], help="only ops of this kind")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="output format")

    add("backends", [], "list the back ends and their modes",
        "Back ends a program can run on (prog.run(backend=...)), their simulation modes, and whether\n"
        "their dependencies are installed.", "examples:\n  spikec backends\n", cmd_backends)

    p = add("help", [], "show help for a command", "Show the help of spikec or of one command.",
            "examples:\n  spikec help run\n", cmd_help)
    p.add_argument("command_name", nargs="?", metavar="COMMAND")

    parser._spikec_subparsers = subs  # type: ignore[attr-defined]
    parser._run_function_parser = fp  # type: ignore[attr-defined]
    return parser


# -- entry point -------------------------------------------------------------------------------


@contextlib.contextmanager
def _user_import_state(target_dir: str | None) -> Iterator[None]:
    """Put the target's directory first on sys.path (as ``python FILE`` does) and undo it after."""
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    if target_dir is not None:
        sys.path.insert(0, target_dir)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            module = sys.modules.get(name)
            if name.startswith("_spikec_user_") or (
                    getattr(module, "__file__", None) and target_dir
                    and os.path.dirname(os.path.abspath(module.__file__)) == target_dir
                    and not os.path.abspath(module.__file__).startswith(_SPIKEC_DIR)):
                del sys.modules[name]


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``spikec`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from spikec.errors import SpikecError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed them
        return _exit_code(exc.code)
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    ns.function_parser = parser._run_function_parser  # type: ignore[attr-defined]
    target = getattr(ns, "target", None)
    target_dir = None
    if target is not None:
        path = target.rpartition(":")[0] if ":" in target and not os.path.exists(target) else target
        target_dir = os.path.dirname(os.path.abspath(path))
    try:
        with _user_import_state(target_dir):
            return ns.func(ns)
    except SystemExit as exc:  # argparse in function-mode `run` (--help or a bad option)
        return _exit_code(exc.code)
    except SpikecError as exc:
        if getattr(ns, "traceback", False):
            traceback.print_exc()
        _error(str(exc))
        return 2
    except CLIError as exc:
        _error(str(exc))
        return 2
    except UserCodeError as exc:
        sys.stderr.write(exc.details)
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # `spikec ops | head`: the reader left; stop quietly
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
