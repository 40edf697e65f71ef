"""Time to first result: what ``import spikec`` pulls in, and the first-run benchmark's child process.

A fresh process pays for every module ``import spikec`` loads before its
first answer, so the heavy optional stacks (JAX, TensorFlow / NengoDL,
matplotlib, NIR, optax) must load only when a back end, trainer, exporter or
plot asks for them.  Checked in a fresh interpreter, by module names, not by
timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("jax", "jaxlib", "tensorflow", "nengo_dl", "matplotlib", "nir", "optax", "torch")


def _fresh(code: str, env: dict[str, str] | None = None) -> str:
    full = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_import_spikec_loads_no_heavy_stack():
    code = ("import sys, json, spikec, spikec.neurons\n"
            "from spikec.neurons import LIF, as_neuron_type\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    assert json.loads(_fresh(code).strip().splitlines()[-1]) == []


def test_numpy_run_loads_no_heavy_stack():
    """Tracing, lowering and a spiking run on numpy need none of them either."""
    code = ("import sys, json, numpy as np, spikec\n"
            "@spikec.compile\n"
            "def f(x):\n"
            "    return np.tanh(x) * x\n"
            "prog = f.trace(np.ones(2) * 0.5)\n"
            "prog.run(t=0.01, backend='numpy', mode='spiking', progress=False)\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    assert json.loads(_fresh(code).strip().splitlines()[-1]) == []


@pytest.mark.parametrize("backend", ["numpy", "nengo"])
def test_first_run_child_reports_phases(backend):
    """benchmarks/first_run.py's child: a fresh process's phases, its first result and a run with a new t."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", SPIKEC_BENCH_SPAWNED=repr(time.time()))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "first_run.py"), "--child", "first", "inv2",
                           backend, "0.02", "0.03"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["steps"] == 20 and info["again_steps"] == 30
    assert info["first_s"] >= info["import_s"] + info["build_s"] + info["backend_s"] + info["run_s"]


def test_a_jax_run_compiles_only_its_chunk():
    """Building the simulator runs no eager device op (each would be compiled on first use): one compilation,
    the chunk, counted by JAX's own monitoring events in a fresh process without a persistent cache."""
    pytest.importorskip("jax")
    code = ("import json, warnings, collections, jax, numpy as np, spikec\n"
            "warnings.simplefilter('ignore')\n"
            "events = collections.Counter()\n"
            "jax.monitoring.register_event_duration_secs_listener(lambda e, d, **k: events.update([e]))\n"
            "prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.5, -0.3]), np.array([0.2, 0.4]))\n"
            "prog.run(t=0.05, backend='jax', progress=False)\n"
            "print(json.dumps(events['/jax/core/compile/backend_compile_duration']))")
    assert json.loads(_fresh(code, {"SPIKEC_JAX_CACHE": "0"}).strip().splitlines()[-1]) == 1


def _random_sparse(seed: int, shape=(300, 200), density=0.3):
    import scipy.sparse as sp

    from spikec.netlist import Sparse

    return Sparse.from_scipy(sp.random_array(shape, density=density, rng=np.random.default_rng(seed)))


def _plan_arrays(plan) -> dict:
    return {k: v for k, v in vars(plan).items() if isinstance(v, np.ndarray)}


def test_sparse_plans_are_kept_on_disk(tmp_path, monkeypatch):
    """A large sparse matrix's plan is stored in the plans folder and read back equal (a second process skips
    the NumPy work); another matrix gets its own entry; a damaged entry is built again."""
    pytest.importorskip("jax")
    from spikec.backends.jax import cache, plans

    monkeypatch.setenv(cache.ENV, str(tmp_path))
    monkeypatch.setattr(cache, "PLAN_MIN_NNZ", 100)
    monkeypatch.setattr(cache, "PLAN_MIN_SECONDS", 0.0)
    transform = _random_sparse(0)
    built = plans.choose_plan(transform, np.float32)
    files = list((tmp_path / "plans").iterdir())
    assert len(files) == 1 and built.transform is transform
    again = plans.choose_plan(transform, np.float32)
    assert again is not built and again.transform is transform and again.kind == built.kind
    first, second = _plan_arrays(built), _plan_arrays(again)
    assert first.keys() == second.keys() and first
    assert all(np.array_equal(first[k], second[k]) for k in first)
    x = np.random.default_rng(1).standard_normal((2, 200)).astype(np.float32)
    expected = np.asarray(built.apply(built.prepare(built.raw()), x))
    assert np.array_equal(np.asarray(again.apply(again.prepare(again.raw()), x)), expected)
    np.testing.assert_allclose(expected, x @ transform.to_dense().T, rtol=1e-5, atol=1e-5)
    plans.choose_plan(_random_sparse(2), np.float32)
    assert len(list((tmp_path / "plans").iterdir())) == 2
    files[0].write_bytes(b"not a plan")
    rebuilt = plans.choose_plan(transform, np.float32)
    assert all(np.array_equal(v, _plan_arrays(rebuilt)[k]) for k, v in first.items())
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.plan_dir() is None and plans.choose_plan(transform, np.float32).kind == built.kind


RUN_PROBE = """
import json, warnings, collections, jax, numpy as np, spikec
warnings.simplefilter('ignore')
events = collections.Counter()
jax.monitoring.register_event_duration_secs_listener(lambda e, d, **k: events.update([e]))
prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.5, -0.3]), np.array([0.2, 0.4]))
res = prog.run(t=0.05, backend='jax', progress=False, dtype='float64')
print(json.dumps({'traces': events['/jax/core/compile/jaxpr_trace_duration'], 'out': res.output.tolist(),
                  'spikes': res.spikes.tolist()}))
"""


def test_a_second_process_calls_the_stored_run_without_tracing_it(tmp_path):
    """The first process traces the chunk and stores it (jax.export); the next one only traces the small call
    around the stored module, and gets the same result bit for bit."""
    pytest.importorskip("jax")
    env = {"SPIKEC_JAX_CACHE": str(tmp_path)}
    first = json.loads(_fresh(RUN_PROBE, env).strip().splitlines()[-1])
    assert len(list((tmp_path / "runs").iterdir())) == 1
    second = json.loads(_fresh(RUN_PROBE, env).strip().splitlines()[-1])
    assert second["traces"] < first["traces"]
    assert second["out"] == first["out"] and second["spikes"] == first["spikes"]
    off = json.loads(_fresh(RUN_PROBE, {"SPIKEC_JAX_CACHE": "0"}).strip().splitlines()[-1])
    assert off["out"] == first["out"] and off["spikes"] == first["spikes"]


def test_cache_subfolders_keep_the_newest_entries(tmp_path, monkeypatch):
    pytest.importorskip("jax")
    from spikec.backends.jax import cache, plans

    monkeypatch.setenv(cache.ENV, str(tmp_path))
    monkeypatch.setattr(cache, "PLAN_MIN_NNZ", 100)
    monkeypatch.setattr(cache, "PLAN_MIN_SECONDS", 0.0)
    monkeypatch.setattr(cache, "KEEP", 2)
    for seed in range(4):
        plans.choose_plan(_random_sparse(seed), np.float32)
    assert len(list((tmp_path / "plans").iterdir())) == 2
