"""The JAX back end compiles once per program structure, in chunks, and keeps what it compiled.

* a new ``t``, new input values, a new seed or another batch of the same size
  compile nothing (counted with JAX's own compilation events);
* running in chunks gives the same bits as one scan over the whole run
  (float64: outputs, spike counts and the guards' records);
* a second process loads the compiled chunk from the persistent cache
  (JAX's own cache-hit events, counted in a subprocess);
* a batch spread over 4 CPU devices equals the run on one device, bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from numpy.testing import assert_array_equal

import spikec
from spikec.backends import get_backend
from spikec.backends.jax import scan as jscan

pytestmark = pytest.mark.filterwarnings("ignore::spikec.RangeWarning")

ROOT = Path(__file__).resolve().parents[1]
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileCounter:
    """Counts XLA compilations (JAX's monitoring event, fired for every backend compile)."""

    def __init__(self):
        self.count = 0
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kwargs):
        if self.active and event == COMPILE_EVENT:
            self.count += 1

    def __enter__(self):
        self.count, self.active = 0, True
        return self

    def __exit__(self, *exc):
        self.active = False


@pytest.fixture(scope="module")
def counter():
    return CompileCounter()


@pytest.fixture(scope="module")
def prog():
    return spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.5, -0.3, 0.8]), np.array([0.2, 0.4, -0.6]))


def wave(phase):
    return lambda t: np.array([np.sin(3 * t + phase), 0.5 * np.cos(5 * t), 0.9 - t])


def test_new_t_inputs_seed_and_batch_compile_nothing(prog, counter):
    jscan.clear_cache()
    first = prog.run(wave(0.0), t=0.6, backend="jax", dtype="float64")
    net = prog.lower(**prog.mode_options("spiking", {}), dt=1e-3, seed=0)
    assert first.info["chunk"] == jscan.CHUNK
    prog.run(np.array([[0.1, 0.2, 0.3]] * 3), np.array([[0.2, 0.4, -0.6]] * 3), batch=True, t=0.3,
             backend="jax", dtype="float64")
    with counter:
        runs = [
            prog.run(wave(0.0), t=1.3, backend="jax", dtype="float64"),  # new t (not a multiple of the chunk)
            prog.run(wave(1.0), t=0.6, backend="jax", dtype="float64"),  # new input values
            # a new seed for the run's noise (prog.run(seed=...) lowers another network: see the test below)
            get_backend("jax").run(net, [wave(0.0), lambda t: np.array([0.2, 0.4, -0.6])], t=0.6, dt=1e-3, seed=7,
                                   dtype="float64"),
            prog.run(np.array([[0.3, -0.2, 0.1]] * 3), np.array([[0.5, 0.1, -0.2]] * 3), batch=True, t=0.45,
                     backend="jax", dtype="float64"),  # another batch of the same size, another t
        ]
    assert counter.count == 0, f"{counter.count} compilations"
    assert [len(r.t) for r in runs] == [1300, 600, 600, 450]
    # Bits: the 0.6 s prefix of the 1.3 s run is the 0.6 s run (deterministic neurons).
    assert_array_equal(runs[0].output[:600], first.output)


@pytest.mark.parametrize("t", [0.37, 1.0, 1.3])
def test_chunks_equal_one_scan(prog, monkeypatch, t):
    """Chunks of CHUNK steps (the last one padded and masked) give the bits of one scan over the run."""
    net = prog.lower(**prog.mode_options("spiking", {}), dt=1e-3, seed=0)
    steps = int(round(t / 1e-3))
    ts = (np.arange(steps) + 1) * 1e-3
    xs = [np.stack([wave(0.0)(s) for s in ts])[:, None, :], np.tile([0.2, 0.4, -0.6], (steps, 1))[:, None, :]]
    jscan.clear_cache()
    chunked = jscan.simulate(net, xs, dtype="float64")
    assert chunked["chunk"] == jscan.CHUNK
    monkeypatch.setattr(jscan, "CHUNK", 10**6)
    jscan.clear_cache()
    whole = jscan.simulate(net, xs, dtype="float64")
    jscan.clear_cache()
    assert whole["chunk"] >= steps
    for a, b in zip(chunked["outputs"], whole["outputs"]):
        assert_array_equal(a, b)
    for name in whole["population_spikes"]:
        assert_array_equal(chunked["population_spikes"][name], whole["population_spikes"][name])
        assert_array_equal(chunked["population_events"][name], whole["population_events"][name])
    jax.tree_util.tree_map(assert_array_equal, chunked["guard_state"], whole["guard_state"])
    assert float(chunked["guard_state"]["k"]) == steps


def test_chunk_lengths():
    assert jscan.chunk_steps(5) == jscan.MIN_CHUNK
    assert jscan.chunk_steps(100) == 128
    assert jscan.chunk_steps(jscan.CHUNK - 1) == jscan.CHUNK  # past the last power of two below CHUNK
    assert jscan.chunk_steps(10_000) == jscan.CHUNK


def _python(code: str, env: dict) -> dict:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


CACHE_PROBE = """
    import json, warnings
    import jax, numpy as np
    import spikec
    hits = []
    jax.monitoring.register_event_listener(lambda e, **k: hits.append(e) if e.endswith("cache_hits") else None)
    warnings.simplefilter("ignore")
    prog = spikec.compile(lambda x: np.tanh(x)).trace(np.array([0.5, -0.3]))
    res = prog.run(t=0.1, backend="jax")
    from spikec.backends.jax import cache
    print(json.dumps({"hits": len(hits), "dir": str(cache.setup()), "out": res.output[-1].tolist()}))
"""


def test_second_process_hits_the_persistent_cache(tmp_path):
    folder = tmp_path / "jaxcache"
    first = _python(CACHE_PROBE, {"SPIKEC_JAX_CACHE": str(folder)})
    assert first["dir"] == str(folder) and any(folder.iterdir())
    second = _python(CACHE_PROBE, {"SPIKEC_JAX_CACHE": str(folder)})
    assert second["hits"] >= 1 and second["hits"] > first["hits"]
    assert second["out"] == first["out"]
    off = _python(CACHE_PROBE, {"SPIKEC_JAX_CACHE": "off"})
    assert off["dir"] == "None" and off["hits"] == 0


SHARD_PROBE = """
    import json, warnings
    import jax, numpy as np
    import spikec
    warnings.simplefilter("ignore")
    assert len(jax.local_devices()) == 4
    prog = spikec.compile(lambda x, y: np.tanh(x) * y).trace(np.array([0.5, -0.3, 0.8]), np.array([0.2, 0.4, -0.6]))
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(-0.8, 0.8, (5, 3)), rng.uniform(-0.8, 0.8, (5, 3))  # 5 elements: padded to 8
    kw = dict(batch=True, t=0.3, backend="jax", dtype="float64")
    one = prog.run(xs, ys, devices=1, **kw)
    four = prog.run(xs, ys, **kw)
    two = prog.run(xs, ys, devices=jax.local_devices()[:2], **kw)
    same = lambda a, b: bool(np.array_equal(a, b))
    print(json.dumps({
        "devices": [one.info["devices"], four.info["devices"], two.info["devices"]],
        "shape": list(four.output.shape),
        "outputs": same(one.output, four.output) and same(one.output, two.output),
        "max_diff": float(max(np.abs(one.output - four.output).max(), np.abs(one.output - two.output).max())),
        "spikes": same(one.spikes, four.spikes) and same(one.spikes, two.spikes),
        "events": same(one.info["synaptic_events"], four.info["synaptic_events"]),
        "violations": one.info["range_violations"] == four.info["range_violations"],
    }))
"""


def test_sharded_batch_equals_one_device():
    res = _python(SHARD_PROBE, {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "SPIKEC_JAX_CACHE": "0"})
    assert res["devices"] == [1, 4, 2]
    assert res["shape"] == [5, 300, 3]
    # Bit for bit in float64: outputs, spike trains, events and guard records (plans sum in a fixed order).
    assert res["spikes"] and res["events"] and res["violations"], res
    assert res["outputs"] and res["max_diff"] == 0.0, res


def _inverse(n):
    A = np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(0).randn(n, n)
    eye, gain = np.eye(n), 0.02 / np.linalg.norm(A, 2) ** 2

    @spikec.compile
    def inverse(A, dt=gain):
        return spikec.integrate(lambda M: -dt / 1e-3 * 2 * (M @ A - eye) @ A.T, x0=np.zeros(A.shape))

    return inverse.trace(A), A


@pytest.mark.parametrize("which", ["product", "inverse"])
def test_new_seed_reuses_the_compiled_chunk(prog, counter, which):
    """``prog.run(seed=...)`` lowers another network of the same structure: its values are arguments of the
    compiled chunk, so nothing compiles, and the result is the bits of a fresh compile of that network."""
    if which == "product":
        p, args = prog, (wave(0.0), lambda t: np.array([0.2, 0.4, -0.6]))
    else:
        p, A = _inverse(3)
        args = (lambda t: A,)
    kw = dict(t=0.2, backend="jax", dtype="float64")
    jscan.clear_cache()
    first = p.run(*args, seed=0, **kw)
    with counter:
        again = p.run(*args, seed=5, **kw)
    assert counter.count == 0, f"{counter.count} compilations for a new seed"
    jscan.clear_cache()
    fresh = p.run(*args, seed=5, **kw)
    assert_array_equal(again.output, fresh.output)
    assert_array_equal(again.spikes, fresh.spikes)
    assert again.info["range_violations"] == fresh.info["range_violations"]
    assert not np.array_equal(again.output, first.output)  # another network indeed
