"""Program.autotune: lowering options chosen on the calibration set, checked against NumPy and the rule it states."""

import math

import numpy as np
import pytest

import spikec
from spikec.train.autotune import ROUNDS, Candidate, _choose, _coordinate, default_candidates, search_space


def _product():
    f = spikec.compile(lambda x, y: x * y)
    return f.trace(spikec.Input(3, value=[0.5, -0.3, 0.2], sample=lambda rng: rng.uniform(-1, 1, 3)),
                   spikec.Input(3, value=[0.4, 0.6, -0.5], sample=lambda rng: rng.uniform(-1, 1, 3)))


CANDIDATES = [{"unit_synapse": 0.005, "max_rate": 1000.0}, {"unit_synapse": 0.005, "max_rate": 4000.0},
              {"unit_synapse": 0.005, "max_rate": 250.0}]


@pytest.fixture(scope="module")
def tuned():
    prog = _product()
    report = prog.autotune(t=0.5, target=0.1, synapse=0.05, candidates=CANDIDATES, backend="numpy",
                           reference="final")
    return prog, report


def test_report_matches_an_independent_run_against_numpy(tuned):
    """Every row's final NRMSE is what the same options give, run again here and compared with x * y."""
    prog, report = tuned
    xs = [prog.inputs[0].provider()(0.0)] + prog.domain["x"].draws(prog.domain.seed)
    ys = [prog.inputs[1].provider()(0.0)] + prog.domain["y"].draws(prog.domain.seed + 7919)
    assert report.inputs == len(xs) == 9
    for cand in report.candidates:
        res = _product().run(np.stack(xs), np.stack(ys), batch=True, t=0.5, mode="spiking", synapse=0.05,
                             on_range="ignore", **cand.options)
        truth = np.stack(xs) * np.stack(ys)
        err = np.sqrt(np.mean((res.output[:, -1] - truth) ** 2, axis=-1)) / np.sqrt(np.mean(truth**2, axis=-1))
        np.testing.assert_allclose(cand.finals, err, rtol=1e-6)
        np.testing.assert_array_equal(cand.spikes, res.spikes[:, -1])


def test_chosen_is_the_cheapest_that_reaches_the_target(tuned):
    _, report = tuned
    needed = math.ceil(0.8 * report.inputs)
    good = [c for c in report.candidates if c.reached >= needed]
    assert good, str(report)
    assert report.best is min(good, key=lambda c: c.median_stay)
    # Fewer spikes per second cost accuracy: the rates tried order the spikes spent.
    spikes = {c.options["max_rate"]: np.median(c.spikes) for c in report.candidates}
    assert spikes[250.0] < spikes[1000.0] < spikes[4000.0]
    assert "<- chosen" in str(report) and "max_rate=" in str(report)


def test_program_keeps_the_chosen_options(tuned):
    prog, report = tuned
    assert prog.autotuned is report
    assert "chosen by autotune: unit_synapse=0.005, max_rate=" in str(prog)
    for key, value in report.chosen.items():
        assert prog.options[key] == value
    assert prog.lower_options().max_rate == report.chosen["max_rate"]
    # Later runs use them: the same spikes as the report's run on the traced example.
    res = prog.run(t=0.5, mode="spiking", on_range="ignore")
    assert res.spikes[-1] == report.best.spikes[0]


def test_choose_rule():
    def cand(name, stays, finals):
        return Candidate({"name": name}, finals=np.array(finals), stay_spikes=np.array(stays, dtype=float))

    inf = math.inf
    cheap_but_unreliable = cand("a", [10, inf, inf, inf, inf], [0.001, 0.5, 0.5, 0.5, 0.5])
    reliable = cand("b", [100, 200, 300, 400, inf], [0.001] * 4 + [0.2])
    dearer = cand("c", [500, 500, 500, 500, 500], [0.001] * 5)
    assert _choose([cheap_but_unreliable, reliable, dearer], require=0.8).options["name"] == "b"
    assert _choose([cheap_but_unreliable, reliable, dearer], require=1.0).options["name"] == "c"
    # None reaches often enough: the one that reaches most.
    assert _choose([cheap_but_unreliable, reliable], require=1.0).options["name"] == "b"


def test_search_space_tries_the_optional_rewrites_that_apply():
    def inverse(A):
        return spikec.integrate(lambda M: -2 * (M @ A - np.eye(2)) @ A.T, x0=np.zeros((2, 2)),
                                synapse=spikec.Adam(lr=0.1))

    A0 = np.random.RandomState(0).randn(2, 2)
    space = search_space(spikec.compile(inverse).trace(A0))
    names = [{p if isinstance(p, str) else p[0] for p in passes} for passes in space["passes"][1:]]
    # the pipeline as compiled (None), without hoist_gram, with factor_scales, with it and without hoist_gram
    assert [("hoist_gram" in n, "factor_scales" in n) for n in names] == [(False, False), (True, True), (False, True)]
    assert len(default_candidates(spikec.compile(inverse).trace(A0))) == 4 * 4 * 4 * 2
    assert "passes" not in search_space(_product())  # x * y: no rewrite changes it
    # Options given at compile time stay fixed.
    fixed = search_space(spikec.compile(lambda x, y: x * y, unit_synapse=0.01).trace(np.ones(2), np.ones(2)))
    assert "unit_synapse" not in fixed and set(fixed) == {"product_radius", "parabola_pairs"}


def test_coordinate_search_walks_one_option_at_a_time():
    """On a made-up score with one best cell, the walk finds it within its budget of runs."""
    space = {"a": (0, 1, 2), "b": ("x", "y"), "c": (None, 5.0)}
    runs = []

    def measure(options):
        runs.append(dict(options))
        full = {"a": 0, "b": "x", "c": None, **options}
        miss = (full["a"] != 2) + (full["b"] != "y") + (full["c"] != 5.0)
        finals = np.full(5, 0.001 if miss == 0 else 0.1 * miss)
        stays = np.full(5, 100.0 if miss == 0 else math.inf)
        return Candidate(dict(options), finals=finals, stay_spikes=stays)

    _coordinate(space, measure, needed=4, show=False)
    assert {"a": 2, "b": "y", "c": 5.0} in runs
    # the first round finds it, the second changes nothing and ends the walk: 1 + 2 rounds of 4 other values
    per_round = sum(len(v) - 1 for v in space.values())
    assert len(runs) == 1 + 2 * per_round and ROUNDS > 2


def test_factor_scales_keeps_the_values_and_moves_the_factor():
    def grad(M, A):
        return 2 * (M @ A - np.eye(3)) @ A.T + (0.5 * M) * A

    rng = np.random.default_rng(1)
    M0, A0 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    f = spikec.compile(grad, passes=("factor_scales", *spikec.passes.DEFAULT_PIPELINE))
    prog = f.trace(M0, A0)
    traced = prog.traced_graph
    moved = spikec.passes.factor_scales(traced)
    for node in moved:
        if node.op in ("mul", "matmul"):
            assert all(moved[i].op != "scale" for i in node.inputs), node
    for _ in range(3):
        M, A = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
        out = prog.run(M, A, t=0.002, mode="ideal").output[-1]
        np.testing.assert_allclose(out, grad(M, A), rtol=1e-12, atol=1e-12)


def test_refusals():
    f = spikec.compile(lambda x, y: x * y)
    prog = f.trace(np.array([0.5, -0.3]), np.array([0.4, 0.6]))
    with pytest.raises(spikec.SpikecError, match="no domain to tune on"):
        prog.autotune(t=0.1)
    with pytest.raises(spikec.SpikecError, match="reference="):
        _product().autotune(t=0.1, reference="mean")


@pytest.mark.slow
def test_default_search_on_jax_holds_on_held_out_matrices():
    """The whole default walk on the 2x2 Adam inverse, on jax: the choice it makes on calibration draws keeps
    matrices it never saw within 1% of inv(A)."""
    def inverse_adam(A, lr=0.5, beta1=0.98):
        return spikec.integrate(lambda M: -(2 * (M @ A - np.eye(2)) @ A.T), x0=np.zeros((2, 2)),
                                synapse=spikec.Adam(lr=lr, beta1=beta1))

    prog = spikec.compile(inverse_adam).trace(np.random.RandomState(0).randn(2, 2))
    prog.tune_for(*(np.random.RandomState(s).randn(2, 2) for s in range(100, 108)))
    report = prog.autotune(t=2.5, synapse=0.2, reference="final", progress=False)
    assert report.best.reached >= math.ceil(0.8 * report.inputs), str(report)
    assert str(prog).endswith(report.summary())
    held = [np.random.RandomState(s).randn(2, 2) for s in range(1, 11)]
    res = prog.run(np.stack(held), batch=True, t=2.5, backend="jax", mode="spiking", synapse=0.2, on_range="ignore")
    finals = [np.sqrt(np.mean((res.output[k, -1] - np.linalg.inv(A)) ** 2)) / np.sqrt(np.mean(np.linalg.inv(A) ** 2))
              for k, A in enumerate(held)]
    assert np.median(finals) < 0.01 and sum(f < 0.01 for f in finals) >= 8, finals
