"""examples/mnist.py end to end on a tiny synthetic stand-in for MNIST (offline, a few seconds)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"
sys.path.insert(0, str(EXAMPLE.parent))  # the example imports its data loader, examples/mnist_data.py


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("_test_mnist_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_mnist(verbose=True):
    """28x28 images whose class is the quadrant holding a bright square (4 classes)."""
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 4, n)
        x = rng.uniform(0, 0.1, (n, 28, 28, 1)).astype(np.float32)
        for i, label in enumerate(y):
            r, c = divmod(int(label), 2)
            x[i, 2 + 14 * r:12 + 14 * r, 2 + 14 * c:12 + 14 * c] = 1.0
        return x, y

    return make(200), make(40)


def test_main_trains_evaluates_and_plots(example, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("mnist_data.load_mnist", fake_mnist)
    code = example.main(["--small", "--epochs", "2", "--batch-size", "50", "--n-steps", "20", "--lr", "0.005",
                         "--spiking-epochs", "1",
                         "--plot", str(tmp_path / "figs"), "--save", str(tmp_path / "p.npz"),
                         "--nengo-check", "1", "--min-accuracy", "0.5", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "data: MNIST, 200 training and 40 test images" in out
    assert "spiking epoch 1: loss" in out and "(20 steps)" in out
    assert "spikes per image over 20 steps" in out and "nengo reference simulator on 1 test images" in out
    final = float(out.strip().splitlines()[-1].split(":")[1].strip().rstrip("%"))
    assert final >= 50.0
    for figure in ("accuracy_vs_steps.png", "training_loss.png"):
        path = tmp_path / "figs" / figure
        assert path.is_file() and path.stat().st_size > 1000
    # the saved parameters load back for evaluation only, and a failing check sets the exit status
    code = example.main(["--small", "--epochs", "0", "--spiking-epochs", "0", "--load", str(tmp_path / "p.npz"),
                         "--n-steps", "5", "--min-accuracy", "1.01", "--no-progress"])
    assert code == 1


def test_fewest_steps(example):
    acc = np.array([0.5, 0.99, 0.98, 0.991, 0.995])
    assert example.fewest_steps(acc, 0.985) == 4
    assert example.fewest_steps(acc, 0.996) is None
    assert example.fewest_steps(np.array([0.99, 0.99]), 0.985) == 1


def test_random_shift_moves_images_within_bounds(example):
    x = np.arange(2 * 6 * 6, dtype=float).reshape(2, 6, 6, 1)
    shifted = example.random_shift(np.random.default_rng(1), x, 2)
    assert shifted.shape == x.shape
    for img, orig in zip(shifted[..., 0], x[..., 0]):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(img, np.roll(np.roll(orig, dy, 0), dx, 1) * _mask(dy, dx, 6))]
        assert found
    assert example.random_shift(np.random.default_rng(1), x, 0) is x


def _mask(dy, dx, n):
    m = np.ones((n, n))
    if dy > 0:
        m[:dy] = 0
    elif dy < 0:
        m[dy:] = 0
    if dx > 0:
        m[:, :dx] = 0
    elif dx < 0:
        m[:, dx:] = 0
    return m
