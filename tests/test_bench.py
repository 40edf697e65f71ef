"""spikec.tools.bench.spikes_vs_accuracy and the `spikec bench` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.tools.bench import BenchResult, machine_header, parse_sweep, spikes_vs_accuracy
from spikec.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "matrix_inversion.py"


@spikec.compile
def ramp(x):
    """y(t) = t * x: an integrator of a constant input (no neurons)."""
    return spikec.integrate(lambda y: x, x0=np.zeros(x.shape))


def test_toy_numbers_by_hand():
    # Ideal mode, no readout filter: y at step k (t = k dt) holds the value before
    # the k-th update, (k - 1) dt * x, so the NRMSE against the target 1 * x at step k is
    # 1 - (k - 1) dt.  With dt = 0.1 and t = 1: errors 1, .9, ..., .1 at steps 1..10.
    x = np.array([1.0, 2.0])
    res = spikes_vs_accuracy(ramp, (x,), reference=lambda x: x, t=1.0, dt=0.1, mode="ideal", synapse=None,
                             levels=(0.5, 0.15, 0.05))
    row = res.rows[0]
    np.testing.assert_allclose(row.errors, 1 - np.arange(10) * 0.1, atol=1e-12)
    assert row.neurons == 0 and row.total_spikes == 0
    assert row.time_to(0.5) == pytest.approx(0.6)  # step 6: error 0.5 (<= level, stays below)
    assert row.time_to(0.15) == pytest.approx(1.0)  # step 10: error 0.1
    assert np.isnan(row.time_to(0.05))
    assert row.spikes_to(0.5) == 0  # spike counts are all zero in ideal mode
    assert row.final_nrmse == pytest.approx(0.1)
    text = str(res)
    assert "spikes to 50%" in text and "spikes to 15%" in text


def test_spikes_to_levels_use_the_spike_series():
    x = np.array([1.0, 2.0])
    res = spikes_vs_accuracy(ramp, (x,), reference=lambda x: x, t=1.0, dt=0.1, mode="ideal", synapse=None,
                             levels=(0.5,))
    row = res.rows[0]
    row.spikes = np.arange(10) * 100  # a made-up cumulative count: 0, 100, ..., 900
    assert row.spikes_to(0.5) == 500  # first step of the final stretch at or below 50% is index 5
    assert row.as_dict()["spikes_to_0.5"] == 500


def test_sweep_max_rate_on_matrix_inverse(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mi_example", EXAMPLE)
    mi = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mi)
    A = np.random.RandomState(0).randn(2, 2)
    plot = tmp_path / "bench.png"
    res = spikes_vs_accuracy(mi.inverse, (A,), reference=np.linalg.inv, t=0.5, synapse=0.02,
                             sweep={"max_rate": [250, 1000]}, plot=str(plot))
    assert isinstance(res, BenchResult) and len(res) == 2
    low, high = res.rows
    assert low.neurons == high.neurons == 64
    assert low.total_spikes < high.total_spikes  # fewer spikes at the lower rate
    assert high.final_nrmse < 0.05
    assert np.all(np.diff(high.spikes) >= 0)
    assert plot.stat().st_size > 1000
    assert "max_rate" in str(res)
    # a static argument of the compiled function is re-traced per value
    res = spikes_vs_accuracy(mi.inverse, (A,), reference=np.linalg.inv, t=0.2, mode="ideal", synapse=None,
                             static={"dt": 0.05}, sweep={"seed": [0]})
    assert res.rows[0].final_nrmse < 1e-6


def test_parse_sweep():
    assert parse_sweep("max_rate=250,500") == ("max_rate", [250, 500])
    assert parse_sweep("synapse=0.01,None") == ("synapse", [0.01, None])
    with pytest.raises(ValueError):
        parse_sweep("max_rate")


def test_needs_a_reference():
    with pytest.raises(TypeError, match="reference"):
        spikes_vs_accuracy(ramp, (np.ones(2),), t=0.1)


def test_cli_bench(capsys, tmp_path):
    plot = tmp_path / "b.png"
    code = main(["bench", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "--reference", "np.linalg.inv",
                 "-t", "0.3", "--sweep", "max_rate=500,1000", "--plot", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "spikes to 10%" in out and "max_rate" in out
    assert plot.exists()
    code = main(["bench", f"{EXAMPLE}:inverse", "--arg", "A=2x2", "--reference", "numpy.linalg.inv",
                 "-t", "0.2", "--mode", "ideal", "--synapse", "none", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["spikes"] == 0 and rows[0]["final_nrmse"] < 1e-3


def test_cli_bench_needs_reference(capsys):
    code = main(["bench", f"{EXAMPLE}:inverse", "--arg", "A=2x2"])
    _, err = capsys.readouterr()
    assert code == 2 and "--reference" in err


def test_machine_header_names_the_machine_the_date_and_the_command(monkeypatch):
    import datetime
    import os
    import platform
    from importlib import metadata

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    first, command = machine_header("spikec products", ["--t", "0.5"], script="/x/benchmarks/products.py",
                                    packages=("numpy",))
    assert first.startswith(f"spikec products; {datetime.date.today().isoformat()}; ")
    assert f", {os.cpu_count()} cores, one BLAS thread; Python {platform.python_version()}; " in first
    assert first.endswith(f"; numpy {metadata.version('numpy')}")
    assert command == "command: python benchmarks/products.py --t 0.5"
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert "4 BLAS threads" in machine_header("x", [], script="b.py")[0]
    assert "2 threads per process" in machine_header("x", [], script="b.py", threads="2 threads per process")[0]
