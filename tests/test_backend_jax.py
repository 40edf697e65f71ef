"""The JAX back end (``backend="jax"``), its plans, surrogate gradients and ``make_loss_fn``.

Agreement is measured against the NumPy netlist simulator (``backend="numpy"``
with ``mode="rate"``/``"spiking"``), which ``tests/test_backend_nengo.py``
shows equal to nengo, and directly against nengo on small cases:

* float64, rate mode: outputs agree to ~1e-14;
* float64, spiking mode: per-population spike counts (hence spike trains, step
  by step) and synaptic events are identical over 1 s, outputs agree to
  rounding, for the compiled matrix inverse (parabola product units,
  RegularSpiking) and ``tanh(x) * y`` (LIF NEF ensembles) as well as for
  hand-built netlists;
* float32: rate outputs agree to ~1e-6 relative; spikes may move by a step
  where rounding crosses a threshold.  In a feed-forward program this changes
  a handful of spikes; in the recurrent inverse the trajectory then drifts
  (chaotically, not systematically): totals differ by about 1%, and the
  result is as accurate as in float64.  The bounds below are asserted.

Compiled functions are cached per netlist and shape by the back end, and the
programs are module-scoped fixtures, so each configuration compiles once.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal

jax = pytest.importorskip("jax")
import jax.numpy as jnp
from test_backend_nengo import (
    STATEFUL_CASES,
    dense,
    encoder_decoder_net,
    mixed_net,
    regular_spiking_net,
    sparse,
    wave,
)

import spikec
from spikec.backends import available_backends, get_backend
from spikec.backends.jax import plans as jplans
from spikec.backends.jax import scan as jscan
from spikec.errors import BackendError, RunError
from spikec.ir.attrs import ConstArray
from spikec.models.neurons import (
    LIF,
    AdaptiveLIF,
    AdEx,
    LIFRate,
    Parabola,
    PoissonSpiking,
    RectifiedLinear,
    RegularSpiking,
    SpikingRectifiedLinear,
)
from spikec.models.synapses import Alpha, DoubleExp, Lowpass
from spikec.netlist import (
    Dense,
    InputSource,
    Netlist,
    Output,
    Population,
    Projection,
    Sparse,
    SumNode,
)
from spikec.train import loss as tloss
from spikec.train import surrogate as sg

DT = 1e-3


def C(a) -> ConstArray:
    return ConstArray(np.asarray(a, dtype=np.float64))


def run(net, inputs=(), *, backend="jax", mode="spiking", t=0.1, **options):
    return get_backend(backend).run(net, list(inputs), t=t, dt=DT, mode=mode, seed=0, progress=False,
                                    **options)


def inverse_program(n: int, seed: int = 0, frac: float = 0.02):
    """``integrate(-gain/dt * 2 (M A - I) A.T)``, A = I + 0.45/sqrt(n) randn, gain*|A|^2 = frac."""
    A = np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(seed).randn(n, n)
    I = np.eye(n)
    gain = frac / np.linalg.norm(A, 2) ** 2

    @spikec.compile
    def inverse(A, dt=gain):
        return spikec.integrate(lambda M: -dt / 1e-3 * 2 * (M @ A - I) @ A.T, x0=np.zeros(A.shape))

    return inverse.trace(A), A


@pytest.fixture(scope="module")
def inv5():
    prog, A = inverse_program(5)
    return prog, A, prog.run(t=1.0, backend="numpy", mode="spiking")


@pytest.fixture(scope="module")
def tanh_prog():
    prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.5, -0.3, 0.8]), np.array([0.2, 0.4, -0.6]))
    x = lambda t: np.array([np.sin(3 * t), 0.5 * np.cos(5 * t), 0.9 - t])
    return prog, x, prog.run(x, t=1.0, backend="numpy", mode="spiking")


def assert_same_spikes(res, ref):
    assert set(ref.info["population_spikes"]) <= set(res.info["population_spikes"])
    for name, counts in ref.info["population_spikes"].items():
        assert_array_equal(res.info["population_spikes"][name], counts, err_msg=name)
    assert_array_equal(res.spikes, ref.spikes)
    assert_array_equal(res.info["synaptic_events"], ref.info["synaptic_events"])


# ------------------------------------------------------------------------- the back end


def test_registry_and_result_format(tanh_prog):
    assert "jax" in available_backends()
    backend = get_backend("jax")
    assert backend.name == "jax" and backend.modes == ("spiking", "rate") and backend.default_mode == "spiking"
    prog, x, ref = tanh_prog
    res = prog.run(x, t=1.0, backend="jax", dtype="float64")
    assert res.backend == "jax" and res.mode == "spiking" and not res.batched
    assert res.output.shape == ref.output.shape == (1000, 3)
    assert_allclose(res.t, ref.t)
    assert res.spikes.dtype == np.int64 and res.spikes.shape == (1000,)
    for key in ("population_spikes", "population_synaptic_events", "synaptic_events", "total_spikes",
                "total_synaptic_events", "fan_out", "build_time", "run_time", "compile_time"):
        assert key in res.info, key
    assert res.info["total_spikes"] == res.spikes[-1] > 1000
    assert isinstance(res.info["total_spikes"], int)
    assert res.info["run_time"] > 0 and res.info["build_time"] > 0
    # A second run reuses the compiled simulator.
    again = prog.run(x, t=1.0, backend="jax", dtype="float64")
    assert again.info["compile_time"] == 0.0
    assert_array_equal(again.output, res.output)
    # The back end scopes 64-bit mode to its own work.
    assert jnp.zeros(1).dtype == jnp.float32 and not jax.config.jax_enable_x64


@pytest.mark.parametrize("which", ["inv5", "tanh"])
def test_spike_trains_identical_to_numpy_in_float64(which, inv5, tanh_prog):
    """Deterministic neurons over 1 s: the same spikes, step by step."""
    if which == "inv5":
        prog, _, ref = inv5
        res = prog.run(t=1.0, backend="jax", dtype="float64")
    else:
        prog, x, ref = tanh_prog
        res = prog.run(x, t=1.0, backend="jax", dtype="float64")
    assert ref.spikes[-1] > 10_000
    assert_same_spikes(res, ref)
    assert_allclose(res.output, ref.output, rtol=0, atol=1e-9)


def test_tanh_spikes_identical_to_nengo(tanh_prog):
    prog, x, _ = tanh_prog
    ref = prog.run(x, t=0.5, backend="nengo", progress=False)
    res = prog.run(x, t=0.5, backend="jax", dtype="float64")
    assert_same_spikes(res, ref)
    assert_array_equal(res.info["population_synaptic_events"]["tanh2"],
                       ref.info["population_synaptic_events"]["tanh2"])
    assert_allclose(res.output, ref.output, rtol=0, atol=1e-9)


def test_float32_spikes_stay_close(inv5, tanh_prog):
    """float32 moves a few spikes; bounded here (see the module docstring)."""
    prog, x, ref = tanh_prog
    res = prog.run(x, t=1.0, backend="jax")  # float32 by default
    assert res.info["dtype"] == "float32"
    for name, counts in ref.info["population_spikes"].items():
        diff = np.abs(res.info["population_spikes"][name] - counts).max()
        assert diff <= max(5, 0.005 * counts[-1]), (name, diff, counts[-1])
    window = lambda out: out[-200:].mean(axis=0)
    assert_allclose(window(res.output), window(ref.output), atol=0.01)

    prog, A, ref = inv5
    res = prog.run(t=1.0, backend="jax")
    assert abs(res.spikes[-1] - ref.spikes[-1]) <= 0.03 * ref.spikes[-1]
    inv = np.linalg.inv(A)
    nrmse = lambda out: np.sqrt(np.mean((out[-100:].mean(axis=0) - inv) ** 2) / np.mean(inv**2))
    assert nrmse(ref.output) < 0.02
    assert nrmse(res.output) < 2 * nrmse(ref.output)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_rate_mode_agrees_with_numpy(dtype, tol, inv5, tanh_prog):
    prog, _, _ = inv5
    ref = prog.run(t=0.3, backend="numpy", mode="rate")
    res = prog.run(t=0.3, backend="jax", mode="rate", dtype=dtype)
    assert_allclose(res.output, ref.output, rtol=0, atol=tol * np.abs(ref.output).max())
    assert_array_equal(res.spikes, 0)
    prog, x, _ = tanh_prog
    ref = prog.run(x, t=0.3, backend="numpy", mode="rate")
    res = prog.run(x, t=0.3, backend="jax", mode="rate", dtype=dtype)
    assert_allclose(res.output, ref.output, rtol=0, atol=tol * np.abs(ref.output).max())


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_hand_built_netlist_agrees_with_nengo(mode):
    """LIF and RegularSpiking(Parabola) with initial states, dense and sparse, a filtered
    projection, an Integrator node with x0 and an Adam node with x0 and an offset."""
    net = mixed_net()
    ref = run(net, [wave], backend="nengo", mode=mode, t=0.3)
    res = run(net, [wave], mode=mode, t=0.3, dtype="float64")
    for a, b in zip(ref.outputs, res.outputs):
        assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    assert_same_spikes(res, ref)
    assert_array_equal(res.info["total_synaptic_events"], ref.info["total_synaptic_events"])
    if mode == "spiking":
        assert res.spikes[-1] > 100


def test_every_synapse_agrees_with_numpy():
    """Sum nodes holding each synapse kind (x0 and offsets included), fed directly and through
    projections with Alpha and DoubleExp synapses, in one netlist."""
    rng = np.random.default_rng(3)
    nodes, projections, outputs = [], [], []
    for i, (case, (synapse, x0)) in enumerate(STATEFUL_CASES.items()):
        name = case.replace("-", "_")
        nodes.append(SumNode(name, 2, synapse=synapse, x0=None if x0 is None else C(x0), offset=C([0.1, 0.2])))
        projections.append(Projection("x", name, dense(rng.normal(size=(2, 2)))))
        projections.append(Projection("x", name, dense(rng.normal(size=(2, 2))),
                                      synapse=Alpha(0.003) if i % 2 else DoubleExp(0.002, 0.01)))
        outputs.append(Output(name, i, name, (2,)))
    net = Netlist("synapses", inputs=(InputSource("x", 0, (2,)),), populations=(), nodes=tuple(nodes),
                  projections=tuple(projections), outputs=tuple(outputs))
    ref = run(net, [wave], backend="numpy", mode="rate", t=0.1)
    res = run(net, [wave], mode="rate", t=0.1, dtype="float64")
    for case, a, b in zip(STATEFUL_CASES, ref.outputs, res.outputs):
        assert np.abs(a).max() > 0.01, case
        assert_allclose(b, a, rtol=0, atol=1e-12, err_msg=case)


@pytest.mark.parametrize("amplitude", [1.0, 0.5])
def test_regular_spiking_counts_events_and_fan_out(amplitude):
    net, _, fan_out = regular_spiking_net(amplitude)
    res = run(net, [], t=1.0, dtype="float32")
    assert res.spikes[-1] == 437 == res.info["total_spikes"]
    assert_array_equal(res.info["fan_out"]["p"], fan_out)
    assert res.info["total_synaptic_events"] == 250 * 3 + 125 * 0 + 0 * 1 + 62 * 4
    ref = run(net, [], backend="nengo", t=1.0)
    assert_same_spikes(res, ref)
    assert_allclose(res.output, ref.output, rtol=1e-6)


def test_sparse_dense_and_batched_runs():
    a, _ = encoder_decoder_net(LIF(), dense)
    b, _ = encoder_decoder_net(LIF(), sparse)
    consts = [np.array([0.1, 0.2]), np.array([-0.5, 0.3]), np.array([0.9, -0.9])]
    fns = [[wave, *[(lambda t, c=c: c) for c in consts]]]
    ra = run(a, fns, t=0.2, batch_size=4, dtype="float64")
    rb = run(b, fns, t=0.2, batch_size=4, dtype="float64")
    assert ra.batched and ra.output.shape == (4, 200, 3) and ra.spikes.shape == (4, 200)
    assert_allclose(ra.output, rb.output, rtol=0, atol=1e-12)
    assert_array_equal(ra.spikes, rb.spikes)
    ref = run(a, fns, backend="numpy", t=0.2, batch_size=4)
    assert_allclose(ra.output, ref.output, rtol=0, atol=1e-9)
    assert_array_equal(ra.spikes, ref.spikes)
    assert ra.info["population_spikes"]["p"].shape == (4, 200)
    assert ra.info["total_spikes"].shape == (4,)
    # Each element equals its own run (a constant input is hoisted; a batch mixes both).
    single = run(b, [lambda t: consts[1]], t=0.2, dtype="float64")
    assert_allclose(ra.output[2], single.output, rtol=0, atol=1e-12)
    assert_array_equal(ra.spikes[2], single.spikes)


def test_program_batch_run(tanh_prog):
    prog, _, _ = tanh_prog
    xs = np.array([[0.5, -0.3, 0.8], [0.1, 0.2, 0.3]])
    ys = np.array([[0.2, 0.4, -0.6], [-0.9, 0.5, 0.1]])
    res = prog.run(xs, ys, batch=True, t=0.1, backend="jax", dtype="float64")
    ref = prog.run(xs, ys, batch=True, t=0.1, backend="numpy", mode="spiking")
    assert res.output.shape == (2, 100, 3)
    assert_allclose(res.output, ref.output, rtol=0, atol=1e-9)
    assert_array_equal(res.spikes, ref.spikes)


def test_poisson_neurons_are_seeded_and_poisson():
    rates = np.array([50.0, 200.0, 400.0, 0.0])
    net = Netlist("poisson", inputs=(),
                  populations=(Population("p", 4, PoissonSpiking(RectifiedLinear()), C(np.ones(4)), C(rates)),),
                  nodes=(SumNode("y", 1),), projections=(Projection("p", "y", Dense(C(np.ones((1, 4))))),),
                  outputs=(Output("y", 0, "y", (1,)),))
    backend = get_backend("jax")
    a = backend.run(net, [], t=1.0, dt=DT, mode="spiking", seed=3, progress=False, batch_size=50)
    b = backend.run(net, [], t=1.0, dt=DT, mode="spiking", seed=3, progress=False, batch_size=50)
    c = backend.run(net, [], t=1.0, dt=DT, mode="spiking", seed=4, progress=False, batch_size=50)
    assert a.info["compile_time"] > 0 and b.info["compile_time"] == c.info["compile_time"] == 0.0
    assert_array_equal(a.spikes, b.spikes)
    assert not np.array_equal(a.spikes, c.spikes)
    counts = a.spikes[:, -1]  # Poisson(650) per element
    assert abs(counts.mean() - 650) < 4 * np.sqrt(650 / 50)
    assert 0.5 * 650 < counts.var() < 1.6 * 650
    # Elements of a batch get independent noise.
    assert len(np.unique(counts)) > 10


# --------------------------------------------------------------------------------- plans


def _factorable_netlist():
    """A projection whose rows are scaled copies of 6 rows, one whose columns are scaled copies of
    8 columns, and one with very uneven rows."""
    rng = np.random.default_rng(7)
    n_in, n_mid, n_out = 30, 2000, 50
    U = np.where(rng.random((6, n_in)) < 0.3, rng.normal(size=(6, n_in)), 0.0)
    U[:, 0] = 1.0
    rows = U[rng.integers(0, 6, n_mid)] * rng.uniform(0.5, 2.0, (n_mid, 1))
    V = np.where(rng.random((n_out, 8)) < 0.5, rng.normal(size=(n_out, 8)), 0.0)
    V[0] = 1.0
    cols = (V[:, rng.integers(0, 8, n_mid)] * rng.uniform(0.5, 2.0, n_mid)) / n_mid
    uneven = np.zeros((n_out, n_mid))
    uneven[0, :] = rng.normal(size=n_mid) / n_mid
    uneven[1:, :3] = 1.0 / n_mid
    gain, bias = rng.uniform(0.5, 1.5, n_mid), rng.uniform(0.5, 2.0, n_mid)
    net = Netlist(
        "factor", inputs=(InputSource("x", 0, (n_in,)),),
        populations=(Population("p", n_mid, LIF(), C(gain), C(bias),
                                initial_state=(("voltage", C(rng.uniform(0, 1, n_mid))),)),),
        nodes=(SumNode("y", n_out), SumNode("z", n_out, synapse=Lowpass(0.01))),
        projections=(Projection("x", "p", Sparse.from_scipy(scipy.sparse.coo_array(rows))),
                     Projection("p", "y", Sparse.from_scipy(scipy.sparse.coo_array(cols))),
                     Projection("p", "z", Sparse.from_scipy(scipy.sparse.coo_array(uneven)))),
        outputs=(Output("y", 0, "y", (n_out,)), Output("z", 1, "z", (n_out,))),
    )
    return net


def test_plans_are_chosen_by_structure_and_agree():
    net = _factorable_netlist()
    kinds = [jplans.choose_plan(p.transform, np.float64).kind for p in net.projections]
    assert kinds == ["rows_factored", "columns_factored", "segment_sum"]
    assert [jplans.choose_plan(p.transform, np.float64, factor=False).kind for p in net.projections] == \
        ["dense", "dense", "segment_sum"]
    assert jplans.choose_plan(Sparse.from_scipy(scipy.sparse.eye(20).tocoo()), np.float64).kind == "strided"
    shuffled = scipy.sparse.eye(20).tocsr()[np.random.default_rng(0).permutation(20)].tocoo()
    assert jplans.choose_plan(Sparse.from_scipy(shuffled), np.float64).kind == "ell"
    small = Sparse.from_scipy(scipy.sparse.random(20, 20, density=0.2, random_state=1))
    assert jplans.choose_plan(small, np.float64).kind == "dense"
    x = lambda t: np.sin(np.arange(30) + 20 * t)
    ref = run(net, [x], backend="numpy", t=0.3)
    optimized = run(net, [x], t=0.3, dtype="float64")
    plain = run(net, [x], t=0.3, dtype="float64", optimize=False)
    assert optimized.info["plans"]["x -> p"] == "rows_factored"
    assert plain.info["plans"]["x -> p"] == "dense"
    assert ref.spikes[-1] > 1000
    for res in (optimized, plain):
        for a, b in zip(ref.outputs, res.outputs):
            assert_allclose(b, a, rtol=0, atol=1e-9)
        assert_same_spikes(res, ref)


def test_errors():
    net, _, _ = regular_spiking_net()
    with pytest.raises(RunError, match="dtype must be one of float32, float64"):
        run(net, [], dtype="float16")
    with pytest.raises(RunError, match="modes spiking, rate"):
        run(net, [], mode="ideal")
    with pytest.raises(RunError, match="unknown options: colour"):
        get_backend("jax").run(net, [], t=0.01, dt=DT, mode="spiking", seed=0, progress=False, colour="red")
    with pytest.raises(RunError, match="expected shape"):
        jscan.simulate(_factorable_netlist(), [np.zeros((10, 1, 3))])
    if not jax.config.jax_enable_x64:
        with pytest.raises(BackendError, match="64-bit mode"):
            tloss.make_loss_fn(net, dtype="float64")


# ----------------------------------------------------------------------------- surrogates


def test_surrogate_derivatives():
    x = jnp.array([-0.5, -0.1, 0.0, 0.1, 0.5])
    for surrogate, expected in [
        (sg.SuperSpike(10.0), 1 / (1 + 10 * np.abs(x)) ** 2),
        (sg.SuperSpike(2.0), 1 / (1 + 2 * np.abs(x)) ** 2),
        (sg.ArcTan(2.0), 1.0 / (1 + (np.pi * x) ** 2)),
        (sg.Sigmoid(4.0), 4 * jax.nn.sigmoid(4 * x) * (1 - jax.nn.sigmoid(4 * x))),
    ]:
        assert_array_equal(sg.heaviside(surrogate, x), [0, 0, 0, 1, 1])
        grad = jax.vmap(jax.grad(lambda v, s=surrogate: sg.heaviside(s, v)))(x)
        assert_allclose(grad, expected, rtol=1e-6)
        # Forward mode too (custom_jvp).
        _, tangent = jax.jvp(lambda v, s=surrogate: sg.heaviside(s, v), (x,), (jnp.ones_like(x),))
        assert_allclose(tangent, expected, rtol=1e-6)
    v = jnp.array([0.2, 0.9, 1.0, 1.4, 2.6])
    assert_array_equal(sg.spike_count(sg.SuperSpike(), v), [0, 0, 1, 1, 2])
    grad = jax.vmap(jax.grad(lambda u: sg.spike_count(sg.SuperSpike(10.0), u)))(v)
    assert_allclose(grad, 1 / (1 + 10 * np.abs(v - np.array([1, 1, 1, 1, 3]))) ** 2, rtol=1e-6)
    assert sg.as_surrogate("arctan") == sg.ArcTan() and sg.as_surrogate(None) == sg.SuperSpike()
    with pytest.raises(Exception, match="unknown surrogate"):
        sg.as_surrogate("relu")


@pytest.mark.parametrize("neuron", [LIF(), LIF(tau_rc=0.05, tau_ref=0.004, min_voltage=-1.0, amplitude=0.5),
                                    AdaptiveLIF(), RegularSpiking(Parabola(amplitude=2.0)),
                                    RegularSpiking(LIFRate()), SpikingRectifiedLinear(),
                                    PoissonSpiking(RectifiedLinear())],
                         ids=lambda n: n.label())
def test_surrogate_steps_equal_the_neuron_steps(neuron):
    """Forward values are exactly the neuron type's own JAX step (float64, 200 steps)."""
    rng = np.random.default_rng(0)
    n, steps = 40, 40 if isinstance(neuron, PoissonSpiking) else 200
    scale = 30.0 if "Parabola" in neuron.label() else 100.0 if isinstance(neuron, PoissonSpiking) else 1.0
    J = rng.uniform(-1, 4, (steps, n)) * scale
    noise = rng.random((steps, n))
    wrapped = sg.surrogate_neuron(neuron, "superspike")
    assert isinstance(wrapped, sg.SurrogateNeuron) and wrapped.spiking
    assert wrapped.amplitude == getattr(neuron, "amplitude", 1.0) and wrapped.needs_noise == neuron.needs_noise
    assert sg.surrogate_neuron(LIFRate()) == LIFRate()
    with jax.enable_x64(True):
        state = {k: jnp.asarray(v) for k, v in neuron.init_state(n, np.random.RandomState(1)).items()}
        ours = dict(state)
        total = 0.0
        for k in range(steps):
            state, out = neuron.step(state, jnp.asarray(J[k]), DT, jnp, noise=jnp.asarray(noise[k]))
            ours, our_out = wrapped.step(ours, jnp.asarray(J[k]), DT, jnp, noise=jnp.asarray(noise[k]))
            assert_array_equal(np.asarray(our_out), np.asarray(out))
            for name in state:
                assert_array_equal(np.asarray(ours[name]), np.asarray(state[name]), err_msg=name)
            total += float(out.sum())
    assert total > 0


# ---------------------------------------------------------------------------- gradients


def _grad_netlist(seed=11):
    """Input -> LIF (dense) and LIF (sparse) -> filtered readout, a leaky state fed back.

    Neurons are clearly on (J > 2) or clearly off (J < 0) throughout: the LIF
    rate's slope is unbounded at threshold, which would defeat finite
    differences there."""
    rng = np.random.default_rng(seed)
    n1, n2 = 12, 10

    def tuning(n):
        bias = np.where(np.arange(n) % 4 == 3, rng.uniform(-2.0, -1.5, n), rng.uniform(3.0, 4.5, n))
        return C(rng.uniform(0.5, 1.5, n)), C(bias)

    W1 = 0.3 * rng.normal(size=(n1, 2))
    W2 = np.where(rng.random((n2, 2)) < 0.6, 0.3 * rng.normal(size=(n2, 2)), 0.0)
    W2[:, 0] += 0.2
    return Netlist(
        "grad", inputs=(InputSource("x", 0, (2,)),),
        populations=(Population("a", n1, LIF(), *tuning(n1)), Population("b", n2, LIF(), *tuning(n2))),
        nodes=(SumNode("y", 2), SumNode("s", 2, synapse=Lowpass(0.02), x0=C([0.1, -0.1]))),
        projections=(Projection("x", "a", Dense(C(W1))),
                     Projection("x", "b", Sparse.from_scipy(scipy.sparse.coo_array(W2))),
                     Projection("a", "y", Dense(C(rng.normal(size=(2, n1)) / 100)), synapse=Lowpass(0.005)),
                     Projection("b", "y", Sparse.from_scipy(scipy.sparse.coo_array(
                         np.where(rng.random((2, n2)) < 0.7, rng.normal(size=(2, n2)) / 100, 0.0)))),
                     Projection("y", "s", Dense(C(np.eye(2)))),
                     Projection("s", "a", Dense(C(0.3 * rng.normal(size=(n1, 2)))))),
        outputs=(Output("y", 0, "y", (2,)), Output("s", 1, "s", (2,))),
    )


STEPS = 60


def _inputs(batch=2):
    t = DT * np.arange(1, STEPS + 1)
    return np.stack([np.stack([np.sin(10 * t + b), 0.5 + 0.3 * np.cos(7 * t)], axis=-1) for b in range(batch)])


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _tracking_loss(apply):
    """A jitted loss of the gradient netlist: its readout tracks a ramp, its state ends near zero."""
    xs = jnp.asarray(_inputs())
    target = jnp.asarray(np.linspace(-1, 1, STEPS * 2).reshape(STEPS, 2))

    @jax.jit
    def loss(p):
        y, s = apply(p, [xs])
        return jnp.mean((y - target) ** 2) + jnp.mean(s[:, -10:] ** 2)

    return loss


@pytest.mark.parametrize("soft", [None, 0.05], ids=["lif-rate", "soft-lif"])
def test_rate_gradients_match_finite_differences(x64, soft):
    net = _grad_netlist()
    params, apply = tloss.make_loss_fn(net, "rate", DT, STEPS, dtype="float64", soft_lif=soft)
    loss = _tracking_loss(apply)
    grads = jax.grad(loss)(params)
    # Entries of every kind: dense and sparse weights, gains and biases, both populations.
    rng = np.random.default_rng(0)
    checked = 0
    for part, key in [("weights", 0), ("weights", 1), ("weights", 2), ("weights", 3), ("weights", 5),
                      ("gain", "a"), ("gain", "b"), ("bias", "a"), ("bias", "b")]:
        value = np.asarray(params[part][key])
        for _ in range(2):
            idx = tuple(int(rng.integers(0, s)) for s in value.shape)
            h = 1e-6 * max(1.0, abs(value[idx]))

            def at(delta, value=value, idx=idx, part=part, key=key):
                v = value.copy()
                v[idx] += delta
                return float(loss({**params, part: {**params[part], key: jnp.asarray(v)}}))

            fd = (at(h) - at(-h)) / (2 * h)
            g = float(np.asarray(grads[part][key])[idx])
            assert g == pytest.approx(fd, rel=1e-5, abs=1e-9), (part, key, idx)
            checked += abs(g) > 1e-8
    assert checked >= 12


def test_forward_equals_simulate_and_with_params_round_trips(x64):
    net = _grad_netlist()
    xs = _inputs()
    for mode in ("rate", "spiking"):
        params, apply = tloss.make_loss_fn(net, mode, DT, STEPS, dtype="float64")
        outs = apply(params, [xs])
        ref = jscan.simulate(net, [np.swapaxes(xs, 0, 1)], mode=mode, dt=DT, dtype="float64")
        for o, r in zip(outs, ref["outputs"]):
            assert_allclose(np.asarray(o), np.swapaxes(r, 0, 1), rtol=0, atol=1e-12)
    # Change every parameter; the netlist written back runs the same on NumPy.
    params, apply = tloss.make_loss_fn(net, "rate", DT, STEPS, dtype="float64")
    assert set(params) == {"weights", "gain", "bias"} and len(params["weights"]) == len(net.projections)
    changed = jax.tree_util.tree_map(lambda a: a * 1.1, params)
    new_net = tloss.with_params(net, changed)
    assert tloss.with_params(net, params) == net
    outs = apply(changed, [xs])
    ref = get_backend("numpy").run(new_net, [[(lambda t, b=b: xs[b, round(t / DT) - 1])
                                                        for b in range(2)]],
                                   t=STEPS * DT, dt=DT, mode="rate", seed=0, progress=False, batch_size=2)
    assert_allclose(np.asarray(outs[0]), ref.outputs[0], rtol=0, atol=1e-12)
    # Partial params: only the weights given.
    partial = apply({"weights": changed["weights"]}, [xs])
    mixed = apply({**params, "weights": changed["weights"]}, [xs])
    assert_array_equal(np.asarray(partial[0]), np.asarray(mixed[0]))
    # A constant input may be given as (batch, *shape).
    const = apply(params, [xs[:, 0]])
    held = apply(params, [np.repeat(xs[:, :1], STEPS, axis=1)])
    assert_allclose(np.asarray(const[0]), np.asarray(held[0]), rtol=0, atol=1e-12)


def test_spiking_surrogate_gradients_train():
    """float32, spiking LIF: surrogate gradients are finite, reach every parameter kind, and
    a few Adam steps lower the loss (the spike count toward a target)."""

    net = _grad_netlist()
    params, apply = tloss.make_loss_fn(net, "spiking", DT, STEPS, surrogate=sg.SuperSpike(10.0))
    assert params["gain"]["a"].dtype == jnp.float32
    xs = jnp.asarray(_inputs(), dtype=jnp.float32)

    def loss(p):
        _, spikes = apply(p, [xs], return_spikes=True)
        rate = spikes["a"].sum(axis=1) / (STEPS * DT * 12)  # mean rate (Hz) per element
        return jnp.mean((rate - 20.0) ** 2) / 100.0

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    start, grads = value_and_grad(params)
    for leaf in jax.tree_util.tree_leaves(grads):
        assert bool(jnp.all(jnp.isfinite(leaf)))
    assert float(jnp.abs(grads["bias"]["a"]).sum()) > 0 and float(jnp.abs(grads["weights"][0]).sum()) > 0
    params = _adam_steps(value_and_grad, params, 0.05, 10)
    assert float(value_and_grad(params)[0]) < 0.5 * float(start)


def _adam_steps(value_and_grad, params, learning_rate, steps):
    """``params`` after ``steps`` Adam updates along ``value_and_grad``'s gradient."""
    import optax

    opt = optax.adam(learning_rate)
    state = opt.init(params)
    for _ in range(steps):
        _, grads = value_and_grad(params)
        updates, state = opt.update(grads, state)
        params = optax.apply_updates(params, updates)
    return params


# ---------------------------------------------------------------------------- neuron parameters


@pytest.mark.parametrize("soft", [None, 0.05], ids=["lif-rate", "soft-lif"])
def test_neuron_parameter_gradients_match_finite_differences(x64, soft):
    """d loss / d tau_rc, tau_ref (rate mode, float64) against central differences."""
    net = _grad_netlist()
    params, apply = tloss.make_loss_fn(net, "rate", DT, STEPS, dtype="float64", soft_lif=soft, neuron_params=True)
    assert set(params["neuron"]["a"]) == {"tau_rc", "tau_ref"}  # amplitude is not offered
    loss = _tracking_loss(apply)
    grads = jax.grad(loss)(params)
    for pop in ("a", "b"):
        for name in ("tau_rc", "tau_ref"):
            value = float(params["neuron"][pop][name])
            h = 1e-7 * value

            def at(delta, pop=pop, name=name, value=value):
                return float(loss({"neuron": {pop: {name: jnp.asarray(value + delta)}}}))

            fd = (at(h) - at(-h)) / (2 * h)
            g = float(grads["neuron"][pop][name])
            assert abs(g) > 1e-6, (pop, name)
            assert g == pytest.approx(fd, rel=1e-5), (pop, name)


def test_neuron_parameters_per_neuron_and_written_back(x64):
    """Per-neuron values broadcast; with_params writes scalars back as validated types; the
    written-back netlist runs the same on the NumPy back end."""
    net = _grad_netlist()
    xs = _inputs()
    params, apply = tloss.make_loss_fn(net, "spiking", DT, STEPS, dtype="float64", neuron_params=True)
    base = apply(params, [xs])
    same = apply({"neuron": {"a": {"tau_rc": jnp.full(12, 0.02)}}}, [xs])
    assert_allclose(np.asarray(same[0]), np.asarray(base[0]), rtol=0, atol=1e-12)
    changed = {"neuron": {"a": {"tau_rc": jnp.asarray(0.03)}, "b": {"tau_ref": jnp.asarray(0.004)}}}
    outs = apply(changed, [xs])
    assert not np.allclose(np.asarray(outs[0]), np.asarray(base[0]))
    new_net = tloss.with_params(net, changed)
    assert new_net.objects["a"].neuron_type == LIF(tau_rc=0.03)
    assert new_net.objects["b"].neuron_type == LIF(tau_ref=0.004)
    ref = get_backend("numpy").run(new_net, [[(lambda t, b=b: xs[b, round(t / DT) - 1])
                                                        for b in range(2)]],
                                   t=STEPS * DT, dt=DT, mode="spiking", seed=0, progress=False, batch_size=2)
    assert_allclose(np.asarray(outs[0]), ref.outputs[0], rtol=0, atol=1e-12)
    with pytest.raises(Exception, match="one value per population"):
        tloss.with_params(net, {"neuron": {"a": {"tau_rc": np.full(12, 0.02)}}})
    with pytest.raises(RunError, match="neuron_params=True"):
        tloss.make_loss_fn(net, "rate", DT, STEPS, dtype="float64")[1]({"neuron": {}}, [xs])


def test_spiking_neuron_parameter_surrogate_gradient_trains():
    """Spiking LIF through SuperSpike: tau_rc alone is trained to move the spike count to a target."""

    net = _grad_netlist()
    _, apply = tloss.make_loss_fn(net, "spiking", DT, STEPS, surrogate=sg.SuperSpike(10.0), neuron_params=True)
    xs = jnp.asarray(_inputs(), dtype=jnp.float32)

    def loss(tau):
        _, spikes = apply({"neuron": {"a": {"tau_rc": tau}}}, [xs], return_spikes=True)
        return (spikes["a"].sum() / xs.shape[0] - 60.0) ** 2 / 100.0

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    tau = jnp.asarray(0.02)
    start, g = value_and_grad(tau)
    assert bool(jnp.isfinite(g)) and float(g) != 0.0
    tau = _adam_steps(value_and_grad, tau, 2e-3, 30)
    assert float(value_and_grad(tau)[0]) < 0.5 * float(start)


def test_adex_surrogate_step_is_exact_and_differentiable(x64):
    """Forward: the surrogate step equals AdEx's own step bit for bit; backward: the spike count
    grows with the input current through the threshold crossings (finite: the runaway upswing
    above V_T carries no gradient)."""
    neuron = AdEx()
    stepper = sg.surrogate_neuron(neuron, sg.SuperSpike(10.0))
    dt = 1e-4
    rng = np.random.default_rng(0)
    J = jnp.asarray(rng.uniform(0.5, 1.5, 64))
    state = {k: jnp.asarray(v) for k, v in neuron.init_state(64, rng=np.random.RandomState(1)).items()}
    ours, theirs, total = state, state, 0.0
    for _ in range(3000):
        ours, out = stepper.step(ours, J, dt)
        theirs, ref = neuron.step(theirs, J, dt, xp=jnp)
        assert_array_equal(np.asarray(out), np.asarray(ref))
        total += float(out.sum())
    for name in ours:
        assert_array_equal(np.asarray(ours[name]), np.asarray(theirs[name]))
    assert total > 0

    def count(scale):
        def body(carry, _):
            st, n = carry
            st, out = stepper.step(st, J * scale, dt)
            return (st, n + out.sum() * dt), None

        return jax.lax.scan(body, (state, 0.0), None, length=3000)[0][1]

    g = jax.grad(count)(1.0)
    assert np.isfinite(float(g)) and float(g) > 0
