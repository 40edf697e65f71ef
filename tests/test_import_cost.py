"""What ``import spikec`` loads, and the plain-Python topological order that keeps networkx off the hot path.

The import checks run in a fresh interpreter (this test process has long since
imported everything).  They check behaviour, not time: the heavy packages a
user of the numpy back end never needs stay out of ``sys.modules``, and the
same process still traces, lowers and runs a program.  Timings live in
``benchmarks/first_run.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from spikec.ir.graph import CycleError, topological_order

ROOT = Path(__file__).resolve().parents[1]

# Packages that `import spikec` must not load: back ends, trainers and plotting load them when used.
LAZY = ("nengo", "networkx", "jax", "tensorflow", "torch", "matplotlib", "nengo_dl", "scipy.linalg")

CHILD = """
import json, sys
import numpy as np
import spikec

after_import = sorted(m for m in {lazy!r} if m in sys.modules)
public = [name for name in spikec.__all__ if getattr(spikec, name, None) is None]

@spikec.compile
def program(x):
    y = spikec.filter(np.tanh(2.0 * x) + 0.5, 0.01)  # tanh: lowering builds neurons
    return spikec.integrate(lambda s: y - s, x0=np.zeros(3))

x = np.array([0.2, -0.1, 0.3])
prog = program.trace(x)
ideal = prog.run(x, t=0.2, mode="ideal", progress=False).output
rate = prog.run(x, t=0.2, backend="numpy", mode="rate", seed=0, progress=False).output
print(json.dumps({{"after_import": after_import, "missing_public": public,
                  "ideal": np.asarray(ideal)[-1].tolist(), "rate": np.asarray(rate)[-1].tolist(),
                  "after_run": sorted(m for m in ("jax", "tensorflow", "torch", "matplotlib") if m in sys.modules)}}))
"""


@pytest.fixture(scope="module")
def fresh():
    """The child's report: what ``import spikec`` loaded, and a run's results."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               OMP_NUM_THREADS="1")
    env.pop("MPLBACKEND", None)  # setting a backend does not import matplotlib, but keep the child plain
    proc = subprocess.run([sys.executable, "-c", CHILD.format(lazy=LAZY)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_spikec_leaves_heavy_packages_unloaded(fresh):
    assert fresh["after_import"] == []


def test_every_public_name_is_there(fresh):
    assert fresh["missing_public"] == []


def test_trace_lower_run_on_numpy_in_that_process(fresh):
    # Oracle: the ideal interpreter (NumPy references); the rate-mode network approximates tanh with
    # its tuned neurons, so the two agree to the ensemble's accuracy (about 1e-3 here), not exactly.
    ideal = np.array(fresh["ideal"])
    rate = np.array(fresh["rate"])
    assert np.all(np.isfinite(rate))
    np.testing.assert_allclose(rate, ideal, atol=0.01)
    assert fresh["after_run"] == []  # the numpy back end needs neither jax, a trainer's framework nor plotting


# -- topological_order: the same order as networkx's lexicographical sort -------------------------


def _networkx_order(nodes, edges, key=None):
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return tuple(nx.lexicographical_topological_sort(g, key=key))


@pytest.mark.parametrize("seed", range(40))
def test_topological_order_matches_networkx(seed):
    rng = np.random.RandomState(seed)
    n = int(rng.randint(1, 40))
    labels = [int(v) for v in rng.permutation(100)[:n]]  # listed order differs from the sort key
    edges = []
    for _ in range(int(rng.randint(0, 3 * n))):
        i, j = sorted(rng.randint(0, n, size=2))
        if i != j:
            edges.append((labels[i], labels[j]))  # forward in listed order: acyclic, repeats allowed
    assert topological_order(labels, edges) == _networkx_order(labels, edges)
    key = {v: int(k) for v, k in zip(labels, rng.randint(0, 4, size=n))}  # many ties: broken by listed order
    assert topological_order(labels, edges, key=key.get) == _networkx_order(labels, edges, key=key.get)


def test_topological_order_names_the_cycle_networkx_finds():
    nodes = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")]
    with pytest.raises(CycleError) as info:
        topological_order(nodes, edges)
    g = nx.DiGraph(edges)
    assert info.value.cycle == list(nx.find_cycle(g))
    assert {u for u, _ in info.value.cycle} == {"b", "c"}
