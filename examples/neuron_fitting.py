"""Single-neuron fitting: AdEx and Izhikevich neurons under a 1 s current step.

Two tasks, for each model (:class:`spikec.AdEx`, mV/ms/nA units, and
:class:`spikec.Izhikevich`, nengo's units):

1. **Current for a spike count** (``--count``, default 10): bisection on the
   step amplitude until the neuron fires exactly that many spikes in 1 s
   (spike count grows with the current, so bisection on "too few / too
   many" converges); reports the amplitude and the number of simulations.
2. **Spike times**: fit the model's parameters (and the amplitude) so that
   the spikes fall at 100, 300, 500 and 700 ms.  AdEx and Izhikevich spikes
   carry no surrogate gradient in spikec (their reset is a hard jump in a
   stiff system), so this uses SciPy's differential evolution, which is
   better here: each generation's whole population is simulated in one
   batched JAX scan of the library's own neuron step.  Reports the spike
   times, the error (largest and mean absolute deviation) and the number of
   simulations.  Over a whole 1 s step the targets are hard for both
   models: four spikes 200 ms apart and then 300 ms of silence under the same
   current; ``--duration 0.85`` fits the spikes over the first 850 ms only.

The simulation is the neuron types' own ``step`` (``spikec/neurons.py``)
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
from spikec.progress import progress_bar

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
        return {"voltage": jnp.broadcast_to(jnp.asarray(rest, dtype=jnp.float64), shape), "adaptation": jnp.zeros(shape)}
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


def program_spike_times(model: str, best: dict, duration: float = DURATION) -> np.ndarray:
    """The fitted neuron as a compiled spikec program on the JAX back end: its spike times."""
    cls = MODELS[model][0]
    ntype = cls(**{k: v for k, v in best.items() if k != "current"})

    @spikec.compile
    def neuron(current):
        return spikec.neurons(current, ntype, gain=1.0, bias=0.0)

    from spikec.backends.jax_backend import simulate as jax_simulate
    from spikec.ir.attrs import ConstArray

    net = neuron.trace(np.array([best["current"]])).netlist
    # Start at rest, as simulate() does (lowering draws initial voltages from the seed, as nengo does).
    with jax.enable_x64(True):
        rest = {k: np.asarray(v, dtype=float).reshape(1) for k, v in _initial_state(model, (1,), best).items()}
    if model == "izhikevich":
        rest["recovery"] = rest["voltage"] * ntype.coupling
    pop = dataclasses.replace(net.populations[0],
                              initial_state=tuple((k, ConstArray(v)) for k, v in sorted(rest.items())))
    net = dataclasses.replace(net, populations=(pop,))
    steps = int(round(duration / DT))
    out = jax_simulate(net, [np.full((steps, 1, 1), best["current"])], mode="spiking", dt=DT, dtype="float64")
    return spike_times(out["outputs"][0][:, 0, 0] > 0)


# ----------------------------------------------------------------------------------- plots


def plot(model: str, bis: dict, fitted: dict, directory: str) -> str:
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
    ax_t.set_yticks([0.4, 1.4])
    ax_t.set_yticklabels(["target", "fitted"])
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
    parser.add_argument("--popsize", type=int, default=15, help="population per parameter (default: 12)")
    parser.add_argument("--duration", type=float, default=DURATION,
                        help="seconds of the step over which spikes are fitted (default: 1.0)")
    parser.add_argument("--plot", metavar="DIR", help="save figures into this folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    status = 0
    for model in (("adex", "izhikevich") if args.model == "both" else (args.model,)):
        bis = current_for_count(model, args.count)
        unit = " nA" if model == "adex" else ""
        print(f"{model}: {bis['count']} spikes in 1 s at {bis['current']:.5g}{unit} "
              f"({bis['simulations']} simulations of bisection)")
        fitted = fit_spike_times(model, seed=args.seed, generations=args.generations, popsize=args.popsize,
                                 duration=args.duration, progress=False if args.no_progress else None)
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
        if args.plot:
            print(f"  wrote {plot(model, bis, fitted, args.plot)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
