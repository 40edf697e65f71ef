"""Stochastic computing (examples/stochastic_computing.py): KL per seed and seconds per epoch, spikec and Norse.

N=32 refractory LIF neurons, 256 Poisson inputs, T=1000, batch 32, 40 Adam
epochs, one CPU thread per process (``OMP_NUM_THREADS=1``; XLA and torch
are told to use one thread too).  The KL after training is averaged over
``--eval-batches`` fresh batches (4 by default), measured the same way for
both libraries: the batch-mean KL(target || sampled distribution of each
element), which is the training loss and the measure of the Norse workshop's
"KL about 0.02-0.04"; spikec's table also gives the KL between the
batch-averaged distributions (target and sampled each averaged over 32
elements).

Norse runs side by side, the workshop notebook's loop (:func:`run_norse`),
in an interpreter that has torch and norse: this one if they import, or the
one named by ``--norse-python`` / ``$SPIKEC_NORSE_PYTHON``.  Norse runs
twice: with the upstream fix of its SuperSpike backward (see
:func:`fix_norse_superspike`) on ``--norse-seeds``, and as published on the
first of them.  Keep torch out of spikec's environment; a separate one::

    python3.11 -m venv /work/venv-norse
    printf 'torch==2.13.0\ntorchvision==0.28.0\n' > /work/venv-norse/constraints.txt
    /work/venv-norse/bin/pip install -c /work/venv-norse/constraints.txt torch==2.13.0 norse==1.1.0

(the constraint file keeps pip from replacing the CPU torch wheel with a
multi-GB CUDA build through torchvision).  Then::

    OMP_NUM_THREADS=1 python benchmarks/stochastic_computing.py --norse-python /work/venv-norse/bin/python \
        --plot benchmarks/results/stochastic_computing.png | tee benchmarks/results/stochastic_computing.txt

Without a Norse interpreter it prints spikec's table and the earlier
Norse reference figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Norse 1.1.0 with the upstream SuperSpike fix, this machine, one thread (issue #8).
NORSE_REFERENCE = {"seconds_per_epoch": 1.3, "kl": [0.027, 0.049, 0.108], "workshop_claim": "0.02-0.04"}


def norse_available() -> bool:
    """Whether ``torch`` and ``norse`` import in this interpreter."""
    try:
        import norse  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def fix_norse_superspike() -> None:
    """Monkeypatch Norse 1.1.0's SuperSpike backward with the upstream fix (alpha in the denominator).

    Norse 1.1.0 computes ``grad / (|x| + 1)**2``, ignoring ``alpha``; the
    fixed version (norse/norse ``main``, after 1.1.0) computes
    ``grad / (alpha |x| + 1)**2``, the SuperSpike surrogate of Zenke &
    Ganguli.  With alpha = 100 the released gradient is up to 10^4 times
    too large and turns to NaN within the first backward pass here.
    """
    from norse.torch.functional.superspike import SuperSpike

    def backward(ctx, grad_output):
        (inp,) = ctx.saved_tensors
        grad = None
        if ctx.needs_input_grad[0]:
            grad = grad_output / (ctx.alpha * inp.abs() + 1.0).pow(2)
        return grad, None

    SuperSpike.backward = staticmethod(backward)


def run_norse(seed: int, epochs: int, n: int = 32, h: int = 256, steps: int = 1000, batch: int = 32,
              fixed: bool = True, eval_batches: int = 4) -> dict:
    """The workshop notebook's training loop in Norse (one torch thread).

    Follows the notebook: ``LIFRefracRecurrentCell`` (v_leak 1, rho_reset 10,
    SuperSpike alpha 100), the refractory state through ``superspike_fn``,
    Poisson inputs ``poisson_encode(0.3 * ones, T)`` (probability 0.03 per
    step), Adam with torch's default step, batch-mean ``kl_div``; the target
    from a random teacher of the same kind.  ``fixed`` applies
    :func:`fix_norse_superspike` first (it cannot be undone in this process:
    run the as-published variant in its own process, as :func:`main` does).

    Returns the last epoch's loss, the KL after training on ``eval_batches``
    fresh batches (measured as for spikec: mean over batches of the
    batch-mean KL(target || sampled)), the median seconds per epoch
    (forward + backward + Adam step) and the number of epochs whose
    gradients held a NaN or infinity.
    """
    import time

    import norse.torch as nt
    import torch
    from norse.torch.functional.encode import poisson_encode
    from norse.torch.functional.lif import LIFParameters, LIFState
    from norse.torch.functional.lif_refrac import LIFRefracParameters, LIFRefracState
    from norse.torch.functional.threshold import superspike_fn

    if fixed:
        fix_norse_superspike()
    torch.set_num_threads(1)
    torch.manual_seed(seed)

    class Neurons(torch.nn.Module):
        def __init__(self):
            super().__init__()
            p = LIFRefracParameters(LIFParameters(v_leak=torch.ones(n), method="super", alpha=torch.tensor(100.0)),
                                    10.0 * torch.ones(n))
            self.cell = nt.LIFRefracRecurrentCell(h, n, p=p)

        def forward(self, z):
            s = LIFRefracState(LIFState(torch.zeros(batch, n), 0.9 * torch.ones(batch, n), torch.zeros(batch, n)),
                               torch.zeros(batch, n))
            out = []
            for t in range(z.shape[0]):
                _, s = self.cell(z[t], s)
                out.append(superspike_fn(s.rho, torch.tensor(100.0)))
            return torch.stack(out)

    def dist(rho):
        r = [torch.stack([1 - rho[:, :, k], rho[:, :, k]]) for k in range(3)]
        return torch.einsum("atb,dtb,gtb -> badg", *r).flatten(start_dim=1) / rho.shape[0]

    def kl(p, target):
        return torch.nn.functional.kl_div(torch.log(p.clamp(min=1e-7)), target, reduction="batchmean")

    def inputs():
        return poisson_encode(0.3 * torch.ones(batch, h), steps)

    with torch.no_grad():
        teacher = dist(Neurons()(inputs()))
        target = teacher.mean(0, keepdim=True).repeat(batch, 1)
        teacher_kl = float(kl(teacher, target))
    model = Neurons()
    optim = torch.optim.Adam(model.parameters())
    seconds, losses, nan_epochs = [], [], 0
    for _ in range(epochs):
        start = time.perf_counter()
        optim.zero_grad()
        value = kl(dist(model(inputs())), target)
        value.backward()
        nan_epochs += any(not bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)
        optim.step()
        seconds.append(time.perf_counter() - start)
        losses.append(float(value.detach()))
    with torch.no_grad():
        final = float(np.mean([float(kl(dist(model(inputs())), target)) for _ in range(eval_batches)]))
    return {"last_loss": losses[-1], "final_kl": final, "seconds_per_epoch": float(np.median(seconds)),
            "nan_gradient_epochs": nan_epochs, "teacher_kl": teacher_kl, "losses": losses}


def _norse_worker(args) -> int:
    """Run only the Norse half and print one JSON line per seed (used through ``--norse-python``)."""
    import json

    for seed in args.seeds:
        r = run_norse(seed, args.epochs, fixed=not args.norse_as_published, eval_batches=args.eval_batches)
        print(json.dumps({"seed": seed, **{k: v for k, v in r.items() if k != "losses"}}), flush=True)
    return 0


def norse_rows(python: str, seeds, epochs: int, as_published: bool, eval_batches: int) -> list[dict]:
    """Run the Norse half in interpreter ``python`` (one thread), one process per variant; a list of result dicts."""
    import json
    import subprocess

    cmd = [python, __file__, "--norse-worker", "--epochs", str(epochs), "--eval-batches", str(eval_batches),
           "--seeds", *map(str, seeds)] + (["--norse-as-published"] if as_published else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"Norse run failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def spikec_rows(seeds, epochs: int, eval_batches: int) -> list[dict]:
    """Train examples/stochastic_computing.py for each seed (in this process); a list of result dicts."""
    sys.path.insert(0, str(EXAMPLES))
    import stochastic_computing as sc  # imports JAX: only here, so the Norse worker needs no JAX

    rows = []
    for seed in seeds:
        r = sc.run(seed=seed, epochs=epochs, eval_batches=eval_batches, progress=False)
        sec = r["epoch_seconds"]
        rows.append({"seed": seed, "final_kl": r["final_kl"], "kl_of_mean": r["kl_of_mean"],
                     "teacher_kl": r["teacher_kl"], "teacher_fresh_kl": r["teacher_fresh_kl"],
                     "last_loss": float(r["losses"][-1]),
                     "seconds_per_epoch": float(np.median(sec[1:])) if sec.size > 1 else float("nan"),
                     "first_epoch": float(sec[0])})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)), help="spikec seeds (default 0-9)")
    parser.add_argument("--norse-seeds", type=int, nargs="+", default=[0, 1, 2], help="Norse seeds (default 0 1 2)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--eval-batches", type=int, default=4,
                        help="fresh batches of 32 over which the KL after training is averaged (default 4)")
    parser.add_argument("--norse-python", default=os.environ.get("SPIKEC_NORSE_PYTHON"),
                        help="interpreter with torch + norse for the Norse half (default: $SPIKEC_NORSE_PYTHON, "
                             "else this one when norse imports)")
    parser.add_argument("--no-norse", action="store_true", help="skip Norse")
    parser.add_argument("--plot", help="save a bar chart of KL per seed here")
    parser.add_argument("--norse-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--norse-as-published", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.norse_worker:
        return _norse_worker(args)
    norse_python = args.norse_python or (sys.executable if norse_available() else None)
    if args.no_norse:
        norse_python = None

    rows = spikec_rows(args.seeds, args.epochs, args.eval_batches)
    print(f"spikec: N=32, H=256, T=1000, batch 32, {args.epochs} epochs, one thread; KL after training = mean "
          f"over {args.eval_batches} fresh batches of the batch-mean KL(target || sampled)\n")
    print("| seed | KL after training | KL of the batch-mean distributions | teacher's elements vs target | "
          "teacher on fresh inputs | last epoch's loss | s/epoch | first epoch (compile) s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['final_kl']:.4f} | {r['kl_of_mean']:.4f} | {r['teacher_kl']:.4f} | "
              f"{r['teacher_fresh_kl']:.4f} | {r['last_loss']:.4f} | {r['seconds_per_epoch']:.3f} | "
              f"{r['first_epoch']:.1f} |")
    kls = [r["final_kl"] for r in rows]
    spikec_sec = float(np.median([r["seconds_per_epoch"] for r in rows]))
    teacher = [r["teacher_kl"] for r in rows]
    print(f"\nspikec: max KL over seeds {max(kls):.4f} (target <= 0.02), mean {np.mean(kls):.4f}, "
          f"{sum(k <= 0.02 for k in kls)} of {len(kls)} seeds <= 0.02; KL of the batch-mean distributions at most "
          f"{max(r['kl_of_mean'] for r in rows):.4f}; correlation of the KL with the teacher's own: "
          f"{np.corrcoef(kls, teacher)[0, 1]:.2f}" if len(kls) > 2 else "")
    fresh = [r["teacher_fresh_kl"] for r in rows]
    print(f"the teachers themselves on fresh inputs (the models that made the targets, measured as the students): "
          f"mean {np.mean(fresh):.4f}, max {max(fresh):.4f}, {sum(k <= 0.02 for k in fresh)} of {len(fresh)} "
          f"seeds <= 0.02; trained student at or below its teacher on {sum(k <= t for k, t in zip(kls, fresh))} "
          f"of {len(kls)} seeds")
    print(f"spikec: median {spikec_sec:.3f} s/epoch")

    norse = {}
    if norse_python:
        for label, published in (("Norse 1.1.0 + upstream SuperSpike fix", False),
                                 ("Norse 1.1.0 as published", True)):
            seeds = args.norse_seeds if not published else args.norse_seeds[:1]
            try:
                norse[label] = norse_rows(norse_python, seeds, args.epochs, published, args.eval_batches)
            except RuntimeError as err:  # another Norse version: say so, keep the table
                print(f"\n{label}: failed: {err}")
        for label, nrows in norse.items():
            print(f"\n{label} ({norse_python}, one torch thread)\n")
            print("| seed | KL after training | teacher's elements vs target | last epoch's loss | "
                  "epochs with NaN gradients | s/epoch |")
            print("|---:|---:|---:|---:|---:|---:|")
            for r in nrows:
                print(f"| {r['seed']} | {r['final_kl']:.4f} | {r['teacher_kl']:.4f} | {r['last_loss']:.4f} | "
                      f"{r['nan_gradient_epochs']} of {args.epochs} | {r['seconds_per_epoch']:.3f} |")
        fixed = norse.get("Norse 1.1.0 + upstream SuperSpike fix")
        if fixed:
            norse_sec = float(np.median([r["seconds_per_epoch"] for r in fixed]))
            print(f"\nspeed-up per epoch (medians, measured side by side): {norse_sec / spikec_sec:.1f}x "
                  f"({norse_sec:.3f} s vs {spikec_sec:.3f} s)")
    else:
        ref = NORSE_REFERENCE
        print("\n(torch/norse not importable and no --norse-python: Norse is not run; earlier measurement: "
              f"Norse 1.1.0 + upstream fix {ref['seconds_per_epoch']} s/epoch, KL {ref['kl']}; "
              f"speed-up {ref['seconds_per_epoch'] / spikec_sec:.1f}x)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
        ax.bar([r["seed"] - 0.2 for r in rows], kls, 0.4, label="spikec")
        fixed = norse.get("Norse 1.1.0 + upstream SuperSpike fix")
        if fixed:
            ax.bar([r["seed"] + 0.2 for r in fixed], [r["final_kl"] for r in fixed], 0.4,
                   label="Norse 1.1.0 + fix")
        # Each library's teacher against its own batch mean: the sampling noise a student of the
        # same kind would show (seed numbers do not share teachers across the two libraries).
        ax.plot([r["seed"] - 0.2 for r in rows], teacher, "k_", markersize=14, label="teacher's own elements")
        if fixed:
            ax.plot([r["seed"] + 0.2 for r in fixed], [r["teacher_kl"] for r in fixed], "k_", markersize=14)
        ax.axhline(0.02, color="k", linestyle="--", linewidth=1, label="target 0.02")
        ax.set_xlabel("seed")
        ax.set_ylabel(f"KL after {args.epochs} epochs")
        ax.legend()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
