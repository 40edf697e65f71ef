"""``spikec bench`` (alias ``benchmark``): NRMSE against spikes versus a NumPy reference.

The measurement itself is :func:`spikec.tools.bench.spikes_vs_accuracy`; this
module turns the command line into its arguments.
"""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any

import numpy as np

from spikec.tools.cli.arguments import (
    ARG_HELP,
    add_trace_options,
    build_arguments,
    load_array,
    parse_arg_options,
    split_assignment,
)
from spikec.tools.cli.command import Command
from spikec.tools.cli.errors import CLIError
from spikec.tools.cli.targets import find_function, load_module, parse_target

EPILOG = ARG_HELP + """
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
    """Measure the target against --reference or --target and print (or plot, or dump) the rows."""
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
    target_value = load_array(ns.target_value[1:], "--target", "target") if ns.target_value else None
    sweep: dict[str, list] = {}
    for text in ns.sweep or []:
        try:
            name, values = parse_sweep(text)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        sweep[name] = values
    options: dict[str, Any] = {}
    for text in ns.option or []:
        name, value = split_assignment(text, "--option")
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


def _configure(p: argparse.ArgumentParser) -> None:
    """FILE.py[:FUNC], the example arguments, the right answer, the run and what to measure."""
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file and compiled function")
    add_trace_options(p, run=True)
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


COMMAND = Command(
    name="bench", aliases=("benchmark",), summary="measure NRMSE against spikes versus a NumPy reference",
    description="Trace a compiled function, run it (spiking by default) and compare its output with a NumPy\n"
                "reference over time: spikes needed to reach each NRMSE level, final NRMSE (read through a\n"
                "readout filter, and raw), build and run time; optionally sweep a parameter.",
    epilog=EPILOG, handler=cmd_bench, configure=_configure,
)
