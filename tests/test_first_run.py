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
