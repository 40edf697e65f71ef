"""spikec's NIR in snnTorch and Norse, and theirs in spikec, with the frameworks' own loaders and exporters.

Oracle: the framework's own simulation of the graph.  Criteria: per layer, the correlation of per-neuron spike
counts >= 0.95 and the totals within 5%.  The conventions each framework follows (spikes 1 per step, snnTorch's
fixed 1e-4 s step, Euler steps, Norse's exported tau) are set out in tests/interop_frameworks.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import spikec
from tests.interop_frameworks import (
    SNNTORCH_DT,
    compare,
    filter_bank,
    lif_program_in_snntorch,
    matches,
    norse_tau_fix,
    norse_two_layer,
    run_norse,
    run_norse_module,
    run_snntorch,
    run_snntorch_module,
    snntorch_recurrent,
    snntorch_two_layer,
)
from tests.nir_networks import as_exported, classifier, conv_net, dense_net, lif0, spikec_trains
from tests.nir_reference import NIRReference

pytest.importorskip("nir")
pytest.importorskip("torch")

STEPS = 2000  # 0.2 s at snnTorch's 1e-4 s step


def _ours_and_graph(make, dt, pool):
    rng = np.random.default_rng(11)
    lif = spikec.LIF(amplitude=0.01) if make is classifier else lif0()
    f, x = make(rng, lif)
    prog = spikec.compile(f, spike_phase="rest", dt=dt)(x)
    options = {"floor": "drop", "refractory": "drop"} if make is classifier else {}
    graph = prog.to_nir(spike="per_step", dt=dt, pool=pool, **options)
    # spikec's run of what was exported (the classifier's documented conversion: no floor, no refractory period)
    trains, _ = spikec_trains(as_exported(prog.netlist), x, STEPS, dt)
    return {k: v.sum(axis=0) for k, v in trains.items()}, graph, x


@pytest.mark.parametrize("make", [dense_net, classifier, conv_net], ids=["dense", "classifier", "conv"])
def test_spikec_exports_run_in_snntorch(make):
    pytest.importorskip("snntorch")
    ours, graph, x = _ours_and_graph(make, SNNTORCH_DT, pool="avg")
    rows = compare(ours, run_snntorch(graph, x, STEPS))
    assert all(r["spikec"] > 30 for r in rows.values()), rows
    assert matches(rows), rows


@pytest.mark.parametrize("make", [dense_net, classifier, conv_net], ids=["dense", "classifier", "conv"])
def test_spikec_exports_run_in_norse(make):
    pytest.importorskip("norse")
    ours, graph, x = _ours_and_graph(make, SNNTORCH_DT, pool="sum")
    rows = compare(ours, run_norse(graph, x, STEPS, SNNTORCH_DT))
    assert all(r["spikec"] > 30 for r in rows.values()), rows
    assert matches(rows), rows


def _spikec_counts(graph, x, steps, dt):
    prog = spikec.from_nir(graph, spike="per_step", dt=dt)
    trains, _ = spikec_trains(prog.netlist, x, steps, dt)
    return [v.sum(axis=0) for v in trains.values()]


def test_a_snntorch_export_runs_in_spikec():
    pytest.importorskip("snntorch")
    net, graph = snntorch_two_layer()
    x = np.random.default_rng(12).uniform(0, 1, 8)
    theirs = list(run_snntorch_module(net, x, STEPS).values())
    ours = _spikec_counts(graph, x, STEPS, SNNTORCH_DT)
    rows = compare({f"layer{i}": o for i, o in enumerate(ours)}, {f"layer{i}": t for i, t in enumerate(theirs)})
    assert all(r["spikec"] > 30 for r in rows.values()), rows
    assert matches(rows), rows


def test_a_snntorch_recurrent_export_runs_in_spikec():
    """snnTorch's ``RSynaptic`` (a recurrent CubaLIF layer, exported nested) imports into spikec: per layer, the
    spikes match snnTorch's own run (measured: totals within 1.9% and 1.0%, correlation 1.000, 0.4 s) and the
    reference simulator of the graph spike for spike."""
    pytest.importorskip("snntorch")
    net, graph = snntorch_recurrent()
    steps = 4000
    x = np.random.default_rng(14).uniform(0, 1, 8)
    theirs = list(run_snntorch_module(net, x, steps).values())
    prog = spikec.from_nir(graph, spike="per_step", dt=SNNTORCH_DT)
    trains, _ = spikec_trains(prog.netlist, x, steps, SNNTORCH_DT)
    ours = list(trains.values())
    rows = compare({f"layer{i}": o.sum(axis=0) for i, o in enumerate(ours)},
                   {f"layer{i}": t for i, t in enumerate(theirs)})
    assert all(r["spikec"] > 30 for r in rows.values()), rows
    assert matches(rows), rows
    _, reference = NIRReference(graph, dt=SNNTORCH_DT, spike="per_step").run({"input": x}, steps)
    for o, r in zip(ours, reference.values()):
        np.testing.assert_array_equal(np.rint(o), r)


def test_a_norse_export_runs_in_spikec():
    pytest.importorskip("norse")
    dt = 1e-3
    net, graph = norse_two_layer(dt=dt)
    x = np.random.default_rng(13).uniform(0, 1, 8)
    theirs = list(run_norse_module(net, x, 500).values())
    ours = _spikec_counts(norse_tau_fix(graph, dt), x, 500, dt)
    rows = compare({f"layer{i}": o for i, o in enumerate(ours)}, {f"layer{i}": t for i, t in enumerate(theirs)})
    assert all(r["spikec"] > 30 for r in rows.values()), rows
    assert matches(rows), rows



def test_lif_target_filter_bank_runs_in_snntorch():
    """A filter bank compiled with target="lif" (refractory-free units: NIR's LIF) runs in snnTorch: its NEF
    integrators load as snnTorch's recurrent layers.  Oracle for the framework: the reference NIR simulator of
    the same graph, spike counts per population (correlation >= 0.95, totals within 5%).  Against spikec's own run
    the decoded output (20 ms readout) stays within 12% NRMSE over the last half second (measured: 5.9% at 1 s,
    the reference 5.2%: the NEF biases enter as a current through each population's synapse, which snnTorch needs
    and which starts at 0)."""
    pytest.importorskip("snntorch")
    import math

    u = np.array([0.5, -0.3])
    prog = spikec.compile(filter_bank, target="lif", n_neurons=50,
                          neuron_type=spikec.LIF(tau_ref=0, min_voltage=-math.inf)).trace(u)
    rows, errors = lif_program_in_snntorch(prog, u, 10000)
    print(rows, errors)
    assert len(rows) == 3 and matches(rows), rows
    assert errors["snntorch"] < 0.12 and errors["reference"] < 0.12, errors


def test_lif_target_inverse_runs_in_snntorch():
    """The 2x2 gradient-descent inverse compiled with target="lif" runs in snnTorch: every population reads all
    its inputs through one lowpass (one CubaLIF each, no LI node), and its integrator, on the program's loop,
    loads as a flat self-loop.  Oracle for the framework: the reference NIR simulator, spike counts per population
    (correlation >= 0.95, totals within 5%); the decoded output within 5% NRMSE of spikec's own run over the last
    half second (measured: 1.9%, the reference 2.0%)."""
    pytest.importorskip("snntorch")
    import math
    import sys
    import warnings
    from pathlib import Path

    from spikec.passes import DEFAULT_PIPELINE

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from matrix_inversion import inverse

    A = np.random.RandomState(0).randn(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spikec.RangeWarning)
        prog = spikec.compile(inverse.fn, target="lif", passes=[p for p in DEFAULT_PIPELINE if p != "hoist_gram"],
                              neuron_type=spikec.LIF(tau_ref=0, min_voltage=-math.inf)).trace(A, dt=0.01)
        rows, errors = lif_program_in_snntorch(prog, A, 10000)
    kinds = {type(n).__name__ for n in prog.to_nir(refractory="drop").nodes.values()}
    assert "LI" not in kinds and "CubaLIF" in kinds, kinds
    assert len(rows) == 3 and matches(rows), rows
    assert errors["snntorch"] < 0.05 and errors["reference"] < 0.05, errors
