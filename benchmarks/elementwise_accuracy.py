"""Accuracy of every elementwise function's default lowering, over its domain, at held-out points.

For each elementwise op in spikec's registry (and the nonlinear compositions
users reach for: a product, a quotient, ``np.max``, ``np.linalg.norm``) a
program of ``--points`` independent elements is traced on a
``spikec.Input(range=domain)``, so each element's unit is tuned to the whole
domain with the default lowering (50 LIF neurons per element unless the
rule says otherwise, seed 0, dt = 1 ms).  It is then run with each element
held at one *held-out* point: the midpoints of an even grid over the domain,
shuffled, which the tuning never sees (the lowering samples its own
evaluation points).  Reported: neurons per element, and the NRMSE
(``spikec.tools.metrics.nrmse``: RMS error / RMS of the true values) of

* **rate**: the rate-mode output (units are instantaneous: the last step);
* **spiking**: the spiking-mode output averaged over the last ``--window``
  seconds of a ``--t`` second run (5 ms unit synapses, as ``prog.run`` does).

Usage::

    python benchmarks/elementwise_accuracy.py                   # every op, ~2 minutes on one core
    python benchmarks/elementwise_accuracy.py --ops exp,arccosh --points 16
    python benchmarks/elementwise_accuracy.py --save benchmarks/results/elementwise_accuracy   # .txt, .png
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import spikec
from spikec.ir.registry import all_ops
from spikec.tools.bench import machine_header
from spikec.tools.metrics import nrmse


@dataclass(frozen=True)
class Case:
    """What is measured: ``fn`` of ``arity`` inputs, each element in ``domain``; ``size`` values per element."""

    fn: Callable
    domain: tuple[float, float]
    arity: int = 1
    size: int = 1  # values per element (a reduction's operand)
    op: str | None = None  # the registered op it exercises (None: a composition)


# One entry per registered elementwise op (checked below), on the domain a user would tune it to; then the
# compositions.  Domains end where the function stops being finite (sqrt, log at 0: the lowering keeps the
# margin inside the domain, so those start at a small positive value as a user's data would).
CASES: dict[str, Case] = {
    "square": Case(np.square, (-1.0, 1.0), op="square"),
    "sqrt": Case(np.sqrt, (0.05, 1.0), op="sqrt"),
    "power (x**3)": Case(lambda x: x ** 3, (-1.0, 1.0), op="power"),
    "reciprocal (1/x)": Case(lambda x: 1.0 / x, (0.2, 2.0), op="reciprocal"),
    "exp": Case(np.exp, (-1.0, 1.0), op="exp"),
    "log": Case(np.log, (0.1, 2.0), op="log"),
    "sin": Case(np.sin, (-np.pi, np.pi), op="sin"),
    "cos": Case(np.cos, (-np.pi, np.pi), op="cos"),
    "tanh": Case(np.tanh, (-2.0, 2.0), op="tanh"),
    "arctan": Case(np.arctan, (-2.0, 2.0), op="arctan"),
    "arcsin": Case(np.arcsin, (-1.0, 1.0), op="arcsin"),
    "arccos": Case(np.arccos, (-1.0, 1.0), op="arccos"),
    "arcsinh": Case(np.arcsinh, (-2.0, 2.0), op="arcsinh"),
    "arccosh": Case(np.arccosh, (1.0, 3.0), op="arccosh"),
    "arctanh": Case(np.arctanh, (-0.9, 0.9), op="arctanh"),
    "abs": Case(np.abs, (-1.0, 1.0), op="abs"),
    "relu (np.maximum(x, 0))": Case(lambda x: np.maximum(x, 0.0), (-1.0, 1.0), op="relu"),
    "clip": Case(lambda x: np.clip(x, -0.5, 0.5), (-1.0, 1.0), op="clip"),
    "heaviside (x > 0)": Case(lambda x: x > 0, (-1.0, 1.0), op="heaviside"),
    "product x * y": Case(lambda x, y: x * y, (-1.0, 1.0), arity=2, op="mul"),
    "quotient x / y": Case(lambda x, y: x / y, (0.2, 1.0), arity=2, op="div"),
    "max of 4": Case(lambda x: np.max(x, axis=-1), (-1.0, 1.0), size=4),
    "norm of 3": Case(lambda x: np.linalg.norm(x, axis=-1), (-1.0, 1.0), size=3),
}


def uncovered_ops() -> list[str]:
    """Registered elementwise ops that no case measures (the benchmark says so rather than skipping them)."""
    covered = {c.op for c in CASES.values()}
    return sorted(name for name, op in all_ops().items() if op.elementwise and name not in covered)


def held_out(domain: tuple[float, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` midpoints of an even grid over ``domain``, shuffled."""
    lo, hi = domain
    return rng.permutation(lo + (hi - lo) * (np.arange(n) + 0.5) / n)


def measure(name: str, case: Case, points: int, t: float, window: float) -> dict:
    rng = np.random.default_rng(12345)
    shape = (points, case.size) if case.size > 1 else (points,)
    values = [held_out(case.domain, int(np.prod(shape)), rng).reshape(shape) for _ in range(case.arity)]
    inputs = [spikec.Input(shape, value=v, range=case.domain) for v in values]
    prog = spikec.compile(case.fn, name=name.split()[0]).trace(*inputs)
    want = np.asarray(case.fn(*values), dtype=np.float64)
    start = time.perf_counter()
    rate = prog.run(t=0.02, mode="rate", on_range="ignore").output[-1]
    spiking = prog.run(t=t, mode="spiking", on_range="ignore").output
    steps = max(1, int(round(window / 1e-3)))
    return {
        "case": name, "domain": case.domain, "neurons": prog.stats().neurons / points,
        "rate": float(nrmse(rate, want)), "spiking": float(nrmse(spiking[-steps:].mean(axis=0), want)),
        "seconds": time.perf_counter() - start,
    }


def table(rows: list[dict]) -> str:
    lines = ["| function | domain | neurons per output element | rate NRMSE | spiking NRMSE |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        lo, hi = r["domain"]
        lines.append(f"| {r['case']} | [{lo:.3g}, {hi:.3g}] | {r['neurons']:.0f} | {100 * r['rate']:.2f}% | "
                     f"{100 * r['spiking']:.2f}% |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["case"] for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    ax.barh(y - 0.2, [100 * r["rate"] for r in rows], height=0.4, label="rate")
    ax.barh(y + 0.2, [100 * r["spiking"] for r in rows], height=0.4, label="spiking")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("NRMSE at held-out points (%); parabola units (square, product) are exact in rate mode")
    ax.legend()
    ax.set_title("Default lowering of each function over its domain")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default="", help="comma list of case names (their first word); default: all")
    parser.add_argument("--points", type=int, default=32, help="held-out points (independent elements) per case")
    parser.add_argument("--t", type=float, default=1.0, help="spiking run length (s)")
    parser.add_argument("--window", type=float, default=0.5, help="spiking readout: mean over the last WINDOW s")
    parser.add_argument("--save", default=None, help="write PREFIX.txt and PREFIX.png")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.ops.split(",") if w.strip()}
    cases = {k: c for k, c in CASES.items() if not wanted or k.split()[0] in wanted}
    header = "\n".join([*machine_header("spikec elementwise accuracy", argv, script=__file__),
                         f"{args.points} held-out points per function, default lowering (seed 0, dt = 1 ms); "
                         f"rate: last step; spiking: mean of the last {args.window:g} s of {args.t:g} s"])
    print(header, flush=True)
    rows = []
    for name, case in cases.items():
        rows.append(measure(name, case, args.points, args.t, args.window))
        r = rows[-1]
        print(f"  {name}: rate {100 * r['rate']:.2f}%, spiking {100 * r['spiking']:.2f}% ({r['seconds']:.1f} s)",
              flush=True)
    missing = uncovered_ops()
    report = header + "\n\n" + table(rows)
    if missing:
        report += "\n\nRegistered elementwise ops without a case: " + ", ".join(missing)
    print("\n" + report)
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save + ".txt").write_text(report + "\n")
        plot(rows, args.save + ".png")
        print(f"wrote {args.save}.txt and {args.save}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
