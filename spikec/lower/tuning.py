"""Tuning of nonlinear units: parabola product units and NEF ensembles.

Both produce, for a group of *units* (one per array element), the neuron
gains and biases, the input map (what each neuron's summed input is, in
terms of the unit's operand values) and the decoders (how the unit's result
is read out of the neurons' activities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class UnitTuning:
    """Neurons for ``n_units`` units of one op.

    ``encode`` (neurons x unit inputs) maps the stacked unit operands to each
    neuron's input before gain; ``decode`` (units x neurons) maps activities
    to results, to which ``correction`` (an affine function of the operands,
    applied by the caller) is added.
    """

    gain: np.ndarray
    bias: np.ndarray
    encode: sp.csr_array
    decode: sp.csr_array


def parabola_square(lower: np.ndarray, upper: np.ndarray, max_rate: float
                    ) -> tuple[UnitTuning, np.ndarray, np.ndarray]:
    """One Parabola neuron per element for ``u**2`` with ``lower <= u <= upper``.

    The neuron's current is ``g * (u - L)``: it is silent only below the
    range, and its rate ``g**2 (u - L)**2`` reaches ``max_rate`` at ``u = H``.
    Then ``u**2 = rate / g**2 + 2 L u - L**2``: the decoder is ``1/g**2`` and
    the linear and constant corrections go straight to the consumers (they
    cost no neurons).  Exact in rate mode while ``u`` stays in range.

    Returns the tuning and the correction coefficients (``lin``, ``const``)
    such that ``u**2 = decode @ rates + lin * u + const``.
    """
    lower = np.asarray(lower, dtype=np.float64).ravel()
    upper = np.asarray(upper, dtype=np.float64).ravel()
    g = np.sqrt(max_rate) / (upper - lower)
    n = lower.size
    tuning = UnitTuning(gain=g, bias=-g * lower, encode=sp.identity(n, format="csr"),
                        decode=sp.diags_array(1.0 / g**2, format="csr"))
    return tuning, 2.0 * lower, -lower**2


def parabola_square_pairs(lower: np.ndarray, upper: np.ndarray, max_rate: float
                          ) -> tuple[UnitTuning, np.ndarray, np.ndarray]:
    """Two Parabola neurons per element for ``u**2``, ``lower <= u <= upper``: a symmetric pair.

    With ``c`` the centre and ``R`` the radius of the range, one neuron's
    current is ``g * (u - c)``, the other's ``-g * (u - c)``, ``g = sqrt(max_rate) / R``:
    both are silent at the centre and one of them reaches ``max_rate`` at
    either end.  ``u**2 = (w+**2 + w-**2) + 2 c u - c**2`` with ``w = u - c``,
    so both decoders are ``1/g**2 = R**2 / max_rate``: a quarter of
    :func:`parabola_square`'s (whose single neuron spans the range from
    one end, ``g = sqrt(max_rate) / 2R``), for about the same spikes averaged
    over the range and far fewer near the centre.  Spike quantization error
    scales with the decoder, so a pair is about 4x more precise per spike.

    Neurons are ordered ``[+ for every element, - for every element]``.
    Returns the tuning and ``lin``, ``const`` as :func:`parabola_square`.
    """
    lower = np.asarray(lower, dtype=np.float64).ravel()
    upper = np.asarray(upper, dtype=np.float64).ravel()
    center, radius = (lower + upper) / 2, (upper - lower) / 2
    g = np.sqrt(max_rate) / radius
    n = lower.size
    eye = sp.identity(n, format="csr")
    tuning = UnitTuning(gain=np.concatenate([g, g]), bias=np.concatenate([-g * center, g * center]),
                        encode=sp.vstack([eye, -eye], format="csr"),
                        decode=sp.hstack([sp.diags_array(1.0 / g**2), sp.diags_array(1.0 / g**2)], format="csr"))
    return tuning, 2.0 * center, -center**2


def parabola_square_symmetric(lower: np.ndarray, upper: np.ndarray, max_rate: float
                              ) -> tuple[UnitTuning, np.ndarray, np.ndarray]:
    """One :class:`~spikec.models.neurons.SymmetricParabola` neuron per element for ``u**2``, ``lower <= u <= upper``.

    With ``c`` the centre and ``R`` the radius of the range, the neuron's
    current is ``g * (u - c)``, ``g = sqrt(max_rate) / R``, and its rate
    ``g**2 (u - c)**2`` for either sign: silent at the centre, ``max_rate``
    at either end.  The decoder is ``1/g**2``, the quantum of
    :func:`parabola_square_pairs` with half its neurons; and where a pair's
    two neurons each keep their own leftover voltage when the sign of
    ``u - c`` flips, this one neuron carries its leftover across, so on raw
    spikes its quantization error is up to half the pair's (Gyrus's unit).
    Exact in rate mode for every ``u``.

    Returns the tuning and ``lin``, ``const`` as :func:`parabola_square`.
    """
    lower = np.asarray(lower, dtype=np.float64).ravel()
    upper = np.asarray(upper, dtype=np.float64).ravel()
    center, radius = (lower + upper) / 2, (upper - lower) / 2
    g = np.sqrt(max_rate) / radius
    tuning = UnitTuning(gain=g, bias=-g * center, encode=sp.identity(lower.size, format="csr"),
                        decode=sp.diags_array(1.0 / g**2, format="csr"))
    return tuning, 2.0 * center, -center**2


def balanced_product(lx: np.ndarray, hx: np.ndarray, ly: np.ndarray, hy: np.ndarray
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray, float]:
    """How to write ``x * y`` so that its squares are as small as the product's own range.

    With ``x = cx + p`` (``|p| <= rx``) and ``y = cy + q`` (``|q| <= ry``),
    ``x*y = cx*cy + cy*p + cx*q + p*q``: only ``p*q`` needs neurons, and
    ``p*q = ((p/s + s q)**2 - (p/s - s q)**2) / 4`` for any ``s``.  With
    ``s = sqrt(rx / ry)`` both squared operands span ``+-2 sqrt(rx ry)``, so a
    unit's quantization error scales with ``rx * ry`` (the product's range)
    instead of ``(rx + ry)**2``: far smaller when one operand barely moves
    (a runtime input held constant), as in the matrix inverse.

    Returns ``(cx, cy)``, ``(1/s, s)`` (per element), the radius ``2 sqrt(rx ry)``
    of both squared operands, and the constant ``cx*cy`` (the linear terms
    ``cy*p + cx*q`` are left to the caller).
    """
    cx, rx = (lx + hx) / 2, (hx - lx) / 2
    cy, ry = (ly + hy) / 2, (hy - ly) / 2
    s = np.sqrt(rx / ry)
    return (cx, cy), (1.0 / s, s), 2.0 * np.sqrt(rx * ry), cx * cy


@dataclass(frozen=True)
class Typical:
    """What the calibration runs say about the operands of products (:func:`typical_magnitudes`).

    ``magnitude``: node id -> per element, the median over the runs of its RMS over time; ``moving``: node id
    -> per element, whether it changed within any run (a value of the inputs alone holds still while the
    inputs do; a value of a state moves).
    """

    magnitude: dict[int, np.ndarray]
    moving: dict[int, np.ndarray]


def typical_magnitudes(graph, runs, t: float, dt: float, wanted) -> Typical:
    """Per element of each ``wanted`` node, its typical magnitude over the calibration ``runs``, and whether it moves.

    Each run (a list of input functions, as :func:`spikec.ir.interpret.simulate_graph` takes) is simulated
    ideally for ``t`` seconds; a node's per-run RMS over time is taken per element, and the typical
    magnitude is the median of those over the runs.  The median, not the extremes the ranges hold: one
    ill-conditioned draw (a 5x5 inverse with an entry of 65 where the median is 0.5) would otherwise set
    the scale for every input of the domain.  A run that goes non-finite is left out (as the ranges do).
    """
    from spikec.ir.interpret import simulate_graph

    wanted = sorted(set(wanted))
    if not wanted:
        return Typical({}, {})
    per_run: list[dict[int, np.ndarray]] = []
    moving = {i: np.zeros(graph[i].shape, dtype=bool) for i in wanted}
    steps = max(1, int(round(t / dt)))
    for run in runs:
        sums = {i: np.zeros(graph[i].shape) for i in wanted}
        first: dict[int, np.ndarray] = {}
        moved = {i: np.zeros(graph[i].shape, dtype=bool) for i in wanted}

        def observe(values, sums=sums, first=first, moved=moved):
            for i in wanted:
                value = values[i]
                sums[i] += np.square(value)
                if i in first:
                    moved[i] |= value != first[i]
                else:
                    first[i] = np.array(value, copy=True)

        with np.errstate(all="ignore"):
            simulate_graph(graph, run, steps, dt, progress=False, observe=observe, only=wanted)
        rms = {i: np.sqrt(sums[i] / steps) for i in wanted}
        if all(np.all(np.isfinite(v)) for v in rms.values()):
            per_run.append(rms)
            for i in wanted:
                moving[i] |= moved[i]
    if not per_run:
        return Typical({}, {})
    return Typical({i: np.median(np.stack([r[i] for r in per_run]), axis=0) for i in wanted}, moving)


def product_balance(typical_x: np.ndarray, typical_y: np.ndarray) -> np.ndarray:
    """Per element, the factor ``s`` with which ``x * y == (s x) (y / s)`` has operands of one typical size.

    ``s = sqrt(|y| / |x|)`` on the typical magnitudes (:func:`typical_magnitudes`): then ``s x`` and
    ``y / s`` both have the typical size ``sqrt(|x| |y|)``.  The squares of ``s x +- y / s`` carry values
    no bigger than needed for the product (``(a + b)**2 >= 4 a b``, equal when ``a == b``), so a parabola
    pair of a given quantum spends the fewest spikes on it.  1 where either magnitude is 0 (nothing to match).
    (:func:`spikec.lower.rules` applies it only where one operand holds still: see ``LowerOptions.product_balance``.)
    """
    tx, ty = np.asarray(typical_x, dtype=np.float64), np.asarray(typical_y, dtype=np.float64)
    ok = (tx > 0) & (ty > 0) & np.isfinite(tx) & np.isfinite(ty)
    return np.where(ok, np.sqrt(np.where(ok, ty, 1.0) / np.where(ok, tx, 1.0)), 1.0)


def nef_ensembles(
    centers: np.ndarray,
    radii: np.ndarray,
    functions,
    neuron_type,
    n_neurons: int,
    max_rates: tuple[float, float],
    intercepts: tuple[float, float],
    solver,
    n_eval_points: int,
    rng: np.random.Generator,
) -> UnitTuning:
    """NEF ensembles, one of ``n_neurons`` per unit, decoding ``functions(points)``.

    ``centers`` and ``radii`` have shape ``(units, dims)``: unit ``i``
    represents the box ``centers[i] +- radii[i]``.  ``functions(i, x)`` gives
    the target for unit ``i`` at points ``x`` of shape ``(m, dims)``.
    Encoders are random unit vectors, tuning curves are drawn from uniform
    ``max_rates`` and ``intercepts`` (nengo's conventions), and decoders come
    from ``solver`` (a nengo solver) on evaluation points covering the box.
    """
    import nengo

    units, dims = centers.shape
    rate_type = neuron_type.as_rate()
    gains, biases, rows, cols, vals, dec_rows, dec_cols, dec_vals = [], [], [], [], [], [], [], []
    grid = _eval_points(dims, n_eval_points, rng)
    for i in range(units):
        mr = rng.uniform(*max_rates, size=n_neurons)
        ic = rng.uniform(*intercepts, size=n_neurons)
        enc = nengo.dists.ScatteredHypersphere(surface=True).sample(n_neurons, dims, rng=_np_random(rng))
        g, b = rate_type.gain_bias(mr, ic)
        acts = np.asarray(rate_type.rates(grid @ enc.T * g + b))
        target = np.asarray(functions(i, centers[i] + radii[i] * grid), dtype=np.float64).reshape(len(grid), 1)
        decoders, _ = solver(acts, target, rng=_np_random(rng))
        base = i * n_neurons
        # neuron input = e . (x - c) / r, so the bias absorbs the centre
        gains.append(g)
        biases.append(b - g * (enc @ (centers[i] / radii[i])))
        for k in range(n_neurons):
            for d in range(dims):
                rows.append(base + k)
                cols.append(i * dims + d)
                vals.append(enc[k, d] / radii[i, d])
        dec_rows.extend([i] * n_neurons)
        dec_cols.extend(range(base, base + n_neurons))
        dec_vals.extend(decoders[:, 0])
    n = units * n_neurons
    return UnitTuning(
        gain=np.concatenate(gains), bias=np.concatenate(biases),
        encode=sp.csr_array((vals, (rows, cols)), shape=(n, units * dims)),
        decode=sp.csr_array((dec_vals, (dec_rows, dec_cols)), shape=(units, n)),
    )


def _eval_points(dims: int, per_dim: int, rng: np.random.Generator) -> np.ndarray:
    if dims == 1:
        return np.linspace(-1.0, 1.0, per_dim)[:, None]
    return rng.uniform(-1.0, 1.0, size=(per_dim * dims * 2, dims))


def _np_random(rng: np.random.Generator) -> np.random.RandomState:
    """nengo's samplers and solvers take a RandomState; derive one from our Generator."""
    return np.random.RandomState(rng.integers(2**31))
