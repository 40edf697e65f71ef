"""Products of time-varying signals: error and spikes of each way spikec can lower ``x * y``.

``x * y`` for two elements, traced on constants inside the declared domain
``[-1, 1]`` per input, run spiking (numpy back end, dt = 1 ms) on sines
(x = [sin 2 Hz, 0.8 sin 0.7 Hz], y = [cos 2 Hz, 0.6 cos 1.3 Hz]).  Error:
NRMSE of the output through a 20 ms lowpass against the NumPy product
through the same lowpass, after the first 200 ms; spikes per second of
simulated time.  Every row is a lowering option (``spikec.LowerOptions``)
against the defaults::

    OMP_NUM_THREADS=1 python benchmarks/products.py --plot benchmarks/results/products.png \\
        | tee benchmarks/results/products.txt
"""

from __future__ import annotations

import argparse
import datetime
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import nengo
import numpy as np

import spikec
from spikec.tools.bench import machine_header
from spikec.tools.metrics import nrmse

VARIANTS = [
    ("defaults", {}),
    ("parabola_pairs=False (one neuron per square)", {"parabola_pairs": False}),
    ("parabola_pairs=False, max_rate=2000", {"parabola_pairs": False, "max_rate": 2000.0}),
    ("spike_phase='aligned'", {"spike_phase": "aligned"}),
    ("max_rate=4000", {"max_rate": 4000.0}),
    ("product_radius=1 (pairs at 0)", {"product_radius": 1.0}),
    ("products='nef' (50 LIF per product)", {"products": "nef"}),
]


def x_of(t: float) -> np.ndarray:
    return np.array([np.sin(2 * np.pi * 2 * t), 0.8 * np.sin(2 * np.pi * 0.7 * t + 1)])


def y_of(t: float) -> np.ndarray:
    return np.array([np.cos(2 * np.pi * 2 * t), 0.6 * np.cos(2 * np.pi * 1.3 * t)])


def measure(options: dict, t: float, seed: int) -> dict:
    """NRMSE (20 ms lowpass, after 200 ms), spikes per second and neurons of one lowering."""
    prog = spikec.compile(lambda x, y: x * y).trace(spikec.Input(2, value=[0.5, 0.2], range=(-1, 1)),
                                                    spikec.Input(2, value=[0.3, 0.1], range=(-1, 1)))
    result = prog.run(x_of, y_of, t=t, mode="spiking", backend="numpy", seed=seed, **options)
    ideal = np.array([x_of(s) * y_of(s) for s in result.t])
    lowpass = nengo.Lowpass(0.02)
    skip = int(round(0.2 / result.dt))
    error = nrmse(lowpass.filt(result.output, dt=result.dt, y0=0)[skip:],
                  lowpass.filt(ideal, dt=result.dt, y0=0)[skip:])
    return {"nrmse": float(error), "spikes_per_s": result.info["total_spikes"] / t,
            "neurons": prog.lower(**options).stats().neurons,
            "warned": bool(result.info["range_violations"])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t", type=float, default=2.0, help="seconds simulated (default 2)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per row (default 3: mean of each column)")
    parser.add_argument("--plot", help="save a plot of NRMSE against spikes here")
    args = parser.parse_args(argv)
    print("\n".join(machine_header("spikec products on sines", argv, script=__file__)))
    print(f"x * y of two sines per input element, domain [-1, 1], spiking, {args.t:g} s, seeds 0..{args.seeds - 1}\n")
    print("| lowering | neurons | spikes/s | NRMSE (20 ms lowpass) | range warning |")
    print("|---|---:|---:|---:|---|")
    rows = []
    for name, options in VARIANTS:
        runs = [measure(options, args.t, seed) for seed in range(args.seeds)]
        row = {"name": name, "neurons": runs[0]["neurons"],
               "spikes_per_s": float(np.mean([r["spikes_per_s"] for r in runs])),
               "nrmse": float(np.mean([r["nrmse"] for r in runs])), "warned": any(r["warned"] for r in runs)}
        rows.append(row)
        print(f"| {name} | {row['neurons']} | {row['spikes_per_s']:.0f} | {100 * row['nrmse']:.1f}% | "
              f"{'yes' if row['warned'] else 'no'} |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for row in rows:
            ax.scatter(row["spikes_per_s"], 100 * row["nrmse"])
            ax.annotate(row["name"], (row["spikes_per_s"], 100 * row["nrmse"]), fontsize=7)
        ax.set(xscale="log", yscale="log", xlabel="spikes per second", ylabel="NRMSE (%)",
               title=f"x * y on sines, spiking ({datetime.date.today()})")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
