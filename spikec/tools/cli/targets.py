"""Targets (``FILE.py[:FUNC]``) and importing the user's code.

The file is imported by path, its ``if __name__ == "__main__":`` block does
not run, and the modules it brings in are forgotten again afterwards (see
:func:`user_import_state`), so one process can run several targets.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from spikec.tools.cli.errors import CLIError, UserCodeError

# Frames from this package are cut from a failing user import's traceback; modules under the spikec
# package itself are never unloaded after a run, even when a target sits next to them.
_CLI_DIR = os.path.dirname(os.path.abspath(__file__))
_SPIKEC_DIR = os.path.dirname(os.path.dirname(_CLI_DIR))


@dataclass
class Target:
    """A file to import and, optionally, the name of the function in it."""

    path: str
    func: str | None

    @property
    def display(self) -> str:
        """``FILE.py:FUNC`` as the user wrote it (for messages)."""
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
                                     os.path.abspath(f.filename).startswith(_CLI_DIR + os.sep))])
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


def directory_of(target: str | None) -> str | None:
    """The directory of a ``FILE.py[:FUNC]`` argument (None when the command takes no target)."""
    if target is None:
        return None
    path = target.rpartition(":")[0] if ":" in target and not os.path.exists(target) else target
    return os.path.dirname(os.path.abspath(path))


@contextlib.contextmanager
def user_import_state(target_dir: str | None) -> Iterator[None]:
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
