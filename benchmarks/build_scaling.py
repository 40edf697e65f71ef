"""Build time versus problem size: the n x n matrix inverse by gradient descent.

For n in 2, 5, 10, 20, 30 this traces the foundation example, runs the
optimization passes, lowers to a netlist, builds the nengo network and
simulator, and simulates 0.1 s on nengo's reference simulator.  It prints
seconds per stage and the size of what was built.

BLAS and OpenMP run single-threaded (OMP_NUM_THREADS=1 and friends are set
before NumPy loads): on 2-core machines multithreaded BLAS makes nengo's
builder several times slower.

Gyrus on this kind of machine (same algorithm, nengo 4.1 reference simulator):
2x2: 32 ensembles, 32,000 neurons, 12 s to build; 10x10: 4,000 ensembles,
34,322 connections, trace 122 s + make 56 s + build 45 s, 643 s to simulate
2.5 s; 20x20: tracing 960 s, making 565 s, building 615 s, 2.16 s per step.

``--lower-only`` measures lowering alone for large n (default 10, 30, 100):
every n in a fresh process (import, trace, lower for a spiking run at
dt = 1 ms, no neuron limit) on the quick-start program with a stable step
(``examples/matrix_inversion.py`` ``inverse``), printing trace + passes
time, lowering time, how many steps the range measurement simulated, peak
memory and the netlist's size; ``--save PREFIX`` writes ``PREFIX.txt``
(machine, date, command, table) and ``PREFIX.png``.

Usage: python benchmarks/build_scaling.py [--sizes 2 5 10 20 30] [--sim-time 0.1] [--plot PATH]
       python benchmarks/build_scaling.py --lower-only [--sizes 10 30 100] [--save PREFIX]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import spikec
from spikec.tools.bench import machine_header


@spikec.compile
def inverse(A, dt=0.05):
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T

    return spikec.integrate(lambda M: -dt / 1e-3 * gradient(M), x0=np.zeros(A.shape))


def stable_gain(A: np.ndarray, sim_dt: float = 1e-3) -> float:
    """The program's ``dt`` argument, capped so that Euler steps of the gradient flow stay stable.

    The flow's fastest mode has rate ``2 k sigma_max(A)**2`` with ``k = dt / 1e-3``;
    Euler needs ``sim_dt`` times that below 2.  Half of the bound, at most 0.05.
    """
    sigma_max = np.linalg.norm(A, 2)
    return min(0.05, 0.5 * 1e-3 / (sim_dt * sigma_max**2))


def measure(n: int, sim_time: float) -> dict:
    import nengo

    from spikec.backends.nengo.build import build_network, quiet_nengo_build

    A = np.random.RandomState(0).randn(n, n)
    row: dict = {"n": n}
    start = time.perf_counter()
    prog = inverse.trace(A, dt=stable_gain(A))
    row["trace+passes"] = time.perf_counter() - start
    start = time.perf_counter()
    net = prog.netlist
    row["lower"] = time.perf_counter() - start
    start = time.perf_counter()
    model = build_network(net, mode="spiking", seed=0, inputs=[lambda t, a=A: a.ravel()])
    row["make"] = time.perf_counter() - start
    start = time.perf_counter()
    with quiet_nengo_build():
        sim = nengo.Simulator(model.network, dt=1e-3, seed=0, progress_bar=False)
    row["build"] = time.perf_counter() - start
    row["ready"] = row["trace+passes"] + row["lower"] + row["make"] + row["build"]
    start = time.perf_counter()
    with sim:
        sim.run(sim_time, progress_bar=False)
    row["simulate"] = time.perf_counter() - start
    stats = net.stats()
    row.update(populations=stats.populations, projections=stats.projections, neurons=stats.neurons,
               weights=stats.nonzero_weights, ensembles=len(model.network.all_ensembles),
               connections=len(model.network.all_connections))
    return row


def lower_child(n: int) -> dict:
    """Trace and lower the quick-start n x n inverse in this (fresh) process: seconds, range steps, peak memory."""
    import resource

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from matrix_inversion import inverse

    from spikec.lower import ranges

    A = np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(0).randn(n, n)
    start = time.perf_counter()
    prog = spikec.compile(inverse.fn, max_neurons=None).trace(A, dt=0.02 / np.linalg.norm(A, 2) ** 2)
    traced = time.perf_counter()
    net = prog.lower(**prog.mode_options("spiking", {"dt": 1e-3, "seed": 0}))
    lowered = time.perf_counter()
    stats = net.stats()
    return {"n": n, "trace_s": traced - start, "lower_s": lowered - traced,
            "range_steps": getattr(ranges._measure_run, "steps", 0),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "neurons": stats.neurons, "weights": stats.nonzero_weights}


def lower_only(sizes: list[int], save: str | None, argv: list[str] | None = None) -> int:
    """The lowering table: one fresh process per n."""
    lines = ["| n | neurons | nonzero weights | trace + passes (s) | lower (s) | range steps | peak memory (MB) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    rows = []
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--lower-child", str(n)], capture_output=True, text=True,
                              check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        lines.append(f"| {n} | {row['neurons']:,} | {row['weights']:,} | {row['trace_s']:.2f} | {row['lower_s']:.2f} "
                      f"| {row['range_steps']} | {row['peak_mb']:.0f} |")
        print(lines[-1], flush=True)
    header = "\n".join([*machine_header("spikec lowering time", argv, script=__file__),
                         "quick-start n x n inverse, stable step; lowered for a spiking run at dt = 1 ms; "
                         "a fresh process per n\n"])
    text = header + "\n" + "\n".join(lines) + "\n"
    print(text)
    if save:
        Path(save + ".txt").write_text(text)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["trace_s"] for r in rows], "o-", label="trace + passes (s)")
        ax.plot(ns, [r["lower_s"] for r in rows], "o-", label="lower (s)")
        ax.set_xlabel("n (n x n inverse)")
        ax.set_ylabel("seconds")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title("lowering time")
        ax.legend()
        fig.tight_layout()
        fig.savefig(save + ".png", dpi=120)
        print(f"saved {save}.txt and {save}.png")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="n values (default 2 5 10 20 30; with --lower-only 10 30 100)")
    parser.add_argument("--sim-time", type=float, default=0.1, help="seconds simulated on nengo (default 0.1)")
    parser.add_argument("--plot", metavar="PATH", help="save a plot of seconds per stage against n")
    parser.add_argument("--lower-only", action="store_true", help="lowering time and memory, a process per n")
    parser.add_argument("--save", metavar="PREFIX", help="with --lower-only: write PREFIX.txt and PREFIX.png")
    parser.add_argument("--lower-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.lower_child is not None:
        print(json.dumps(lower_child(args.lower_child)))
        return 0
    if args.lower_only:
        return lower_only(args.sizes or [10, 30, 100], args.save, argv)
    args.sizes = args.sizes or [2, 5, 10, 20, 30]
    columns = ["n", "trace+passes", "lower", "make", "build", "ready", "simulate", "neurons", "populations",
               "projections", "weights", "ensembles", "connections"]
    print(f"matrix inverse, nengo {__import__('nengo').__version__} reference simulator, "
          f"{args.sim_time:g} s simulated, one BLAS thread; times in seconds")
    print("  ".join(f"{c:>12}" for c in columns))
    rows = []
    for n in args.sizes:
        row = measure(n, args.sim_time)
        rows.append(row)
        print("  ".join(f"{row[c]:>12.3f}" if isinstance(row[c], float) else f"{row[c]:>12}" for c in columns),
              flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        sizes = [r["n"] for r in rows]
        for stage in ("trace+passes", "lower", "make", "build", "simulate"):
            ax.plot(sizes, [r[stage] for r in rows], "o-", label=stage)
        ax.set_xlabel("n (n x n inverse)")
        ax.set_ylabel("seconds")
        ax.set_yscale("log")
        ax.set_title(f"spikec build scaling ({args.sim_time:g} s simulated)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"saved {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
