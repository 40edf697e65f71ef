"""Where time enters: ``integrate``, ``filter``, ``lti``, time-varying inputs, batches.

Timing (see ``spikec/ir/interpret.py``): step ``k`` is sampled at
``t = (k + 1) * dt`` and shows what every consumer saw during that step, so a
stateful value at step ``k`` is its state after ``k`` updates.  That is
nengo's timing for a node fed through a synapse, which the nengo tests below
check directly: ``integrate`` at step ``k`` is ``x0`` advanced by ``k``
Euler steps, and ``filter`` at step ``k`` has seen the input up to step
``k - 1``.
"""

from __future__ import annotations

import nengo
import numpy as np
import pytest
import scipy.linalg
import scipy.signal

import spikec

DT = 1e-3


def run(fn, *args, t, dt=DT, **kwargs):
    return spikec.compile(fn).trace(*args).run(t=t, dt=dt, **kwargs)


def steps_of(t, dt=DT):
    return int(round(t / dt))


# =================================================================== integrate


@pytest.mark.parametrize("a", [0.5, 3.0, 20.0])
def test_exponential_decay_is_exact_euler(a):
    x0 = np.array([1.0, -2.0, 0.5])
    res = run(lambda: spikec.integrate(lambda x: -a * x, x0=x0), t=0.2)
    k = np.arange(steps_of(0.2))
    expected = (1 - a * DT) ** k[:, None] * x0
    np.testing.assert_allclose(res.output, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(res.output[0], x0)  # the first sample shows x0
    np.testing.assert_allclose(res.t, (k + 1) * DT, rtol=1e-12)


def test_euler_converges_to_the_exponential_as_dt_shrinks():
    a, t_end = 2.0, 1.0
    errors = []
    for dt in (1e-2, 1e-3, 1e-4):
        res = run(lambda: spikec.integrate(lambda x: -a * x, x0=np.ones(1)), t=t_end, dt=dt)
        # Sample k holds x after k steps, i.e. x(t - dt).
        exact = np.exp(-a * (res.t - dt))[:, None]
        errors.append(np.abs(res.output - exact).max())
    assert errors[-1] < 1e-4
    # First order: ten times smaller dt, about ten times smaller error.
    assert 8 < errors[0] / errors[1] < 12
    assert 8 < errors[1] / errors[2] < 12


@pytest.mark.parametrize("dt", [1e-3, 5e-4])
def test_linear_system_against_expm(dt):
    """dx/dt = A x with A a damped rotation: within O(dt) of expm(A t) x0."""
    A = np.array([[-0.5, -4.0], [4.0, -0.5]])
    x0 = np.array([1.0, 0.0])
    res = run(lambda: spikec.integrate(lambda x: A @ x, x0=x0), t=1.0, dt=dt)
    step = scipy.linalg.expm(A * dt)  # exact flow over one step; sample k is x(k dt)
    exact = [x0]
    for _ in res.t[1:]:
        exact.append(step @ exact[-1])
    exact = np.array(exact)
    np.testing.assert_allclose(exact[-1], scipy.linalg.expm(A * (res.t[-1] - dt)) @ x0, rtol=1e-9)
    err = np.abs(res.output - exact).max()
    assert err < 5 * dt
    # And exactly the Euler recurrence.
    x, euler = x0.copy(), []
    for _ in res.t:
        euler.append(x)
        x = x + dt * (A @ x)
    np.testing.assert_allclose(res.output, euler, rtol=1e-10, atol=1e-12)


def _inverse_program():
    @spikec.compile
    def inverse(A, dt=0.05):
        def gradient(M):
            return 2 * (M @ A - np.eye(A.shape[0])) @ A.T

        return spikec.integrate(lambda M: -dt / 1e-3 * gradient(M), x0=np.zeros(A.shape))

    return inverse


def test_matrix_inverse_by_gradient_flow():
    A = np.array([[2.0, 0.5], [-0.3, 1.5]])
    prog = _inverse_program().trace(A)
    res = prog.run(t=1.0)
    np.testing.assert_allclose(res.final, np.linalg.inv(A), atol=1e-6)
    assert res.output.shape == (1000, 2, 2)
    np.testing.assert_array_equal(res.output[0], np.zeros((2, 2)))


def test_matrix_inverse_with_new_inputs():
    A = np.array([[2.0, 0.5], [-0.3, 1.5]])
    B = np.array([[1.5, -0.2], [0.4, 1.0]])
    prog = _inverse_program().trace(A)
    np.testing.assert_allclose(prog.run(B, t=1.0).final, np.linalg.inv(B), atol=1e-6)
    np.testing.assert_allclose(prog.run(inputs={"A": B}, t=1.0).final, np.linalg.inv(B), atol=1e-6)
    # The traced example is still the default.
    np.testing.assert_allclose(prog.run(t=1.0).final, np.linalg.inv(A), atol=1e-6)


def test_integrand_reading_an_input_signal():
    """dx/dt = u - x with constant u: x[k] = u + (x0 - u) (1 - dt)^k."""
    u = np.array([2.0, -1.0])
    x0 = np.array([0.5, 0.5])
    res = run(lambda v: spikec.integrate(lambda x: v - x, x0=x0), u, t=0.1)
    k = np.arange(100)[:, None]
    np.testing.assert_allclose(res.output, u + (x0 - u) * (1 - DT) ** k, rtol=1e-12)


def test_integrating_a_time_varying_input():
    """dx/dt = u(t): x[k] = x0 + dt * (u(t_0) + ... + u(t_{k-1})), with t_j = (j + 1) dt."""
    def u(t):
        return np.array([np.cos(10 * t), t])

    res = run(lambda v: spikec.integrate(lambda x: v, x0=np.array([1.0, 0.0])), spikec.Input(2, u), t=0.05)
    samples = np.array([u(t) for t in res.t])
    expected = np.array([1.0, 0.0]) + DT * np.vstack([np.zeros(2), np.cumsum(samples, axis=0)[:-1]])
    np.testing.assert_allclose(res.output, expected, rtol=1e-12, atol=1e-15)


def test_constant_integrand():
    res = run(lambda: spikec.integrate(lambda x: np.full(2, 3.0), x0=np.zeros(2)), t=0.01)
    np.testing.assert_allclose(res.output, 3.0 * DT * np.arange(10)[:, None] * np.ones(2), rtol=1e-12)


def test_chained_integrates():
    """x' = -x and y' = x as two integrates; y reads x."""
    def fn():
        x = spikec.integrate(lambda x: -x, x0=np.ones(1))
        y = spikec.integrate(lambda y: x, x0=np.zeros(1))
        return x, y

    res = run(fn, t=0.05)
    x, y, xs, ys = 1.0, 0.0, [], []
    for _ in res.t:
        xs.append(x)
        ys.append(y)
        x, y = x - DT * x, y + DT * x
    np.testing.assert_allclose(res.outputs[0][:, 0], xs, rtol=1e-12)
    np.testing.assert_allclose(res.outputs[1][:, 0], ys, rtol=1e-12)


def test_nested_integrate_inside_an_integrand():
    """x' = y - x where y = integrate(y' = -2 y) is created inside x's integrand."""
    res = run(lambda: spikec.integrate(lambda x: spikec.integrate(lambda y: -2 * y, x0=np.ones(1)) - x,
                                       x0=np.zeros(1)), t=0.05)
    x, y, xs = 0.0, 1.0, []
    for _ in res.t:
        xs.append(x)
        x, y = x + DT * (y - x), y - DT * 2 * y
    np.testing.assert_allclose(res.output[:, 0], xs, rtol=1e-12)


def test_coupled_oscillator_in_one_integrate():
    def fn():
        return spikec.integrate(lambda s: np.stack([s[1], -(2 * np.pi * 5) ** 2 * s[0]]), x0=np.array([1.0, 0.0]))

    res = run(fn, t=0.2, dt=1e-4)
    # Euler on an undamped oscillator slowly gains energy; within 5% after one period.
    np.testing.assert_allclose(res.output[-1, 0], np.cos(2 * np.pi * 5 * (0.2 - 1e-4)), atol=0.05)


@pytest.mark.parametrize("tau", [0.005, 0.05])
def test_integrate_with_lowpass_synapse(tau):
    """NEF recurrence: a lowpass fed tau*f(x) + x follows dx/dt = f(x).

    With zero-order hold, x[k+1] = x[k] + (1 - exp(-dt/tau)) tau f(x[k]):
    for dx/dt = -c x, x[k] = (1 - c tau (1 - exp(-dt/tau)))^k x0.  That
    step is dt (1 - dt/(2 tau) + ...), so the decay is off by O(dt/tau).
    """
    c, t_end = 4.0, 0.5
    x0 = np.array([1.0, -0.5])
    res = run(lambda: spikec.integrate(lambda x: -c * x, x0=x0, synapse=spikec.Lowpass(tau)), t=t_end)
    k = np.arange(500)[:, None]
    factor = 1 - c * tau * (1 - np.exp(-DT / tau))
    np.testing.assert_allclose(res.output, factor**k * x0, rtol=1e-10)
    exact = np.exp(-c * (res.t[:, None] - DT)) * x0
    assert np.abs(res.output / exact - 1).max() < c * t_end * DT / tau


def test_integrate_with_nengo_synapse_object():
    res = run(lambda: spikec.integrate(lambda x: -x, x0=np.ones(1), synapse=nengo.Lowpass(0.01)), t=0.01)
    factor = 1 - 0.01 * (1 - np.exp(-DT / 0.01))
    np.testing.assert_allclose(res.output[:, 0], factor ** np.arange(10), rtol=1e-12)


def test_integrate_with_adam_minimises():
    """Adam as a synapse: integrate along -grad of (x - 3)^2 converges to 3."""
    res = run(lambda: spikec.integrate(lambda x: -2 * (x - 3.0), x0=np.zeros(2),
                                       synapse=spikec.Adam(lr=0.05)), t=0.5)
    np.testing.assert_allclose(res.final, [3.0, 3.0], atol=0.05)


def test_integrate_matches_a_nengo_recurrent_integrator():
    """nengo: u -> Integrator -> x, x -> Integrator(transform=-a) -> x; probe x."""
    a = 5.0

    def u(t):
        return np.array([np.cos(10 * t), 1.0])

    integrator = nengo.LinearFilter([1], [1, 0])
    with nengo.Network() as net:
        un = nengo.Node(u)
        x = nengo.Node(size_in=2)
        nengo.Connection(un, x, synapse=integrator)
        nengo.Connection(x, x, synapse=integrator, transform=-a)
        probe = nengo.Probe(x)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run(0.1)
    res = run(lambda v: spikec.integrate(lambda x: v - a * x, x0=np.zeros(2)), spikec.Input(2, u), t=0.1)
    np.testing.assert_allclose(res.output, sim.data[probe], rtol=1e-10, atol=1e-12)


# ====================================================================== filter


def _nengo_filtered(fn, n, synapse, t):
    with nengo.Network() as net:
        src = nengo.Node(fn)
        dst = nengo.Node(size_in=n)
        nengo.Connection(src, dst, synapse=synapse)
        probe = nengo.Probe(dst)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run(t)
    return sim.trange(), sim.data[probe]


def _signal(t):
    return np.array([np.sin(20 * t), t**2 - 0.1, np.sign(np.sin(50 * t))])


@pytest.mark.parametrize("ours, theirs", [
    (spikec.Lowpass(0.01), nengo.Lowpass(0.01)),
    (spikec.Lowpass(0.002), nengo.Lowpass(0.002)),
    (spikec.Alpha(0.005), nengo.Alpha(0.005)),
    (spikec.DoubleExp(0.002, 0.01), nengo.LinearFilter([1], [0.002 * 0.01, 0.012, 1])),
    (0.01, nengo.Lowpass(0.01)),
    (nengo.Alpha(0.01), nengo.Alpha(0.01)),
], ids=["lowpass", "lowpass-fast", "alpha", "doubleexp", "float-tau", "nengo-alpha"])
def test_filter_matches_nengo_every_step(ours, theirs):
    t_end = 0.1
    trange, expected = _nengo_filtered(_signal, 3, theirs, t_end)
    res = run(lambda x: spikec.filter(x, ours), spikec.Input(3, _signal), t=t_end)
    np.testing.assert_allclose(res.t, trange, rtol=1e-12)
    np.testing.assert_allclose(res.output, expected, rtol=1e-10, atol=1e-12)


def test_filter_then_linear_op_stays_in_step():
    """x and 2 * x of a filtered signal are sampled at the same time (no extra delay for either)."""
    res = run(lambda x: (spikec.filter(x, 0.01), 2 * spikec.filter(x, 0.01), spikec.filter(x, 0.01)[0]),
              spikec.Input(3, _signal), t=0.02)
    np.testing.assert_allclose(res.outputs[1], 2 * res.outputs[0], rtol=1e-12)
    np.testing.assert_allclose(res.outputs[2], res.outputs[0][:, 0], rtol=1e-12)


def test_filter_of_a_filter_matches_nengo_chain():
    with nengo.Network() as net:
        src = nengo.Node(_signal)
        mid = nengo.Node(size_in=3)
        dst = nengo.Node(size_in=3)
        nengo.Connection(src, mid, synapse=nengo.Lowpass(0.01))
        nengo.Connection(mid, dst, synapse=nengo.Lowpass(0.02))
        probe = nengo.Probe(dst)
    with nengo.Simulator(net, dt=DT, progress_bar=False) as sim:
        sim.run(0.05)
    res = run(lambda x: spikec.filter(spikec.filter(x, 0.01), 0.02), spikec.Input(3, _signal), t=0.05)
    np.testing.assert_allclose(res.output, sim.data[probe], rtol=1e-10, atol=1e-12)


def test_filter_initial_value_and_none():
    res = run(lambda x: spikec.filter(x, spikec.Lowpass(0.01), x0=np.array([1.0, 2.0])), np.zeros(2), t=0.005)
    np.testing.assert_allclose(res.output[:, 1], 2.0 * np.exp(-DT / 0.01) ** np.arange(5), rtol=1e-12)
    res = run(lambda x: spikec.filter(x, None) * 2, np.ones(2), t=0.002)
    np.testing.assert_array_equal(res.output, 2 * np.ones((2, 2)))


def test_filter_of_a_constant():
    res = run(lambda x: x + spikec.filter(np.ones(2), spikec.Lowpass(0.01)), np.zeros(2), t=0.005)
    np.testing.assert_allclose(res.output[:, 0], 1 - np.exp(-DT / 0.01) ** np.arange(5), rtol=1e-12)


# ========================================================================= lti


@pytest.mark.parametrize("B, m", [(np.array([[1.0, 0.0], [0.5, -1.0]]), 2), (np.array([0.0, 1.0]), 1)])
def test_lti_matches_scipy_zoh(B, m):
    A = np.array([[0.0, 1.0], [-(2 * np.pi * 5) ** 2, -3.0]])
    x0 = np.array([0.2, -1.0])

    def u(t):
        return np.array([np.sin(30 * t), np.cos(7 * t)])[:m]

    res = run(lambda v: spikec.lti(v, (A, B), x0=x0), spikec.Input(m, u), t=0.2)
    Bm = B.reshape(2, -1)
    ad, bd, _, _, _ = scipy.signal.cont2discrete((A, Bm, np.eye(2), np.zeros((2, m))), DT, method="zoh")
    samples = np.array([u(t) for t in res.t])
    _, y, _ = scipy.signal.dlsim((ad, bd, np.eye(2), np.zeros((2, m)), DT), samples, x0=x0)
    np.testing.assert_allclose(res.output, y, rtol=1e-9, atol=1e-12)


def test_lti_of_a_constant_input_reaches_steady_state():
    A = np.array([[-10.0, 0.0], [1.0, -5.0]])
    B = np.array([[10.0], [0.0]])
    res = run(lambda v: spikec.lti(v, (A, B)), np.ones(1), t=3.0)
    np.testing.assert_allclose(res.final, -np.linalg.solve(A, B @ np.ones(1)), rtol=1e-6)


# ====================================================================== inputs


def test_time_varying_input_is_sampled_at_step_ends():
    def fn(t):
        return np.array([t, 2 * t])

    res = run(lambda x: x * 1.0, spikec.Input(2, fn), t=0.005)
    np.testing.assert_allclose(res.output, np.outer(res.t, [1.0, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(res.t, DT * np.arange(1, 6), rtol=1e-12)


def test_input_value_and_scalar_fn():
    res = run(lambda x: x + 1, spikec.Input((2, 2), value=3.0), t=0.002)
    np.testing.assert_array_equal(res.output, np.full((2, 2, 2), 4.0))
    res = run(lambda x: x + 1, spikec.Input((2, 2)), t=0.002)
    np.testing.assert_array_equal(res.output, np.ones((2, 2, 2)))
    res = run(lambda x: x + 1, spikec.Input(3, lambda t: t), t=0.002)  # a scalar broadcasts
    np.testing.assert_allclose(res.output, 1 + np.repeat(res.t[:, None], 3, axis=1), rtol=1e-12)


def test_run_with_functions_of_time_for_traced_arrays():
    prog = spikec.compile(lambda x: 2 * x).trace(np.zeros(2))
    res = prog.run(lambda t: np.array([t, -t]), t=0.003)
    np.testing.assert_allclose(res.output, 2 * np.outer(res.t, [1.0, -1.0]), rtol=1e-12)
    res = prog.run(spikec.Input(2, lambda t: np.ones(2) * t), t=0.003)
    np.testing.assert_allclose(res.output, 2 * np.outer(res.t, [1.0, 1.0]), rtol=1e-12)


def test_run_length_and_dt():
    res = run(lambda x: x, np.ones(1), t=0.1, dt=0.01)
    assert res.output.shape == (10, 1)
    assert res.dt == 0.01
    res = run(lambda x: x, np.ones(1), t=0.0105, dt=0.001)
    assert len(res.t) == round(0.0105 / 0.001)


# ===================================================================== batches


def test_batched_run_equals_separate_runs():
    @spikec.compile
    def settle(A, b):
        return spikec.integrate(lambda x: b - A @ x, x0=np.zeros(2))

    A = np.array([[2.0, 0.5], [0.1, 3.0]])
    b = np.array([1.0, -1.0])
    prog = settle.trace(A, b)
    As = np.stack([A, 2 * A, A.T])
    bs = np.stack([b, -b, 2 * b])
    res = prog.run(As, bs, batch=True, t=0.05)
    assert res.output.shape == (3, 50, 2)
    assert res.final.shape == (3, 2)
    assert res.t.shape == (50,)
    for i in range(3):
        np.testing.assert_array_equal(res.output[i], prog.run(As[i], bs[i], t=0.05).output)


def test_batched_run_with_some_inputs_given():
    prog = spikec.compile(lambda x, y: x * y).trace(np.ones(2), np.full(2, 3.0))
    xs = np.arange(8.0).reshape(4, 2)
    res = prog.run(xs, batch=True, t=0.002)
    assert res.output.shape == (4, 2, 2)
    np.testing.assert_allclose(res.output[:, -1], 3 * xs, rtol=1e-12)
    res = prog.run(inputs={"y": xs}, batch=True, t=0.002)
    np.testing.assert_allclose(res.output[:, -1], xs, rtol=1e-12)
