"""Spiking MNIST accuracy against time steps for saved parameter files: a table and a plot.

Evaluates each ``.npz`` written by ``examples/mnist.py --save`` (or
``Program.save_params``) on the 10,000 MNIST test images, spiking, each
image held for ``--n-steps`` steps of 1 ms, on the JAX back end (float32;
the CPU unless JAX sees a GPU).  Files are labelled by name: ``rate_seedN``
(rate training only) and ``ft_seedN`` (then spiking fine-tuning) give one
row each and one curve each, dashed and solid.

Run it::

    python benchmarks/mnist_accuracy.py params/*.npz --plot benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVELS = (0.985, 0.99)
NAMES = {"rate": "rate-trained", "ft": "+ spiking fine-tune"}


def label(path: str) -> tuple[str, int | None]:
    """``("rate", 3)`` for ``.../rate_seed3.npz``; the stem and None for other names."""
    stem = os.path.splitext(os.path.basename(path))[0]
    match = re.fullmatch(r"(rate|ft)_seed(\d+)", stem)
    return (match.group(1), int(match.group(2))) if match else (stem, None)


def evaluate(paths: list[str], n_steps: int, n_test: int | None) -> list[dict]:
    """Accuracy after 1..n_steps steps, rate accuracy and spikes per image for each parameter file."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import mnist
    from mnist_data import load_mnist

    from spikec.train import accuracy_by_steps

    _, (xt, yt) = load_mnist(verbose=False)
    xt, yt = xt[:n_test], yt[:n_test]
    prog = mnist.make_classifier(xt.shape[1:])
    rows = []
    for path in paths:
        start = time.perf_counter()
        prog.load_params(path)
        rate = prog.evaluate(xt, yt, n_steps=1, mode="rate", progress=False)["accuracy"][-1]
        outputs, spikes = prog.predict(xt, n_steps=n_steps, progress=False)
        accuracy = accuracy_by_steps(outputs, yt)
        kind, seed = label(path)
        fewest = {level: mnist.fewest_steps(accuracy, level) for level in LEVELS}
        rows.append({"path": path, "kind": kind, "seed": seed, "rate": float(rate), "accuracy": accuracy,
                     "spikes": float(np.mean(spikes)), "fewest": fewest})
        print(f"{path}: {100 * accuracy[-1]:.2f}% at {n_steps} steps ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], n_steps: int, n_images: int) -> str:
    """The markdown table of ``rows``."""
    marks = [k for k in (1, 3, 5, 10, 20, n_steps) if k <= n_steps]
    head = ("| parameters | seed | rate network | " + " | ".join(f"{k} steps" for k in marks)
            + " | spikes/image | >98.5% from | >99% from |")
    import jax

    device = jax.devices()[0].device_kind
    lines = [f"MNIST test set ({n_images} images), spiking, JAX float32 on {device}; accuracy after k steps of 1 ms",
             "",
             head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [f"{100 * r['accuracy'][k - 1]:.2f}%" for k in marks]
        fewest = [str(r["fewest"][lv]) if r["fewest"][lv] is not None else "never" for lv in LEVELS]
        seed = r["seed"] if r["seed"] is not None else ""
        lines.append(f"| {NAMES.get(r['kind'], r['kind'])} | {seed} | {100 * r['rate']:.2f}% | "
                     + " | ".join(cells) + f" | {r['spikes']:,.0f} | " + " | ".join(fewest) + " |")
    for kind in sorted({r["kind"] for r in rows}):
        final = [r["accuracy"][-1] for r in rows if r["kind"] == kind]
        lines.append(f"\n{NAMES.get(kind, kind)}: {len(final)} files, at {n_steps} steps min {100 * min(final):.2f}%, "
                     f"mean {100 * np.mean(final):.2f}%, max {100 * max(final):.2f}%")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    """Accuracy against steps, one curve per file (rate-trained dashed, fine-tuned solid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r in rows:
        steps = np.arange(1, len(r["accuracy"]) + 1)
        color = colors[(r["seed"] or 0) % len(colors)]
        style = "--" if r["kind"] == "rate" else "-"
        name = NAMES.get(r["kind"], r["kind"])
        ax.plot(steps, 100 * r["accuracy"], style, color=color, lw=1.2, label=f"seed {r['seed']}, {name}")
    for level in LEVELS:
        ax.axhline(100 * level, color="gray", ls=":", lw=0.8)
    ax.set_ylim(94, 100)
    ax.set_xlabel("time steps (1 ms) per image")
    ax.set_ylabel("spiking test accuracy (%)")
    ax.set_title("MNIST, NengoDL's tutorial network: rate training, then spiking fine-tuning")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist_accuracy.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("params", nargs="+", help=".npz parameter files (rate_seedN / ft_seedN)")
    parser.add_argument("--n-steps", type=int, default=30, help="spiking steps per image (default: 30)")
    parser.add_argument("--n-test", type=int, default=None, help="test images (default: all 10,000)")
    parser.add_argument("--plot", metavar="DIR", help="write mnist_accuracy.{txt,png} into this folder")
    args = parser.parse_args(argv)
    rows = evaluate(sorted(args.params, key=lambda p: (label(p)[1] or 0, label(p)[0] != "rate")),
                    args.n_steps, args.n_test)
    text = table(rows, args.n_steps, args.n_test or 10000)
    print(text)
    if args.plot:
        os.makedirs(args.plot, exist_ok=True)
        with open(os.path.join(args.plot, "mnist_accuracy.txt"), "w") as f:
            f.write(text + "\n")
        plot(rows, os.path.join(args.plot, "mnist_accuracy.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
