"""Simulator throughput: time steps and synaptic events per second on each back end.

Workloads (all in spiking mode, dt = 1 ms):

* the n x n matrix inverse by gradient descent for n = 5 and 20, lowered to
  parabola product units (RegularSpiking(Parabola), 1 kHz), with
  ``A = I + 0.45/sqrt(n) * randn(n, n)`` (seed 0; condition number 2.0 and
  3.2) and the program's gain ``dt`` set so that ``gain * sigma_max(A)**2 =
  0.02``: a spiking run that converges (about 1 % NRMSE at 1 s for 5x5);
* a random network of 10,000 LIF neurons: recurrent sparse weights with
  fan-in 100 (80 % excitatory, 20 % inhibitory, through a 5 ms lowpass), a
  10-dimensional sinusoidal input (dense) and a 10-dimensional readout.

Back ends: ``jax`` (one jit-compiled ``lax.scan``; CPU, or the GPU when JAX
has one), ``numpy`` (spikec's NumPy netlist simulator), ``nengo`` (nengo's
reference simulator) and ``nengo_dl`` (NengoDL, TensorFlow).  Each runs the
very same netlist.  ``steps/s`` is simulated steps per second of run time
(building, compiling and the first-call overhead excluded: ``build s``
reports those); ``events/s`` is synaptic events (spikes times nonzero
outgoing weights) per second of run time.  ``--batch B`` adds a JAX row
that simulates B independent problems in one scan (for the inverses, B
different matrices of the same family, seeds 1..B, on the netlist tuned
for the first; the quality column gives the median and worst NRMSE); its
``steps/s`` counts element-steps (B per step).

Threads: BLAS/OpenMP, TensorFlow and XLA's CPU back end are limited to one
thread (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, MKL_NUM_THREADS=1,
TF_NUM_INTRAOP_THREADS=1, TF_NUM_INTEROP_THREADS=1, and XLA_FLAGS
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``), set
before any of them loads, so that every simulator gets one core and timings
on shared 2-core machines are comparable.  ``--threads N`` lifts this.

Usage::

    python benchmarks/simulator_throughput.py [--quick] [--t 1.0] [--batch 32]
        [--backends jax,numpy,nengo,nengo_dl] [--workloads inv5,inv20,random10k]
        [--dtype float32] [--plot PATH]

``--quick`` is a smoke run (0.02 s of simulated time, a 2,000-neuron random
network, 20x20 replaced by 10x10).
"""

from __future__ import annotations

import argparse
import os
import sys


def _limit_threads(threads: int) -> None:
    n = str(threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = n
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run")
    parser.add_argument("--t", type=float, default=None, help="simulated seconds (default 1.0; quick: 0.02)")
    parser.add_argument("--batch", type=int, default=32, help="batch size of the extra JAX row (0: none)")
    parser.add_argument("--backends", default="jax,numpy,nengo,nengo_dl")
    parser.add_argument("--workloads", default="inv5,inv20,random10k")
    parser.add_argument("--dtype", default="float32", help="JAX and NengoDL float type")
    parser.add_argument("--threads", type=int, default=1, help="threads per simulator (default 1)")
    parser.add_argument("--plot", default=None, help="write a bar chart of steps/s here")
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ workloads


def inverse_workload(n: int):
    import numpy as np

    import spikec

    A = np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(0).randn(n, n)
    eye = np.eye(n)
    gain = 0.02 / np.linalg.norm(A, 2) ** 2

    @spikec.compile
    def inverse(A, dt=gain):
        return spikec.integrate(lambda M: -dt / 1e-3 * 2 * (M @ A - eye) @ A.T, x0=np.zeros(A.shape))

    prog = inverse.trace(A)
    # The batch rows invert other matrices of the same family: tune the units to span a few of them.
    prog.tune_for(*(np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(1000 + k).randn(n, n) for k in range(8)))
    net = prog.lower(**prog.mode_options("spiking", {"dt": 1e-3, "seed": 0}))
    inputs = [lambda t, A=A: A]

    def nrmse(out, A):
        inv = np.linalg.inv(A)
        final = out[-min(100, len(out)):].mean(axis=0)
        return np.sqrt(np.mean((final - inv) ** 2) / np.mean(inv ** 2))

    def quality(out):
        return f"NRMSE {nrmse(out, A):.3f}"

    def batch(size: int):
        """``size`` independent problems: matrices of A's family (seeds 1..size), one per batch element."""
        mats = [np.eye(n) + 0.45 / np.sqrt(n) * np.random.RandomState(b + 1).randn(n, n) for b in range(size)]

        def batch_quality(outputs):
            errors = np.array([nrmse(out, M) for out, M in zip(outputs, mats)])
            return f"NRMSE median {np.median(errors):.3f}, max {errors.max():.3f}"

        return [[lambda t, M=M: M for M in mats]], batch_quality

    return f"inverse {n}x{n}", net, inputs, quality, batch


def random_workload(n: int = 10_000, fan_in: int = 100, dims: int = 10, seed: int = 0):
    """``n`` LIF neurons, sparse recurrent weights (fan-in ``fan_in``), input and readout of ``dims``."""
    import numpy as np
    import scipy.sparse

    from spikec.ir.attrs import ConstArray
    from spikec.models.synapses import Lowpass
    from spikec.netlist import Dense, InputSource, Netlist, Output, Population, Projection, SumNode, make_transform
    from spikec.neurons import LIF

    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), fan_in)
    cols = rng.integers(0, n, n * fan_in)
    inhibitory = rng.random(n) < 0.2  # by presynaptic neuron (Dale's law)
    w = 0.1 / fan_in  # an input at 20 Hz adds 0.002 to J (excitation and inhibition balance on average)
    data = np.where(inhibitory[cols], -4.0 * w, w) * rng.uniform(0.5, 1.5, n * fan_in)
    recurrent = scipy.sparse.coo_array((data, (rows, cols)), shape=(n, n))
    readout = scipy.sparse.random(dims, n, density=0.1, random_state=seed) * (10.0 / n)
    C = lambda a: ConstArray(np.asarray(a, dtype=np.float64))
    net = Netlist(
        f"random{n}", inputs=(InputSource("x", 0, (dims,)),),
        populations=(Population("lif", n, LIF(), C(rng.uniform(0.8, 1.2, n)), C(rng.uniform(0.8, 1.3, n)),
                                initial_state=(("voltage", C(rng.uniform(0, 1, n))),)),),
        nodes=(SumNode("y", dims),),
        projections=(Projection("x", "lif", Dense(C(rng.normal(size=(n, dims)) * 0.3))),
                     Projection("lif", "lif", make_transform(recurrent), synapse=Lowpass(0.005)),
                     Projection("lif", "y", make_transform(readout), synapse=Lowpass(0.01))),
        outputs=(Output("y", 0, "y", (dims,)),),
    )
    phases = rng.uniform(0, 2 * np.pi, dims)
    inputs = [lambda t: np.sin(2 * np.pi * 2 * t + phases)]
    def batch(size: int):
        return [[fn] * size for fn in inputs], lambda outputs: ""

    return f"random LIF {n // 1000}k", net, inputs, lambda out: "", batch


# ----------------------------------------------------------------------------------- runs


def run_one(backend: str, net, inputs, t: float, dtype: str, batch: int | None, threads: int) -> dict:
    from spikec.backends import get_backend

    options = {}
    if backend == "jax":
        options["dtype"] = dtype
    if backend == "nengo_dl":
        options.update(dtype=dtype, threads=threads)
    fns = inputs
    engine = get_backend(backend)
    res = engine.run(net, fns, t=t, dt=1e-3, mode="spiking", seed=0, progress=False, batch_size=batch,
                     **options)
    build_time = res.info.get("build_time", float("nan"))
    if backend == "jax":  # the first run compiled; time the best of two more, which reuse it
        runs = [engine.run(net, fns, t=t, dt=1e-3, mode="spiking", seed=0, progress=False, batch_size=batch,
                           **options) for _ in range(2)]
        res = min(runs, key=lambda r: r.info["run_time"])
    steps = len(res.t)
    run_time = res.info["run_time"]
    events = res.info["synaptic_events"]
    total_events = float(events[..., -1].sum()) if events.size else 0.0
    spikes = float(res.spikes[..., -1].sum())
    elements = 1 if batch is None else batch
    return {
        "steps": steps, "run_time": run_time, "build_time": build_time,
        "steps_per_s": steps * elements / run_time, "events_per_s": total_events / run_time,
        "spikes": spikes / elements, "output": res.output,
        "device": res.info.get("device", "cpu"),
    }


def main(argv=None) -> int:
    args = _parse(argv)
    _limit_threads(args.threads)


    import spikec  # noqa: F401

    t = args.t if args.t is not None else (0.02 if args.quick else 1.0)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    workloads = []
    for name in args.workloads.split(","):
        name = name.strip()
        if name == "inv5":
            workloads.append(inverse_workload(5))
        elif name == "inv20":
            workloads.append(inverse_workload(10 if args.quick else 20))
        elif name == "random10k":
            workloads.append(random_workload(2_000 if args.quick else 10_000))
        elif name:
            print(f"unknown workload {name!r}", file=sys.stderr)
            return 2
    try:
        import jax

        device = str(jax.devices()[0])
    except Exception:
        device = "no JAX"
    print(f"simulator throughput: {t:g} s of simulated time per run, dt = 1 ms, spiking mode; "
          f"{args.threads} thread(s) per simulator; JAX device: {device}; dtype {args.dtype}")

    rows = []
    for label, net, inputs, quality, batch_of in workloads:
        stats = net.stats()
        print(f"\n{label}: {stats.neurons:,} neurons, {stats.nonzero_weights:,} nonzero weights, "
              f"{stats.projections} projections")
        runs = [(b, None) for b in backends]
        if "jax" in backends and args.batch and args.batch > 1:
            runs.append(("jax", args.batch))
        reference = None
        for backend, batch in runs:
            name = backend if batch is None else f"{backend} x{batch}"
            if batch is None:
                fns, judge = inputs, quality
            else:
                fns, judge = batch_of(batch)
            try:
                r = run_one(backend, net, fns, t, args.dtype, batch, args.threads)
            except Exception as exc:
                print(f"  {name:<12} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                continue
            if backend == "nengo" and batch is None:
                reference = r
            r.update(workload=label, backend=name, quality=judge(r["output"]))
            rows.append(r)
            print(f"  {name:<12} build {r['build_time']:7.2f} s  run {r['run_time']:8.3f} s  "
                  f"{r['steps_per_s']:12,.0f} steps/s  {r['events_per_s']:14,.0f} events/s  "
                  f"{r['spikes']:12,.0f} spikes  {r['quality']}")
        for r in rows:
            if r["workload"] == label:
                r["speedup"] = (r["steps_per_s"] / reference["steps_per_s"]) if reference else float("nan")

    print("\n" + table(rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0


def table(rows) -> str:
    header = ("workload", "backend", "steps", "build s", "run s", "steps/s", "events/s", "x nengo", "spikes")
    lines = [header]
    for r in rows:
        lines.append((r["workload"], r["backend"], f"{r['steps']}", f"{r['build_time']:.2f}", f"{r['run_time']:.3f}",
                      f"{r['steps_per_s']:,.0f}", f"{r['events_per_s']:.3g}", f"{r.get('speedup', float('nan')):.1f}",
                      f"{r['spikes']:,.0f}"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        cells = enumerate(zip(line, widths))
        out.append("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in cells))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def plot(rows, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(backends), 1)
    for i, backend in enumerate(backends):
        values = [next((r["steps_per_s"] for r in rows if r["workload"] == w and r["backend"] == backend), np.nan)
                  for w in workloads]
        ax.bar(np.arange(len(workloads)) + i * width, values, width, label=backend)
    ax.set_xticks(np.arange(len(workloads)) + width * (len(backends) - 1) / 2)
    ax.set_xticklabels(workloads)
    ax.set_yscale("log")
    ax.set_ylabel("simulated steps per second")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
