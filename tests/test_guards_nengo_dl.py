"""Run-time guards on NengoDL (checked after the run from probes): the same cases, the same answers as on the
other back ends (tests/test_guards.py); slow, since each builds a TensorFlow graph."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from test_guards import (
    DT,
    STEPS,
    cosine,
    diverging_netlist,
    guarded_netlist,
    no_range_warning,
    oracle,
    product,
    sine,
    tanh_program,
    tanh_steps_out,
    x_of,
)

import spikec
from spikec.backends import get_backend
from spikec.errors import RangeWarning, RunError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("tensorflow", "nengo_dl")),
                       reason="nengo_dl is not installed"),
]

OPTIONS = {"backend": "nengo_dl", "threads": 1}


def test_tanh_times_y_outside_its_range_warns():
    prog = tanh_program()
    x, y = np.array([2.0, -2.0]), np.array([3.0, -3.0])
    with pytest.warns(RangeWarning, match=r"tanh at test_guards\.py") as record:
        result = prog.run(x, y, t=0.1, mode="rate", **OPTIONS)
    assert "mul at test_guards.py" in str(record[0].message)
    violations = {v["op"]: v for v in result.info["range_violations"]}
    assert set(violations) == {"tanh", "mul"}
    assert violations["tanh"]["steps"] == tanh_steps_out(prog, x, 100)
    assert violations["tanh"]["seen"] == pytest.approx((-2.0, -2.0), abs=1e-6)


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_in_domain_runs_do_not_warn(mode):
    with no_range_warning():
        result = tanh_program().run(t=0.3, mode=mode, **OPTIONS)
    assert result.info["range_violations"] == []


def test_product_traced_on_constants_driven_by_sines_warns():
    prog = product.trace(np.array([0.5]), np.array([0.3]))
    with pytest.warns(RangeWarning, match=r"mul at test_guards\.py"):
        result = prog.run(lambda t: np.sin(2 * np.pi * 2 * t), lambda t: np.cos(2 * np.pi * 2 * t), t=0.5,
                          mode="spiking", **OPTIONS)
    (v,) = result.info["range_violations"]
    assert v["op"] == "mul" and v["steps"] > 0.5 * v["of_steps"]


def test_nan_mid_run_is_a_clear_error():
    def x_nan(t):
        return np.array([0.5, np.nan if t > 0.05 else -0.3])

    with pytest.raises(RunError, match=r"input 'in_x' is not finite at t = 0.051 s"):
        tanh_program().run(x_nan, t=0.1, mode="rate", **OPTIONS)


def test_hand_netlist_counts_steps_out_of_range_as_the_oracle():
    out, first, low, high = oracle()
    with pytest.warns(RangeWarning, match=r"mul at prog.py:3"):
        result = get_backend("nengo_dl").run(guarded_netlist(), [x_of], t=STEPS * DT, dt=DT, mode="rate",
                                             threads=1)
    (v,) = result.info["range_violations"]
    assert v["steps"] == out and v["of_steps"] == STEPS
    assert v["first_t"] == pytest.approx(first)
    assert v["seen"] == pytest.approx((low, high), rel=1e-9)


def test_diverging_network_is_a_clear_error():
    pattern = r"went non-finite at t = [0-9.]+ s \(step 10[0-9][0-9]\) in (state s|population p)"
    with pytest.raises(RunError, match=pattern):
        get_backend("nengo_dl").run(diverging_netlist(), [lambda t: np.array([0.5])], t=1100 * DT, dt=DT,
                                    mode="rate", on_range="ignore", threads=1)


def test_batched_runs_count_every_element():
    prog = tanh_program()
    xs = np.array([[0.5, -0.3], [2.0, -2.0]])
    ys = np.array([[1.0, 2.0], [3.0, -3.0]])
    with pytest.warns(RangeWarning, match=r"tanh at test_guards\.py"):
        result = prog.run(xs, ys, t=0.05, mode="rate", batch=True, **OPTIONS)
    violations = {v["op"]: v for v in result.info["range_violations"]}
    assert violations["tanh"]["of_steps"] == 100
    assert violations["tanh"]["steps"] == tanh_steps_out(prog, xs[1], 50)


def test_product_driven_by_sines_inside_its_domain_is_quiet():
    box = [spikec.Input(1, value=[v], range=(-1.0, 1.0)) for v in (0.5, 0.3)]
    with no_range_warning():
        result = product.trace(*box).run(sine, cosine, t=0.5, mode="spiking", **OPTIONS)
    assert result.info["range_violations"] == []
