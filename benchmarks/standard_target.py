"""Compiled programs on standard neurons: ``target="lif"`` against spikec's default (Parabola) lowering.

For the gradient-descent inverse of ``examples/matrix_inversion.py``
(``inverse``, Euler steps) at 2x2 and 5x5 and for a filter bank (two
lowpass filters and a resonator ``lti`` of a 4-element input), each program
is compiled once for its domain (traced on seed 0, ``prog.tune_for`` on 16
calibration draws, RandomState(100..115)) and run in spiking mode on 10
held-out inputs, RandomState(s).randn(...), s = 1..10, for four lowerings:

``parabola``
    spikec's own lowering: Parabola product units with the example's options
    for the domain (``matrix_inversion.DOMAIN``: symmetric pairs, a tenth of
    each calibrated range as radius, 2 ms between product layers), ideal
    state nodes (integrators and filters hold their value exactly, with no
    neurons);
``lif``
    ``target="lif"``: NEF product ensembles and NEF integrators of LIF
    neurons, lowpass synapses only (what NIR and neuromorphic chips run);
``... 8-bit``
    the same with ``weight_bits=8`` (one scale per projection);
``lif no-hoist``
    the inverse on ``target="lif"`` compiled without the ``hoist_gram`` pass
    (the default passes put ``A A^T`` in the loop, whose larger entries widen
    the NEF products' box).

Printed per case: neurons, median and worst final NRMSE over the held-out
inputs (the inverse: its last value through the readout lowpass against
``np.linalg.inv``; the filter bank: its whole trajectory through the readout
lowpass against the ideal NumPy reference's), median spikes per run, and
how many of the 10 diverged (NRMSE above 1).  The inverse's gradient step
per ms is :data:`RATE` for both targets: an NEF loop has a unit synapse in
it (5 ms), which bounds the stable loop gain.

One BLAS thread (set below before NumPy loads).

    python benchmarks/standard_target.py                 # everything (several minutes on 2 cores)
    python benchmarks/standard_target.py --cases inv2,bank
    python benchmarks/standard_target.py --save benchmarks/results/standard_target
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

from matrix_inversion import DOMAIN, inverse

import spikec
from spikec.tools.bench import machine_header
from spikec.tools.metrics import nrmse

CALIBRATION_SEEDS = tuple(range(100, 116))
HELDOUT_SEEDS = tuple(range(1, 11))
#: inverse's gradient step per ms, per size: the NEF loop (5 ms unit synapse) stays stable over the domain
RATE = {2: 0.01, 5: 0.003}
#: simulated seconds per case
T = {"inv2": 2.0, "inv5": 2.5, "bank": 1.0}
LOWERINGS = {
    "parabola": dict(DOMAIN),
    "parabola 8-bit": {**DOMAIN, "weight_bits": 8},
    "lif": {"target": "lif"},
    "lif 8-bit": {"target": "lif", "weight_bits": 8},
    "lif no-hoist": {"target": "lif"},
    "lif 8-bit no-hoist": {"target": "lif", "weight_bits": 8},
}
#: the passes each lowering's program is compiled with (the default pipeline where not named)
NO_HOIST = [p for p in spikec.passes.DEFAULT_PIPELINE if p != "hoist_gram"]
PASSES = {"lif no-hoist": NO_HOIST, "lif 8-bit no-hoist": NO_HOIST}


def filter_bank(u):
    """Two lowpass filters (20 ms, 50 ms) and a resonator (100 rad^2/s^2, damping 10/s) of ``u``."""
    fast = spikec.filter(u, 0.02)
    slow = spikec.filter(u, 0.05)
    resonator = spikec.lti(u[0], (np.array([[0.0, 1.0], [-100.0, -10.0]]), np.array([0.0, 100.0])))
    return fast, slow, resonator


def _program(case: str, passes=None):
    """The compiled program of ``case`` (tuned for its domain), its held-out inputs and a scorer."""
    if case.startswith("inv"):
        n = int(case[3:])
        compiled = inverse if passes is None else spikec.compile(inverse.fn, passes=passes)
        prog = compiled.trace(np.random.RandomState(0).randn(n, n), dt=RATE[n])
        prog.tune_for(*(np.random.RandomState(s).randn(n, n) for s in CALIBRATION_SEEDS))
        held = np.stack([np.random.RandomState(s).randn(n, n) for s in HELDOUT_SEEDS])

        def score(res, k, ideal):
            return float(nrmse(res.outputs[0][k][-1], np.linalg.inv(held[k])))

        return prog, held, score
    prog = spikec.compile(filter_bank).trace(np.random.RandomState(0).randn(4))
    prog.tune_for(*(np.random.RandomState(s).randn(4) for s in CALIBRATION_SEEDS))
    held = np.stack([np.random.RandomState(s).randn(4) for s in HELDOUT_SEEDS])

    def score(res, k, ideal):
        got = np.concatenate([np.reshape(o[k], (len(res.t), -1)) for o in res.outputs], axis=1)
        want = np.concatenate([np.reshape(o[k], (len(ideal.t), -1)) for o in ideal.outputs], axis=1)
        return float(nrmse(got, want))

    return prog, held, score


def run_case(case: str, backend: str, readout: float) -> list[dict]:
    """One row per lowering of ``case``."""
    prog, held, score = _program(case)
    t = T[case]
    ideal = prog.run(held, batch=True, t=t, mode="ideal", synapse=readout)
    rows = []
    for name, options in LOWERINGS.items():
        if name in PASSES and not case.startswith("inv"):
            continue  # hoist_gram changes nothing in the filter bank
        if name in PASSES:
            prog = _program(case, PASSES[name])[0]
        start = time.perf_counter()
        net = prog.lower(**options)
        build = time.perf_counter() - start
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # range warnings: the NRMSE is what is reported
            res = prog.run(held, batch=True, t=t, backend=backend, mode="spiking", synapse=readout, **options)
        wall = time.perf_counter() - start
        finals = [score(res, k, ideal) for k in range(len(held))]
        finals = [f if np.isfinite(f) else np.inf for f in finals]
        spikes = [float(res.spikes[k][-1]) for k in range(len(held))]
        rows.append({"case": case, "lowering": name, "neurons": net.stats().neurons,
                     "median": float(np.median(finals)), "worst": float(np.max(finals)), "finals": finals,
                     "diverged": int(sum(not f <= 1.0 for f in finals)), "spikes": float(np.median(spikes)),
                     "build": build, "wall": wall})
        print(_line(rows[-1]), flush=True)
    return rows


HEADER = (f"{'case':<6} {'lowering':<18} {'neurons':>8} {'median NRMSE':>13} {'worst':>9} {'diverged':>9} "
          f"{'spikes/run':>11} {'build s':>8} {'run s':>7}")


def _line(r: dict) -> str:
    return (f"{r['case']:<6} {r['lowering']:<18} {r['neurons']:>8,} {r['median']:>13.2%} {r['worst']:>9.2%} "
            f"{r['diverged']:>6}/10 {r['spikes']:>11,.0f} {r['build']:>8.1f} {r['wall']:>7.1f}")


def plot(rows: list[dict], path: str) -> None:
    """Final NRMSE per held-out input, one panel per case, one column of points per lowering."""
    import matplotlib.pyplot as plt

    cases = sorted({r["case"] for r in rows}, key=[r["case"] for r in rows].index)
    fig, axes = plt.subplots(1, len(cases), figsize=(4.5 * len(cases), 4), squeeze=False)
    for ax, case in zip(axes[0], cases):
        mine = [r for r in rows if r["case"] == case]
        for i, r in enumerate(mine):
            finals = np.minimum(np.asarray(r["finals"]), 10.0)
            ax.scatter(np.full(len(finals), i), np.maximum(finals, 1e-6), s=14)
        ax.set_xticks(range(len(mine)), [r["lowering"] for r in mine], rotation=30)
        ax.set_yscale("log")
        ax.set_title(case)
        ax.set_ylabel("final NRMSE (held-out inputs)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="inv2,inv5,bank", help="comma-separated: inv2, inv5, bank")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--readout", type=float, default=0.02, help="readout lowpass (s)")
    parser.add_argument("--save", default=None, help="path prefix for .txt and .png results")
    args = parser.parse_args(argv)
    print(HEADER)
    rows = []
    for case in args.cases.split(","):
        rows += run_case(case, args.backend, args.readout)
    if args.save:
        os.makedirs(os.path.dirname(args.save) or ".", exist_ok=True)
        with open(args.save + ".txt", "w") as fh:
            fh.write("\n".join(machine_header("spikec lif target", argv, script=__file__, packages=("spikec",)))
                     + "\n"
                     f"backend {args.backend}, mode spiking, one BLAS thread, dt 1 ms, readout lowpass "
                     f"{args.readout * 1e3:g} ms; compiled once per case for the domain (tune_for on "
                     f"RandomState(100..115)), run on held-out RandomState(s), s = 1..10; inverse rate per ms "
                     f"{RATE}; simulated seconds {T}\n\n" + HEADER + "\n" + "\n".join(_line(r) for r in rows) + "\n")
        plot(rows, args.save + ".png")
        print(f"wrote {args.save}.txt and {args.save}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
