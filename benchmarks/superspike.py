"""SuperSpike single neuron (examples/superspike.py): epochs until 5 spikes each within 2 ms, per seed.

One CPU thread.  Prints a table (seed, epochs to match, ms per epoch) and the
reference figures of a PyTorch BPTT re-implementation on this kind of
machine (issue #8).

    OMP_NUM_THREADS=1 python benchmarks/superspike.py [--seeds 0 1 ... 9] [--epochs 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import superspike as ss

REFERENCE = "PyTorch BPTT re-implementation: 10 of 10 seeds matched after 39-413 epochs (median 163), 0.11 s/epoch"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args(argv)
    print("| seed | epochs to match | ms per epoch |")
    print("|---:|---:|---:|")
    epochs, per = [], []
    for seed in args.seeds:
        r = ss.run_single(seed=seed, epochs=args.epochs, progress=False)
        ms = 1000 * float(np.median(r["epoch_seconds"][1:]))
        epochs.append(r["epochs"])
        per.append(ms)
        print(f"| {seed} | {r['epochs'] if r['matched'] else 'not matched'} | {ms:.1f} |", flush=True)
    done = [e for e in epochs if e is not None]
    print(f"\nspikec: {len(done)} of {len(epochs)} seeds matched"
          + (f" after {min(done)}-{max(done)} epochs (median {np.median(done):.0f})" if done else "")
          + f", {np.median(per):.1f} ms per epoch")
    print(f"reference: {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
