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

Usage: python benchmarks/build_scaling.py [--sizes 2 5 10 20 30] [--sim-time 0.1] [--plot PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import time

import numpy as np

import spikec


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 10, 20, 30])
    parser.add_argument("--sim-time", type=float, default=0.1, help="seconds simulated on nengo (default 0.1)")
    parser.add_argument("--plot", metavar="PATH", help="save a plot of seconds per stage against n")
    args = parser.parse_args(argv)
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
