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
