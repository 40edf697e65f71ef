"""Run-time guards: a unit whose input leaves its tuned range gives a RangeWarning (or an error), a
non-finite value gives one clear RunError, on every back end; an in-domain run gives neither."""

from __future__ import annotations

import contextlib
import warnings

import nengo
import numpy as np
import pytest

import spikec
from spikec.backends import get_backend
from spikec.backends.guards import check_finite, range_violations, replay, settings
from spikec.errors import RangeError, RangeWarning, RunError
from spikec.ir.attrs import ConstArray
from spikec.models.neurons import SpikingRectifiedLinear
from spikec.models.synapses import Integrator
from spikec.netlist import Dense, Guard, InputSource, Netlist, Output, Population, Projection, SumNode
from spikec.tools.metrics import nrmse

BACKENDS = ["numpy", "jax", "nengo"]
OPTIONS = {"numpy": {}, "jax": {"dtype": "float64"}, "nengo": {}}


@spikec.compile
def tanh_times(x, y):
    return np.tanh(x) * y


@spikec.compile
def product(x, y):
    return x * y


def tanh_program():
    return tanh_times.trace(np.array([0.5, -0.3]), np.array([1.0, 2.0]))


def tanh_steps_out(prog, x, steps, mode="rate"):
    """Steps where the tanh units' currents are out of range for a constant ``x``, by hand.

    Each unit is a 1-D NEF ensemble (encoders +-1), so every neuron's normalized current is
    ``+-(x - c) / r`` (``c``, ``r``: its element's tuned centre and radius), seen through the guards'
    lowpass of step factor ``alpha`` started at 0 (``alpha`` = 1 in rate mode: no filter).
    """
    alpha, bound = settings(mode, 1e-3)
    (g,) = [p.guard for p in prog.lower().populations if p.guard.op == "tanh"]
    c, r = (g.lo.value + g.hi.value) / 2, (g.hi.value - g.lo.value) / 2
    z = np.max(np.abs(x - c) / r) * (1 - (1 - alpha) ** np.arange(1, steps + 1))
    return int(np.sum(z > bound))


@contextlib.contextmanager
def no_range_warning():
    """A context in which a RangeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RangeWarning)
        yield


# ----------------------------------------------------------------------------- programs


@pytest.mark.parametrize("backend", BACKENDS)
def test_tanh_times_y_outside_its_range_warns(backend):
    """The issue's case: traced at x=[0.5,-0.3], y=[1,2], run at x=[2,-2], y=[3,-3] gives [2.82, -4.98] where
    NumPy gives [2.89, 2.89]: a RangeWarning names tanh and mul, the source line, tuned and seen ranges."""
    prog = tanh_program()
    x, y = np.array([2.0, -2.0]), np.array([3.0, -3.0])
    with pytest.warns(RangeWarning) as record:
        result = prog.run(x, y, t=0.1, backend=backend, mode="rate", **OPTIONS[backend])
    assert not np.allclose(result.final, np.tanh(x) * y, rtol=0.05)  # the wrong answer the warning is about
    message = str(record[0].message)
    assert "tanh at test_guards.py" in message and "mul at test_guards.py" in message
    assert "return np.tanh(x) * y" in message
    violations = {v["op"]: v for v in result.info["range_violations"]}
    assert set(violations) == {"tanh", "mul"}
    tanh = violations["tanh"]
    # tanh's operand is x itself: the furthest excursion is the input x[1] = -2 seen through the guards'
    # lowpass, which starts at the centre c of the tuned interval: -2 + (c + 2) (1 - alpha)**steps (rate mode
    # compares currents unfiltered, alpha = 1: the excursion itself)
    assert tanh["element"] == 1
    assert tanh["tuned"][0] <= -0.3 <= tanh["tuned"][1] and tanh["tuned"][1] - tanh["tuned"][0] < 0.1
    c = sum(tanh["tuned"]) / 2
    alpha, _ = settings("rate", 1e-3)
    seen = -2.0 + (c + 2.0) * (1 - alpha) ** 100
    assert tanh["seen"] == pytest.approx((seen, seen), abs=1e-6)
    assert tanh["of_steps"] == 100 and tanh["steps"] == tanh_steps_out(prog, x, 100)
    assert f"[{tanh['tuned'][0]:.4g}, {tanh['tuned'][1]:.4g}]" in message


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_in_domain_runs_do_not_warn(backend, mode):
    prog = tanh_program()
    with no_range_warning():
        result = prog.run(t=0.3, backend=backend, mode=mode, **OPTIONS[backend])
    assert result.info["range_violations"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_product_traced_on_constants_driven_by_sines_warns(backend):
    prog = product.trace(np.array([0.5]), np.array([0.3]))
    with pytest.warns(RangeWarning, match=r"mul at test_guards\.py"):
        result = prog.run(lambda t: np.sin(2 * np.pi * 2 * t), lambda t: np.cos(2 * np.pi * 2 * t), t=0.5,
                          backend=backend, mode="spiking", **OPTIONS[backend])
    (v,) = result.info["range_violations"]
    assert v["op"] == "mul" and v["steps"] > 0.5 * v["of_steps"]


def sine(t):
    return np.sin(2 * np.pi * 2 * t)


def cosine(t):
    return np.cos(2 * np.pi * 2 * t)


@pytest.mark.parametrize("backend", BACKENDS)
def test_product_driven_by_sines_inside_its_domain_is_quiet_and_accurate(backend):
    """The same product with the sines' range declared: no warning, and the product of the sines (NumPy,
    both through a 20 ms lowpass) to a few percent (one neuron per square, the former default: 30%)."""
    box = [spikec.Input(1, value=[v], range=(-1.0, 1.0)) for v in (0.5, 0.3)]
    prog = product.trace(*box)
    with no_range_warning():
        result = prog.run(sine, cosine, t=0.5, backend=backend, mode="spiking", **OPTIONS[backend])
    assert result.info["range_violations"] == []
    lowpass = nengo.Lowpass(0.02)
    want = lowpass.filt(np.array([[sine(t) * cosine(t)] for t in result.t]), dt=result.dt, y0=0)
    got = lowpass.filt(result.output, dt=result.dt, y0=0)
    assert nrmse(got[100:], want[100:]) < 0.08  # measured 6.1% on each back end


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_mid_run_is_a_clear_error(backend):
    prog = tanh_program()

    def x_of(t):
        return np.array([0.5, np.nan if t > 0.05 else -0.3])

    with pytest.raises(RunError, match=r"input 'in_x' is not finite at t = 0.051 s"):
        prog.run(x_of, t=0.1, backend=backend, mode="rate", **OPTIONS[backend])


def test_on_range_error_and_ignore():
    prog = tanh_program()
    x, y = np.array([2.0, -2.0]), np.array([3.0, -3.0])
    with pytest.raises(RangeError, match=r"tanh at test_guards\.py"):
        prog.run(x, y, t=0.05, backend="numpy", mode="rate", on_range="error")
    with no_range_warning():
        result = prog.run(x, y, t=0.05, backend="numpy", mode="rate", on_range="ignore")
    assert len(result.info["range_violations"]) == 2
    with pytest.raises(RunError, match="on_range must be one of"):
        prog.run(x, y, t=0.05, backend="numpy", mode="rate", on_range="loud")


def test_explicit_neuron_layers_have_no_guard():
    @spikec.compile
    def layer(x):
        return spikec.neurons(x, spikec.LIF(), gain=1.0, bias=0.0)

    net = layer.trace(np.array([0.5])).lower()
    assert [p.guard for p in net.populations] == [None]


# ------------------------------------------------------------------------ a hand-built netlist

DT = 2.0 ** -10
STEPS = 600
GAIN = np.array([1.0, 2.0])
BIAS = np.array([0.0, 1.0])


def C(a) -> ConstArray:
    return ConstArray(np.asarray(a, dtype=np.float64))


def guarded_netlist() -> Netlist:
    """x (1) -> 2 rectified-linear neurons tuned for x in [0, 1] (J = gain x + bias) -> y = their sum."""
    guard = Guard("mul", "prog.py:3", "return x * y", j_lo=C(BIAS), j_hi=C(GAIN + BIAS),
                  unit=ConstArray(np.zeros(2, dtype=np.int64)), sign=C([1.0, 1.0]), lo=C([0.0]), hi=C([1.0]))
    return Netlist(
        "guarded",
        inputs=(InputSource("x", 0, (1,)),),
        populations=(Population("p", 2, SpikingRectifiedLinear(), C(GAIN), C(BIAS), guard=guard),),
        nodes=(SumNode("y", 1),),
        projections=(Projection("x", "p", Dense(C([[1.0], [1.0]]))), Projection("p", "y", Dense(C([[1.0, 1.0]])))),
        outputs=(Output("y", 0, "y", (1,)),),
    ).validate()


def x_of(t: float) -> np.ndarray:
    """Inside [0, 1] until t = 0.25 s, then a ramp out of it."""
    return np.array([0.5 if t <= 0.25 else 0.5 + 4 * (t - 0.25)])


def oracle() -> tuple[int, float, float]:
    """Steps out of range, first time out, lowest and highest value seen (operand units), by hand."""
    alpha, bound = settings("rate", DT)
    tolerance = (bound - 1) / 2  # a fraction of the interval's width
    smooth, out, first, high, low = GAIN / 2 + BIAS, 0, None, -np.inf, np.inf  # from the interval's centre
    for k in range(STEPS):
        J = GAIN * x_of((k + 1) * DT)[0] + BIAS
        smooth = smooth + alpha * (J - smooth)
        width = GAIN  # the interval [bias, gain + bias] of operand [0, 1]
        if np.any((smooth < BIAS - tolerance * width) | (smooth > GAIN + BIAS + tolerance * width)):
            out += 1
            first = (k + 1) * DT if first is None else first
        high = max(high, float(np.max((smooth - BIAS) / GAIN)))
        low = min(low, float(np.min((smooth - BIAS) / GAIN)))
    return out, first, low, high


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_netlist_counts_steps_out_of_range(backend):
    out, first, low, high = oracle()
    assert 0 < out < STEPS
    with pytest.warns(RangeWarning, match=r"mul at prog.py:3 \(return x \* y\): operand element 0 was tuned for "
                                          r"\[0, 1\]"):
        result = get_backend(backend).run(guarded_netlist(), [x_of], t=STEPS * DT, dt=DT, mode="rate",
                                          **OPTIONS[backend])
    (v,) = result.info["range_violations"]
    assert v["steps"] == out and v["of_steps"] == STEPS
    assert v["first_t"] == pytest.approx(first)
    assert v["seen"] == pytest.approx((low, high), rel=1e-9)
    assert v["tuned"] == (0.0, 1.0)


def diverging_netlist() -> Netlist:
    """A state s with ds/dt = s / dt (it doubles every step from 1) feeding the guarded neurons."""
    net = guarded_netlist()
    return Netlist(
        "diverging", net.inputs, net.populations,
        (*net.nodes, SumNode("s", 1, synapse=Integrator(), x0=C([1.0]))),
        (*net.projections, Projection("s", "s", Dense(C([[1.0 / DT]]))),
         Projection("s", "p", Dense(C([[1.0], [1.0]])))),
        net.outputs,
    ).validate()


@pytest.mark.parametrize("backend", BACKENDS)
def test_diverging_network_is_a_clear_error(backend):
    """s overflows float64 at step 1024 (2**1024); the population reading it one step later."""
    pattern = r"went non-finite at t = [0-9.]+ s \(step 10[0-9][0-9]\) in (state s|population p)"
    with pytest.raises(RunError, match=pattern):
        get_backend(backend).run(diverging_netlist(), [lambda t: np.array([0.5])], t=1100 * DT, dt=DT,
                                 mode="rate", on_range="ignore", **OPTIONS[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_runs_count_every_element(backend):
    """Two elements: the traced example (in range) and one outside; only the second one's steps count."""
    prog = tanh_program()
    xs = np.array([[0.5, -0.3], [2.0, -2.0]])
    ys = np.array([[1.0, 2.0], [3.0, -3.0]])
    with pytest.warns(RangeWarning, match=r"tanh at test_guards\.py"):
        result = prog.run(xs, ys, t=0.05, backend=backend, mode="rate", batch=True, **OPTIONS[backend])
    violations = {v["op"]: v for v in result.info["range_violations"]}
    assert violations["tanh"]["of_steps"] == 100
    assert violations["tanh"]["steps"] == tanh_steps_out(prog, xs[1], 50)


@pytest.mark.parametrize("backend", BACKENDS)
def test_activities_that_overflow_are_a_clear_error(backend):
    """Finite inputs and currents, but a square that overflows in the neurons: the same error everywhere
    (nengo would raise its own FloatingPointError from inside a neuron step)."""
    prog = spikec.compile(lambda x: x * x).trace(np.ones(2))
    blow_up = lambda t: np.full(2, 1e200 if t > 0.0105 else 1.0)
    with np.errstate(all="ignore"), pytest.raises(
            RunError, match=r"went non-finite at t = 0.011 s \(step 11\) in population square1 \(square@"):
        prog.run(blow_up, t=0.05, backend=backend, mode="spiking", **OPTIONS[backend])


def test_replay_of_recorded_currents_matches_the_oracle():
    """A post-run check (what NengoDL and a user's nengo model use): currents recorded per step, replayed."""
    net = guarded_netlist()
    currents = np.array([GAIN * x_of((k + 1) * DT)[0] + BIAS for k in range(STEPS)])
    (v,) = range_violations(net, STEPS, DT, replay(net, "rate", DT, {"p": currents}))
    out, first, low, high = oracle()
    assert v["steps"] == out and v["first_t"] == pytest.approx(first)
    assert v["seen"] == pytest.approx((low, high), rel=1e-9)
    currents[100, 1] = np.nan
    with pytest.raises(RunError, match=r"non-finite at t = [0-9.]+ s \(step 101\) in population p"):
        check_finite(net, "rate", DT, replay(net, "rate", DT, {"p": currents}))


def test_extremes_under_jax_are_numpys_nan_and_infinity_included():
    """One variadic reduction under JAX gives NumPy's max and min, a NaN or an infinity in a row included."""
    jnp = pytest.importorskip("jax.numpy")
    from spikec.backends.guards import extremes

    z = np.random.default_rng(3).standard_normal((5, 37))
    z[1, 4], z[2, 9], z[3, 0], z[3, 36] = np.nan, np.inf, -np.inf, np.nan
    for dtype in (np.float32, np.float64):
        expected = (np.max(z.astype(dtype), axis=-1), np.min(z.astype(dtype), axis=-1))
        got = extremes(jnp.asarray(z, dtype=dtype), jnp)
        for e, g in zip(expected, got):
            assert np.array_equal(np.asarray(g), e.astype(np.asarray(g).dtype), equal_nan=True)


# ----------------------------------------------------------------------------- parameters set without fit

W_SET = 3.0 * np.eye(2)  # ten times the traced weights: tanh's operand leaves the lowering's [-0.3, 0.3]


def squash_program():
    w = spikec.param("w", 0.3 * np.eye(2))

    @spikec.compile
    def squash(x):
        return np.tanh(spikec.dense(x, w))

    return squash.trace(spikec.Input(2, range=(-1, 1)))


def test_params_set_without_inputs_take_the_stale_guards_off_and_say_so_every_run():
    """Ranges measured for other weights would judge the run with noise: the guards are off, and every run says
    so (a RangeWarning naming the parameter change, not a range violation; a RangeError under ``"error"``),
    ``"ignore"`` silences it, and non-finite values are still a clear error."""
    from spikec.train.guards import STALE

    prog = squash_program()
    assert any(p.guard is not None for p in prog.netlist.populations)
    prog.set_params({"w": W_SET})
    assert all(p.guard is None for p in prog.netlist.populations)
    assert prog.netlist.info["guards"] == STALE
    small = np.array([0.05, -0.05])  # operand 0.15: inside the range the units were tuned for
    with pytest.warns(RangeWarning, match=r"parameters changed \(set_params / load_params\)") as record:
        out = prog.run(small, t=0.005, mode="rate")
    assert len(record) == 1
    np.testing.assert_allclose(np.asarray(out.output)[-1], np.tanh(W_SET @ small), atol=0.01)  # the new weights
    # this run is out of the units' range (0.43 where NumPy gives 0.99): unchecked, and it says so again
    with pytest.warns(RangeWarning, match=r"parameters changed"):
        prog.run(np.array([0.9, -0.9]), t=0.005, mode="rate")
    with pytest.raises(RangeError, match=r"parameters changed"):
        prog.run(small, t=0.005, mode="rate", on_range="error")
    other = squash_program()
    other.set_params({"w": W_SET})
    with no_range_warning():
        other.run(np.array([0.9, -0.9]), t=0.005, mode="rate", on_range="ignore")
    with pytest.raises(RunError, match=r"non-finite|NaN|nan"):
        other.run(lambda t: np.array([np.nan if t > 0.002 else 0.0, 0.0]), t=0.005, mode="rate", on_range="ignore")


@pytest.mark.parametrize("how", ["set_params", "load_params"])
def test_params_set_with_inputs_remeasure_the_guards_there(how, tmp_path):
    """As after fit: the guards hold the new weights' currents on the given inputs (NumPy's ``x @ w.T`` is the
    oracle for the operand), runs there are quiet, and an input far from them warns with the op's line."""
    prog = squash_program()
    x = np.random.default_rng(0).uniform(-1, 1, (256, 2))
    if how == "set_params":
        prog.set_params({"w": W_SET}, inputs=x)
    else:
        source = squash_program()
        source.set_params({"w": W_SET})
        source.save_params(tmp_path / "w.npz")
        prog.load_params(tmp_path / "w.npz", inputs=x)
    np.testing.assert_array_equal(prog.params["w"], W_SET)
    (guard,) = [p.guard for p in prog.netlist.populations if p.guard is not None]
    operand = x @ W_SET.T
    assert np.all(guard.lo.value <= operand.min(axis=0) + 1e-9)
    assert np.all(guard.hi.value >= operand.max(axis=0) - 1e-9)
    assert "training examples" in prog.netlist.info["guards"]
    with no_range_warning():
        for example in x[:5]:
            prog.run(example, t=0.005, mode="rate")
    with pytest.warns(RangeWarning, match="tanh at test_guards.py"):
        prog.run(np.array([5.0, -5.0]), t=0.005, mode="rate")


def test_set_params_inputs_need_a_one_input_program():
    w = spikec.param("w2", np.eye(2))

    @spikec.compile
    def scaled(x, y):
        return np.tanh(spikec.dense(x, w)) + y

    prog = scaled.trace(np.array([0.1, 0.2]), np.array([0.3, 0.4]))
    with pytest.raises(spikec.SpikecError, match=r"one input; .* has 2 \(x, y\)"):
        prog.set_params({"w2": np.eye(2)}, inputs=np.zeros((4, 2)))
