"""Training speed on the CPU: spikec's JAX training against nengo_dl.Simulator.fit, same network, same data.

The network is ``examples/mnist.py``'s (NengoDL's spiking-MNIST tutorial
network; ``--small`` for a 4x narrower one).  Each back end runs in its own
process with ONE thread (XLA: ``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1``; TensorFlow: one intra- and one inter-op
thread; ``OMP_NUM_THREADS=1``), trains one warm-up epoch on ``--n-train``
images (building and compiling included) and then ``--epochs`` timed epochs;
the table shows seconds per timed epoch and that time scaled to a full
60,000-image epoch.  Batch size 200, float32, Adam (learning rate 1e-3),
rate training with soft-LIF smoothing 0.01 on both.  ``--backends jax
jax_spiking nengo_dl`` adds spikec's spiking fine-tuning epoch
(``fit(mode="spiking", n_steps=30)``: surrogate gradients through 30 steps;
nengo_dl has no counterpart) for comparison.

Run it::

    python benchmarks/mnist_training.py                      # 2,000 images, full network
    python benchmarks/mnist_training.py --n-train 1000 --small --plot figs/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_THREAD = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
}
BACKENDS = ("jax", "nengo_dl")
CHOICES = (*BACKENDS, "jax_spiking")


def worker(backend: str, n_train: int, epochs: int, small: bool, batch_size: int) -> dict:
    """Train in this process and return the timings (run with ONE_THREAD in the environment)."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import mnist
    import numpy as np
    from mnist_data import load_mnist

    if backend == "nengo_dl":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    (x, y), _ = load_mnist(verbose=False)
    x, y = x[:n_train], y[:n_train]
    channels = tuple(c // 4 for c in mnist.CHANNELS) if small else mnist.CHANNELS
    prog = mnist.make_classifier(x.shape[1:], channels)
    _ = prog.netlist
    start = time.perf_counter()
    spiking = backend == "jax_spiking"
    options = {"mode": "spiking", "n_steps": 30} if spiking else {}
    history = prog.fit(x, y, epochs=1 + epochs, batch_size=batch_size, backend="jax" if spiking else backend,
                       progress=False, **options)
    total = time.perf_counter() - start
    timed = history.epoch_time[1:]
    return {"backend": backend, "n_train": len(x), "first_epoch": history.epoch_time[0],
            "epoch": float(np.mean(timed)), "total": total, "loss": history.loss}


def run_worker(backend: str, args) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", backend, "--n-train", str(args.n_train),
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)] + (["--small"] if args.small else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{backend} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=2000, help="training images per epoch (default: 2000)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs after the warm-up one (default: 1)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--small", action="store_true", help="the 4x narrower network")
    parser.add_argument("--backends", nargs="+", choices=CHOICES, default=list(BACKENDS))
    parser.add_argument("--plot", metavar="DIR", help="save a bar chart into this folder")
    parser.add_argument("--worker", choices=CHOICES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n_train, args.epochs, args.small, args.batch_size)))
        return 0
    rows = []
    for backend in args.backends:
        print(f"training with {backend} ({args.n_train} images, 1 + {args.epochs} epochs, one thread)...",
              file=sys.stderr)
        rows.append(run_worker(backend, args))
    print(f"network: {'small' if args.small else 'full'} (examples/mnist.py), batch {args.batch_size}, float32, "
          "one CPU thread per process")
    print(f"{'backend':<12} {'images':>7} {'1st epoch s':>12} {'epoch s':>9} {'s / 60k epoch':>14} "
          f"{'images/s':>9}")
    for r in rows:
        per_image = r["epoch"] / r["n_train"]
        print(f"{r['backend']:<12} {r['n_train']:>7} {r['first_epoch']:>12.1f} {r['epoch']:>9.1f} "
              f"{per_image * 60000:>14.0f} {1 / per_image:>9.0f}")
    epoch = {r["backend"]: r["epoch"] for r in rows}
    if "jax" in epoch and "nengo_dl" in epoch:
        print(f"speed-up of jax over nengo_dl per epoch: {epoch['nengo_dl'] / epoch['jax']:.2f}x")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        os.makedirs(args.plot, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.bar([r["backend"] for r in rows], [r["epoch"] / r["n_train"] * 60000 for r in rows])
        ax.set_ylabel("seconds per 60,000-image epoch (1 thread)")
        fig.tight_layout()
        fig.savefig(os.path.join(args.plot, "mnist_training.png"), dpi=120)
        plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
