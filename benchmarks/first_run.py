"""Time to first result: a fresh process's wall time to its first answer, per back end.

What a user who runs a program once waits for: start Python, ``import spikec``,
trace, lower, compile and simulate 1 s (spiking, dt = 1 ms).  Every number is a
new process (``subprocess``), one thread each, back ends interleaved:

* **first run**: the n x n inverse (``examples/matrix_inversion.py``'s
  ``inverse``, with the stable step of ``benchmarks/simulator_throughput.py``)
  for n = 2, 5, 20, and the random 10k LIF network of
  ``benchmarks/simulator_throughput.py``, on jax, numpy and nengo; jax twice:
  a *cold* process whose persistent compilation cache (``SPIKEC_JAX_CACHE``)
  is a fresh empty folder, then a *warm* process reading that folder;
* **new t**: in the same process, a second run with ``t = 2 s`` after the
  first (jax reuses its compiled chunks);
* **lowering**: trace + lower time and the process's peak memory for the
  n x n inverse, n = 10, 30, 100;
* **sharded batches**: throughput of a batch of 5x5 inverses over 1, 2 and 4
  CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``,
  ``prog.run(batch=True, devices=k)``), in float64, where the sharded
  result must equal the one-device result bit for bit.

Usage::

    python benchmarks/first_run.py                      # everything, ~5 minutes on 2 cores
    python benchmarks/first_run.py --quick              # a smoke run: 2x2 only, t = 0.05 s
    python benchmarks/first_run.py --save benchmarks/results/first_run   # .txt and .png

The table shows wall seconds from ``subprocess`` start to the first result, the
ratio to nengo's, and the cold/warm ratio of jax.  spikec's modules (and the
example and benchmark modules the children import) are byte-compiled before
the first child, as an installed package is: without it, a machine that sets
``PYTHONDONTWRITEBYTECODE`` compiles spikec's sources in every process, about
0.1 s that no user waits for.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("nengo", "numpy", "jax")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
              "MPLBACKEND": "Agg"}
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


# ------------------------------------------------------------------------------ child side


def _inverse_program(n: int):
    """The quick-start program (examples/matrix_inversion.py ``inverse``) on a well-conditioned ``A``, stable step."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "examples"))
    from matrix_inversion import inverse

    A = np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(0).randn(n, n)
    return inverse.trace(A, dt=0.02 / np.linalg.norm(A, 2) ** 2), A


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def child_first(workload: str, backend: str, t: float, again: float | None) -> dict:
    """Build and run ``workload`` once on ``backend``; with ``again``, a second run of ``again`` seconds."""
    t0 = time.perf_counter()
    import spikec  # noqa: F401

    imported = time.perf_counter()
    options = {"mode": "spiking", "seed": 0, "progress": False, "dt": 1e-3}
    if workload.startswith("inv"):
        prog, _ = _inverse_program(int(workload[3:]))

        def run(seconds):
            return prog.run(t=seconds, backend=backend, **options)
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from simulator_throughput import random_workload

        _, net, inputs, _, _ = random_workload(int(workload[6:]) * 1000)

        def run(seconds):
            return get_backend(backend).run(net, inputs, t=seconds, **options)
    built = time.perf_counter()
    from spikec.backends import get_backend

    get_backend(backend)  # the back end's own imports (jax: ~1 s), timed apart from the run
    loaded = time.perf_counter()
    res = run(t)
    done = time.perf_counter()
    # Wall time from the parent's spawn to this first result: interpreter start-up included, exit and the
    # second run excluded.
    first = time.time() - float(os.environ["SPIKEC_BENCH_SPAWNED"])
    out = {"first_s": first, "import_s": imported - t0, "build_s": built - imported,
           "backend_s": loaded - built, "run_s": done - loaded,
           "steps": len(res.t), "peak_mb": _peak_mb()}
    if again:
        start = time.perf_counter()
        res2 = run(again)
        out.update(again_s=time.perf_counter() - start, again_steps=len(res2.t))
    return out


def child_lower(n: int) -> dict:
    """Trace and lower the n x n inverse; time and peak memory."""
    base = _peak_mb()
    start = time.perf_counter()
    import spikec  # noqa: F401

    prog, _ = _inverse_program(n)
    net = prog.lower(**prog.mode_options("spiking", {"dt": 1e-3, "seed": 0}))
    stats = net.stats()
    return {"lower_s": time.perf_counter() - start, "peak_mb": _peak_mb(), "base_mb": base,
            "neurons": stats.neurons, "weights": stats.nonzero_weights}


def child_shard(n: int, batch: int, t: float, devices: list[int]) -> dict:
    """Batched runs of the n x n inverse over ``k`` devices: best of two warm runs, elements x steps / s."""
    import jax
    import numpy as np

    prog, _ = _inverse_program(n)
    mats = np.stack([np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(b + 1).randn(n, n) for b in range(batch)])
    # float64: in float32 another device count changes XLA's summation order (about 1e-7 in rate mode,
    # 1e-4 spiking), so bit-for-bit equality is a float64 property.
    options = {"mode": "spiking", "seed": 0, "progress": False, "backend": "jax", "batch": True,
               "on_range": "ignore", "dtype": "float64"}
    rows = {}
    reference = None
    for k in devices:
        if k > len(jax.devices()):
            continue
        first = time.perf_counter()
        res = prog.run(mats, t=t, devices=k, **options)
        compile_s = time.perf_counter() - first
        times = []
        for _ in range(2):
            start = time.perf_counter()
            res = prog.run(mats, t=t, devices=k, **options)
            times.append(time.perf_counter() - start)
        reference = res.output if reference is None else reference
        rows[k] = {"first_s": compile_s, "run_s": min(times), "rate": batch * len(res.t) / min(times),
                   "same": bool(np.array_equal(np.asarray(res.output), np.asarray(reference)))}
    return {"devices": rows, "platform": str(jax.devices()[0].platform)}


# ----------------------------------------------------------------------------- parent side


def spawn(args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> tuple[float, dict]:
    """Run this file as a child; (wall seconds from spawn to its first result, or to its exit; the child's JSON)."""
    full = dict(os.environ)
    full.update(ONE_THREAD)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH", "")]))
    full.update(env or {})
    start = time.perf_counter()
    full["SPIKEC_BENCH_SPAWNED"] = repr(time.time())
    proc = subprocess.run([sys.executable, __file__, "--child", *args], env=full, capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return info.get("first_s", wall), info


def first_runs(workloads, t: float, again: float, repeats: int):
    """Interleaved fresh processes: per workload and repeat, nengo, numpy, jax cold, jax warm."""
    rows = {}
    for rep in range(repeats):
        for w in workloads:
            for backend in BACKENDS:
                if backend == "jax":
                    with tempfile.TemporaryDirectory(prefix="spikec-jax-cache-") as cache:
                        env = {"SPIKEC_JAX_CACHE": cache, "XLA_FLAGS": XLA_ONE_THREAD}
                        for label in ("jax cold", "jax warm"):
                            wall, info = spawn(["first", w, backend, str(t), str(again)], env)
                            rows.setdefault((w, label), []).append((wall, info))
                            print(f"  [{rep}] {w:<9} {label:<9} {wall:7.2f} s  {_phases(info)}", flush=True)
                else:
                    wall, info = spawn(["first", w, backend, str(t), str(again)])
                    rows.setdefault((w, backend), []).append((wall, info))
                    print(f"  [{rep}] {w:<9} {backend:<9} {wall:7.2f} s  {_phases(info)}", flush=True)
    return rows


def _phases(info: dict) -> str:
    text = (f"(import {info['import_s']:.2f}, build {info['build_s']:.2f}, back end {info['backend_s']:.2f}, "
            f"run {info['run_s']:.2f}")
    if "again_s" in info:
        text += f"; new t {info['again_s']:.2f}"
    return text + ")"


def _best(samples):
    """The fastest repeat (least disturbed by the other processes on the machine)."""
    return min(samples, key=lambda s: s[0])


def first_table(rows, workloads, t: float, again: float) -> str:
    head = ("| program | back end | first result (s) | vs nengo | "
            "import spikec / trace or build / import back end / lower, compile, run (s) | "
            f"new t = {again:g} s in-process (s) |")
    lines = [head, "|---|---|---:|---:|---|---:|"]
    for w in workloads:
        nengo = _best(rows[(w, "nengo")])[0] if (w, "nengo") in rows else float("nan")
        for label in ("nengo", "numpy", "jax cold", "jax warm"):
            if (w, label) not in rows:
                continue
            wall, info = _best(rows[(w, label)])
            extra = ""
            if label == "jax warm" and (w, "jax cold") in rows:
                extra = f" (cold/warm {_best(rows[(w, 'jax cold')])[0] / wall:.1f}x)"
            lines.append(f"| {_name(w)} | {label}{extra} | {wall:.2f} | {wall / nengo:.2f} | "
                         f"{info['import_s']:.2f} / {info['build_s']:.2f} / {info['backend_s']:.2f} / "
                         f"{info['run_s']:.2f} | "
                         f"{info.get('again_s', float('nan')):.2f} |")
    return "\n".join(lines)


def _name(w: str) -> str:
    return f"inverse {w[3:]}x{w[3:]}" if w.startswith("inv") else f"random LIF {w[6:]}k"


def lower_table(sizes, limit: float) -> tuple[str, list]:
    lines = ["| n | neurons | nonzero weights | trace + lower (s) | peak memory (MB) |", "|---:|---:|---:|---:|---:|"]
    data = []
    for n in sizes:
        try:
            _, info = spawn(["lower", str(n)], timeout=limit)
        except subprocess.TimeoutExpired:
            lines.append(f"| {n} | | | over {limit:g} (stopped) | |")
            print(f"  lower n={n}: over {limit:g} s, stopped", flush=True)
            continue
        data.append((n, info))
        lines.append(f"| {n} | {info['neurons']:,} | {info['weights']:,} | {info['lower_s']:.2f} | "
                     f"{info['peak_mb']:.0f} |")
        print(f"  lower n={n}: {info['lower_s']:.2f} s, peak {info['peak_mb']:.0f} MB", flush=True)
    return "\n".join(lines), data


def shard_table(n: int, batch: int, t: float) -> tuple[str, dict]:
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "SPIKEC_JAX_CACHE": "0"}
    _, info = spawn(["shard", str(n), str(batch), str(t)], env)
    rows = info["devices"]
    one = rows["1"]["rate"]
    lines = ["| devices | first run (s) | warm run (s) | element-steps / s | speed-up | equal to 1 device |",
             "|---:|---:|---:|---:|---:|---|"]
    for k, r in rows.items():
        lines.append(f"| {k} | {r['first_s']:.2f} | {r['run_s']:.3f} | {r['rate']:,.0f} | {r['rate'] / one:.2f}x | "
                     f"{'yes' if r['same'] else 'NO'} |")
    return "\n".join(lines), rows


def plot(rows, workloads, lowers, shards, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    labels = ("nengo", "numpy", "jax cold", "jax warm")
    x = np.arange(len(workloads))
    for i, label in enumerate(labels):
        values = [_best(rows[(w, label)])[0] if (w, label) in rows else np.nan for w in workloads]
        axes[0].bar(x + (i - 1.5) * 0.2, values, 0.2, label=label)
    axes[0].set_xticks(x, [_name(w).replace(" ", "\n", 1) for w in workloads])
    axes[0].set_ylabel("fresh process to first result (s)")
    axes[0].set_title("time to first result, 1 s simulated")
    axes[0].legend()
    if lowers:
        ns = [n for n, _ in lowers]
        axes[1].plot(ns, [i["lower_s"] for _, i in lowers], "o-", label="trace + lower (s)")
        ax2 = axes[1].twinx()
        ax2.plot(ns, [i["peak_mb"] for _, i in lowers], "s--", color="C1", label="peak MB")
        ax2.set_ylabel("peak memory (MB), dashed")
        axes[1].set_xlabel("n (n x n inverse)")
        axes[1].set_ylabel("seconds")
        axes[1].set_title("lowering")
    if shards:
        ks = [int(k) for k in shards]
        axes[2].bar([str(k) for k in ks], [shards[str(k)]["rate"] for k in ks])
        axes[2].set_xlabel("CPU devices")
        axes[2].set_ylabel("element-steps / s")
        axes[2].set_title("sharded batch throughput")
    fig.suptitle(f"spikec time to first result, {datetime.date.today()}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def byte_compile() -> None:
    """Write the bytecode of spikec and of the modules the children import (``__pycache__``, ignored by git)."""
    compileall.compile_dir(ROOT / "spikec", quiet=1)
    for module in (ROOT / "examples" / "matrix_inversion.py", ROOT / "benchmarks" / "simulator_throughput.py"):
        compileall.compile_file(module, quiet=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2x2 only, t = 0.05 s, small lowering")
    parser.add_argument("--workloads", default="inv2,inv5,inv20,random10", help="invN, randomK (K thousand neurons)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats (the fastest is reported)")
    parser.add_argument("--lower-sizes", default="10,30,100")
    parser.add_argument("--lower-limit", type=float, default=60.0, help="stop a lowering after this many seconds")
    parser.add_argument("--shard-batch", type=int, default=16, help="batch of 5x5 inverses for the sharding rows")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: first, lower, shard")
    parser.add_argument("--save", default=None, help="write PREFIX.txt and PREFIX.png")
    args = parser.parse_args(argv)
    t, again = (0.05, 0.1) if args.quick else (1.0, 2.0)
    workloads = ["inv2"] if args.quick else [w.strip() for w in args.workloads.split(",") if w.strip()]
    sizes = [5] if args.quick else [int(s) for s in args.lower_sizes.split(",") if s.strip()]
    skip = set(args.skip.split(","))

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    header = (f"spikec time to first result; {datetime.date.today()}; {cpu}, {os.cpu_count()} cores, "
              f"one thread per process; Python {platform.python_version()}; "
              f"load average at start {os.getloadavg()[0]:.2f}\n"
              f"command: python benchmarks/first_run.py {' '.join(argv if argv is not None else sys.argv[1:])}\n"
              f"spiking, dt = 1 ms, {t:g} s simulated; every row a fresh process; spikec byte-compiled first")
    print(header, flush=True)
    byte_compile()
    sections = [header]
    rows, lowers, shards = {}, [], {}
    if "first" not in skip:
        rows = first_runs(workloads, t, again, args.repeats)
        sections.append(first_table(rows, workloads, t, again))
    if "lower" not in skip:
        text, lowers = lower_table(sizes, args.lower_limit)
        sections.append("Lowering (fresh process: import, trace, lower):\n\n" + text)
    if "shard" not in skip:
        text, shards = shard_table(5, 4 if args.quick else args.shard_batch, t)
        sections.append(f"Sharded batch: {4 if args.quick else args.shard_batch} 5x5 inverses, {t:g} s, float64, "
                        f"XLA_FLAGS=--xla_force_host_platform_device_count=4:\n\n" + text)
    report = "\n\n".join(sections)
    print("\n" + report)
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save + ".txt").write_text(report + "\n")
        plot(rows, workloads, lowers, shards, args.save + ".png")
        print(f"wrote {args.save}.txt and {args.save}.png")
    return 0


def child_main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "first":
        w, backend, t, again = rest
        out = child_first(w, backend, float(t), float(again) or None)
    elif kind == "lower":
        out = child_lower(int(rest[0]))
    elif kind == "shard":
        n, batch, t = rest
        out = child_shard(int(n), int(batch), float(t), [1, 2, 4])
    else:
        raise SystemExit(f"unknown child {kind!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())
