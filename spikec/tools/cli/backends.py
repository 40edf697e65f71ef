"""``spikec backends``: the back ends, their simulation modes and whether they can be loaded here."""

from __future__ import annotations

import argparse
import importlib.util

from spikec.tools.cli.command import Command

# What each back end imports when it runs (its module loads without them, so loading it proves nothing) and the
# extra that installs them.  A back end not listed needs only spikec's own dependencies.
RUN_DEPENDENCIES: dict[str, tuple[tuple[str, ...], str]] = {
    "jax": (("jax", "optax"), "jax"),
    "nengo_dl": (("tensorflow", "nengo_dl"), "nengo-dl"),
}


def missing_dependencies(name: str) -> tuple[list[str], str]:
    """The modules back end ``name`` needs to run that cannot be imported here, and the extra that brings them."""
    modules, extra = RUN_DEPENDENCIES.get(name, ((), ""))
    return [m for m in modules if importlib.util.find_spec(m) is None], extra


def cmd_backends(ns: argparse.Namespace) -> int:
    """Print one row per registered back end; one that fails to load shows why instead of its modes."""
    from spikec.backends import available_backends, get_backend

    rows = []
    for name in available_backends():
        try:
            engine = get_backend(name)
            missing, extra = missing_dependencies(name)
            status = (f"not installed: needs {', '.join(missing)} (the '{extra}' extra)" if missing
                      else "available")
            rows.append((name, engine.default_mode, ", ".join(engine.modes), status))
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else ""
            rows.append((name, "-", "-", f"unavailable ({type(exc).__name__}: {reason})"))
    header = ("backend", "default mode", "modes", "status")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    return 0


COMMAND = Command(
    name="backends", summary="list the back ends and their modes",
    description="Back ends a program can run on (prog.run(backend=...)), their simulation modes, and whether\n"
                "their dependencies are installed.",
    epilog="examples:\n  spikec backends\n", handler=cmd_backends,
)
