"""Matrix inversion by gradient descent, compiled to a spiking network.

The estimate ``M`` of ``inv(A)`` follows the gradient of ``||M A - I||²``
in time, with ``A`` a runtime input signal.  spikec traces the recurrence
into a graph with a state (``M``) and two matrix products of signals (the
nonlinear units: one parabola neuron pair per scalar product), and runs it on
any back end.  Variants, as in the Gyrus study:

``naive``
    No algorithm: one NEF ensemble of 2,500 LIF neurons representing the 4
    entries of a 2x2 ``A`` and decoding ``inv(A)`` directly.  spikec cannot
    express this one (its NEF lowering decodes elementwise functions of one
    value, not an arbitrary function of a whole array), so it is built with
    plain nengo (``nengo.Ensemble(2500, 4)`` and a decoded connection).
``euler``
    :func:`inverse`: plain gradient descent, Euler steps of the integrator,
    spikec's default tuning (parabola units at 1 kHz, range margin 1.2).
    Runs on every back end.
``adam``
    :func:`inverse_adam`: the same gradient fed to ``spikec.Adam`` (Adam as a
    synapse; ``lr`` is the step per time step, Gyrus's semantics), with the
    tuning that buys accuracy per spike (:data:`TUNED`): each square of a
    product is a symmetric pair of Parabola neurons spiking through
    ``RegularSpiking`` (silent at the centre of its range), and each product
    ``x*y`` is taken around the centres of its operands' ranges with balanced
    squares, so neurons carry only ``(x - cx)(y - cy)``; units read each other
    (and Adam reads the gradient) through a 10 ms lowpass.  Gyrus's third
    ingredient, a least-squares decoder solver without regularization, has no
    counterpart: spikec's parabola units are decoded exactly (no solver).
    Adam has no nengo equivalent, so this variant runs on the numpy (and
    jax) back ends.

``newton``
    :func:`inverse_newton`: Newton's flow ``dM/dt = k M (I - A M)``, started
    from ``M = 0`` by a gradient term in the gram form.  Near the inverse
    every error mode decays at rate ``k`` whatever the condition number, so
    spike noise is not amplified by ``cond(A)**2``: tuned for the domain
    ``randn(n, n)`` with Gyrus's generic squares (:data:`NEWTON`), it inverts
    every held-out matrix, ill-conditioned ones included, on the fewest
    spikes (see ``docs/benchmarks/matrix_inversion.md``).  Every back end.

The ``euler`` network is tuned for the domain ``randn(n, n)`` by default (16
calibration draws, ``prog.tune_for``, :data:`DOMAIN`: symmetric Parabola
pairs, exact for every value in rate mode, a tenth of each calibrated range
as radius, 2 ms between the product layers); ``--example-only`` tunes it for
the traced ``A`` alone (spikec's defaults), as ``adam`` is by default.  ``--heldout K`` (5 by default) runs the compiled
network on K matrices it was not tuned on and prints a table, so what the
network does off its example is always on screen.
:func:`inverse_adam_gram` with :data:`GENERIC` is the recipe that holds over
the domain (see ``benchmarks/matrix_inversion.py --heldout``).  The network then
inverts any input within that tuning: ``--perturb 0.01`` runs it on
``A`` plus 1% noise (a different inverse: about 20% away for the 5x5 case) without
re-tracing.

Run it::

    python examples/matrix_inversion.py                       # 2x2, euler, numpy spiking, 5 held-out matrices
    python examples/matrix_inversion.py --heldout 10          # 10 matrices it was not tuned on
    python examples/matrix_inversion.py --variant newton --n 5 --heldout 10   # the recipe of record
    python examples/matrix_inversion.py --variant adam --plot figs/
    python examples/matrix_inversion.py --variant adam --n 5 -t 2.5 --perturb 0.01
    python examples/matrix_inversion.py --variant adam --n 5 -t 2.5 --lr 0.5 --beta1 0.98 --readout 0.2 \
        --autotune --backend jax --heldout 10      # options chosen by the compiler, ten held-out matrices
    python examples/matrix_inversion.py --variant naive       # plain nengo baseline
    python examples/matrix_inversion.py --backend numpy --mode ideal --n 5 -t 5
    spikec run examples/matrix_inversion.py --n 3             # the same through the CLI
    spikec bench examples/matrix_inversion.py:inverse --arg A=2x2 --reference np.linalg.inv

NRMSE is read through a readout lowpass filter (``--readout``, 20 ms by
default); the unfiltered state's NRMSE is printed too.  The script exits
with status 1 when the final NRMSE is above ``--max-nrmse`` (5% by
default), so it doubles as an end-to-end check.  Importing this file only
defines things; nothing is traced or run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import spikec
from spikec.tools.metrics import nrmse, spikes_to_reach

TAU = 1e-3  # the integrator's time scale in the compiled function (seconds)
RATE = 0.05  # ``dt`` of the compiled function: the gradient step per TAU
LEVELS = (0.1, 0.05, 0.01, 0.005)


@spikec.compile
def inverse(A, dt=0.05):
    """Euler gradient flow: ``dM/dt = -(dt / 1 ms) * 2 (M A - I) Aᵀ``."""
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T
    return spikec.integrate(lambda M: -dt / 1e-3 * gradient(M), x0=np.zeros(A.shape))


def inverse_adam(A, lr=0.03, beta1=0.9):
    """Adam steps of size about ``lr`` per time step along ``-2 (M A - I) Aᵀ`` (``beta1``: Adam's momentum).

    A plain function, compiled where it is used (``spikec.compile(inverse_adam)``), so that
    ``inverse`` stays the file's one ``@spikec.compile`` function for ``spikec graph FILE``;
    ``spikec bench examples/matrix_inversion.py:inverse_adam ...`` compiles it by name.
    """
    def gradient(M):
        return 2 * (M @ A - np.eye(A.shape[0])) @ A.T
    return spikec.integrate(lambda M: -gradient(M), x0=np.zeros(A.shape), synapse=spikec.Adam(lr=lr, beta1=beta1))


def inverse_adam_gram(A, lr=0.015, balance=1.0):
    """:func:`inverse_adam` with the gradient written ``2 (M (A Aᵀ) - Aᵀ)``: the same gradient.

    ``A Aᵀ`` depends on the input only, so its products sit outside the loop:
    the state ``M`` reaches the Adam synapse through one layer of product
    units instead of two, and the loop's delay (what the spikes are filtered
    through) no longer makes Adam overshoot.  This form works for every
    matrix of the domain with :data:`GENERIC` tuning.  spikec's ``hoist_gram`` pass makes this rewrite
    of :func:`inverse_adam` itself; written out, it can also take a ``balance`` (as :func:`inverse_newton`).
    """
    gram = A @ A.T / balance
    return spikec.integrate(lambda M: -2 * ((balance * M) @ gram - A.T), x0=np.zeros(A.shape),
                            synapse=spikec.Adam(lr=lr))


def inverse_newton(A, k=50.0, gamma=0.02, balance=1.0):
    """Newton's flow with a gradient start: ``dM/dt = k M (I - A M) - (gamma / 1 ms) 2 (M A - I) Aᵀ``.

    Both terms vanish at ``M = inv(A)`` only.  Near it the Newton term makes
    every error mode decay at rate ``k`` whatever the condition of ``A``
    (``E' = -k E``), so spike noise is not amplified by ``cond(A)**2`` as in
    plain gradient descent, and ill-conditioned matrices converge as fast as
    well-conditioned ones; the gradient term starts the flow from
    ``M = 0`` (where the Newton term is 0) and is written in the gram form
    ``M (A Aᵀ) - Aᵀ``.  The products of ``M`` and ``A Aᵀ`` pair values of
    different sizes; with :data:`NEWTON` the compiler balances them
    (``product_balance="domain"``: ``(s M) (A Aᵀ / s)``, the same product, with
    both operands of one typical size over the calibration draws).  ``balance``
    does the same by hand with one factor ``b`` (``(b M) (A Aᵀ / b)``), for
    comparison.
    """
    gram = A @ A.T / balance

    def flow(M):
        return k * (M - M @ (A @ M)) - gamma / TAU * 2 * ((balance * M) @ gram - A.T)
    return spikec.integrate(flow, x0=np.zeros(A.shape))


VARIANTS = ("euler", "adam", "newton", "naive")

# Lowering options of the ``newton`` variant: Gyrus's generic squares (symmetric Parabola pairs at 0,
# radius 1: exact for every value in rate mode, nothing tuned to an example), 10 ms between product
# layers, and products with a still operand (M (A Aᵀ)) balanced by the compiler over the calibration draws.
# Per size: (k, gamma, simulated seconds); bigger matrices sum more noisy products per entry, so their flow
# is slowed to keep the noise floor below 0.5%.
NEWTON = {"product_radius": 1.0, "unit_synapse": 0.01, "product_balance": "domain"}
NEWTON_SIZES = {2: (50.0, 0.02, 2.5), 5: (50.0, 0.02, 2.5), 10: (20.0, 0.01, 5.0)}


def newton_params(n: int) -> tuple[float, float, float]:
    """``(k, gamma, seconds)`` of the ``newton`` variant for ``n x n`` matrices (the nearest size tabled)."""
    return NEWTON_SIZES[min(NEWTON_SIZES, key=lambda size: abs(size - n))]

# Lowering options of the ``adam`` variant (and ``--tuning tuned``): see the module docstring.
TUNED = {"parabola_pairs": True, "balanced_products": True, "unit_synapse": 0.01}

# Lowering options that hold over the whole domain randn(n, n) (with :func:`inverse_adam_gram`): Gyrus's
# generic squares (symmetric Parabola pairs at 0, radius 1: exact for every value in rate mode), a 10 ms
# filter between the two product layers (outside the loop) and a 0.5 ms one into Adam (inside it).
GENERIC = {"product_radius": 1.0, "unit_synapse": 0.01, "state_synapse": 0.0005}

# Lowering options of Gyrus's own structure (inverse_adam without hoist_gram: both product layers in the loop):
# raw spikes everywhere, Adam's synapse the loop's only state.  ``unit_synapse=None`` must be given: spiking
# runs otherwise filter every unit's spikes through 5 ms, and each filtered projection is read a step late;
# two steps of delay in the loop make Adam at lr 0.3-1 overshoot for good.
RAW = {"product_radius": 1.0, "unit_synapse": None}

# Lowering options of the ``euler`` variant tuned for the domain (the default; ``--example-only`` tunes for the
# traced A alone with spikec's defaults): symmetric Parabola pairs (exact for every value in rate mode, so a
# matrix beyond the calibrated ranges is still computed right), each square's radius a tenth of its operand's
# calibrated range (finer quantization where the values mostly are; see LowerOptions.radius_scale), and 2 ms
# between the two product layers (without it the second layer squares raw spikes and 2 of 10 held-out
# matrices diverge; with it all follow the ideal flow).
DOMAIN = {"parabola_pairs": True, "radius_scale": 0.1, "unit_synapse": 0.002}


def convergence(A: np.ndarray, rate: float = RATE, tau: float = TAU, sim_dt: float = 1e-3) -> tuple[float, bool]:
    """Time constant of the slowest error mode of the Euler variant, and whether its steps are stable.

    The error ``E = M - inv(A)`` obeys ``dE/dt = -k E A Aᵀ`` with
    ``k = 2 rate / tau``, so each eigenvalue ``λ`` of ``A Aᵀ`` decays with time
    constant ``1 / (k λ)``; a forward-Euler step of ``sim_dt`` is stable while
    ``sim_dt k λ_max < 2``.
    """
    k = 2 * rate / tau
    eigenvalues = np.linalg.eigvalsh(A @ A.T)
    return 1.0 / (k * eigenvalues[0]), sim_dt * k * eigenvalues[-1] < 2


def naive_nengo(A: np.ndarray, t: float = 2.0, n_neurons: int = 2500, seed: int = 0,
                readout: float = 0.2, dt: float = 1e-3, max_cond: float = 10.0) -> dict:
    """The naive baseline: one nengo Ensemble of ``n_neurons`` LIF neurons decoding ``inv(A)``.

    Built as in the Gyrus study: the ensemble represents the ``n*n`` entries
    of ``A``; its evaluation points are 5,000 random ``randn(n, n)`` matrices,
    keeping only those with condition number below ``max_cond`` (so that the
    decoders do not chase huge inverses); the radius is the 90th percentile of
    their norms; a decoded connection computes ``inv`` (nengo's default
    LstsqL2 solver, nengo's default LIF tuning) and the result is read
    through a ``readout`` lowpass (200 ms in the study).  Returns ``t``,
    ``output`` (steps, n, n), ``spikes`` (cumulative) and ``neurons``.
    """
    import nengo

    n = A.shape[0]
    rng = np.random.RandomState(seed)
    train = rng.randn(5000, n, n)
    points = train[np.linalg.cond(train) < max_cond].reshape(-1, n * n)
    radius = float(np.percentile(np.linalg.norm(points, axis=1), 90))

    def inverse_of(x):
        if np.all(x == 0):  # nengo probes the function at zero to size the output
            return x
        return np.linalg.inv(x.reshape(n, n)).ravel()

    with nengo.Network(seed=seed) as model:
        stim = nengo.Node(A.ravel())
        ens = nengo.Ensemble(n_neurons, n * n, eval_points=points, radius=radius)
        out = nengo.Node(size_in=n * n)
        nengo.Connection(stim, ens, synapse=None)
        nengo.Connection(ens, out, function=inverse_of, synapse=None)
        probe = nengo.Probe(out, synapse=readout)
        spikes = nengo.Probe(ens.neurons)
    with nengo.Simulator(model, dt=dt, progress_bar=False, seed=seed) as sim:
        sim.run(t)
    counts = np.cumsum(np.sum(sim.data[spikes], axis=1) * dt)
    return {"t": sim.trange(), "output": sim.data[probe].reshape(-1, n, n), "spikes": np.rint(counts).astype(int),
            "neurons": n_neurons}


def plot_all(t: np.ndarray, trajectory: np.ndarray, spikes: np.ndarray | None, truth: np.ndarray,
             raw: np.ndarray | None, folder: str, title: str) -> list[str]:
    """Three figures in ``folder``: convergence over time, truth/estimate/error heat maps, NRMSE vs spikes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    paths = []
    # 1. the estimates converging over time against the true inverse
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (i, j) in enumerate(np.ndindex(*truth.shape)):
        color = colors[k % len(colors)]
        top.plot(t, trajectory[:, i, j], color=color, label=f"M[{i},{j}]" if truth.size <= 9 else None)
        top.axhline(truth[i, j], color=color, linestyle="--", linewidth=1)
    top.set_ylabel("estimate (dashed: inv(A))")
    top.set_title(title)
    if truth.size <= 9:
        top.legend(loc="upper right", fontsize="small", ncol=min(truth.shape[1], 3))
    bottom.semilogy(t, np.maximum(nrmse(trajectory, truth, axis=(1, 2)), 1e-16), label="readout")
    if raw is not None:
        bottom.semilogy(t, np.maximum(nrmse(raw, truth, axis=(1, 2)), 1e-16), alpha=0.4, label="raw state")
        bottom.legend(fontsize="small")
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("NRMSE")
    bottom.grid(True, which="both", alpha=0.3)
    paths.append(os.path.join(folder, "convergence.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    # 2. truth, estimate, error as heat maps
    estimate = trajectory[-1]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), constrained_layout=True)
    lim = float(np.max(np.abs(truth)))
    for ax, data, name in zip(axes, (truth, estimate, estimate - truth), ("inv(A)", "estimate", "error")):
        scale = lim if name != "error" else max(float(np.max(np.abs(data))), 1e-12)
        im = ax.imshow(data, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"{title}: NRMSE {100 * nrmse(estimate, truth):.3g}%")
    paths.append(os.path.join(folder, "heatmaps.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    # 3. NRMSE against cumulative spikes, log-log
    if spikes is not None and np.any(spikes > 0):
        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
        keep = spikes > 0
        ax.loglog(spikes[keep], nrmse(trajectory, truth, axis=(1, 2))[keep], label="readout")
        if raw is not None:
            ax.loglog(spikes[keep], nrmse(raw, truth, axis=(1, 2))[keep], alpha=0.4, label="raw state")
        for level in LEVELS:
            ax.axhline(level, color="gray", linestyle=":", linewidth=0.8)
        ax.set_xlabel("cumulative spikes")
        ax.set_ylabel("NRMSE")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        paths.append(os.path.join(folder, "nrmse_vs_spikes.png"))
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def calibration(n: int, count: int = 16) -> list[np.ndarray]:
    """Draws of the domain ``randn(n, n)`` the network is tuned for: seeds 100.., never a held-out matrix."""
    return [np.random.RandomState(100 + k).randn(n, n) for k in range(count)]


def heldout_report(prog, args, options: dict) -> str:
    """The compiled network on ``RandomState(s).randn(n, n)``, s = 1..K (not tuned on them): a small table."""
    tuned = f"randn({args.n}, {args.n})" if args.domain else "the traced A only (--example-only)"
    lines = [f"== held-out matrices (the network is tuned for {tuned}, not for these) ==",
             f"{'seed':>4}  {'cond':>6}  {'ideal flow':>10}  {'final NRMSE':>11}"]
    for seed in range(1, args.heldout + 1):
        A = np.random.RandomState(seed).randn(args.n, args.n)
        truth = np.linalg.inv(A)
        ideal = nrmse(prog.run(A, t=args.time).final, truth)
        try:
            out = prog.run(A, t=args.time, backend=args.backend, mode=args.mode, seed=args.seed,
                           synapse=args.readout, **options)
            final = f"{100 * nrmse(out.final, truth):.3g}%"
        except spikec.SpikecError as error:  # a divergence is reported, not hidden
            final = f"error: {type(error).__name__}"
        lines.append(f"{seed:>4}  {np.linalg.cond(A):>6.1f}  {100 * ideal:>9.3g}%  {final:>11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="matrix_inversion.py",
        description="Invert a random matrix with a spiking network compiled by spikec.",
        epilog="examples:\n"
               "  python examples/matrix_inversion.py\n"
               "  python examples/matrix_inversion.py --variant adam --plot figs/\n"
               "  python examples/matrix_inversion.py --variant naive\n"
               "  python examples/matrix_inversion.py --n 3 --seed 2 -t 2 --backend nengo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=2, help="matrix size (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random matrix A (default: 0)")
    parser.add_argument("-t", "--time", type=float, default=None,
                        help="simulated seconds (default: 1.0; 2.0 for the naive baseline, as in the study)")
    parser.add_argument("--variant", choices=VARIANTS, default="euler",
                        help="euler (default), adam, newton (Newton's flow: fewest spikes over the domain), "
                             "or naive (plain nengo ensemble; 2x2 only)")
    parser.add_argument("--backend", default="numpy",
                        help=f"back end: {', '.join(spikec.available_backends())} (default: numpy)")
    parser.add_argument("--mode", default="spiking", help="the back end's simulation mode (default: spiking)")
    parser.add_argument("--lr", type=float, default=0.03, help="Adam step per time step (adam variant; 0.03)")
    parser.add_argument("--beta1", type=float, default=0.9, help="Adam's momentum (adam variant; 0.9)")
    parser.add_argument("--autotune", action="store_true",
                        help="let the compiler choose the lowering options on the calibration draws "
                             "(prog.autotune; implies --domain) and print what it tried")
    parser.add_argument("--rate", type=float, default=RATE,
                        help=f"Euler gradient step per ms (euler variant; default {RATE})")
    parser.add_argument("--max-rate", type=float, default=None, help="parabola units' top rate (default: 1000 Hz)")
    parser.add_argument("--readout", type=float, default=None,
                        help="readout lowpass time constant in seconds NRMSE is read through "
                             "(default: 0.02; 0.2 for the naive baseline, as in the study)")
    parser.add_argument("--tuning", choices=("default", "tuned"), default=None,
                        help="lowering: spikec's defaults, or TUNED (parabola pairs, balanced products); "
                             "default: tuned for adam, default for euler")
    parser.add_argument("--perturb", type=float, default=0.0, metavar="FRAC",
                        help="run on A plus uniform noise of FRAC x max|A| (seed + 1) without re-tracing: "
                             "A is a runtime input (default: 0)")
    parser.add_argument("--heldout", type=int, default=5, metavar="K",
                        help="also run the compiled network on K matrices RandomState(1..K).randn(n, n) it was "
                             "not tuned on and print a table (default: 5; 0: none)")
    parser.add_argument("--domain", action="store_true", default=None,
                        help="tune for the domain randn(n, n): 16 calibration draws, DOMAIN options for euler, "
                             "symmetric parabola pairs for adam (the default for euler)")
    parser.add_argument("--example-only", dest="domain", action="store_false",
                        help="tune for the traced A alone with the variant's options (the default for adam, "
                             "whose TUNED recipe is specialised to its example)")
    parser.add_argument("--plot", metavar="DIR", help="save convergence, heat-map and NRMSE-vs-spikes figures here")
    parser.add_argument("--max-nrmse", type=float, default=None,
                        help="exit with status 1 when the final NRMSE is above this "
                             "(default: 0.05; 1.0 for the naive baseline)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.max_nrmse is None:
        args.max_nrmse = 1.0 if args.variant == "naive" else 0.05
    naive = args.variant == "naive"
    if args.time is None:
        args.time = 2.0 if naive else newton_params(args.n)[2] if args.variant == "newton" else 1.0
    args.readout = args.readout if args.readout is not None else (0.2 if naive else 0.02)
    args.tuning = args.tuning or ("tuned" if args.variant == "adam" else "default")
    args.domain = args.domain if args.domain is not None else args.variant in ("euler", "newton")
    if args.autotune:
        args.domain, args.tuning = True, "default"

    A = np.random.RandomState(args.seed).randn(args.n, args.n)
    A_run = A + args.perturb * np.abs(A).max() * np.random.RandomState(args.seed + 1).uniform(-1, 1, A.shape)
    truth = np.linalg.inv(A_run)
    time_constant, stable = convergence(A, rate=args.rate)
    rows = [("matrix", f"{args.n}x{args.n}, seed {args.seed}, cond(A) = {np.linalg.cond(A):.3g}")]
    if args.perturb:
        away = 100 * float(nrmse(np.linalg.inv(A), truth))
        rows.append(("runtime A", f"traced A + {args.perturb:g} x max|A| noise: cond {np.linalg.cond(A_run):.3g}, "
                                  f"inverse {away:.3g}% away from the traced one"))
    raw = None
    if args.variant == "naive":
        if args.n > 3:
            parser.error("the naive variant decodes inv(A) from one ensemble: use --n 2 or 3")
        start = time.perf_counter()
        run = naive_nengo(A_run, t=args.time, seed=args.seed, readout=args.readout)
        wall = time.perf_counter() - start
        t, trajectory, spikes = run["t"], run["output"], run["spikes"]
        where = f"plain nengo (nengo.Ensemble({run['neurons']}, {args.n * args.n}), decoded inv)"
        rows += [("network", f"{run['neurons']} LIF neurons in 1 ensemble"),
                 ("run", f"{args.time:g} s, {where}"), ("wall time", f"build + run {wall:.3f} s")]
    else:
        start = time.perf_counter()
        if args.variant == "adam":
            prog = spikec.compile(inverse_adam).trace(A, lr=args.lr, beta1=args.beta1)
        elif args.variant == "newton":
            k, gamma, _ = newton_params(args.n)
            prog = spikec.compile(inverse_newton).trace(A, k=k, gamma=gamma)
        else:
            prog = inverse.trace(A, dt=args.rate)
        trace_time = time.perf_counter() - start
        options = dict(TUNED) if args.tuning == "tuned" else dict(NEWTON) if args.variant == "newton" else {}
        if args.domain:
            # The domain is randn(n, n): tune for 16 draws of it (never a held-out matrix), not for A alone.
            prog.tune_for(*calibration(args.n))
            domain_options = {"euler": DOMAIN, "adam": {"parabola_pairs": True}}.get(args.variant, {})
            for key, value in domain_options.items():
                options.setdefault(key, value)
        if args.max_rate is not None:
            options["max_rate"] = args.max_rate
        if args.autotune:
            # The compiler's choice replaces the variant's options: measured on the calibration draws only.
            options = {"max_rate": args.max_rate} if args.max_rate is not None else {}
            report = prog.autotune(t=args.time, synapse=args.readout, reference="final", backend=args.backend,
                                   seed=args.seed, **options)
            print("== autotune ==")
            print(report)
            print()
        print("== graph ==")
        print(prog.graph)
        print()
        if args.mode != "ideal":
            print("== stats ==")
            print(prog.lower(**options).stats())
            print()
        start = time.perf_counter()
        result = prog.run(A_run, t=args.time, backend=args.backend, mode=args.mode, seed=args.seed, **options)
        wall = time.perf_counter() - start
        t, raw, spikes = result.t, result.output, result.spikes
        trajectory = spikec.program.filter_outputs(result, args.readout).output if args.readout else raw
        detail = (f" (lr {args.lr:g} per step)" if args.variant == "adam" else
                  " (k {:g}/s, gamma {:g} per ms)".format(*newton_params(args.n)[:2]) if args.variant == "newton" else
                  f" (step {args.rate:g} per ms; slowest mode {time_constant * 1e3:.3g} ms"
                  + ("" if stable else ", UNSTABLE") + ")")
        rows.append(("variant", args.variant + detail))
        if args.mode != "ideal":
            how = (f"options chosen by autotune: {prog.autotuned.summary()}" if prog.autotuned is not None else
                   f"{args.tuning} tuning ({', '.join(f'{k}={v}' for k, v in options.items()) or 'spikec defaults'})")
            rows.append(("network", f"{prog.lower(**options).stats().neurons} neurons, {how}"))
        rows += [("run", f"{args.time:g} s on {result.backend}/{result.mode}: {len(result.t)} steps of "
                         f"{result.dt * 1e3:g} ms"),
                 ("wall time", f"trace {trace_time:.3f} s, lower + run {wall:.3f} s")]
    error = float(nrmse(trajectory[-1], truth))
    curve = nrmse(trajectory, truth, axis=(1, 2))
    rows.append(("NRMSE", f"{100 * error:.3g}% through a {args.readout * 1e3:g} ms readout filter"
                 + (f"; raw state {100 * float(nrmse(raw[-1], truth)):.3g}%" if raw is not None else "")))
    if spikes is not None and spikes.size and spikes[-1] > 0:
        rows.append(("spikes", f"{int(spikes[-1])} ({spikes[-1] / args.time:.3g} per second)"))
        reach = ", ".join(f"{100 * lv:g}%: " + (f"{spikes_to_reach(curve, spikes, lv):.0f}"
                                                if np.isfinite(spikes_to_reach(curve, spikes, lv)) else "never")
                          for lv in LEVELS)
        rows.append(("spikes to reach", reach))
    print("== result ==")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    with np.printoptions(precision=4, suppress=True):
        print(f"estimate at t={t[-1]:g} s:\n{trajectory[-1]}")
        print(f"np.linalg.inv(A){' (runtime A)' if args.perturb else ''}:\n{truth}")
    if args.heldout and args.variant != "naive":
        print(heldout_report(prog, args, options))
    if args.plot:
        title = f"{args.n}x{args.n} inverse, {args.variant}"
        for path in plot_all(t, trajectory, spikes, truth, raw, args.plot, title):
            print(f"wrote {path}")
    print(f"final NRMSE: {100 * error:.3g}%")

    if not error <= args.max_nrmse:  # also catches NaN
        why = ("the Euler step is unstable for this A: try a smaller --rate" if args.variant == "euler" and not stable
               else "try a longer run (-t), a longer --readout, or another --variant")
        print(f"matrix_inversion: FAILED: NRMSE {100 * error:.3g}% is above {100 * args.max_nrmse:g}% ({why})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
