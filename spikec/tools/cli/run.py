"""``spikec run`` (alias ``sim``): simulate a compiled function, or run an example script's main().

Function mode (``FILE.py:FUNC``, or a file with one compiled function and no
main) parses the options after FILE again with :func:`function_parser`, so
spikec's options may come before or after the file; script mode hands
everything after FILE to the script as its ``sys.argv``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time

import numpy as np

from spikec.tools.cli.arguments import ARG_HELP, add_common, add_trace_options, trace_target
from spikec.tools.cli.command import PROG, Command, Formatter
from spikec.tools.cli.errors import CLIError
from spikec.tools.cli.output import exit_code, output_names, save_keys, save_result
from spikec.tools.cli.targets import load_module, parse_target, script_entry

EPILOG = """\
two ways to run:
  FILE.py:FUNC, or FILE.py with exactly one compiled function and no main():
      trace FUNC with the example arguments and simulate it; prints the final
      value of each output.  spikec's options may come before or after FILE.
  FILE.py that has an `if __name__ == "__main__":` block or a main():
      run it as `python FILE.py ARGS...` would; everything after FILE goes to
      the script (use FILE.py:FUNC to run one of its functions instead).

""" + ARG_HELP + """
examples:
  spikec run examples/matrix_inversion.py:inverse --arg A=2x2
  spikec run examples/matrix_inversion.py:inverse --arg A=3x3 -t 2 --save out.npz
  spikec run examples/matrix_inversion.py --n 3 --seed 2    # the example's own main()
"""


DESCRIPTION = ("Trace a compiled function and simulate it, printing the final value of each output;\n"
               "or run a script's main().")

# Options that only function mode reads, with their spelling for the script-mode error message.
_RUN_FLAGS = {"arg": "--arg", "const": "--const", "t": "-t", "dt": "--dt", "backend": "--backend", "mode": "--mode",
              "seed": "--seed", "save": "--save", "progress": "--progress", "precision": "--precision"}
_RUN_DEFAULTS = {"t": 1.0, "dt": 1e-3, "backend": "numpy", "seed": 0, "precision": 4}


def cmd_run(ns: argparse.Namespace) -> int:
    """Run the target: simulate its function and print the outputs, or run the file as a script."""
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
    names = output_names(prog)
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
        print(f"saved t, {', '.join(save_keys(names))}{', spikes' if result.spikes is not None else ''} to {saved}")
    return 0


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
        return exit_code(code)
    except SystemExit as exc:
        return exit_code(exc.code)
    finally:
        sys.argv = saved_argv


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The example arguments plus the simulation group (time, dt, back end, mode, saving, printing)."""
    add_trace_options(p, run=True)
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


def function_parser() -> argparse.ArgumentParser:
    """The parser function mode reads the options after FILE with (its errors name ``spikec run FILE.py:FUNC``)."""
    fp = argparse.ArgumentParser(prog=f"{PROG} run FILE.py:FUNC", formatter_class=Formatter,
                                 description=DESCRIPTION, epilog=EPILOG)
    add_common(fp)
    _add_run_options(fp)
    return fp


def _configure(p: argparse.ArgumentParser) -> None:
    """FILE.py[:FUNC], what follows it, and the run options (accepted before FILE as well)."""
    p.add_argument("target", metavar="FILE.py[:FUNC]", help="the file, and the compiled function to run")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="...",
                   help="options (function mode) or the script's own arguments (script mode)")
    _add_run_options(p)
    # Function mode parses what follows FILE again with the same options.
    p.set_defaults(function_parser=function_parser())


COMMAND = Command(
    name="run", aliases=("sim",), summary="simulate a compiled function, or run an example script",
    description=DESCRIPTION, epilog=EPILOG, handler=cmd_run, configure=_configure,
)
