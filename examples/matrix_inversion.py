"""Matrix inversion by gradient descent, compiled to a spiking network.

The estimate ``M`` of ``inv(A)`` follows the gradient of ``||M A - I||²``
continuously in time: ``dM/dt = -(dt / tau) * 2 (M A - I) Aᵀ`` with
``tau = 1 ms``.  spikec traces this recurrence into a graph with an
integrator (the state ``M``) and two matrix products of signals (the
nonlinear units), and runs it on any back end.

Run it::

    python examples/matrix_inversion.py                 # 2x2, numpy back end
    python examples/matrix_inversion.py --n 3 --seed 2 --plot inverse.png
    spikec run examples/matrix_inversion.py --n 3       # the same through the CLI
    spikec graph examples/matrix_inversion.py --arg A=2x2

The script exits with status 1 when the final NRMSE is above ``--max-nrmse``
(5% by default), so it doubles as an end-to-end check.  Importing this file
only defines things; nothing is traced or run.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import spikec

TAU = 1e-3  # the integrator's time scale in the compiled function (seconds)
RATE = 0.05  # ``dt`` of the compiled function: the gradient step per TAU


@spikec.compile
def inverse(A, dt=0.05):
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T
    return spikec.integrate(lambda M: -dt / 1e-3 * gradient(M), x0=np.zeros(A.shape))


def nrmse(estimate: np.ndarray, target: np.ndarray, axis=None) -> np.ndarray:
    """Root-mean-square error of ``estimate`` normalized by the RMS of ``target``.

    ``axis`` selects the axes to average over (all by default), so that
    ``nrmse(trajectory, target, axis=(1, 2))`` gives the error over time.
    """
    rms_error = np.sqrt(np.mean((np.asarray(estimate) - target) ** 2, axis=axis))
    return rms_error / np.sqrt(np.mean(np.asarray(target) ** 2))


def convergence(A: np.ndarray, rate: float = RATE, tau: float = TAU, sim_dt: float = 1e-3) -> tuple[float, bool]:
    """Time constant of the slowest error mode, and whether Euler steps of ``sim_dt`` are stable.

    The error ``E = M - inv(A)`` obeys ``dE/dt = -k E A Aᵀ`` with
    ``k = 2 rate / tau``, so each eigenvalue ``λ`` of ``A Aᵀ`` decays with time
    constant ``1 / (k λ)``; a forward-Euler step of ``sim_dt`` is stable while
    ``sim_dt k λ_max < 2``.
    """
    k = 2 * rate / tau
    eigenvalues = np.linalg.eigvalsh(A @ A.T)
    return 1.0 / (k * eigenvalues[0]), sim_dt * k * eigenvalues[-1] < 2


def plot(result: spikec.RunResult, truth: np.ndarray, path: str) -> None:
    """Estimate entries over time (solid) against the true inverse (dashed), and NRMSE over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, trajectory = result.t, result.output
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (i, j) in enumerate(np.ndindex(*truth.shape)):
        color = colors[k % len(colors)]
        top.plot(t, trajectory[:, i, j], color=color, label=f"M[{i},{j}]" if truth.size <= 9 else None)
        top.axhline(truth[i, j], color=color, linestyle="--", linewidth=1)
    top.set_ylabel("estimate (dashed: inv(A))")
    top.set_title(f"matrix inversion with spikec, {truth.shape[0]}x{truth.shape[1]} ({result.backend}/{result.mode})")
    if truth.size <= 9:
        top.legend(loc="upper right", fontsize="small", ncol=min(truth.shape[1], 3))
    bottom.semilogy(t, np.maximum(nrmse(trajectory, truth, axis=(1, 2)), 1e-16))
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("NRMSE")
    bottom.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="matrix_inversion.py",
        description="Invert a random matrix with a spiking network compiled by spikec.",
        epilog="examples:\n"
               "  python examples/matrix_inversion.py\n"
               "  python examples/matrix_inversion.py --n 3 --seed 2 -t 2 --plot inverse.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=2, help="matrix size (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random matrix A (default: 0)")
    parser.add_argument("-t", "--time", type=float, default=1.0, help="simulated seconds (default: 1.0)")
    parser.add_argument("--backend", default="numpy",
                        help=f"back end to run on: {', '.join(spikec.available_backends())} (default: numpy)")
    parser.add_argument("--mode", default=None, help="the back end's simulation mode (default: its own default)")
    parser.add_argument("--plot", metavar="PATH", help="save a figure of the estimate converging (PNG, PDF, SVG...)")
    parser.add_argument("--max-nrmse", type=float, default=0.05,
                        help="exit with status 1 when the final NRMSE is above this (default: 0.05)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    A = np.random.RandomState(args.seed).randn(args.n, args.n)
    truth = np.linalg.inv(A)
    time_constant, stable = convergence(A)

    start = time.perf_counter()
    prog = inverse.trace(A)
    trace_time = time.perf_counter() - start
    print("== graph ==")
    print(prog.graph)
    print()
    print("== stats ==")
    print(prog.stats())
    print()

    start = time.perf_counter()
    result = prog.run(t=args.time, backend=args.backend, mode=args.mode, seed=args.seed)
    wall = time.perf_counter() - start
    estimate = result.final
    error = float(nrmse(estimate, truth))

    print("== result ==")
    rows = [
        ("matrix", f"{args.n}x{args.n}, seed {args.seed}, cond(A) = {np.linalg.cond(A):.3g}"),
        ("slowest mode", f"time constant {time_constant * 1e3:.3g} ms"
                         + ("" if stable else " (Euler step UNSTABLE for this A)")),
        ("run", f"{args.time:g} s on {result.backend}/{result.mode}: {len(result.t)} steps of {result.dt * 1e3:g} ms"),
        ("wall time", f"trace {trace_time:.3f} s, run {wall:.3f} s"),
        ("NRMSE", f"{error:.3g}"),
    ]
    if result.spikes is not None and result.spikes.size and result.spikes[-1] > 0:
        rows.append(("spikes", f"{int(result.spikes[-1])} ({result.spikes[-1] / args.time:.3g} per second)"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    with np.printoptions(precision=4, suppress=True):
        print(f"estimate at t={result.t[-1]:g} s:\n{estimate}")
        print(f"np.linalg.inv(A):\n{truth}")
    if args.plot:
        plot(result, truth, args.plot)
        print(f"wrote {args.plot}")
    print(f"final NRMSE: {100 * error:.3g}%")

    if not error <= args.max_nrmse:  # also catches NaN
        why = ("the Euler step is unstable for this A: try a smaller matrix or another --seed" if not stable
               else f"the slowest error mode has time constant {time_constant:.3g} s; try -t {5 * time_constant:.2g}")
        print(f"matrix_inversion: FAILED: NRMSE {100 * error:.3g}% is above {100 * args.max_nrmse:g}% ({why})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
