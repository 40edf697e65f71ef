"""Tests for spikec.models.synapses, with Nengo's own synapse simulation as the oracle.

Timing convention (what these tests pin down, and what every spikec back end
must reproduce):

* ``Synapse.step(state, u[k], dt)`` returns ``y[k]``, which *includes*
  ``u[k]``.  This is exactly ``nengo_synapse.filt(u, dt=dt, y0=0)[k]``.
* Inside a ``nengo.Simulator`` a connection's synapse runs as an *update*
  operator, so its result becomes visible one step later: with
  ``Node(u) -> Connection(synapse=s) -> Node`` probed, the probe at simulator
  step ``k`` (time ``(k+1)*dt``) shows ``y[k-1]`` = the filter applied to
  ``u[0..k-1]``, and 0 (the initial output) at step 0, while a probe on the
  input node shows ``u[k]``.  A connection with ``synapse=None`` has no such
  delay.
"""

from __future__ import annotations

import dataclasses

import nengo
import numpy as np
import pytest

from spikec.errors import BackendError, ConstantError, SpikecError
from spikec.models.synapses import (
    Adam,
    Alpha,
    DoubleExp,
    Integrator,
    LinearFilter,
    Lowpass,
    Synapse,
    as_synapse,
)

DT = 1e-3

# A lightly damped 2nd-order resonator at 50 Hz, unit DC gain.
_W, _ZETA = 2 * np.pi * 50, 0.3
SECOND_ORDER = LinearFilter((1.0,), (1 / _W**2, 2 * _ZETA / _W, 1.0))

LINEAR_FILTERS = {
    "lowpass": Lowpass(0.005),
    "alpha": Alpha(0.01),
    "second_order": SECOND_ORDER,
    # 2nd order with a zero in the numerator (still strictly proper).
    "second_order_zero": LinearFilter((2e-3, 1.0), (1 / _W**2, 2 * _ZETA / _W, 1.0)),
    # Pass-through (D != 0) filters exercise Nengo's "General" step.
    "lead_lag": LinearFilter((0.003, 1.0), (0.002, 1.0)),
    "second_order_proper": LinearFilter((1e-5, 2e-3, 1.0), (1 / _W**2, 2 * _ZETA / _W, 1.0)),
    "double_exp": DoubleExp(0.002, 0.01),
    "integrator": Integrator(),
}

# Filters whose DC gain is 1, so init_state(x0) is a steady state for input x0.
UNIT_DC = ["lowpass", "alpha", "second_order", "second_order_zero", "lead_lag",
           "second_order_proper", "double_exp"]


def run_steps(syn, u, dt=DT, x0=None):
    """Feed u (time on axis 0) through syn.step; return the outputs."""
    state = syn.init_state(u.shape[1:], x0=x0)
    ys = []
    for uk in u:
        state, y = syn.step(state, uk, dt)
        np.testing.assert_array_equal(y, syn.output(state))
        ys.append(y)
    return np.array(ys)


def random_input(shape, n=300, seed=0):
    return np.random.RandomState(seed).randn(n, *shape)


# --- agreement with Nengo ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(LINEAR_FILTERS))
@pytest.mark.parametrize("dt", [1e-3, 3e-4])
def test_step_matches_nengo_filt(name, dt):
    """y[k] from step equals nengo's filt output at the same index k."""
    syn = LINEAR_FILTERS[name]
    u = random_input((3,), seed=1)
    ours = run_steps(syn, u, dt=dt)
    ref = syn.to_nengo().filt(u, dt=dt, y0=0)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("name", sorted(LINEAR_FILTERS))
def test_step_matches_nengo_simulator(name):
    """In a nengo.Simulator the filtered signal lags our y by exactly one step."""
    syn = LINEAR_FILTERS[name]
    n = 200
    u = random_input((2,), n=n, seed=2)
    with nengo.Network() as net:
        # At step k (t = (k+1)*dt) the node outputs u[k].
        inp = nengo.Node(lambda t: u[int(round(t / DT)) - 1])
        out = nengo.Node(size_in=2)
        nengo.Connection(inp, out, synapse=syn.to_nengo())
        p_in = nengo.Probe(inp)
        p_out = nengo.Probe(out)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run_steps(n)
    np.testing.assert_array_equal(sim.data[p_in], u)  # alignment of the input

    ours = run_steps(syn, u)
    sim_out = sim.data[p_out]
    np.testing.assert_allclose(sim_out[0], 0.0, atol=0)
    scale = max(1.0, np.abs(ours).max())
    np.testing.assert_allclose(sim_out[1:], ours[:-1], rtol=0, atol=1e-10 * scale)


def test_step_on_nd_signal_matches_elementwise_filt():
    """Signals of any shape filter elementwise, state layout (order, *shape)."""
    syn = SECOND_ORDER
    u = random_input((2, 3), n=100, seed=3)
    state = syn.init_state((2, 3))
    assert state[0].shape == (2, 2, 3)
    ours = run_steps(syn, u)
    ref = syn.to_nengo().filt(u.reshape(len(u), -1), dt=DT, y0=0).reshape(u.shape)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_scalar_signal_shape():
    syn = Lowpass(0.01)
    state = syn.init_state(())
    assert state[0].shape == (1,)
    state, y = syn.step(state, 1.0, DT)
    assert np.shape(y) == ()
    np.testing.assert_allclose(y, 1 - np.exp(-DT / 0.01))


def test_state_layout_and_float64():
    assert [s.shape for s in Lowpass(0.01).init_state((4,))] == [(1, 4)]
    assert [s.shape for s in Alpha(0.01).init_state((4,))] == [(2, 4)]
    # Pass-through filters also carry their last output.
    assert [s.shape for s in LINEAR_FILTERS["lead_lag"].init_state((4,))] == [(1, 4), (4,)]
    state, y = Alpha(0.01).step(Alpha(0.01).init_state((4,)), np.ones(4), DT)
    assert state[0].dtype == np.float64 and y.dtype == np.float64


def test_lowpass_state_is_its_output():
    """A first-order filter keeps its output as its state (Nengo's OneX)."""
    syn = Lowpass(0.02)
    state = syn.init_state((3,), x0=np.array([1.0, -2.0, 0.5]))
    np.testing.assert_array_equal(state[0][0], [1.0, -2.0, 0.5])
    state, y = syn.step(state, np.zeros(3), DT)
    np.testing.assert_array_equal(state[0][0], y)


def test_integrator_is_forward_euler():
    u = random_input((3,), n=50, seed=4)
    ys = run_steps(Integrator(), u)
    np.testing.assert_allclose(ys, DT * np.cumsum(u, axis=0), rtol=1e-12, atol=1e-15)
    A, B, C, D = Integrator().discretize(DT)
    assert (A.tolist(), B.tolist(), C.tolist(), D) == ([[1.0]], [DT], [1.0], 0.0)


def test_discretize_is_cached_and_read_only():
    syn = Alpha(0.01)
    A1 = syn.discretize(DT)[0]
    assert syn.discretize(DT)[0] is A1
    assert Alpha(0.01).discretize(DT)[0] is A1  # equal synapses share the entry
    with pytest.raises(ValueError):
        A1[0, 0] = 0.0


def test_bad_dt():
    syn = Lowpass(0.01)
    with pytest.raises(ConstantError, match="dt"):
        syn.step(syn.init_state((1,)), np.zeros(1), 0.0)


# --- initial state ---------------------------------------------------------


@pytest.mark.parametrize("name", UNIT_DC)
def test_init_state_is_steady_state(name):
    syn = LINEAR_FILTERS[name]
    x0 = np.array([0.7, -1.3, 0.0])
    state = syn.init_state((3,), x0=x0)
    np.testing.assert_allclose(syn.output(state), x0, atol=1e-12)
    ys = run_steps(syn, np.tile(x0, (200, 1)), x0=x0)
    np.testing.assert_allclose(ys, np.tile(x0, (200, 1)), atol=1e-10)


@pytest.mark.parametrize("name", UNIT_DC)
def test_init_state_matches_nengo_y0(name):
    """Starting from x0 and filtering any input agrees with nengo's filt(y0=x0)."""
    syn = LINEAR_FILTERS[name]
    x0 = np.array([0.7, -1.3, 0.2])
    u = random_input((3,), n=100, seed=5)
    ours = run_steps(syn, u, x0=x0)
    ref = syn.to_nengo().filt(u, dt=DT, y0=x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_init_state_scalar_x0_broadcasts():
    state = Alpha(0.01).init_state((2, 2), x0=3.0)
    np.testing.assert_allclose(Alpha(0.01).output(state), np.full((2, 2), 3.0))


def test_init_state_non_unit_dc_gain():
    """DC gain g: the state is the steady state under input x0/g (as nengo)."""
    syn = LinearFilter((2.0,), (0.01, 1.0))
    x0 = np.array([1.0, -0.5])
    state = syn.init_state((2,), x0=x0)
    np.testing.assert_allclose(syn.output(state), x0)
    ys = run_steps(syn, np.tile(x0 / 2, (50, 1)), x0=x0)
    np.testing.assert_allclose(ys, np.tile(x0, (50, 1)), atol=1e-12)


def test_integrator_init_state_holds_x0():
    syn = Integrator()
    x0 = np.array([1.5, -2.0])
    state = syn.init_state((2,), x0=x0)
    np.testing.assert_array_equal(syn.output(state), x0)
    ys = run_steps(syn, np.zeros((20, 2)), x0=x0)
    np.testing.assert_array_equal(ys, np.tile(x0, (20, 1)))
    ys = run_steps(syn, np.ones((20, 2)), x0=x0)
    np.testing.assert_allclose(ys[-1], x0 + 20 * DT)


# --- integrate(f, x0, synapse) ----------------------------------------------


class FakeTracer:
    """Stands in for a spikec tracer: only +, -, * with Python floats or itself."""

    def __init__(self, value):
        self.value = value

    def _val(self, other):
        if isinstance(other, FakeTracer):
            return other.value
        assert type(other) is float, f"integrand_input used {type(other).__name__}"
        return other

    def __add__(self, other):
        return FakeTracer(self.value + self._val(other))

    __radd__ = __add__

    def __sub__(self, other):
        return FakeTracer(self.value - self._val(other))

    def __rsub__(self, other):
        return FakeTracer(self._val(other) - self.value)

    def __mul__(self, other):
        return FakeTracer(self.value * self._val(other))

    __rmul__ = __mul__

    def __array__(self, *args, **kwargs):  # pragma: no cover
        raise AssertionError("integrand_input must not convert tracers to arrays")


def integrate(syn, f, x0, t_end, dt=DT):
    """The recurrence integrate(f, x0, syn) as the reference simulator runs it.

    The input at step k is computed from the output visible at step k (the
    previous step's y), which is what Nengo's one-step synaptic delay gives.
    """
    x0 = np.asarray(x0, dtype=float)
    state = syn.init_state(x0.shape, x0=x0)
    x = syn.output(state)
    xs = [x]
    for _ in range(int(round(t_end / dt))):
        state, x = syn.step(state, syn.integrand_input(f(x), x), dt)
        xs.append(x)
    return np.array(xs)


def test_lowpass_integrand_input_decay():
    """x' = -x from x0 = 1 through a lowpass recurrence follows exp(-t)."""
    syn = Lowpass(0.05)
    xs = integrate(syn, lambda x: -x, [1.0], t_end=2.0)
    t = DT * np.arange(len(xs))
    # The continuous NEF mapping tau*f + x on a ZOH lowpass is Euler with the
    # step tau*(1 - exp(-dt/tau)) ~ dt*(1 - dt/(2 tau)): about 1% slow here.
    np.testing.assert_allclose(xs[:, 0], np.exp(-t), atol=5e-3)


def test_integrate_recurrence_matches_nengo():
    """The recurrence above is exactly what a recurrent nengo network computes.

    Nengo: x = Node(size_in); u -> x (transform tau) and x -> x (transform
    1 - tau, i.e. tau*f(x) + x for f(x) = u - x), both through Lowpass(tau).
    The probe of x at step k equals our x_k, where x_0 is the initial output
    and x_{k+1} = step(integrand_input(f(x_k, u[k]), x_k)).
    """
    tau, n = 0.02, 300
    u = random_input((1,), n=n, seed=12)
    with nengo.Network() as net:
        inp = nengo.Node(lambda t: u[int(round(t / DT)) - 1])
        x = nengo.Node(size_in=1)
        nengo.Connection(inp, x, synapse=tau, transform=tau)
        nengo.Connection(x, x, synapse=tau, transform=1 - tau)
        probe = nengo.Probe(x)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run_steps(n)

    syn = Lowpass(tau)
    state = syn.init_state((1,))
    xk = syn.output(state)
    xs = []
    for k in range(n):
        xs.append(xk)
        state, xk = syn.step(state, syn.integrand_input(u[k] - xk, xk), DT)
    np.testing.assert_allclose(np.array(xs), sim.data[probe], rtol=0, atol=1e-12)


def test_lowpass_integrand_input_oscillator():
    """A 2-D rotation (x' = Wx) keeps its phase and amplitude over one period."""
    w = 2 * np.pi
    W = np.array([[0.0, -w], [w, 0.0]])
    xs = integrate(Lowpass(0.1), lambda x: W @ x, [1.0, 0.0], t_end=1.0, dt=1e-4)
    np.testing.assert_allclose(xs[-1], [1.0, 0.0], atol=5e-3)


def test_integrand_input_with_tracers():
    fx, x = FakeTracer(2.0), FakeTracer(3.0)
    assert Lowpass(0.1).integrand_input(fx, x).value == pytest.approx(0.1 * 2 + 3)
    assert Integrator().integrand_input(fx, x) is fx
    assert Adam().integrand_input(fx, x) is fx
    # Generic first-order k / (a s + b): (a/k) f + (b/k) x.
    got = LinearFilter((2.0,), (0.1, 1.0)).integrand_input(fx, x)
    assert got.value == pytest.approx(0.05 * 2 + 0.5 * 3)
    # nengo's LinearFilter([1], [1, 0]) converted is also a plain integrator.
    assert as_synapse(nengo.LinearFilter([1], [1, 0])).integrand_input(fx, x) is fx


@pytest.mark.parametrize(
    "syn",
    [Alpha(0.01), DoubleExp(0.001, 0.01), LINEAR_FILTERS["lead_lag"],
     LinearFilter((1.0,), (0.1, 1.0), analog=False)],
)
def test_integrand_input_unsupported(syn):
    with pytest.raises(ConstantError, match="integrate"):
        syn.integrand_input(FakeTracer(1.0), FakeTracer(1.0))


# --- Adam --------------------------------------------------------------------


def reference_adam(x, u_seq, dt, lr, b1, b2, eps):
    """Textbook Adam on the gradient g = -dt*u (written out by hand)."""
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    out = []
    for t, u in enumerate(u_seq, start=1):
        g = -dt * u
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        x = x - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(x)
    return np.array(out)


def test_adam_one_step_by_hand():
    syn = Adam(lr=0.1, beta1=0.8, beta2=0.99, eps=1e-3)
    x0 = np.array([1.0, -2.0, 0.5])
    u = np.array([0.3, -4.0, 0.0])
    state = syn.init_state((3,), x0=x0)
    state, y = syn.step(state, u, DT)
    g = -DT * u
    m = 0.2 * g
    v = 0.01 * g**2
    expected = x0 - 0.1 * (m / 0.2) / (np.sqrt(v / 0.01) + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-14)
    np.testing.assert_array_equal(syn.output(state), y)
    assert float(state[3]) == 1.0


def test_adam_many_steps_by_hand():
    syn = Adam(lr=0.05)
    u = random_input((4,), n=30, seed=6)
    x0 = np.linspace(-1, 1, 4)
    ours = run_steps(syn, u, x0=x0)
    ref = reference_adam(x0, u, DT, 0.05, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


def test_adam_matches_optax():
    """Same convention as optax.adam (eps added to sqrt(vhat)), gradient -dt*u."""
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    syn = Adam(lr=0.01)
    u = random_input((3,), n=20, seed=7)
    x0 = np.array([0.1, 0.2, 0.3])
    ours = run_steps(syn, u, x0=x0)
    opt = optax.adam(0.01, b1=0.9, b2=0.999, eps=1e-8)
    params = jnp.asarray(x0, dtype=jnp.float32)
    opt_state = opt.init(params)
    for k, uk in enumerate(u):
        updates, opt_state = opt.update(jnp.asarray(-DT * uk, dtype=jnp.float32), opt_state)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params), ours[k], rtol=1e-4, atol=1e-6)


def test_adam_step_size_is_per_time_step():
    """Under a steady direction x moves by ~lr per step, whatever dt is (Gyrus)."""
    for dt in (1e-3, 1e-2):
        ys = run_steps(Adam(lr=0.5), np.ones((3, 1)), dt=dt)
        moves = np.diff(np.concatenate([[[0.0]], ys]), axis=0)
        np.testing.assert_allclose(moves, 0.5, rtol=1e-4)  # not exact: eps vs dt*u


def test_adam_minimises_quadratic():
    rng = np.random.RandomState(8)
    M = rng.randn(4, 4) + 3 * np.eye(4)
    b = rng.randn(4)
    target = np.linalg.solve(M, b)

    def neg_grad(x):  # minus the gradient of 0.5 * |M x - b|^2
        return -M.T @ (M @ x - b)

    xs = integrate(Adam(lr=0.01), neg_grad, np.zeros(4), t_end=3.0)
    np.testing.assert_allclose(xs[-1], target, atol=1e-2)
    assert np.linalg.norm(xs[-1] - target) < 1e-3 * np.linalg.norm(xs[0] - target) + 1e-2


def test_adam_state_and_errors():
    syn = Adam()
    x, m, v, t = syn.init_state((2, 3), x0=1.0)
    assert x.shape == m.shape == v.shape == (2, 3) and np.shape(t) == ()
    np.testing.assert_array_equal(x, 1.0)
    assert not syn.is_linear
    with pytest.raises(BackendError, match="Adam"):
        syn.to_nengo()
    for bad in [dict(lr=0), dict(lr=-1.0), dict(beta1=1.0), dict(beta2=-0.1), dict(eps=-1.0)]:
        with pytest.raises(ConstantError):
            Adam(**bad)


# --- objects: equality, hashing, labels, nengo round trip --------------------


def test_frozen_hashable_equal():
    assert Lowpass(0.005) == Lowpass(0.005)
    assert hash(Lowpass(0.005)) == hash(Lowpass(0.005))
    assert Lowpass(0.005) != Lowpass(0.006)
    assert Lowpass(0.005) != LinearFilter((1,), (0.005, 1))
    assert Integrator() == Integrator()
    assert Adam(lr=1) == Adam(lr=1.0)
    assert len({Lowpass(0.1), Lowpass(0.1), Alpha(0.1), Adam(), Adam()}) == 3
    # Leading zeros do not make a different filter.
    assert LinearFilter([0, 1], [0, 0.1, 1]) == LinearFilter((1.0,), (0.1, 1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Lowpass(0.1).tau = 0.2
    assert isinstance(Lowpass(0.1), LinearFilter) and isinstance(Adam(), Synapse)


def test_labels():
    assert Lowpass(0.005).label() == "Lowpass(tau=0.005)"
    assert Alpha(0.01).label() == "Alpha(tau=0.01)"
    assert DoubleExp(0.002, 0.01).label() == "DoubleExp(tau_rise=0.002, tau_decay=0.01)"
    assert Integrator().label() == "Integrator"
    assert Adam().label() == "Adam(lr=0.001)"
    assert Adam(lr=1, beta1=0.5).label() == "Adam(lr=1, beta1=0.5)"
    assert LinearFilter([1], [0.1, 1]).label() == "LinearFilter(num=(1,), den=(0.1, 1))"


def test_is_linear():
    for syn in LINEAR_FILTERS.values():
        assert syn.is_linear


@pytest.mark.parametrize("name", sorted(LINEAR_FILTERS))
def test_nengo_round_trip(name):
    syn = LINEAR_FILTERS[name]
    back = as_synapse(syn.to_nengo())
    assert isinstance(back, LinearFilter)
    assert back.num == syn.num and back.den == syn.den and back.analog == syn.analog


def test_linear_filter_validation():
    with pytest.raises(ConstantError, match="improper"):
        LinearFilter([1, 0, 0], [1, 1])
    with pytest.raises(ConstantError, match="den"):
        LinearFilter([1], [0, 0])
    with pytest.raises(ConstantError, match="num"):
        LinearFilter([0], [1, 1])
    with pytest.raises(ConstantError, match="finite"):
        LinearFilter([np.nan], [1, 1])
    with pytest.raises(ConstantError, match="tau"):
        Lowpass(0)
    with pytest.raises(ConstantError, match="tau"):
        Alpha(-0.1)
    with pytest.raises(ConstantError, match="tau_rise"):
        DoubleExp(0.0, 0.01)


def test_discrete_linear_filter():
    """analog=False coefficients are used as is, like nengo."""
    syn = LinearFilter((0.5,), (1.0, -0.5), analog=False)
    u = random_input((2,), n=40, seed=9)
    np.testing.assert_allclose(run_steps(syn, u), syn.to_nengo().filt(u, dt=DT, y0=0), atol=1e-12)


# --- as_synapse --------------------------------------------------------------


def test_as_synapse_conversions():
    lp = Lowpass(0.01)
    assert as_synapse(lp) is lp
    assert as_synapse(0.005) == Lowpass(0.005)
    assert as_synapse(1) == Lowpass(1.0)
    assert as_synapse(np.float64(0.02)) == Lowpass(0.02)
    assert as_synapse(None) is None
    assert as_synapse(None, default=Integrator()) == Integrator()
    assert as_synapse(nengo.Lowpass(0.01)) == Lowpass(0.01)
    assert as_synapse(nengo.Alpha(0.02)) == Alpha(0.02)
    lf = as_synapse(nengo.LinearFilter([1, 2], [3, 4, 5]))
    assert type(lf) is LinearFilter and lf.num == (1.0, 2.0) and lf.den == (3.0, 4.0, 5.0)
    lf = as_synapse(nengo.LinearFilter([0.5], [1, -0.5], analog=False))
    assert not lf.analog


def test_as_synapse_nengo_subclass_double_exp():
    """nengo 4.1 has no DoubleExp; a LinearFilter subclass (as nengolib's) converts by num/den."""

    class NengoDoubleExp(nengo.LinearFilter):
        def __init__(self, tau1, tau2):
            super().__init__([1], [tau1 * tau2, tau1 + tau2, 1])

    got = as_synapse(NengoDoubleExp(0.002, 0.01))
    assert type(got) is LinearFilter and got.den == DoubleExp(0.002, 0.01).den
    u = random_input((2,), n=50, seed=11)
    np.testing.assert_allclose(run_steps(got, u), run_steps(DoubleExp(0.002, 0.01), u), atol=1e-15)


def test_init_state_accepts_lists():
    alpha = Alpha(0.01)
    np.testing.assert_array_equal(alpha.output(alpha.init_state((2,), x0=[1.0, 2.0])), [1, 2])
    np.testing.assert_array_equal(Adam().init_state((2,), x0=[1.0, 2.0])[0], [1, 2])


@pytest.mark.parametrize(
    "bad, words",
    [
        ("lowpass", ["'lowpass'", "str"]),
        (True, ["True", "bool"]),
        ([0.1], ["[0.1]", "list"]),
        (0, ["positive"]),
        (-0.01, ["positive"]),
        (float("inf"), ["positive"]),
        (nengo.synapses.Triangle(0.01), ["Triangle"]),
        (nengo.LinearFilter([1], [1, 1], method="euler"), ["zoh"]),
    ],
)
def test_as_synapse_rejects(bad, words):
    with pytest.raises(ConstantError) as info:
        as_synapse(bad)
    assert isinstance(info.value, SpikecError) and isinstance(info.value, ValueError)
    msg = str(info.value)
    for word in words:
        assert word in msg
    if words != ["positive"] and words != ["zoh"]:
        assert "Lowpass" in msg and "None" in msg  # says what is accepted


# --- xp genericity (JAX) -----------------------------------------------------


def test_jax_jit_lowpass_and_adam():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    u = random_input((3,), n=5, seed=10)
    x0 = np.array([0.5, -0.5, 1.0])

    for syn in [Lowpass(0.01), SECOND_ORDER, Adam(lr=0.01)]:
        @jax.jit
        def step(state, uk, syn=syn):
            return syn.step(state, uk, DT, xp=jnp)

        state_np = syn.init_state((3,), x0=x0)
        state_jx = syn.init_state((3,), x0=jnp.asarray(x0, dtype=jnp.float32), xp=jnp)
        for uk in u:
            state_np, y_np = syn.step(state_np, uk, DT)
            state_jx, y_jx = step(state_jx, jnp.asarray(uk, dtype=jnp.float32))
            np.testing.assert_allclose(np.asarray(y_jx), y_np, rtol=1e-5, atol=1e-6)
        assert len(state_jx) == len(state_np)
