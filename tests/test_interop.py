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
    matches,
    norse_tau_fix,
    norse_two_layer,
    run_norse,
    run_norse_module,
    run_snntorch,
    run_snntorch_module,
    snntorch_two_layer,
)
from tests.nir_networks import as_exported, classifier, conv_net, dense_net, lif0, spikec_trains

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
