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
