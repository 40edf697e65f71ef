"""Know the size before building it: ``Program.estimate`` against the built netlist, the ``max_neurons`` limit,
shape inference that never materialises a broadcast array, and lowering once per options and domain."""

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import spikec
from spikec.lower.estimate import BACKEND_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from matrix_inversion import inverse
from test_conv import small_net


def _inverse(n, **options):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)) / np.sqrt(n) + np.eye(n)
    prog = inverse.trace(a)
    return prog, options


def _tanh_times_y(**options):
    prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.3, -0.2]), np.array([0.5, 0.1]))
    return prog, options


def _conv(**options):
    rng = np.random.default_rng(0)
    return spikec.compile(small_net(rng))(rng.uniform(0, 1, (8, 8, 2))), options


def _neuron_layer(**options):
    prog = spikec.compile(lambda x: spikec.neurons(x @ np.ones((3, 4)), spikec.LIF(), gain=2.0, bias=1.0))
    return prog.trace(np.array([0.1, 0.2, 0.3])), options


PROGRAMS = {
    "inverse2": lambda: _inverse(2),
    "inverse5": lambda: _inverse(5),
    "inverse10": lambda: _inverse(10),
    "inverse5_pairs": lambda: _inverse(5, parabola_pairs=True),
    "inverse5_radius": lambda: _inverse(5, product_radius=1.0),
    # balanced products: A[i, k] read through A and through A.T in one product of A @ A.T (the gram form)
    "inverse5_balanced": lambda: _inverse(5, balanced_products=True),
    "inverse5_symmetric": lambda: _inverse(5, parabola_pairs="symmetric"),
    "tanh_times_y": _tanh_times_y,
    "tanh_times_y_nef": lambda: _tanh_times_y(products="nef", n_neurons=20),
    "conv": _conv,
    "neuron_layer": _neuron_layer,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_estimate_equals_the_netlist(name):
    prog, options = PROGRAMS[name]()
    est = prog.estimate(**options)
    stats = prog.lower(**options).stats()
    assert est.neurons == stats.neurons > 0
    assert est.populations == stats.populations
    assert est.nonzero_weights == stats.nonzero_weights > 0 and est.weights_exact
    assert set(est.memory) == set(BACKEND_BYTES)
    assert all(v >= est.neurons for v in est.memory.values())
    assert str(est).startswith("neurons")


def test_estimate_lowers_nothing():
    prog, _ = _inverse(5)
    prog.estimate()
    assert prog._netlists == {}


def test_max_neurons_refuses_before_lowering():
    prog, _ = _inverse(5)
    needed = prog.estimate().neurons
    prog.lower(max_neurons=needed)  # exactly at the limit: fine
    with pytest.raises(spikec.SpikecError, match=r"max_neurons=.*mul") as info:
        prog.lower(max_neurons=needed - 1, seed=1)
    assert "matrix_inversion.py" in str(info.value)


def test_compile_option_max_neurons_is_checked_at_trace_time():
    f = spikec.compile(lambda a, b: a @ b, max_neurons=1000)
    f.trace(np.zeros((5, 5)), np.zeros((5, 5)))  # 500 neurons
    with pytest.raises(spikec.SpikecError, match=r"matmul of \(10, 10\) and \(10, 10\)") as info:
        f.trace(np.zeros((10, 10)), np.zeros((10, 10)))  # 4000 neurons
    assert "a @ b" in str(info.value)


def test_2000x2000_matmul_gets_a_clear_error_without_materialising():
    a = np.zeros((2000, 2000))
    tracemalloc.start()
    try:
        with pytest.raises(spikec.SpikecError, match="32,000,000,000 neurons") as info:
            spikec.compile(lambda x, y: x @ y).trace(a, a)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "matmul" in str(info.value) and "x @ y" in str(info.value)
    assert peak < 200e6  # the broadcast (2000, 2000, 2000) product would be 64 GB


def test_shape_inference_of_a_large_broadcast_allocates_nothing():
    from spikec.ir.registry import get_op

    tracemalloc.start()
    try:
        shape = get_op("broadcast_to").infer_shape({"shape": (2000, 2000, 2000)}, (2000, 1, 2000))
        summed = get_op("sum").infer_shape({"axis": (1,), "keepdims": False}, shape)
        kept = get_op("mean").infer_shape({"axis": (-1,), "keepdims": True}, shape)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shape == (2000, 2000, 2000) and summed == (2000, 2000) and kept == (2000, 2000, 1)
    assert peak < 1e6
    with pytest.raises(ValueError):
        get_op("broadcast_to").infer_shape({"shape": (3, 4)}, (2, 4))


def test_runs_reuse_the_lowered_netlist():
    prog, _ = _inverse(2)
    prog.run(t=0.01, backend="numpy", mode="spiking")
    prog.run(t=0.02, backend="numpy", mode="spiking", seed=0)
    assert len(prog._netlists) == 1  # the same options (unit_synapse injected both times) and domain
    prog.run(t=0.01, backend="numpy", mode="rate")
    assert len(prog._netlists) == 2  # rate runs keep units instantaneous: other options
    prog.run(t=0.01, backend="numpy", mode="rate")
    assert len(prog._netlists) == 2


def test_range_measurement_stops_once_a_constant_input_run_has_settled():
    from spikec.lower import ranges

    prog = spikec.compile(lambda x: spikec.filter(x, 0.005) ** 2).trace(np.array([0.5, -1.0]))
    graph = prog.lowering_graph
    wanted = ranges.wanted_operands(graph)
    settled = ranges.measure_ranges(graph, [s.provider() for s in prog.inputs], 1.0, 1e-3, wanted=wanted)
    assert ranges._measure_run.steps < 500  # the lowpass settles long before 1 s
    full = ranges.measure_ranges(graph, [lambda t: np.array([0.5, -1.0])], 1.0, 1e-3, wanted=wanted)
    assert ranges._measure_run.steps == 1000  # a function of time may change later: the whole run
    for i in wanted:  # the states move by under 1e-12 (relative) per step once settled
        np.testing.assert_allclose(settled[i][0], full[i][0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(settled[i][1], full[i][1], rtol=1e-9, atol=1e-12)


def test_row_argmax_matches_scipy():
    import scipy.sparse as sp

    from spikec.lower.lowering import _row_argmax

    rng = np.random.default_rng(0)
    for _ in range(20):
        m = abs(sp.random_array((30, 20), density=0.2, rng=rng, format="csr"))
        m.data = np.round(m.data * 3) / 3  # ties and explicit zeros
        np.testing.assert_array_equal(_row_argmax(m), np.asarray(m.argmax(axis=1)).ravel())


def test_estimate_over_max_neurons_lowers_nothing_and_says_weights_are_approximate():
    prog, _ = _inverse(5)
    needed = prog.estimate().neurons
    est = prog.estimate(max_neurons=needed - 1)
    assert est.neurons == needed and not est.weights_exact
    assert "nonzero weights (approx.)" in str(est)
