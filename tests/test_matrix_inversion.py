"""examples/matrix_inversion.py: the compiled inverse converges in spiking mode.

Measured (numpy back end, 20 ms readout, seed 0): 2x2 Euler 0.24% after 1 s;
2x2 adam (TUNED) 0.05% after 1 s; 5x5 adam (TUNED, lr 0.05, 1,000 neurons)
0.10% after 2.5 s, 15.7k / 23.6k / 43.4k / 51.7k spikes to reach 10 / 5 / 1 /
0.5% for good (Gyrus: 808k / 1.02M / 1.46M / 1.73M); the same 5x5 network on
a runtime A 1% away from the traced one (inverse 19% away): 0.09%.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.tools.metrics import nrmse, spikes_to_reach

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import matrix_inversion as mi


def matrix(n: int) -> np.ndarray:
    return np.random.RandomState(0).randn(n, n)


def test_2x2_euler_spiking_converges():
    A = matrix(2)
    out = mi.inverse.trace(A).run(t=1.0, mode="spiking", synapse=0.02)
    assert nrmse(out.final, np.linalg.inv(A)) < 0.02  # measured 0.051% (0.24%: one neuron a square, no hoist)
    assert 1_000 < out.spikes[-1] < 10_000  # 64 neurons, one product layer in the loop: 2.2k


def test_2x2_adam_spiking_converges():
    A = matrix(2)
    out = spikec.compile(mi.inverse_adam).trace(A, lr=0.03).run(t=1.0, mode="spiking", synapse=0.02, **mi.TUNED)
    assert nrmse(out.final, np.linalg.inv(A)) < 0.02  # measured 0.05%


def test_5x5_euler_spiking_tracks_the_ideal_flow():
    """5x5 (cond 42): the slowest mode has a 1.16 s time constant, so after 2 s the ideal flow is at
    ~18% NRMSE; the spiking network (1,000 neurons: a pair per square) must follow it."""
    A = matrix(5)
    prog = mi.inverse.trace(A)
    truth = np.linalg.inv(A)
    ideal = nrmse(prog.run(t=2.0).final, truth)
    out = prog.run(t=2.0, mode="spiking", synapse=0.02)
    spiking = nrmse(out.final, truth)
    assert prog.stats().neurons == 1000
    assert 0.1 < ideal < 0.25
    assert spiking < 0.3
    assert abs(spiking - ideal) < 0.08


def test_5x5_adam_spiking_converges_with_few_spikes():
    """The tuned Adam variant (1,000 parabola neurons) reaches 1% within 2.5 s, 5% on far fewer spikes than
    Gyrus's 1.02M (measured 0.10% final, 23.6k spikes to 5%)."""
    A = matrix(5)
    prog = spikec.compile(mi.inverse_adam).trace(A, lr=0.05)
    out = prog.run(t=2.5, mode="spiking", synapse=0.02, **mi.TUNED)
    curve = nrmse(out.output, np.linalg.inv(A), axis=(1, 2))
    assert prog.lower(**mi.TUNED).stats().neurons == 1000
    assert curve[-1] < 0.01
    assert spikes_to_reach(curve, out.spikes, 0.05) < 204_000  # Gyrus / 5


def test_5x5_adam_network_inverts_a_runtime_input_it_was_not_traced_on():
    """A is an input, not a constant of the network: the same netlist inverts a perturbed A (its inverse is
    19% away from the traced one) to within 1% (measured 0.09% at 2.5 s)."""
    A = matrix(5)
    moved = A + 0.01 * np.abs(A).max() * np.random.RandomState(1).uniform(-1, 1, A.shape)
    truth = np.linalg.inv(moved)
    assert nrmse(np.linalg.inv(A), truth) > 0.1
    prog = spikec.compile(mi.inverse_adam).trace(A, lr=0.05)
    out = prog.run(moved, t=2.5, mode="spiking", synapse=0.02, **mi.TUNED)
    assert nrmse(out.final, truth) < 0.01


def test_example_main_default_run_passes(capsys, tmp_path):
    assert mi.main(["--plot", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "numpy/spiking" in out and "final NRMSE" in out
    for name in ("convergence.png", "heatmaps.png", "nrmse_vs_spikes.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_example_main_fails_above_threshold(capsys):
    assert mi.main(["-t", "0.01", "--readout", "0.001"]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_example_adam_on_a_perturbed_input(capsys):
    assert mi.main(["--variant", "adam", "--perturb", "0.01", "-t", "1", "--max-nrmse", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "runtime A" in out and "tuned tuning" in out and "64 neurons" in out


def test_naive_nengo_baseline_is_the_studys_18_percent():
    """One ensemble of 2,500 LIF neurons decoding inv(A) (2x2) as in the Gyrus study: about 18% NRMSE
    after 2 s through a 200 ms readout (measured 17.3%)."""
    pytest.importorskip("nengo")
    A = matrix(2)
    run = mi.naive_nengo(A)
    assert run["output"].shape == (2000, 2, 2)
    assert run["spikes"][-1] > 0
    assert 0.1 < nrmse(run["output"][-1], np.linalg.inv(A)) < 0.3


def test_example_heldout_table_runs_the_domain_tuned_network_on_other_matrices(capsys):
    """--domain --heldout 3: the network tuned for randn(2, 2) runs on RandomState(1..3) without a RunError."""
    mi.main(["--domain", "--heldout", "3", "--max-nrmse", "10"])
    out = capsys.readouterr().out
    table = out.split("== held-out matrices")[1]
    assert "randn(2, 2)" in table
    rows = [line.split() for line in table.splitlines()[2:5]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert all(r[-1].endswith("%") and float(r[-1][:-1]) < 100 for r in rows)  # converging, none diverged


def test_demo_network_tuned_for_the_domain_follows_the_ideal_flow_on_heldout_matrices():
    """The make-demo network (2x2 euler, numpy spiking, DOMAIN options, tuned for randn(2, 2) on seeds 100..):
    on RandomState(1..10), every matrix whose ideal flow is within 1% at 1 s ends within 1% too (measured:
    0.03-0.44%), and the one whose flow is not (s = 6, slowest mode 1.6 s) stays near the flow."""
    prog = mi.inverse.trace(matrix(2), dt=mi.RATE)
    prog.tune_for(*mi.calibration(2))
    for seed in range(1, 11):
        A = np.random.RandomState(seed).randn(2, 2)
        truth = np.linalg.inv(A)
        ideal = float(nrmse(prog.run(A, t=1.0).final, truth))
        out = prog.run(A, t=1.0, backend="numpy", mode="spiking", synapse=0.02, **mi.DOMAIN)
        final = float(nrmse(out.final, truth))
        assert final < max(0.01, 1.1 * ideal), (seed, ideal, final)


# Gyrus's optimized network on RandomState(s).randn(5, 5): spikes to reach 1% NRMSE and stay (nan: never).
GYRUS_STAY_5X5 = {1: np.nan, 2: np.nan, 3: np.nan, 4: 1405e3, 5: 1168e3, 6: 1625e3, 7: 575e3, 8: 847e3, 9: 523e3,
                  10: 1306e3}


def test_5x5_newton_tuned_for_the_domain_inverts_heldout_matrices_on_fewer_spikes_than_gyrus():
    """inverse_newton with NEWTON (Gyrus's generic squares, the products balanced by the compiler), tuned for
    randn(5, 5) on seeds 100..115, run on seeds 1..10 (jax, spiking, 2.5 s, 20 ms readout): every matrix ends
    below 1% and stays there, the two ill-conditioned ones Gyrus misses included (measured: median 0.36%, worst
    0.56%), on at least 3x fewer spikes than Gyrus where both get there (measured 3.9x; 5.3x and 5.4x with
    neuron seeds 1 and 2)."""
    pytest.importorskip("jax")
    k, gamma, t = mi.newton_params(5)
    prog = spikec.compile(mi.inverse_newton).trace(matrix(5), k=k, gamma=gamma)
    prog.tune_for(*mi.calibration(5))
    held = np.stack([np.random.RandomState(s).randn(5, 5) for s in range(1, 11)])
    out = prog.run(held, batch=True, t=t, backend="jax", mode="spiking", synapse=0.02, **mi.NEWTON)
    finals, ours, gyrus = [], [], []
    for i, seed in enumerate(range(1, 11)):
        curve = nrmse(out.output[i], np.linalg.inv(held[i]), axis=(1, 2))
        finals.append(float(curve[-1]))
        stay = spikes_to_reach(curve, out.spikes[i], 0.01)
        assert np.isfinite(stay), seed
        if np.isfinite(GYRUS_STAY_5X5[seed]):
            ours.append(stay)
            gyrus.append(GYRUS_STAY_5X5[seed])
    assert max(finals) < 0.01 and np.median(finals) < 0.005
    assert np.median(gyrus) / np.median(ours) >= 3


def test_example_newton_variant_prints_its_heldout_table(capsys):
    """2x2 newton on numpy (spiking): tuned for randn(2, 2), every held-out matrix below 1% (measured 0.06-0.24%)."""
    assert mi.main(["--variant", "newton", "--heldout", "4", "--max-nrmse", "0.01"]) == 0
    table = capsys.readouterr().out.split("== held-out matrices")[1]
    rows = [line.split() for line in table.splitlines()[2:6]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert all(float(r[-1][:-1]) < 1.0 for r in rows)


@pytest.mark.slow
def test_example_autotune_chooses_options_that_hold_on_heldout_matrices(capsys):
    """2x2 Adam as written, --autotune on jax: the compiler's choice (on the calibration draws) keeps five held-out
    matrices within 1% (measured 0.18-0.56%)."""
    argv = ["--variant", "adam", "-t", "2.5", "--lr", "0.5", "--beta1", "0.98", "--readout", "0.2", "--autotune",
            "--backend", "jax", "--heldout", "5", "--max-nrmse", "0.01"]
    assert mi.main(argv) == 0
    out = capsys.readouterr().out
    assert "== autotune ==" in out and "<- chosen" in out and "options chosen by autotune:" in out
    rows = [line.split() for line in out.split("== held-out matrices")[1].splitlines()[2:7]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(float(r[-1][:-1]) < 1.0 for r in rows)


def _gyrus_structure():
    """inverse_adam as Gyrus builds it: both product layers in the loop (no hoist_gram), Adam lr 1."""
    passes = [name for name in spikec.passes.DEFAULT_PIPELINE if name != "hoist_gram"]
    return spikec.compile(mi.inverse_adam, passes=passes).trace(matrix(5), lr=1.0)


HELD = np.stack([np.random.RandomState(s).randn(5, 5) for s in (5, 7)])


def test_gyrus_recipe_with_raw_spikes_inverts_heldout_matrices():
    # Gyrus's network (raw spikes, Adam(1), 200 ms readout) reaches 0.64% / 0.62% on these two matrices
    res = _gyrus_structure().run(HELD, batch=True, t=2.5, mode="spiking", synapse=0.2, **mi.RAW)
    for k, A in enumerate(HELD):
        assert nrmse(res.output[k][-1], np.linalg.inv(A)) < 0.01  # measured 0.29%, 0.26%


def test_a_loop_delay_is_what_breaks_adam_at_lr_1():
    # rate mode, so no spike noise: the raw loop follows ideal Adam; two one-step delays (a 10 us lowpass on each
    # unit projection is a pure delay) stop it converging, as the 5 ms default of spiking runs did
    prog = _gyrus_structure()
    raw = prog.run(HELD, batch=True, t=2.5, mode="rate", synapse=0.2, **mi.RAW)
    delayed = prog.run(HELD, batch=True, t=2.5, mode="rate", synapse=0.2, **{**mi.RAW, "unit_synapse": 1e-5})
    for k, A in enumerate(HELD):
        truth = np.linalg.inv(A)
        assert nrmse(raw.output[k][-1], truth) < 1e-3  # measured 6e-6, 2e-4
        assert nrmse(delayed.output[k][-1], truth) > 0.02  # measured 14%, 5.1%


def test_spiking_runs_filter_units_unless_told_not_to():
    prog = _gyrus_structure()
    default = prog.lower(dt=1e-3, **prog.mode_options("spiking", {"product_radius": 1.0}))
    raw = prog.lower(dt=1e-3, **prog.mode_options("spiking", mi.RAW))
    assert any(p.synapse is not None for p in default.projections)
    assert all(p.synapse is None for p in raw.projections)
