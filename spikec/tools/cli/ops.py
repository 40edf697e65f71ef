"""``spikec ops`` (alias ``operations``): the supported NumPy operations, from the op registry."""

from __future__ import annotations

import argparse
import json
import textwrap

from spikec.tools.cli.command import Command


def cmd_ops(ns: argparse.Namespace) -> int:
    """Print the op registry (optionally one kind) as a text table, markdown or JSON."""
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


def _configure(p: argparse.ArgumentParser) -> None:
    """--kind and --format."""
    p.add_argument("--kind", choices=["source", "linear", "nonlinear", "stateful"], help="only ops of this kind")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="output format")


COMMAND = Command(
    name="ops", aliases=("operations",), summary="list the supported NumPy operations",
    description="The op registry: every operation spikec compiles, its kind (what it costs), the NumPy\n"
                "spellings that trace to it, and the NumPy functions and ufuncs accepted on signals.",
    epilog="examples:\n  spikec ops\n  spikec ops --kind nonlinear\n  spikec ops --format markdown > ops.md\n",
    handler=cmd_ops, configure=_configure,
)
