"""The back-end seam: every back end runs a netlist built by hand (no program, no tracing), agrees with a
NumPy oracle written here, and reports the same ``RunResult.info`` keys."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal

from spikec.backends import get_backend
from spikec.backends.common import RESULT_INFO_KEYS, RunSpec
from spikec.errors import BackendError, RunError
from spikec.ir.attrs import ConstArray
from spikec.models.neurons import SpikingRectifiedLinear
from spikec.netlist import Dense, InputSource, Netlist, Output, Population, Projection, Sparse, SumNode

# A power of two: every J * dt below is exact, so spike times cannot differ by rounding between back ends.
DT = 2.0 ** -10
STEPS = 300
W1 = np.array([[64.0, 128.0], [128.0, 0.0], [32.0, 32.0]])
GAIN = np.array([1.0, 0.5, 2.0])
BIAS = np.array([0.0, 32.0, -16.0])
W2 = np.array([[0.5, 0.0, 0.25], [0.0, 1.0, 0.0]])  # column 1 reads neuron 1 only: fan-outs 1, 1, 1
WX = np.array([[1.0, 0.0], [0.0, -2.0]])  # input straight to the sum node (sparse)
OFFSET = np.array([0.125, -1.0])

BACKENDS = ["numpy", "jax", "nengo"]
OPTIONS = {"numpy": {}, "jax": {"dtype": "float64"}, "nengo": {}}


def C(a) -> ConstArray:
    return ConstArray(np.asarray(a, dtype=np.float64))


def hand_netlist() -> Netlist:
    """x (2) -> dense -> 3 spiking rectified-linear neurons -> dense -> y (2, with offset) <- sparse <- x."""
    return Netlist(
        "hand",
        inputs=(InputSource("x", 0, (2,)),),
        populations=(Population("p", 3, SpikingRectifiedLinear(), C(GAIN), C(BIAS)),),
        nodes=(SumNode("y", 2, offset=C(OFFSET)),),
        projections=(
            Projection("x", "p", Dense(C(W1))),
            Projection("p", "y", Dense(C(W2))),
            Projection("x", "y", Sparse.from_scipy(scipy.sparse.coo_array(WX))),
        ),
        outputs=(Output("y", 0, "y", (2,)),),
    ).validate()


def x_of(t: float) -> np.ndarray:
    """The input: constant in the first half (dyadic, for exact spike counts), then a ramp."""
    return np.array([1.0, 0.5]) if t <= STEPS * DT / 2 else np.array([1.0, 0.5]) * (1 + t)


def oracle(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``(steps, 2)`` and spikes per step of ``hand_netlist`` in NumPy, step by step."""
    voltage = np.zeros(3)
    outputs, spikes = np.empty((STEPS, 2)), np.zeros(STEPS)
    for k in range(STEPS):
        x = x_of((k + 1) * DT)
        J = GAIN * (W1 @ x) + BIAS
        if mode == "rate":
            activity = np.maximum(J, 0)
        else:  # nengo's SpikingRectifiedLinear, starting at voltage 0
            voltage = voltage + np.maximum(J, 0) * DT
            fired = np.floor(voltage)
            voltage -= fired
            activity = fired / DT
            spikes[k] = fired.sum()
        outputs[k] = W2 @ activity + WX @ x + OFFSET
    return outputs, spikes


def run(backend: str, mode: str, **settings):
    return get_backend(backend).run(hand_netlist(), [x_of], t=STEPS * DT, dt=DT, mode=mode, seed=0,
                                    progress=False, **OPTIONS[backend], **settings)


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_hand_built_netlist_runs_alike_everywhere(mode):
    expected, spikes = oracle(mode)
    results = {name: run(name, mode) for name in BACKENDS}
    for name, res in results.items():
        assert res.backend == name and res.mode == mode and res.output.shape == (STEPS, 2), name
        assert_allclose(res.output, expected, rtol=1e-9, atol=1e-6, err_msg=name)
        assert_array_equal(res.spikes, np.cumsum(spikes).astype(np.int64), err_msg=name)
    if mode == "spiking":
        assert results["numpy"].spikes[-1] > 50
    first = results["numpy"].info
    for name, res in results.items():
        for key in ("population_spikes", "population_synaptic_events"):
            assert_array_equal(res.info[key]["p"], first[key]["p"], err_msg=f"{name} {key}")
        assert_array_equal(res.info["synaptic_events"], first["synaptic_events"], err_msg=name)


def test_every_backend_reports_the_same_info_keys():
    results = {name: run(name, "spiking") for name in BACKENDS}
    for name, res in results.items():
        assert set(RESULT_INFO_KEYS) <= set(res.info), (name, sorted(set(RESULT_INFO_KEYS) - set(res.info)))
        assert isinstance(res.info["total_spikes"], int), name
        assert res.info["total_spikes"] == res.spikes[-1], name
        assert res.info["seed"] == 0, name
        # fan-out: nonzero outgoing weights per neuron, counted the same way everywhere
        assert_array_equal(res.info["fan_out"]["p"], [1, 1, 1], err_msg=name)
        assert res.info["total_synaptic_events"] == res.info["total_spikes"], name


def test_batched_runs_report_per_element_counts():
    fns = [[x_of, lambda t: 0.5 * x_of(t)]]
    for name in BACKENDS:
        res = get_backend(name).run(hand_netlist(), fns, t=STEPS * DT, dt=DT, mode="spiking", seed=0,
                                    progress=False, batch_size=2, **OPTIONS[name])
        assert res.batched and res.output.shape == (2, STEPS, 2), name
        assert res.info["total_spikes"].shape == (2,), name
        assert res.info["total_spikes"][0] > res.info["total_spikes"][1] > 0, name
        assert set(RESULT_INFO_KEYS) <= set(res.info), name


@pytest.mark.slow
def test_nengo_dl_reports_the_same_info_keys():
    from spikec.backends.nengo_dl.compat import import_nengo_dl

    try:
        import_nengo_dl()
    except BackendError as exc:
        pytest.skip(str(exc))
    expected, spikes = oracle("spiking")
    res = get_backend("nengo_dl").run(hand_netlist(), [x_of], t=STEPS * DT, dt=DT, mode="spiking", seed=0,
                                      progress=False)
    assert set(RESULT_INFO_KEYS) <= set(res.info)
    assert_array_equal(res.spikes, np.cumsum(spikes).astype(np.int64))
    assert_allclose(res.output, expected, rtol=1e-9, atol=1e-6)


def test_backends_take_netlists_and_their_own_options_only():
    jax_backend = get_backend("jax")
    with pytest.raises(BackendError, match="runs a Netlist"):
        jax_backend.run(object(), [x_of], t=0.01, dt=DT, mode="spiking")
    with pytest.raises(RunError, match="unknown options: max_rate; its options are devices, dtype, optimize, unroll"):
        jax_backend.run(hand_netlist(), [x_of], t=0.01, dt=DT, max_rate=100.0)
    with pytest.raises(RunError, match="has modes"):
        jax_backend.spec(t=0.01, dt=DT, mode="ideal")
    spec = jax_backend.spec(t=10 * DT, dt=DT, options={"unroll": 2})
    assert spec == RunSpec(steps=10, dt=DT, mode="spiking", seed=0, options={"dtype": "float32", "optimize": True,
                                                                             "unroll": 2, "devices": None})
    with pytest.raises(RunError, match="on a program's graph"):
        get_backend("numpy").run(hand_netlist(), [x_of], t=0.01, dt=DT, mode="ideal")
