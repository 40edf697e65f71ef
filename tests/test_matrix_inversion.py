"""examples/matrix_inversion.py: the compiled inverse converges in spiking mode."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import spikec

from spikec.metrics import nrmse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import matrix_inversion as mi  # noqa: E402


def matrix(n: int) -> np.ndarray:
    return np.random.RandomState(0).randn(n, n)


def test_2x2_euler_spiking_converges():
    A = matrix(2)
    out = mi.inverse.trace(A).run(t=1.0, mode="spiking", synapse=0.02)
    assert nrmse(out.final, np.linalg.inv(A)) < 0.02  # measured 0.64%
    assert 5_000 < out.spikes[-1] < 30_000  # 32 neurons, measured 13,480


def test_2x2_adam_spiking_converges():
    A = matrix(2)
    out = spikec.compile(mi.inverse_adam).trace(A, lr=0.03).run(t=1.0, mode="spiking", synapse=0.02)
    assert nrmse(out.final, np.linalg.inv(A)) < 0.02  # measured 0.25%


def test_5x5_euler_spiking_tracks_the_ideal_flow():
    """5x5 (cond 42): the slowest mode has a 1.16 s time constant, so after 2 s the ideal flow is at
    ~18% NRMSE; the spiking network (500 neurons) must follow it."""
    A = matrix(5)
    prog = mi.inverse.trace(A)
    truth = np.linalg.inv(A)
    ideal = nrmse(prog.run(t=2.0).final, truth)
    out = prog.run(t=2.0, mode="spiking", synapse=0.02)
    spiking = nrmse(out.final, truth)
    assert prog.stats().neurons == 500
    assert 0.1 < ideal < 0.25
    assert spiking < 0.3
    assert abs(spiking - ideal) < 0.08


def test_example_main_default_run_passes(capsys, tmp_path):
    assert mi.main(["--plot", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "numpy/spiking" in out and "final NRMSE" in out
    for name in ("convergence.png", "heatmaps.png", "nrmse_vs_spikes.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_example_main_fails_above_threshold(capsys):
    assert mi.main(["-t", "0.01", "--readout", "0.001"]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_naive_nengo_baseline_runs():
    pytest.importorskip("nengo")
    run = mi.naive_nengo(matrix(2), t=0.2, n_neurons=200)
    assert run["output"].shape == (200, 2, 2)
    assert run["spikes"][-1] > 0
