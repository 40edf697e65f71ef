"""The ``spikec`` command: inspect, count and run compiled programs from the shell.

::

    spikec graph examples/matrix_inversion.py --arg A=2x2     # prog.graph (--traced: as traced)
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

The package holds one module per command (:mod:`~spikec.tools.cli.graph`,
``stats``, ``run``, ``bench``, ``ops``, ``backends``, ``help``), each exposing a
:class:`~spikec.tools.cli.command.Command`; :mod:`~spikec.tools.cli.app` builds
the parser from their table.  Shared code: :mod:`~spikec.tools.cli.targets`
(targets and importing user code), :mod:`~spikec.tools.cli.arguments`
(``--arg``/``--const`` and the options that take them) and
:mod:`~spikec.tools.cli.output` (errors, exit statuses, saving).
"""

from spikec.tools.cli.app import COMMANDS, build_parser, main
from spikec.tools.cli.arguments import ArgSpec, build_arguments, parse_arg_options, parse_shape, trace_target
from spikec.tools.cli.backends import cmd_backends
from spikec.tools.cli.bench import cmd_bench
from spikec.tools.cli.command import PROG, Command
from spikec.tools.cli.errors import CLIError, UserCodeError
from spikec.tools.cli.graph import cmd_graph
from spikec.tools.cli.help import cmd_help
from spikec.tools.cli.ops import cmd_ops
from spikec.tools.cli.output import save_result
from spikec.tools.cli.run import cmd_run, run_script
from spikec.tools.cli.stats import cmd_stats
from spikec.tools.cli.targets import (
    Target,
    compiled_functions,
    find_function,
    load_module,
    parse_target,
    script_entry,
)

__all__ = [
    "COMMANDS",
    "PROG",
    "ArgSpec",
    "CLIError",
    "Command",
    "Target",
    "UserCodeError",
    "build_arguments",
    "build_parser",
    "cmd_backends",
    "cmd_bench",
    "cmd_graph",
    "cmd_help",
    "cmd_ops",
    "cmd_run",
    "cmd_stats",
    "compiled_functions",
    "find_function",
    "load_module",
    "main",
    "parse_arg_options",
    "parse_shape",
    "parse_target",
    "run_script",
    "save_result",
    "script_entry",
    "trace_target",
]
