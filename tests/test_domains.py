"""A program has a domain, and its units are tuned for all of it (NumPy is the oracle).

Rate mode is exact (parabola products, linear weights) wherever every unit's
operand stays inside the range it was tuned to, so "rate mode equals NumPy on
inputs the network was not traced on" checks that the ranges hold over the
domain: sound interval bounds for straight-line programs over a declared box,
sampled bounds (calibration runs of the ideal reference) for recurrences.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import examples
from hypothesis import given

import spikec
from spikec.ir.domain import Domain, InputDomain
from spikec.lower import LowerOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def assert_exact(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


# ------------------------------------------------------------ straight-line programs of linear ops and products


@st.composite
def straight_line(draw):
    """A random straight-line program of linear ops and products over two inputs in a box, with inputs drawn
    inside the box: ``(fn, n, (lo, hi), traced inputs, further inputs)``."""
    n = draw(st.integers(1, 6))
    n_ops = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lo, hi = sorted(rng.uniform(-2.0, 2.0, size=2))
    hi = max(hi, lo + 0.1)
    steps = []
    for k in range(n_ops):
        kind = draw(st.sampled_from(["affine", "mul", "square", "flip", "sum_mul"]))
        a, b = (int(v) for v in rng.integers(0, k + 2, size=2))  # operands among the inputs and earlier values
        steps.append((kind, a, b, rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=n)))

    def fn(x, y):
        values = [x, y]
        for kind, a, b, W, c in steps:
            u, v = values[a], values[b]
            values.append({
                "affine": lambda: W @ u + c,
                "mul": lambda: u * v,
                "square": lambda: np.square(u),
                "flip": lambda: np.flip(u) - 0.5 * v,
                "sum_mul": lambda: np.sum(u) * v,
            }[kind]())
        return values[-1] + 0.0 * x  # an output that is a signal even when the last step ignores x

    def point():
        return rng.uniform(lo, hi, size=n), rng.uniform(lo, hi, size=n)

    corners = [(np.full(n, lo), np.full(n, hi)), (np.full(n, hi), np.full(n, lo))]
    return fn, n, (lo, hi), point(), [point(), point(), *corners]


# Each back end runs the same random programs: numpy and jax (float64) in the default set, nengo in the slow one.
BACKENDS = {"numpy": {}, "jax": {"dtype": "float64"}, "nengo": {}}
FAST = [pytest.param("numpy", 25), pytest.param("jax", 8)]
SLOW = [pytest.param("nengo", 15, marks=pytest.mark.slow)]


def traced_for_the_box(case, parabola_pairs):
    fn, n, (lo, hi), traced, _ = case
    return spikec.compile(fn, parabola_pairs=parabola_pairs).trace(
        spikec.Input(n, value=traced[0], range=(lo, hi)), spikec.Input(n, value=traced[1], range=(lo, hi)))


@pytest.mark.parametrize("backend, count", FAST + SLOW)
def test_straight_line_programs_are_exact_over_a_declared_box(backend, count):
    """Traced on one input, tuned for the box: exact in rate mode on the traced input and on others in the box,
    with a symmetric pair per square (the default) or one neuron, without a RangeWarning."""
    if backend == "jax":
        pytest.importorskip("jax")

    @examples(count)
    @given(straight_line(), st.booleans())
    def check(case, parabola_pairs):
        fn, _, _, traced, others = case
        prog = traced_for_the_box(case, parabola_pairs)
        with warnings.catch_warnings():
            warnings.simplefilter("error", spikec.RangeWarning)
            for x, y in [traced, *others]:
                result = prog.run(x, y, t=0.002, mode="rate", backend=backend, **BACKENDS[backend])
                assert_exact(result.output[-1], fn(x, y))
                assert result.info["range_violations"] == []
        for entries in prog.netlist.info["ranges"].values():
            assert {origin for *_, origin in entries} == {"interval"}  # sound bounds: nothing simulated

    check()


def test_products_outside_the_traced_neighbourhood_need_the_domain():
    """The same program traced at one point: exact there, wrong on the box's corner with one neuron per square;
    with the box, exact.  A symmetric pair per square (the default) never saturates: exact in rate mode beyond
    its range too, and the guards still say that the run left the ranges it was tuned for."""
    def fn(x, y):
        return (x * y) @ np.ones((3, 3)) * y

    x0, y0 = np.array([0.5, -0.3, 0.1]), np.array([1.0, 2.0, 0.5])
    far = (np.array([2.0, -2.0, 2.0]), np.array([-3.0, 3.0, 3.0]))
    pairs = spikec.compile(fn).trace(x0, y0)
    with pytest.warns(spikec.RangeWarning, match="mul at test_domains.py"):
        assert_exact(pairs.run(*far, t=0.002, mode="rate").output[-1], fn(*far))
    plain = spikec.compile(fn, parabola_pairs=False).trace(x0, y0)
    assert_exact(plain.run(t=0.002, mode="rate").output[-1], fn(x0, y0))
    assert np.abs(plain.run(*far, t=0.002, mode="rate").output[-1] - fn(*far)).max() > 0.1
    plain.set_domain(x=(-2.0, 2.0), y=(-3.0, 3.0))
    for x, y in [(x0, y0), far]:
        assert_exact(plain.run(x, y, t=0.002, mode="rate").output[-1], fn(x, y))


def test_tanh_times_y_with_a_declared_domain():
    """The issue's case: traced at x = [0.5, -0.3], y = [1, 2], run at x = [2, -2], y = [3, -3]."""
    f = spikec.compile(lambda x, y: np.tanh(x) * y)
    x, y = np.array([2.0, -2.0]), np.array([3.0, -3.0])
    expected = np.tanh(x) * y
    plain = f.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))
    assert np.abs(plain.run(x, y, t=0.01, mode="rate").output[-1] - expected).max() > 1.0  # -4.98 for 2.89
    boxed = f.trace(spikec.Input(2, value=[0.5, -0.3], range=(-2.5, 2.5)),
                    spikec.Input(2, value=[1.0, 2.0], range=(-3.5, 3.5)))
    # NEF accuracy: a 50-neuron tanh ensemble over [-2.5, 2.5] is ~1-2% off (as in test_added_ops), times |y| <= 3.5
    np.testing.assert_allclose(boxed.run(x, y, t=0.01, mode="rate").output[-1], expected, atol=0.1)
    np.testing.assert_allclose(boxed.run(t=0.01, mode="rate").output[-1], np.tanh([0.5, -0.3]) * [1, 2], atol=0.1)


def test_a_box_per_element():
    prog = spikec.compile(lambda x: np.square(x)).trace(
        spikec.Input(2, range=([0.0, -4.0], [1.0, 4.0])))
    np.testing.assert_array_equal(prog.run(t=0.001).output[-1], [0.25, 0.0])  # the traced value: the centre
    (entry,) = prog.netlist.info["ranges"]["square1"]
    _, lo, hi, origin = entry
    assert origin == "interval" and lo[1] < -3.9 and hi[1] > 3.9 and hi[0] < 1.1
    for x in ([1.0, -4.0], [0.0, 3.0]):
        assert_exact(prog.run(np.array(x), t=0.001, mode="rate").output[-1], np.square(x))


# ------------------------------------------------------------ recurrences: ranges sampled over the domain


def _ideal_converges(prog, A):
    ideal = prog.run(A, t=1.0, mode="ideal").output
    return ideal, np.abs(ideal[-1] - np.linalg.inv(A)).max() < 1e-2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the example-tuned network overflows on some matrices
def test_inverse_tuned_for_a_sampler_covers_held_out_matrices():
    """The 2x2 ``inverse`` traced on A0, tuned for randn(2, 2): rate mode follows the ideal flow exactly on
    held-out matrices whose ideal flow converges; tuned to A0 alone with one neuron per square it does not (a
    symmetric pair, the default, is exact beyond its range in rate mode)."""
    from matrix_inversion import inverse

    A0 = np.random.RandomState(0).randn(2, 2)
    plain = spikec.compile(inverse.fn, parabola_pairs=False).trace(A0)
    tuned = inverse.trace(spikec.Input((2, 2), value=A0, sample=lambda rng: rng.standard_normal((2, 2))))
    held_out = [A for A in (np.random.RandomState(s).randn(2, 2) for s in range(1, 12))
                if _ideal_converges(tuned, A)[1]][:3]
    assert len(held_out) == 3
    misses = 0
    for A in held_out:
        ideal, _ = _ideal_converges(tuned, A)
        assert_exact(tuned.run(A, t=1.0, mode="rate").output, ideal)
        try:
            misses += not np.allclose(plain.run(A, t=1.0, mode="rate", on_range="ignore").output, ideal, atol=1e-6)
        except spikec.RunError:  # the example-tuned network diverges on it: a miss too, and a loud one
            misses += 1
    assert misses >= 1
    assert_exact(tuned.run(t=1.0, mode="rate").output, tuned.run(t=1.0, mode="ideal").output)
    origins = {origin for entries in tuned.netlist.info["ranges"].values() for *_, origin in entries}
    assert origins == {"sampled over 9 inputs, +3 sd"}


def test_rate_mode_stays_exact_on_the_traced_example_by_default():
    from matrix_inversion import inverse

    prog = inverse.trace(np.random.RandomState(0).randn(2, 2))
    assert prog.domain.is_example
    assert_exact(prog.run(t=0.5, mode="rate").output, prog.run(t=0.5, mode="ideal").output)
    origins = {origin for entries in prog.netlist.info["ranges"].values() for *_, origin in entries}
    assert origins == {"example"}


# ------------------------------------------------------------ declaring, printing, caching


def test_the_default_domain_is_said_plainly():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.ones(2))
    line = "domain: x, y: the traced example's neighbourhood"
    assert line in str(prog)
    assert line in str(prog.netlist) and prog.netlist.domain == prog.domain
    assert line in str(prog.stats())
    assert "(example)" in str(prog.netlist)


def test_set_domain_forms_and_the_netlist_carries_it():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.ones(2))
    default = prog.netlist
    assert prog.set_domain(x=(-1.0, 1.0), y=[np.zeros(2), np.full(2, 3.0)]) is prog
    assert prog.domain["x"].kind == "box" and prog.domain["y"].kind == "samples"
    assert "x: box [-1, 1]; y: 2 calibration samples + the example" in str(prog)
    boxed = prog.netlist
    assert boxed is not default and boxed.domain == prog.domain
    prog.set_domain(y=lambda rng: rng.uniform(-2, 2, size=2))
    assert prog.domain["y"].kind == "sampler" and "sampler" in str(prog.netlist)
    prog.set_domain(x=None, y=None)
    assert prog.domain.is_example and prog.netlist is default  # cached by (options, domain)
    prog.set_domain(x=spikec.Input(2, range=(-2, 2), count=4))
    assert prog.domain["x"].count == 4 and prog.domain["x"].name == "x"
    with pytest.raises(spikec.SpikecError, match="no input 'z'"):
        prog.set_domain(z=(0, 1))
    with pytest.raises(spikec.SpikecError, match="lo <= hi"):
        prog.set_domain(x=(1, 0))
    with pytest.raises(spikec.SpikecError, match="broadcastable"):
        prog.set_domain(x=(np.zeros(3), 1))


def test_tune_for_is_calibration_samples_of_the_domain():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.ones(2))
    other = np.array([2.0, -3.0])
    prog.tune_for((other, other), {"y": other})
    assert [len(d.samples) for d in prog.domain] == [2, 2]
    assert_exact(prog.run(other, other, t=0.002, mode="rate").output[-1], other * other)
    assert "sampled over 3 inputs" in str(prog.netlist)


def test_input_range_option_is_a_box_for_every_input():
    prog = spikec.compile(lambda x, y: x * y).trace(np.full(2, 0.5), np.full(2, 0.5))
    net = prog.lower(input_range=(-2.0, 2.0))
    assert {o for e in net.info["ranges"].values() for *_, o in e} == {"interval"}
    x, y = np.array([1.5, -2.0]), np.array([-1.5, 2.0])
    assert_exact(prog.run(x, y, t=0.002, mode="rate", input_range=(-2.0, 2.0)).output[-1], x * y)


def test_domains_are_frozen_hashable_and_draw_the_same_for_the_same_seed():
    sampler = InputDomain("A", (2, 2), sampler=lambda rng: rng.standard_normal((2, 2)), count=3)
    box = InputDomain.box("b", (2,), -1.0, [1.0, 2.0], count=4)
    domain = Domain((sampler, box), seed=5)
    assert hash(domain) == hash(Domain((sampler, box), seed=5))
    runs, again = domain.calibration(), domain.calibration()
    assert len(runs) == 4  # the longest: the box's two corners and two random points
    for r, s in zip(runs, again):
        for u, v in zip(r, s):
            np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(runs[0][1], [-1.0, -1.0])
    np.testing.assert_array_equal(runs[1][1], [1.0, 2.0])
    assert all(np.all((r[1] >= [-1, -1]) & (r[1] <= [1, 2])) for r in runs)
    assert hash(LowerOptions()) is not None


def test_a_diverging_calibration_draw_is_left_out_and_counted():
    """Draws whose ideal flow diverges (too large a step for their singular values) cannot tune anything."""
    from matrix_inversion import inverse

    prog = inverse.trace(np.eye(2))
    prog.set_domain(A=[np.eye(2), 10 * np.eye(2)])
    assert "(1 diverged, left out)" in str(prog.netlist)


@pytest.mark.parametrize("backend, count", FAST + SLOW)
def test_straight_line_programs_outside_the_box_warn_or_stay_exact(backend, count):
    """No silent wrong answers: on inputs far outside the declared box, a run either says so (RangeWarning) or
    is still exact in rate mode (every unit's operand happened to stay inside its tuned range, or its squares
    are symmetric pairs, which are exact beyond their range in rate mode)."""
    if backend == "jax":
        pytest.importorskip("jax")

    @examples(count)
    @given(straight_line(), st.booleans(), st.integers(0, 2**31 - 1))
    def check(case, parabola_pairs, seed):
        fn, n, (lo, hi), _, _ = case
        prog = traced_for_the_box(case, parabola_pairs)
        rng = np.random.default_rng(seed)
        width = hi - lo
        x, y = (np.where(rng.random(n) < 0.5, rng.uniform(hi + 2 * width, hi + 3 * width, n),
                         rng.uniform(lo - 3 * width, lo - 2 * width, n)) for _ in range(2))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = prog.run(x, y, t=0.2, mode="rate", backend=backend, **BACKENDS[backend])
        warned = any(issubclass(w.category, spikec.RangeWarning) for w in caught)
        assert warned == bool(result.info["range_violations"])
        if parabola_pairs or not warned:
            assert_exact(result.output[-1], fn(x, y))

    check()
