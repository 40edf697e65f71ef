"""Parabola tuning options against oracles: exact NumPy identities, the ideal reference in rate mode,
and plain products in spiking mode.

``parabola_pairs`` (a symmetric pair of Parabola neurons per square) and
``balanced_products`` (products around the operands' range centres, squares
balanced to ``+-2 sqrt(rx ry)``) are exact in rate mode like the default
rule (measured: ~1e-15 against the reference); ``input_range`` tunes
input-only operands to the image of a declared box; ``spike_phase="aligned"``
starts every parabola unit half way to its first spike.
"""

from __future__ import annotations

import numpy as np
import pytest

import spikec
from spikec.errors import SpikecError
from spikec.lower.tuning import balanced_product, parabola_square, parabola_square_pairs
from spikec.models.neurons import Parabola

RNG = np.random.RandomState(7)


def decoded_square(tuning, lin, const, u):
    """u**2 as the units compute it in rate mode: decode @ rates(gain * encode @ u + bias) + lin*u + const."""
    current = tuning.gain * (tuning.encode @ u) + tuning.bias
    return tuning.decode @ Parabola().rates(current) + lin * u + const


@pytest.mark.parametrize("square", [parabola_square, parabola_square_pairs])
def test_squares_decode_exactly_in_their_range(square):
    lower, upper = np.array([-1.0, 0.5, -3.0]), np.array([2.0, 4.0, -1.0])
    tuning, lin, const = square(lower, upper, 1000.0)
    for _ in range(20):
        u = lower + (upper - lower) * RNG.uniform(size=3)
        np.testing.assert_allclose(decoded_square(tuning, lin, const, u), u**2, rtol=1e-12, atol=1e-12)


def test_pairs_are_silent_at_the_centre_and_finer_per_spike():
    lower, upper = np.array([-2.0]), np.array([2.0])
    single, _, _ = parabola_square(lower, upper, 1000.0)
    pair, lin, const = parabola_square_pairs(lower, upper, 1000.0)
    assert pair.gain.size == 2 * single.gain.size
    rates_at_centre = Parabola().rates(pair.gain * (pair.encode @ np.zeros(1)) + pair.bias)
    assert np.all(rates_at_centre == 0)
    # one end of the range: one neuron of the pair at max_rate, the other silent
    np.testing.assert_allclose(sorted(Parabola().rates(pair.gain * (pair.encode @ upper) + pair.bias)), [0, 1000])
    # a spike is worth a quarter as much (value * s): the decoder
    np.testing.assert_allclose(pair.decode.toarray().max(), single.decode.toarray().max() / 4)
    # and pairs stay exact beyond the range (only the rate grows)
    np.testing.assert_allclose(decoded_square(pair, lin, const, np.array([5.0])), [25.0])


def test_balanced_product_identity():
    lx, hx = RNG.uniform(-2, 0, 5), RNG.uniform(0.1, 3, 5)
    ly, hy = RNG.uniform(-1, 0.5, 5), RNG.uniform(0.6, 1, 5)
    (cx, cy), (sx, sy), radius, const = balanced_product(lx, hx, ly, hy)
    x, y = lx + (hx - lx) * RNG.uniform(size=5), ly + (hy - ly) * RNG.uniform(size=5)
    p, q = x - cx, y - cy
    u, v = sx * p + sy * q, sx * p - sy * q
    assert np.all(np.abs(u) <= radius + 1e-12) and np.all(np.abs(v) <= radius + 1e-12)
    np.testing.assert_allclose((u**2 - v**2) / 4 + cy * p + cx * q + const, x * y, rtol=1e-12)
    np.testing.assert_allclose(radius, 2 * np.sqrt((hx - lx) / 2 * (hy - ly) / 2))


def wave(shape, freqs=(3.0, 5.0, 7.0), offset=0.0):
    size = int(np.prod(shape))
    f = np.resize(np.asarray(freqs, dtype=float), size)
    phase = np.linspace(0.0, 2.0, size)
    return spikec.Input(shape, lambda t: (offset + np.sin(2 * np.pi * f * t + phase)).reshape(shape))


def _inverse(A):
    return spikec.integrate(lambda M: -50.0 * 2 * (M @ A - np.eye(2)) @ A.T, x0=np.zeros((2, 2)))


PROGRAMS = {
    "product": (lambda x, y: x * y + np.square(x - y), (wave((3,)), wave((3,), freqs=(2.0,), offset=0.5))),
    "matmul": (lambda a, b: a @ b, (wave((2, 3)), wave((3, 2), freqs=(2.0, 3.0, 4.0, 5.0)))),
    "inverse": (_inverse, (np.random.RandomState(0).randn(2, 2),)),
}
OPTIONS = [{"parabola_pairs": True}, {"balanced_products": True},
           {"parabola_pairs": True, "balanced_products": True, "input_range": (-3.0, 3.0)}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_tuning_options_are_exact_in_rate_mode(name, options):
    fn, args = PROGRAMS[name]
    prog = spikec.compile(fn).trace(*args)
    ideal = prog.run(t=0.3)
    rate = prog.run(t=0.3, mode="rate", **options)
    np.testing.assert_allclose(rate.output, ideal.output, rtol=1e-9, atol=1e-9 * (1 + np.abs(ideal.output).max()))
    neurons = prog.lower(**options).stats().neurons
    single = prog.lower(parabola_pairs=False).stats().neurons  # one neuron per square
    assert neurons == (2 if options.get("parabola_pairs", True) else 1) * single


def test_input_range_tunes_input_operands_to_the_box():
    """Traced at x = y = 0.5 (constant), run at x = 1.5, y = -1.5: only units tuned to the box stay accurate."""
    prog = spikec.compile(lambda x, y: x * y).trace(np.full(2, 0.5), np.full(2, 0.5))
    x, y = np.array([1.5, -1.0]), np.array([-1.5, 1.8])
    boxed = prog.run(x, y, t=1.0, mode="spiking", input_range=(-2.0, 2.0), parabola_pairs=True)
    narrow = prog.run(x, y, t=1.0, mode="spiking", parabola_pairs=False)
    assert np.abs(boxed.output.mean(axis=0) - x * y).max() < 0.05
    assert np.abs(narrow.output.mean(axis=0) - x * y).max() > 0.2  # out of its tuned range: silent neurons


def test_input_range_leaves_state_dependent_operands_measured():
    prog = spikec.compile(_inverse).trace(np.random.RandomState(0).randn(2, 2))
    a = prog.lower(parabola_pairs=True)
    b = prog.lower(parabola_pairs=True, input_range=(-3.0, 3.0))
    # first products read M (a state) and A (input): gains change; nothing else is boxed
    assert [p.n for p in a.populations] == [p.n for p in b.populations]
    assert not np.allclose(a.populations[0].gain.value, b.populations[0].gain.value)


def test_aligned_spike_phase_starts_every_parabola_unit_half_way():
    prog = spikec.compile(lambda x, y: x * y).trace(wave((3,)), wave((3,), freqs=(2.0,)))
    (pop,) = prog.lower(spike_phase="aligned").populations
    np.testing.assert_array_equal(pop.state0()["voltage"], 0.5)
    (pop,) = prog.lower().populations
    assert np.ptp(pop.state0()["voltage"]) > 0


@pytest.mark.parametrize("bad", [{"input_range": (1.0, 0.0)}, {"input_range": 3.0}, {"spike_phase": "random!"}])
def test_bad_tuning_options_are_errors(bad):
    prog = spikec.compile(lambda x, y: x * y).trace(wave((3,)), wave((3,)))
    with pytest.raises(SpikecError, match=next(iter(bad))):
        prog.lower(**bad)


def test_tuned_netlists_spike_the_same_on_numpy_and_nengo():
    """Pairs (negative encoders), balanced products (offsets folded into biases) and aligned phases are
    plain netlist content: nengo runs them spike for spike like spikec's simulator (float64)."""
    pytest.importorskip("nengo")
    prog = spikec.compile(_inverse).trace(np.random.RandomState(0).randn(2, 2))
    options = {"parabola_pairs": True, "balanced_products": True, "spike_phase": "aligned", "unit_synapse": 0.01}
    ours = prog.run(t=0.3, mode="spiking", **options)
    theirs = prog.run(t=0.3, backend="nengo", mode="spiking", **options)
    np.testing.assert_array_equal(ours.spikes, theirs.spikes)
    np.testing.assert_allclose(ours.output, theirs.output, atol=1e-9)


def test_product_radius_is_exact_in_rate_mode_far_outside_the_traced_example():
    """Gyrus's generic squares (pairs at 0, one radius) do not depend on the example: rate mode matches NumPy
    on inputs 10x the traced ones, where range-tuned single parabolas would fall silent."""

    @spikec.compile
    def f(x, y):
        return x * y + x**2

    prog = f.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))
    x, y = np.array([5.0, -4.0]), np.array([-7.0, 3.0])
    out = prog.run(x, y, t=0.01, backend="numpy", mode="rate", product_radius=1.0)
    np.testing.assert_allclose(out.final, x * y + x**2, rtol=1e-9)
    info = str(prog.lower(product_radius=1.0))
    assert "pairs at 0, radius 1" in info


def test_product_radius_must_be_positive():
    with pytest.raises(SpikecError, match="product_radius"):
        spikec.lower.LowerOptions(product_radius=0)


def test_radius_scale_pairs_stay_exact_beyond_the_scaled_radius_and_cost_more_spikes():
    """Pairs tuned to a tenth of the measured range still match NumPy in rate mode on inputs 10x the traced
    ones (a pair never saturates), and their finer quantum shows as more spikes on those inputs."""

    @spikec.compile
    def f(x, y):
        return x * y + x**2

    prog = f.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))
    x, y = np.array([5.0, -4.0]), np.array([-7.0, 3.0])
    for extra in ({}, {"balanced_products": True}):
        out = prog.run(x, y, t=0.01, backend="numpy", mode="rate", parabola_pairs=True, radius_scale=0.1, **extra)
        np.testing.assert_allclose(out.final, x * y + x**2, rtol=1e-9)
    wide = prog.run(x, y, t=0.2, backend="numpy", mode="spiking", parabola_pairs=True)
    fine = prog.run(x, y, t=0.2, backend="numpy", mode="spiking", parabola_pairs=True, radius_scale=0.1)
    # spikes scale as 1 / radius**2 at a fixed max_rate: 100x, give or take the rounding of short runs
    assert fine.spikes[-1] > 50 * wide.spikes[-1] > 0


def test_radius_scale_must_be_positive():
    with pytest.raises(SpikecError, match="radius_scale"):
        spikec.lower.LowerOptions(radius_scale=0)


def test_n_neurons_on_a_parabola_product_is_refused_with_the_op_and_line():
    """A parabola product has no n_neurons: asking for one in a configure scope is an error naming the op and the
    user's line, not silently ignored; with products='nef' in the scope it sizes the product's ensembles."""

    @spikec.compile
    def f(x, y):
        with spikec.configure(n_neurons=200):
            return x * y

    prog = f.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))
    with pytest.raises(SpikecError, match=r"n_neurons=200 .*parabola product") as err:
        prog.lower()
    assert "mul" in str(err.value) and "test_lower_tuning.py" in str(err.value)

    @spikec.compile
    def g(x, y):
        with spikec.configure(n_neurons=200, products="nef"):
            return x * y

    stats = g.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0])).lower().stats()
    assert stats.neurons == 2 * 200


def test_product_balance_equalises_typical_operand_sizes():
    """``s = sqrt(|y| / |x|)`` makes ``s x`` and ``y / s`` the same size; 1 where there is nothing to match."""
    from spikec.lower.tuning import product_balance

    tx, ty = np.array([0.5, 4.0, 0.0, 2.0]), np.array([8.0, 1.0, 3.0, 0.0])
    s = product_balance(tx, ty)
    np.testing.assert_allclose((s * tx)[:2], (ty / s)[:2], rtol=1e-12)
    np.testing.assert_array_equal(s[2:], 1.0)


def test_typical_magnitudes_are_the_median_over_runs_of_each_rms():
    """Against NumPy: constant inputs, so each run's RMS over time is the value's magnitude; the median over
    three runs ignores one outlier run (100x), as the domain's ranges, which hold extremes, cannot."""
    from spikec.lower.tuning import typical_magnitudes

    prog = spikec.compile(lambda x, y: x * y).trace(np.array([1.0, -2.0]), np.array([3.0, 0.5]))
    graph = prog.lowering_graph
    (mul,) = [n for n in graph if n.op == "mul"]
    runs = [[lambda t, v=v: v, lambda t: np.array([1.0, 1.0])] for v in
            (np.array([1.0, -2.0]), np.array([-3.0, 4.0]), np.array([100.0, 100.0]))]
    typical = typical_magnitudes(graph, runs, 0.01, 0.001, mul.inputs)
    np.testing.assert_allclose(typical.magnitude[mul.inputs[0]], [3.0, 4.0])
    np.testing.assert_allclose(typical.magnitude[mul.inputs[1]], [1.0, 1.0])
    assert not typical.moving[mul.inputs[0]].any()  # constant inputs hold still
    moving = typical_magnitudes(graph, [[lambda t: np.array([np.sin(50 * t), 2.0]), lambda t: np.ones(2)]],
                                0.01, 0.001, mul.inputs).moving
    np.testing.assert_array_equal(moving[mul.inputs[0]], [True, False])


BALANCE_PROGRAMS = {
    "matmul": (lambda a, b: a @ (b * 20.0), (wave((2, 3)), np.random.RandomState(1).randn(3, 2))),
    "inverse": (_inverse, (np.random.RandomState(0).randn(2, 2),)),
}


@pytest.mark.filterwarnings("ignore::spikec.RangeWarning")  # the held-out matrix leaves a 3-draw domain
@pytest.mark.parametrize("options", [{"product_radius": 1.0}, {}], ids=["radius", "ranges"])
@pytest.mark.parametrize("name", list(BALANCE_PROGRAMS))
def test_domain_balanced_products_are_exact_in_rate_mode_and_reported(name, options):
    """``(s x)(y / s)`` is ``x y``: rate mode matches the NumPy reference to 1e-9 with and without the balance,
    on the traced example and on inputs the domain's calibration did not hold, and the netlist print shows the
    factors the compiler chose (operands of different sizes: not all 1)."""
    fn, args = BALANCE_PROGRAMS[name]
    prog = spikec.compile(fn).trace(*args)
    if name == "inverse":
        prog.tune_for(*(np.random.RandomState(s).randn(2, 2) for s in (100, 101, 102)))
    ideal = prog.run(t=0.3)
    plain = prog.run(t=0.3, mode="rate", **options)
    balanced = prog.run(t=0.3, mode="rate", product_balance="domain", **options)
    tol = {"rtol": 1e-9, "atol": 1e-9 * (1 + np.abs(ideal.output).max())}
    np.testing.assert_allclose(plain.output, ideal.output, **tol)
    np.testing.assert_allclose(balanced.output, ideal.output, **tol)
    if name == "inverse":
        other = np.random.RandomState(5).randn(2, 2)
        np.testing.assert_allclose(prog.run(other, t=0.3, mode="rate", product_balance="domain", **options).output,
                                   prog.run(other, t=0.3).output, **tol)
    net = prog.lower(product_balance="domain", **options)
    shown = [dict(p.info)["balance"] for p in net.populations if "balance" in dict(p.info)]
    assert shown and "balance=" in str(net)
    assert any(text != "1..1" for text in shown)
    assert "balance" not in str(prog.lower(**options))


def test_products_of_two_moving_operands_are_not_balanced():
    """Both operands move (two sines): the compiler leaves the product as it is (balance 1 everywhere)."""
    prog = spikec.compile(lambda a, b: a * (b * 20.0)).trace(wave((3,)), wave((3,), freqs=(2.0,)))
    (pop,) = prog.lower(product_balance="domain", product_radius=1.0).populations
    assert dict(pop.info)["balance"] == "1..1"


def test_product_balance_must_be_none_or_domain():
    with pytest.raises(SpikecError, match="product_balance"):
        spikec.lower.LowerOptions(product_balance="ranges")
