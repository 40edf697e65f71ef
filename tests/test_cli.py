"""The ``spikec`` command: in-process through ``spikec.tools.cli.main`` and once as real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.tools.cli import main, parse_shape

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "matrix_inversion.py"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2, a `spikec: error:` first line naming the fragments, no traceback."""
    assert code == 2
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert first.startswith("spikec: error: ")
    for fragment in fragments:
        assert fragment in first


@pytest.fixture
def example_module():
    """The example imported the way users would, to compare against the CLI."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_test_matrix_inversion", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TWO = """\
    import numpy as np
    import spikec

    @spikec.compile
    def double(x):
        return x * 2

    @spikec.compile
    def both(x, y, gain=1.0):
        return gain * x * y, x + y

    def plain(x):
        return np.tanh(x)
"""


# -- graph ------------------------------------------------------------------------------------


def test_graph_lists_ops_with_locations(capsys):
    code, out, err = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--traced")
    assert code == 0, err
    assert out.startswith("program inverse(A:[2,2])")
    for op in ("filter[synapse=Integrator", "matmul", "transpose", "scale", "offset"):
        assert op in out
    assert "# matrix_inversion.py:" in out
    code, out, err = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2")
    assert code == 0, err
    assert out.startswith("program inverse(A:[2,2])")
    for op in ("filter[synapse=Integrator", "affine", "mul"):
        assert op in out
    assert "# matrix_inversion.py:" in out
    code, out, _ = cli(capsys, "graph", f"{EXAMPLE}:inverse", "--arg", "A=3x3", "--no-loc")
    assert code == 0 and "A:[3,3]" in out and "matrix_inversion.py:" not in out


def test_graph_matches_direct_trace(capsys, example_module):
    A = np.random.RandomState(5).randn(2, 2)
    prog = example_module.inverse.trace(A, dt=0.1)
    code, out, _ = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--seed", "5", "--const", "dt=0.1", "--no-loc",
                       "--traced")
    assert code == 0
    assert out.strip() == prog.traced_graph.pretty(show_loc=False).strip()
    # "graph" means prog.graph, the optimized graph, in the CLI as in the API (--optimized is the default).
    for extra in ((), ("--optimized",)):
        code, out, _ = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--seed", "5", "--const", "dt=0.1", "--no-loc",
                           *extra)
        assert code == 0
        assert out.strip() == prog.graph.pretty(show_loc=False).strip()
        assert "mul" in out and "matmul" not in out  # products were expanded into units


def test_graph_after_a_named_pass_and_the_pass_table(capsys, example_module):
    A = np.random.RandomState(0).randn(2, 2)
    prog = example_module.inverse.trace(A)
    code, out, _ = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--no-loc", "--after", "expand_bilinear")
    assert code == 0
    assert out.strip() == prog.pass_log.by_name("expand_bilinear")[0].graph.pretty(show_loc=False).strip()
    code, out, _ = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--passes")
    assert code == 0 and "fuse_linear" in out and "nonlinear units" in out
    code, _, err = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--after", "no_such_pass")
    assert code == 2 and "no_such_pass" in err and "fuse_linear" in err


def test_graph_dot(capsys, tmp_path):
    dot = tmp_path / "inverse.dot"
    code, out, err = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--traced", "--dot", dot)
    assert code == 0
    assert out.startswith("program inverse")  # the listing still prints
    text = dot.read_text()
    assert text.startswith('digraph "inverse" {') and text.rstrip().endswith("}")
    assert "->" in text and "matmul" in text and "style=dashed" in text  # the recurrence edge
    assert str(dot) in err
    code, out, _ = cli(capsys, "graph", EXAMPLE, "--arg", "A=2x2", "--dot", "-")
    assert code == 0 and out.startswith("digraph") and "program inverse" not in out
    assert "affine" in out and "matmul" not in out  # without --traced: the optimized graph, as prog.graph


def test_arguments_from_npy_and_plain_function(capsys, tmp_path):
    path = write(tmp_path, "two.py", TWO)
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    code, out, err = cli(capsys, "graph", f"{path}:double", "--arg", f"x=@{tmp_path / 'x.npy'}")
    assert code == 0, err
    assert "x:[2,3]" in out and "scale" in out
    # A plain (undecorated) function named explicitly is compiled on the fly.
    code, out, _ = cli(capsys, "graph", f"{path}:plain", "--arg", "x=scalar")
    assert code == 0 and "x:[]" in out and "tanh" in out


def test_parse_shape():
    assert parse_shape("2x3x4") == (2, 3, 4)
    assert parse_shape("3") == (3,)
    assert parse_shape("scalar") == ()
    assert parse_shape("(2, 2)") == (2, 2)
    for bad in ("2y2", "0x2", "-1", "x"):
        with pytest.raises(ValueError):
            parse_shape(bad)


# -- stats ------------------------------------------------------------------------------------


def test_stats_match_program(capsys, example_module):
    A = np.random.RandomState(0).randn(3, 3)
    stats = example_module.inverse.trace(A).stats()
    code, out, _ = cli(capsys, "stats", EXAMPLE, "--arg", "A=3x3")
    assert code == 0
    assert out.strip() == str(stats).strip()
    code, out, _ = cli(capsys, "stats", EXAMPLE, "--arg", "A=3x3", "--json")
    assert code == 0
    data = json.loads(out)
    assert data == stats.as_dict()
    assert data["nonlinear_units"] == 2 * 27 and data["state_elements"] == 9


# -- run --------------------------------------------------------------------------------------


def test_run_function_prints_inverse(capsys):
    code, out, err = cli(capsys, "run", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "-t", "0.5")
    assert code == 0, err
    assert "numpy/ideal" in out and "500 steps" in out
    A = np.random.RandomState(0).randn(2, 2)
    matrix = out[out.index("output [2,2]"):].split(":", 1)[1]
    printed = np.array([float(v) for v in matrix.replace("[", " ").replace("]", " ").split()]).reshape(2, 2)
    np.testing.assert_allclose(printed, np.linalg.inv(A), atol=1e-3)
    assert "spikes" not in out  # the ideal reference never spikes


def test_run_save_matches_direct_run(capsys, tmp_path, example_module):
    out_path = tmp_path / "result.npz"
    code, out, err = cli(capsys, "run", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "--seed", "3",
                         "-t", "0.2", "--dt", "0.002", "--save", out_path)
    assert code == 0, err
    assert str(out_path) in out
    A = np.random.RandomState(3).randn(2, 2)
    direct = example_module.inverse.trace(A).run(t=0.2, dt=0.002, seed=3)
    with np.load(out_path) as data:
        np.testing.assert_array_equal(data["t"], direct.t)
        np.testing.assert_array_equal(data["output"], direct.output)
        np.testing.assert_array_equal(data["spikes"], direct.spikes)


def test_run_tuple_outputs_and_options_before_file(capsys, tmp_path):
    path = write(tmp_path, "two.py", TWO)
    code, out, err = cli(capsys, "run", "-t", "0.01", f"{path}:both", "--arg", "x=3", "--arg", "y=3",
                         "--const", "gain=2.0", "--save", tmp_path / "both")
    assert code == 0, err
    assert "output[0] [3]" in out and "output[1] [3]" in out
    with np.load(tmp_path / "both.npz") as data:  # .npz appended, as np.savez does
        rng = np.random.RandomState(0)
        x, y = rng.randn(3), rng.randn(3)
        np.testing.assert_allclose(data["output_0"][-1], 2.0 * x * y)
        np.testing.assert_allclose(data["output_1"][-1], x + y)
        assert data["t"].shape == (10,)


def test_run_example_script_main(capsys, tmp_path):
    plots = tmp_path / "plots"  # --plot names a folder for the example's figures
    code, out, err = cli(capsys, "run", EXAMPLE, "--n", "2", "-t", "0.5", "--plot", plots)
    assert code == 0, err
    assert "== graph ==" in out and "== stats ==" in out
    assert out.strip().splitlines()[-1].startswith("final NRMSE: ")
    for figure in ("convergence.png", "heatmaps.png", "nrmse_vs_spikes.png"):
        path = plots / figure
        assert path.is_file() and path.stat().st_size > 1000, figure
    # A slow-converging problem fails the script's check, and the exit status says so.
    code, out, err = cli(capsys, "run", EXAMPLE, "--n", "3", "--seed", "1", "-t", "0.05")
    assert code == 1
    assert "FAILED" in err


def test_run_script_rejects_spikec_options(capsys):
    code, _, err = cli(capsys, "run", "--backend", "numpy", EXAMPLE)
    assert_clean_error(code, err, "--backend", "runs as a script")


def test_example_main_in_process(capsys):
    """The example's main() directly: finishes, passes its own check, reports NRMSE."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_test_matrix_inversion_main", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["-t", "0.3"]) == 0
    out = capsys.readouterr().out
    nrmse = float(out.strip().splitlines()[-1].split(":")[1].strip().rstrip("%"))
    assert nrmse < 1.0


# -- ops, backends, version, help --------------------------------------------------------------


def test_ops_table_agrees_with_registry(capsys):
    from spikec.ir import all_ops
    from spikec.trace import supported_function_names

    code, out, _ = cli(capsys, "ops")
    assert code == 0
    lines = out.splitlines()
    for op in all_ops().values():
        assert any(line.split()[:2] == [op.name, op.kind.value] for line in lines), op.name
    flat = " ".join(out.split())
    for name in supported_function_names():
        assert name in flat
    code, out, _ = cli(capsys, "ops", "--format", "json")
    data = json.loads(out)
    assert [o["name"] for o in data["ops"]] == list(all_ops())
    assert data["functions"] == supported_function_names()
    code, out, _ = cli(capsys, "ops", "--kind", "nonlinear", "--format", "markdown")
    assert "| `matmul` | nonlinear |" in out and "| `add` |" not in out


def test_backends_and_version(capsys):
    code, out, _ = cli(capsys, "backends")
    assert code == 0
    for name in spikec.available_backends():
        assert name in out
    assert "ideal" in out
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"spikec {spikec.__version__}"


def test_backends_status_says_whether_the_run_dependencies_import(capsys):
    """A back end whose module loads but whose run needs a package that is not installed is not 'available'."""
    import importlib.util

    from spikec.tools.cli.backends import RUN_DEPENDENCIES

    code, out, _ = cli(capsys, "backends")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    for name, (modules, extra) in RUN_DEPENDENCIES.items():
        # Installed, not imported: nengo_dl imports only through spikec's compatibility layer.
        importable = all(importlib.util.find_spec(module) is not None for module in modules)
        assert rows[name].endswith("available") == importable, rows[name]
        if not importable:
            assert f"'{extra}' extra" in rows[name]


@pytest.mark.parametrize("command", ["graph", "stats", "run", "ops", "backends"])
def test_command_help_has_examples(capsys, command):
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert "examples:" in out and f"spikec {command}" in out
    code, out2, _ = cli(capsys, "help", command)
    assert code == 0 and out2 == out


# -- errors -----------------------------------------------------------------------------------


def test_unsupported_numpy_function_in_user_file(capsys, tmp_path):
    path = write(tmp_path, "sorting.py", """\
        import numpy as np
        import spikec

        @spikec.compile
        def f(x):
            return np.sort(x)
    """)
    code, _, err = cli(capsys, "graph", path, "--arg", "x=3")
    assert_clean_error(code, err, "np.sort")
    assert "sorting.py" in err and "line 6" in err  # the user's own line
    code, _, err = cli(capsys, "--traceback", "graph", path, "--arg", "x=3")
    assert code == 2 and "Traceback" in err


@pytest.mark.parametrize("argv, fragments", [
    (["--arg", "A=2y2"], ["A=2y2", "SHAPE"]),
    (["--arg", "A"], ["NAME=SHAPE"]),
    (["--arg", "A=0.5"], ["--const A=0.5"]),
    (["--arg", "A=2x2", "--arg", "B=2x2"], ["no parameter 'B'"]),
    ([], ["needs a value for A", "--arg A=SHAPE"]),
    (["--arg", "A=@missing.npy"], ["missing.npy", "no such file"]),
])
def test_bad_arguments(capsys, argv, fragments):
    code, _, err = cli(capsys, "graph", EXAMPLE, *argv)
    assert_clean_error(code, err, *fragments)


def test_missing_file_and_function(capsys, tmp_path):
    code, _, err = cli(capsys, "graph", tmp_path / "nope.py", "--arg", "A=2x2")
    assert_clean_error(code, err, "no such file", "nope.py")
    code, _, err = cli(capsys, "graph", f"{EXAMPLE}:inverted", "--arg", "A=2x2")
    assert_clean_error(code, err, "no function 'inverted'", "inverse")


def test_ambiguous_function(capsys, tmp_path):
    path = write(tmp_path, "two.py", TWO)
    code, _, err = cli(capsys, "graph", path, "--arg", "x=3")
    assert_clean_error(code, err, "2 compiled functions", "double", "both", f"{path}:double")
    empty = write(tmp_path, "empty.py", "x = 1\n")
    code, _, err = cli(capsys, "stats", empty)
    assert_clean_error(code, err, "no @spikec.compile function")


def test_run_errors(capsys):
    code, _, err = cli(capsys, "run", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "--backend", "nope")
    assert_clean_error(code, err, "unknown back end 'nope'")
    code, _, err = cli(capsys, "run", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "--mode", "nope")
    assert_clean_error(code, err, "mode")


def test_user_file_that_fails_on_import(capsys, tmp_path):
    path = write(tmp_path, "broken.py", "import numpy as np\nx = 1 / 0\n")
    code, _, err = cli(capsys, "graph", path)
    assert code == 1
    assert 'broken.py", line 2' in err and "cli.py" not in err  # the user's frame only
    assert err.strip().splitlines()[-1].startswith("spikec: error: importing")


def test_main_block_does_not_run_on_import(capsys, tmp_path):
    path = write(tmp_path, "guarded.py", """\
        import spikec

        @spikec.compile
        def f(x):
            return 2 * x

        if __name__ == "__main__":
            raise SystemExit("the main block ran")
    """)
    code, out, err = cli(capsys, "graph", path, "--arg", "x=2")
    assert code == 0, err
    assert "program f(x:[2])" in out


# -- real subprocesses ----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_python_dash_m_spikec_subprocess(tmp_path):
    result = subprocess.run([sys.executable, "-m", "spikec", "--help"], capture_output=True, text=True,
                            env=_env(), cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: spikec ")
    for command in ("graph", "stats", "run", "ops", "backends"):
        assert command in result.stdout
    # An error through the real process: one line, exit 2, no traceback.
    result = subprocess.run([sys.executable, "-m", "spikec", "graph", "nope.py"], capture_output=True,
                            text=True, env=_env(), cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "spikec: error: no such file: nope.py"


def test_console_script_subprocess(tmp_path):
    exe = shutil.which("spikec") or shutil.which("spikec", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("the spikec console script is not installed (pip install -e .)")
    result = subprocess.run([exe, "run", str(EXAMPLE)], capture_output=True, text=True, env=_env(),
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("final NRMSE: ")
