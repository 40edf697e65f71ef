"""Single-neuron fitting: AdEx and Izhikevich neurons under a 1 s current step.

Two tasks, for each model (:class:`spikec.AdEx`, mV/ms/nA units, and
:class:`spikec.Izhikevich`, nengo's units):

1. **Current for a spike count** (``--count``, default 10): bisection on the
   step amplitude until the neuron fires exactly that many spikes in 1 s
   (spike count grows with the current, so bisection on "too few / too
   many" converges); reports the amplitude and the number of simulations.
2. **Spike times**: fit the model's parameters (and the amplitude) so that
   the spikes fall at 100, 300, 500 and 700 ms, with SciPy's differential
   evolution (a global search; each generation's whole population is
   simulated in one batched JAX scan of the library's own neuron step).
   For AdEx, ``--refine STEPS`` then refines the fit with Adam on the van
   Rossum distance, gradients through spikec's AdEx surrogate
   (:func:`refine_with_gradients`; Izhikevich spikes carry no surrogate
   gradient).  Reports the spike times, the error (largest and mean
   absolute deviation) and the number of simulations / gradient steps.
   Over a whole 1 s step the target is out of reach for both models: four
   spikes 200 ms apart and then at least 300 ms of silence under the same
   current, while a neuron that has fired three equal intervals fires the
   next one no later (``--reachability N`` samples N parameter sets to show
   it, :func:`regular_then_silent`); ``--duration 0.85`` fits the spikes
   over the first 850 ms only, where the target is reachable.

The simulation is the neuron types' own ``step`` (``spikec/models/neurons/``)
under ``jax.lax.scan`` at dt = 0.1 ms, with the parameters as traced
arrays; the fitted neuron is then compiled into a spikec program
(``spikec.neurons(current, AdEx(...))``) and run on the JAX back end to
check that the program fires at the same times.
``tests/test_seed_programs.py`` checks this simulation against a plain
NumPy forward Euler, and ``tests/test_neurons.py`` checks spikec's AdEx
against Brian2 (the same spike steps at dt 0.1 ms).

Run it::

    python examples/neuron_fitting.py                       # both models
    python examples/neuron_fitting.py --model adex --count 20 --plot figs/
    python examples/neuron_fitting.py --model adex --duration 0.85 --refine 150
    python examples/neuron_fitting.py --reachability 100000
    spikec run examples/neuron_fitting.py --model izhikevich --generations 10

Importing this file only defines things; nothing is traced or run.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import spikec
from spikec.neurons import AdEx, Izhikevich
from spikec.util.progress import progress_bar

DT = 1e-4                  # s (Brian2's AdEx comparison step)
DURATION = 1.0             # s, the current step
TARGET_TIMES = np.array([0.100, 0.300, 0.500, 0.700])
MISSING_PENALTY = 0.2      # s of error per missing or extra spike

# Model -> (type, the parameters fitted with their bounds, the current's bounds).
MODELS = {
    "adex": (AdEx, {"a": (0.0, 0.08), "b": (0.0, 0.5), "tau_w": (20.0, 600.0), "V_reset": (-75.0, -45.0),
                    "E_L": (-80.0, -60.0), "delta_T": (0.5, 4.0)},
             (0.3, 3.0)),
    "izhikevich": (Izhikevich, {"tau_recovery": (0.001, 0.1), "coupling": (0.0, 0.3),
                                "reset_voltage": (-70.0, -45.0), "reset_recovery": (0.0, 10.0)},
                   (0.0, 20.0)),
}


def _with_arrays(cls, params: dict):
    """An instance of neuron type ``cls`` whose fields hold (traced) arrays.

    The frozen dataclass validates its fields as Python floats, so this
    bypasses ``__init__`` (on purpose, only for simulation inside JAX): the
    step reads ``self.<field>`` and works unchanged with arrays.
    """
    obj = object.__new__(cls)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, value in {**defaults, **params}.items():
        object.__setattr__(obj, name, value)
    return obj


@functools.partial(jax.jit, static_argnums=0)
def _scan(model, params, state, currents):
    neuron = _with_arrays(MODELS[model][0], params)

    def body(s, J):
        s, out = type(neuron).step(neuron, s, J, DT, xp=jnp)
        return s, out > 0

    return jax.lax.scan(body, state, currents)[1]


def _initial_state(model: str, shape, params: dict | None = None):
    if model == "adex":  # at rest: V = E_L, w = 0
        rest = (params or {}).get("E_L", AdEx.E_L)
        voltage = jnp.broadcast_to(jnp.asarray(rest, dtype=jnp.float64), shape)
        return {"voltage": voltage, "adaptation": jnp.zeros(shape)}
    # Izhikevich from rest: v = -65 mV, u = b v (nengo's default v in [0, 1) is far from rest).
    return {"voltage": jnp.full(shape, -65.0), "recovery": jnp.zeros(shape)}


def simulate(model: str, current, params: dict | None = None, duration: float | None = None):
    """Spike trains ``(steps, batch)`` (bool) of ``model`` neurons under constant ``current`` (``(batch,)``)
    starting at rest; ``params`` maps fitted parameter names to ``(batch,)`` arrays (defaults otherwise)."""
    with jax.enable_x64(True):
        current = jnp.atleast_1d(jnp.asarray(current, dtype=jnp.float64))
        params = {k: jnp.broadcast_to(jnp.asarray(v, jnp.float64), current.shape) for k, v in (params or {}).items()}
        state = _initial_state(model, current.shape, params)
        if model == "izhikevich":
            state["recovery"] = state["voltage"] * params.get("coupling", Izhikevich.coupling)
        steps = int(round((DURATION if duration is None else duration) / DT))
        spikes = _scan(model, params, state, jnp.broadcast_to(current, (steps, *current.shape)))
        return np.asarray(spikes)


def spike_times(train: np.ndarray) -> np.ndarray:
    """Spike times (s) of a ``(steps,)`` bool train (step k ends at ``(k+1) dt``)."""
    return (np.flatnonzero(train) + 1) * DT


# ------------------------------------------------------------------------- 1. bisection


def current_for_count(model: str, count: int, low: float | None = None, high: float | None = None,
                      max_iter: int = 60) -> dict:
    """Bisection on the step amplitude for exactly ``count`` spikes in 1 s.

    Returns ``{"current", "count", "simulations", "bracket"}``; the
    current is the midpoint of the final bracket that gave ``count``.
    """
    hi_b = MODELS[model][2][1]
    low = 0.0 if low is None else low
    high = hi_b * 4 if high is None else high
    sims = 0

    def n_spikes(current):
        nonlocal sims
        sims += 1
        return int(simulate(model, [current])[:, 0].sum())

    if n_spikes(high) < count:
        raise ValueError(f"{model}: even {high:g} gives fewer than {count} spikes")
    for _ in range(max_iter):
        mid = 0.5 * (low + high)
        n = n_spikes(mid)
        if n == count:
            return {"current": mid, "count": n, "simulations": sims, "bracket": (low, high)}
        if n < count:
            low = mid
        else:
            high = mid
    return {"current": mid, "count": n, "simulations": sims, "bracket": (low, high)}


# ---------------------------------------------------------------------------- 2. fitting


def spike_time_error(times: np.ndarray, target: np.ndarray = TARGET_TIMES) -> float:
    """Mean absolute deviation of the first spikes from their targets, plus a penalty per count mismatch."""
    k = min(times.size, target.size)
    err = np.abs(times[:k] - target[:k]).sum() + MISSING_PENALTY * abs(times.size - target.size)
    return float(err / target.size)


def fit_spike_times(model: str, *, seed: int = 0, generations: int = 150, popsize: int = 15,
                    duration: float = DURATION, progress: bool | None = None) -> dict:
    """Differential evolution over (current, parameters); one batched simulation per generation.

    Spikes are counted over ``duration`` seconds of the step (1 s by default).
    """
    from scipy.optimize import differential_evolution

    _, space, current_bounds = MODELS[model]
    names = list(space)
    bounds = [current_bounds] + [space[n] for n in names]
    sims = 0
    bar = progress_bar(range(generations + 1), total=generations + 1, desc=f"fit {model}",
                       enable=progress if progress is not None else sys.stderr.isatty())
    it = iter(bar)

    def cost(population):  # (n_params, S): vectorized
        nonlocal sims
        population = np.atleast_2d(population)
        trains = simulate(model, population[0], {n: population[i + 1] for i, n in enumerate(names)}, duration)
        sims += population.shape[1]
        return np.array([spike_time_error(spike_times(trains[:, j])) for j in range(trains.shape[1])])

    def callback(*args, **kwargs):
        next(it, None)

    start = time.perf_counter()
    res = differential_evolution(cost, bounds, seed=seed, maxiter=generations, popsize=popsize, tol=1e-8,
                                 vectorized=True, updating="deferred", polish=False, callback=callback)
    seconds = time.perf_counter() - start
    best = {"current": float(res.x[0]), **{n: float(v) for n, v in zip(names, res.x[1:])}}
    times = spike_times(simulate(model, [best["current"]], {n: [best[n]] for n in names}, duration)[:, 0])
    k = min(times.size, TARGET_TIMES.size)
    dev = np.abs(times[:k] - TARGET_TIMES[:k])
    return {"params": best, "times": times, "error": spike_time_error(times),
            "max_deviation": float(dev.max()) if k else float("inf"), "count_ok": times.size == TARGET_TIMES.size,
            "simulations": sims, "seconds": seconds}


def _program_netlist(model: str, best: dict):
    """The fitted neuron as a compiled spikec program's netlist, starting at rest as :func:`simulate` does."""
    cls = MODELS[model][0]
    ntype = cls(**{k: v for k, v in best.items() if k != "current"})

    @spikec.compile
    def neuron(current):
        return spikec.neurons(current, ntype, gain=1.0, bias=0.0)

    from spikec.ir.attrs import ConstArray

    net = neuron.trace(np.array([best["current"]])).netlist
    # Lowering draws initial voltages from the seed, as nengo does; fitting starts at rest.
    with jax.enable_x64(True):
        rest = {k: np.asarray(v, dtype=float).reshape(1) for k, v in _initial_state(model, (1,), best).items()}
    if model == "izhikevich":
        rest["recovery"] = rest["voltage"] * ntype.coupling
    pop = dataclasses.replace(net.populations[0],
                              initial_state=tuple((k, ConstArray(v)) for k, v in sorted(rest.items())))
    return dataclasses.replace(net, populations=(pop,))


def program_spike_times(model: str, best: dict, duration: float = DURATION) -> np.ndarray:
    """The fitted neuron as a compiled spikec program on the JAX back end: its spike times."""
    from spikec.backends.jax.scan import simulate as jax_simulate

    net = _program_netlist(model, best)
    steps = int(round(duration / DT))
    out = jax_simulate(net, [np.full((steps, 1, 1), best["current"])], mode="spiking", dt=DT, dtype="float64")
    return spike_times(out["outputs"][0][:, 0, 0] > 0)


def refine_with_gradients(best: dict, *, duration: float = DURATION, steps: int = 150, lr: float = 0.002,
                          tau_decay: float = 0.1, progress: bool | None = None) -> dict:
    """Gradient refinement of an AdEx fit through the surrogate: Adam on the van Rossum distance.

    The compiled program runs under ``make_loss_fn(..., neuron_params=True)``
    (float64), so the gradient flows to AdEx's parameters (all fitted ones
    but ``E_L``, which sets the resting start) and the step amplitude
    through :mod:`spikec.train.surrogate` (AdEx's threshold crossing; the upswing
    above V_T detached).  Parameters move in units of their fitting bounds
    and stay inside them.  The loss is the van Rossum distance to the target
    train (5 ms rise, ``tau_decay``: a long kernel, so that a spike far from
    its target still feels it).  Returns the best parameters seen by the
    spike-time error (never worse than ``best``), the per-step loss and
    error, and the number of gradient steps (one forward and one backward
    pass each).
    """
    import optax

    from spikec.tools.metrics import van_rossum
    from spikec.train.loss import make_loss_fn
    from spikec.train.surrogate import SuperSpike

    _, space, current_bounds = MODELS["adex"]
    names = [n for n in space if n != "E_L"]
    lo = np.array([current_bounds[0]] + [space[n][0] for n in names])
    hi = np.array([current_bounds[1]] + [space[n][1] for n in names])
    n_steps = int(round(duration / DT))
    target = np.zeros(n_steps)
    target[np.round(TARGET_TIMES[TARGET_TIMES < duration] / DT).astype(int) - 1] = 1.0
    with jax.enable_x64(True):
        params, apply = make_loss_fn(_program_netlist("adex", best), "spiking", DT, n_steps, dtype="float64",
                                     neuron_params=True, surrogate=SuperSpike(10.0))
        (pop,) = params["neuron"]

        def unpack(u):
            theta = jnp.asarray(lo) + jnp.asarray(hi - lo) * u
            return theta[0], {n: theta[i + 1] for i, n in enumerate(names)}

        def loss(u):
            current, neuron = unpack(u)
            (out,) = apply({"neuron": {pop: neuron}}, [jnp.reshape(current, (1, 1))])
            train = out[0, :, 0] * DT
            return van_rossum(train, jnp.asarray(target), DT, 0.005, tau_decay), train

        value_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True))
        u = jnp.asarray((np.array([best["current"]] + [best[n] for n in names]) - lo) / (hi - lo))
        opt = optax.adam(lr)
        opt_state = opt.init(u)
        start_error = spike_time_error(spike_times(simulate("adex", [best["current"]],
                                                            {n: [best[n]] for n in space}, duration)[:, 0]))
        best_error, best_u, losses, errors = start_error, u, [], []
        for _ in progress_bar(range(steps), total=steps, desc="gradient refinement",
                              enable=progress if progress is not None else sys.stderr.isatty()):
            (value, train), grad = value_and_grad(u)
            error = spike_time_error(spike_times(np.asarray(train) > 0.5))
            losses.append(float(value))
            errors.append(error)
            if error < best_error:
                best_error, best_u = error, u
            updates, opt_state = opt.update(grad, opt_state)
            u = jnp.clip(optax.apply_updates(u, updates), 0.0, 1.0)
        current, neuron = unpack(best_u)
        refined = {**best, "current": float(current), **{n: float(v) for n, v in neuron.items()}}
    times = spike_times(simulate("adex", [refined["current"]], {n: [refined[n]] for n in space}, duration)[:, 0])
    return {"params": refined, "times": times, "error": spike_time_error(times), "start_error": start_error,
            "losses": np.asarray(losses), "errors": np.asarray(errors), "gradient_steps": steps}


def regular_then_silent(model: str, samples: int = 20_000, *, seed: int = 0, tolerance: float = 0.1,
                        min_interval: float = 0.05) -> dict:
    """Why four spikes 200 ms apart and then 300 ms of silence is out of reach: evidence by sampling.

    Simulates ``samples`` random parameter sets and amplitudes (uniform in
    the fitting bounds) for 1 s and looks at the trains whose first three
    intervals agree within ``tolerance`` and are at least ``min_interval``
    long (shorter ones are bursts, where one 0.1 ms step is a large ratio).  The target needs the gap after the
    4th spike to be at least 1.5 times those intervals (300 ms after 200 ms
    ones; otherwise a 5th spike falls before 1 s).  Returns how many such
    trains there are and the largest ratio of the gap after the 4th spike to
    the 3rd interval among those with a 5th spike (a train with no 5th spike
    counts by its censored gap, to 1 s).
    """
    rng = np.random.default_rng(seed)
    _, space, current_bounds = MODELS[model]
    trains = simulate(model, rng.uniform(*current_bounds, samples),
                      {k: rng.uniform(*b, samples) for k, b in space.items()})
    regular, ratios, silent = 0, [], 0
    for j in np.flatnonzero(trains.sum(axis=0) >= 4):
        times = spike_times(trains[:, j])
        isi = np.diff(times[:4])
        if isi.max() > (1 + tolerance) * isi.min() or isi.min() < min_interval:
            continue
        regular += 1
        fifth = times[4] if times.size > 4 else DURATION
        silent += times.size == 4
        ratios.append((fifth - times[3]) / isi[2])
    ratios = np.asarray(ratios)
    return {"samples": samples, "regular": regular, "four_then_silent": silent,
            "max_gap_ratio": float(ratios.max()) if ratios.size else float("nan"),
            "p99_gap_ratio": float(np.percentile(ratios, 99)) if ratios.size else float("nan")}


# ----------------------------------------------------------------------------------- plots


def plot(model: str, bis: dict, fitted: dict, directory: str, refined: dict | None = None) -> str:
    """Spike count against amplitude (bisection result marked) and the fitted (and refined) spike times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    fig, (ax_c, ax_t) = plt.subplots(2, 1, figsize=(7, 4.5), constrained_layout=True)
    currents = np.linspace(0, bis["current"] * 1.5, 60)
    counts = simulate(model, currents).sum(axis=0)
    ax_c.plot(currents, counts, ".-")
    ax_c.axhline(bis["count"], color="k", linestyle="--", linewidth=1)
    ax_c.axvline(bis["current"], color="C1", linewidth=1)
    ax_c.set_xlabel("step amplitude" + (" (nA)" if model == "adex" else ""))
    ax_c.set_ylabel("spikes in 1 s")
    ax_c.set_title(f"{model}: {bis['count']} spikes at {bis['current']:.4g} ({bis['simulations']} simulations)")
    ax_t.vlines(TARGET_TIMES * 1000, 0, 0.8, color="C1", label="target")
    ax_t.vlines(fitted["times"] * 1000, 1, 1.8, color="k", label="fitted")
    ax_t.set_xlim(0, DURATION * 1000)
    rows = ["target", "fitted"]
    if refined is not None:
        ax_t.vlines(refined["times"] * 1000, 2, 2.8, color="C2", label="refined")
        rows.append(f"refined ({refined['error'] * 1000:.2f} ms)")
    ax_t.set_yticks(0.4 + np.arange(len(rows)))
    ax_t.set_yticklabels(rows)
    ax_t.set_xlabel("time (ms)")
    ax_t.set_title(f"fitted spike times: mean error {fitted['error'] * 1000:.2f} ms "
                   f"({fitted['simulations']} simulations)")
    path = os.path.join(directory, f"neuron_fitting_{model}.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neuron_fitting.py", description=__doc__.splitlines()[0],
                                     epilog="example: python examples/neuron_fitting.py --model adex --plot figs/")
    parser.add_argument("--model", choices=("adex", "izhikevich", "both"), default="both")
    parser.add_argument("--count", type=int, default=10, help="spike count for the bisection (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the differential evolution (default: 0)")
    parser.add_argument("--generations", "--epochs", type=int, default=150, dest="generations",
                        help="differential-evolution generations (default: 150)")
    parser.add_argument("--popsize", type=int, default=15, help="population per parameter (default: 15)")
    parser.add_argument("--duration", type=float, default=DURATION,
                        help="seconds of the step over which spikes are fitted (default: 1.0)")
    parser.add_argument("--refine", type=int, default=0, metavar="STEPS",
                        help="AdEx: this many Adam steps of surrogate-gradient refinement after the "
                             "differential evolution (default: 0, off)")
    parser.add_argument("--reachability", type=int, default=0, metavar="N",
                        help="also sample N random parameter sets to test whether 4 regular spikes and "
                             "then silence occur at all (default: 0, off)")
    parser.add_argument("--plot", metavar="DIR", help="save figures into this folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    progress = False if args.no_progress else None
    status = 0
    for model in (("adex", "izhikevich") if args.model == "both" else (args.model,)):
        bis = current_for_count(model, args.count)
        unit = " nA" if model == "adex" else ""
        print(f"{model}: {bis['count']} spikes in 1 s at {bis['current']:.5g}{unit} "
              f"({bis['simulations']} simulations of bisection)")
        fitted = fit_spike_times(model, seed=args.seed, generations=args.generations, popsize=args.popsize,
                                 duration=args.duration, progress=progress)
        params = ", ".join(f"{k}={v:.4g}" for k, v in fitted["params"].items())
        print(f"  fit: {params}")
        print(f"  spikes {np.round(fitted['times'] * 1000, 1).tolist()} ms for target "
              f"{(TARGET_TIMES * 1000).astype(int).tolist()}: mean error {fitted['error'] * 1000:.2f} ms, "
              f"max {fitted['max_deviation'] * 1000:.2f} ms, {fitted['simulations']} simulations, "
              f"{fitted['seconds']:.1f} s")
        compiled = program_spike_times(model, fitted["params"], args.duration)
        same = compiled.size == fitted["times"].size and np.allclose(compiled, fitted["times"], atol=2 * DT)
        print(f"  compiled program (jax back end): {np.round(compiled * 1000, 1).tolist()} ms "
              f"({'same' if same else 'DIFFERENT'})")
        status |= 0 if (fitted["count_ok"] and same) else 1
        ref = None
        if args.refine and model == "adex":
            ref = refine_with_gradients(fitted["params"], duration=args.duration, steps=args.refine,
                                        progress=progress)
            print(f"  gradient refinement ({ref['gradient_steps']} Adam steps, van Rossum loss through the "
                  f"surrogate): mean error {ref['start_error'] * 1000:.2f} -> {ref['error'] * 1000:.2f} ms "
                  f"(best seen; loss {ref['losses'][0]:.4f} -> min {ref['losses'].min():.4f}, "
                  f"last {ref['losses'][-1]:.4f}), spikes {np.round(ref['times'] * 1000, 1).tolist()} ms")
        if args.reachability:
            r = regular_then_silent(model, args.reachability, seed=args.seed)
            print(f"  reachability: of {r['samples']} random parameter sets, {r['regular']} fire their first 4 "
                  f"spikes at intervals >= 50 ms and equal within 10%; in those the gap after the 4th spike "
                  f"(to the 5th, or to 1 s) is at most {r['max_gap_ratio']:.2f}x the 3rd interval (99th percentile "
                  f"{r['p99_gap_ratio']:.2f}x); the target needs > 1.5x")
        if args.plot:
            print(f"  wrote {plot(model, bis, fitted, args.plot, ref)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
