"""Interop with other SNN frameworks through NIR: which networks load, and whether they spike the same.

For each framework (snnTorch, Norse) and direction:

* **spikec -> framework**: spikec's dense 20-30-10 LIF net, the README-style classifier (``LIF(amplitude=0.01)``,
  trained gains and biases, exported with ``floor="drop", refractory="drop"``) and a small conv net, written with
  ``prog.to_nir(spike="per_step", dt=1e-4)`` and loaded with the framework's own importer, unmodified;
* **framework -> spikec**: a 2-layer LIF net built and exported by the framework, read with ``spikec.from_nir``;
  for snnTorch also a net with a recurrent ``RSynaptic`` layer (0.4 s).

Both sides run the same input for 0.2 s; a network *matches* when, per layer, the per-neuron spike counts
correlate at >= 0.95 and the totals agree within 5%.

A second table runs programs compiled with ``target="lif"`` (refractory-free units) in snnTorch for 1 s: a filter
bank (NEF integrators, snnTorch's recurrent layers) and the 2x2 gradient-descent inverse.  snnTorch's spikes per
population are compared with the reference NIR simulator's (tests/nir_reference.py) of the same graph, and its
decoded output with spikec's own run (NRMSE over the last half, 20 ms readout).

Also measured: what the classifier's conversion costs (its
spikes with spikec's refractory LIF and voltage floor against the exported LIF without them).

Usage::

    python benchmarks/interop.py                                    # prints the table (about 1 minute)
    python benchmarks/interop.py --save benchmarks/results/interop  # also interop.txt and interop.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEVIATIONS = {
    "snntorch": "fixed 1e-4 s step (tau read for it); Euler; AvgPool2d only; needs r uniform, v_leak = 0 "
                "(bias='current'); CubaLIF only with r = tau_mem/dt (membrane='per_step'); no LI node; its loader "
                "(nirtorch) returns one tensor per edge into Output, takes its state back, builds one Output only",
    "norse": "Euler; SumPool2d only; ignores LIF r (warns)",
    "snntorch->spikec": "needs per-neuron beta/threshold and an unbatched sample to export; reset='zero', "
                        "reset_delay=False to be NIR's LIF; RSynaptic has no NIR reset (zero also clears the "
                        "current, reset_delay=False fails): subtractive, a step late",
    "norse->spikec": "writes tau = tau_true * dt (divided back before import)",
}


def spikec_to_framework(framework: str, make, steps: int):
    import spikec
    from tests import interop_frameworks as fw
    from tests.nir_networks import as_exported, classifier, lif0, spikec_trains

    dt = fw.SNNTORCH_DT
    rng = np.random.default_rng(11)
    lif = spikec.LIF(amplitude=0.01) if make is classifier else lif0()
    f, x = make(rng, lif)
    prog = spikec.compile(f, spike_phase="rest", dt=dt)(x)
    options = {"floor": "drop", "refractory": "drop"} if make is classifier else {}
    graph = prog.to_nir(spike="per_step", dt=dt, pool="avg" if framework == "snntorch" else "sum", **options)
    trains, _ = spikec_trains(as_exported(prog.netlist), x, steps, dt)
    ours = {k: v.sum(axis=0) for k, v in trains.items()}
    theirs = fw.run_snntorch(graph, x, steps) if framework == "snntorch" else fw.run_norse(graph, x, steps, dt)
    extra = {}
    if make is classifier:  # what dropping the floor and the refractory period changes in spikec itself
        original, _ = spikec_trains(prog.netlist, x, steps, dt)
        extra = {k: int(v.sum()) for k, v in original.items()}
    return fw.compare(ours, theirs), extra


def framework_to_spikec(framework: str, steps: int, recurrent: bool = False):
    import spikec
    from tests import interop_frameworks as fw
    from tests.nir_networks import spikec_trains

    if framework == "snntorch" and recurrent:  # slow rates: snnTorch's RSynaptic resets a step late
        dt, steps = fw.SNNTORCH_DT, 2 * steps
        net, graph = fw.snntorch_recurrent()
        x = np.random.default_rng(14).uniform(0, 1, 8)
        theirs = list(fw.run_snntorch_module(net, x, steps).values())
    elif framework == "snntorch":
        dt = fw.SNNTORCH_DT
        net, graph = fw.snntorch_two_layer()
        x = np.random.default_rng(12).uniform(0, 1, 8)
        theirs = list(fw.run_snntorch_module(net, x, steps).values())
    else:
        dt, steps = 1e-3, steps // 4
        net, graph = fw.norse_two_layer(dt=dt)
        x = np.random.default_rng(13).uniform(0, 1, 8)
        theirs = list(fw.run_norse_module(net, x, steps).values())
        graph = fw.norse_tau_fix(graph, dt)
    prog = spikec.from_nir(graph, spike="per_step", dt=dt)
    trains, _ = spikec_trains(prog.netlist, x, steps, dt)
    ours = [v.sum(axis=0) for v in trains.values()]
    return fw.compare({f"layer{i}": o for i, o in enumerate(ours)}, {f"layer{i}": t for i, t in enumerate(theirs)})


def measure(steps: int):
    from tests import interop_frameworks as fw
    from tests.nir_networks import classifier, conv_net, dense_net

    rows = []
    for framework in ("snntorch", "norse"):
        for name, make in (("dense 20-30-10", dense_net), ("README classifier", classifier), ("conv net", conv_net)):
            start = time.perf_counter()
            try:
                layers, extra = spikec_to_framework(framework, make, steps)
                rows.append(dict(framework=framework, direction="spikec -> " + framework, network=name, loads=True,
                                 layers=layers, matches=fw.matches(layers), extra=extra,
                                 seconds=time.perf_counter() - start, deviation=DEVIATIONS[framework]))
            except Exception as exc:  # a failure to load is a result of the table, not an error of the script
                rows.append(dict(framework=framework, direction="spikec -> " + framework, network=name,
                                 loads=False, layers={}, matches=False, extra={}, error=f"{type(exc).__name__}: "
                                 f"{str(exc)[:80]}", seconds=time.perf_counter() - start,
                                 deviation=DEVIATIONS[framework]))
        kinds = [("2-layer LIF", False)] + ([("RSynaptic net", True)] if framework == "snntorch" else [])
        for network, recurrent in kinds:
            start = time.perf_counter()
            key = f"{framework}->spikec"
            try:
                layers = framework_to_spikec(framework, steps, recurrent)
                rows.append(dict(framework=framework, direction=f"{framework} -> spikec", network=network,
                                 loads=True, layers=layers, matches=fw.matches(layers), extra={},
                                 seconds=time.perf_counter() - start, deviation=DEVIATIONS[key]))
            except Exception as exc:
                rows.append(dict(framework=framework, direction=f"{framework} -> spikec", network=network,
                                 loads=False, layers={}, matches=False, extra={},
                                 error=f"{type(exc).__name__}: {str(exc)[:80]}",
                                 seconds=time.perf_counter() - start, deviation=DEVIATIONS[key]))
    return rows


def measure_lif(steps: int):
    """Rows of the second table: programs of the lif target in snnTorch."""
    import math
    import warnings

    import spikec
    from spikec.passes import DEFAULT_PIPELINE
    from tests import interop_frameworks as fw

    sys.path.insert(0, str(ROOT / "examples"))
    from matrix_inversion import inverse

    units = spikec.LIF(tau_ref=0, min_voltage=-math.inf)
    A = np.random.RandomState(0).randn(2, 2)
    cases = (
        ("filter bank", lambda: spikec.compile(fw.filter_bank, target="lif", neuron_type=units), np.array([0.5, -0.3]),
         {}),
        ("2x2 inverse", lambda: spikec.compile(inverse.fn, target="lif", neuron_type=units,
                                              passes=[p for p in DEFAULT_PIPELINE if p != "hoist_gram"]), A,
         {"dt": 0.01}),
    )
    rows = []
    for name, make, x, kwargs in cases:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = make().trace(x, **kwargs)
            try:
                layers, errors = fw.lif_program_in_snntorch(prog, x, steps)
                rows.append(dict(network=name, loads=True, layers=layers, matches=fw.matches(layers), errors=errors,
                                 neurons=prog.netlist.stats().neurons, seconds=time.perf_counter() - start))
            except Exception as exc:  # a failure to load is a result of the table
                rows.append(dict(network=name, loads=False, layers={}, matches=False, errors={},
                                 neurons=prog.netlist.stats().neurons, seconds=time.perf_counter() - start,
                                 error=f"{type(exc).__name__}: {str(exc)[:90]}"))
    return rows


def table_lif(rows) -> str:
    head = (f"{'network (target=lif)':<22} {'neurons':>7} {'loads':>5} {'spikes match':>12} {'min corr':>8} "
            f"{'NRMSE snnTorch':>14} {'NRMSE reference':>15}  spikes per population (reference / snnTorch)")
    lines = [head, "-" * len(head)]
    for r in rows:
        layers = r["layers"]
        corr = min((v["corr"] for v in layers.values()), default=float("nan"))
        e = r["errors"]
        counts = ", ".join(f"{v['spikec']}/{v['theirs']}" for v in layers.values()) or r.get("error", "")
        lines.append(f"{r['network']:<22} {r['neurons']:>7} {'yes' if r['loads'] else 'no':>5} "
                     f"{'yes' if r['matches'] else 'no':>12} {corr:8.3f} {100 * e.get('snntorch', np.nan):13.1f}% "
                     f"{100 * e.get('reference', np.nan):14.1f}%  {counts}")
    lines.append("NRMSE: decoded output against spikec's own run over the last half; the reference is NIR's "
                 "equations of the same graph (the bias enters as a current through each synapse, starting at 0)")
    return "\n".join(lines)


def table(rows) -> str:
    head = (f"{'direction':<18} {'network':<18} {'loads':>5} {'matches':>7} {'min corr':>8} {'max total diff':>14}  "
            "spikes per layer (spikec / theirs)")
    lines = [head, "-" * len(head)]
    for r in rows:
        layers = r["layers"]
        corr = min((v["corr"] for v in layers.values()), default=float("nan"))
        diff = max((v["total_diff"] for v in layers.values()), default=float("nan"))
        counts = ", ".join(f"{v['spikec']}/{v['theirs']}" for v in layers.values()) or r.get("error", "")
        lines.append(f"{r['direction']:<18} {r['network']:<18} {'yes' if r['loads'] else 'no':>5} "
                     f"{'yes' if r['matches'] else 'no':>7} {corr:8.3f} {100 * diff:13.1f}%  {counts}")
    lines.append("")
    lines.append("known deviations (documented, not compensated in the export):")
    for key, text in DEVIATIONS.items():
        lines.append(f"  {key}: {text}")
    conversion = [r for r in rows if r["extra"]]
    if conversion:
        r = conversion[0]
        exported = {k: v["spikec"] for k, v in r["layers"].items()}
        lines.append("")
        lines.append("README classifier, spikec's own spikes per layer: with its refractory LIF and voltage floor / "
                     "as exported (no floor, no refractory period):")
        lines.append("  " + ", ".join(f"{k}: {r['extra'][k]} / {exported[k]}" for k in r["extra"]))
    return "\n".join(lines)


def plot(rows, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    labels, values = [], []
    for r in rows:
        for layer, v in r["layers"].items():
            labels.append(f"{r['direction']}\n{r['network']}: {layer}")
            values.append(v["corr"])
    ax.barh(range(len(values)), values, color=["tab:green" if v >= 0.95 else "tab:red" for v in values])
    ax.axvline(0.95, color="k", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(values)), labels, fontsize=5)
    ax.set_xlim(0.8, 1.0)
    ax.set_xlabel("correlation of per-neuron spike counts (spikec vs framework)")
    ax.set_title("NIR interop: per-layer agreement")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps of 1e-4 s (default 2000: 0.2 s)")
    parser.add_argument("--lif-steps", type=int, default=10000,
                        help="steps of 1e-4 s for the lif-target programs (default 10000: 1 s)")
    parser.add_argument("--save", help="path prefix for .txt and .png")
    args = parser.parse_args(argv)
    from spikec.tools.bench import machine_header

    rows = measure(args.steps)
    text = table(rows) + "\n\n" + table_lif(measure_lif(args.lif_steps))
    header = "\n".join(machine_header("spikec NIR interop", argv, script=__file__,
                                      packages=("snntorch", "norse", "torch", "nir"))) + "\n"
    print(header + "\n" + text)
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save + ".txt").write_text(header + "\n" + text + "\n")
        plot(rows, args.save + ".png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
