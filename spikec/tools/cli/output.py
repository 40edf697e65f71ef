"""Printing and saving: error lines, exit statuses, text files and ``.npz`` results."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import numpy as np

from spikec.tools.cli.command import PROG
from spikec.tools.cli.errors import CLIError


def error(message: str) -> None:
    """Print ``spikec: error: message`` to stderr, the way argparse prints usage errors."""
    print(f"{PROG}: error: {message}", file=sys.stderr)


def exit_code(code: Any) -> int:
    """The exit status for a ``SystemExit`` code or a script's ``main()`` return value (a string prints, then 1)."""
    if code is None or code is True:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def write_text(path: str, text: str) -> None:
    """Write a text file; an OS error becomes a one-line CLIError."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None


def output_names(prog) -> list[str]:
    """How outputs are labelled: ``output`` for a single one, else ``output[0]``, ``output[1]``..."""
    n = len(prog.graph.outputs)
    return ["output"] if prog.structure == "single" and n == 1 else [f"output[{i}]" for i in range(n)]


def save_keys(names: list[str]) -> list[str]:
    """The .npz keys of output labels: ``output[1]`` -> ``output_1``."""
    return [re.sub(r"\[(\d+)\]", r"_\1", n) for n in names]


def save_result(path: str, result, names: list[str]) -> str:
    """Write ``t``, each output (``output`` or ``output_0``, ``output_1``...) and ``spikes`` to .npz."""
    arrays = {"t": result.t, **dict(zip(save_keys(names), result.outputs))}
    if result.spikes is not None:
        arrays["spikes"] = result.spikes
    if not path.endswith(".npz"):
        path += ".npz"  # what np.savez would do anyway; say so
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"--save {path}: no such directory {directory}")
    np.savez(path, **arrays)
    return path
