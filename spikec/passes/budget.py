"""Neuron budget: how many neurons, at what rate, for each nonlinear unit."""

from __future__ import annotations

import math

from spikec.ir.attrs import Attrs
from spikec.ir.graph import Graph
from spikec.ir.registry import get_op
from spikec.passes.rewrite import rebuild

# Constants of the error model (see budget's docstring); rough NEF figures
# for LIF ensembles with evenly spread intercepts and encoders.
RATE_ERROR = 0.1    # k_d: static decoding error of one neuron, relative to the radius
SPIKE_ERROR = 0.5   # k_s: spike-noise amplitude of one neuron per sqrt(spikes seen in tau)
MEAN_RATE_FRACTION = 0.5  # mean firing rate over the represented range, as a fraction of max_rate


def unit_dimensions(op: str) -> int:
    """Dimensions one unit represents: 2 for a product (x, y), 1 for an elementwise function."""
    return get_op(op).unit_inputs


def predicted_error(n_neurons: int, max_rate: float, tau: float, dims: int = 1) -> float:
    """The model's RMS error of one unit, relative to its range (see :func:`budget`)."""
    n = max(n_neurons, 1) / dims
    return math.sqrt(RATE_ERROR**2 / n + SPIKE_ERROR**2 / (n * max_rate * tau))


def neurons_for(accuracy: float, max_rate: float, tau: float, dims: int = 1) -> int:
    """Fewest neurons whose predicted error is at most ``accuracy``."""
    per_dim = (RATE_ERROR**2 + SPIKE_ERROR**2 / (max_rate * tau)) / accuracy**2
    return int(math.ceil(per_dim * dims))


def budget(graph: Graph, *, accuracy: float | None = None, spikes: float | None = None,
           max_rate: float = 200.0, tau: float = 0.005, min_neurons: int = 2,
           max_neurons: int = 10_000) -> Graph:
    """Choose ``n_neurons`` and ``max_rate`` for every nonlinear unit; store them as ``tuning``.

    Each nonlinear node gets ``attrs["tuning"]``, an :class:`Attrs` with
    ``n_neurons`` (per scalar unit), ``max_rate`` (Hz), ``tau`` (s, the
    synapse the estimate assumes), ``dims`` (1 for an elementwise function,
    2 for a product) and ``predicted_error``.  The lowering reads it; its
    own exact constructions (e.g. the parabolic product pair in rate mode)
    may need fewer neurons and can ignore it.

    Error model (the usual NEF scaling, deliberately simple): a unit
    represented by ``n`` neurons per dimension firing at up to ``r`` Hz and
    read through a synapse of time constant ``tau`` has RMS error, relative
    to its range,

        e(n, r) = sqrt(k_d**2 / n + k_s**2 / (n * r * tau))

    The first term is the decoding (distortion and rate-noise) error, which
    falls like ``1/sqrt(n)``; the second is spike noise: each neuron
    contributes about ``r * tau`` spikes within one synaptic time constant,
    so the noise falls like ``1/sqrt(n * r * tau)``, i.e. like
    ``1/(r * tau)`` in variance.  ``k_d = RATE_ERROR`` and
    ``k_s = SPIKE_ERROR`` are module constants.

    * ``accuracy=e``: every unit gets the fewest neurons with ``e(n, r) <= e``
      (at ``max_rate``), clipped to ``[min_neurons, max_neurons]``;
    * ``spikes=S`` (spikes per second for the whole network): neurons fire on
      average at ``MEAN_RATE_FRACTION * max_rate``, so ``S`` buys
      ``S / (MEAN_RATE_FRACTION * max_rate)`` neurons, shared among the units
      in proportion to their dimensions;
    * neither: ``accuracy=0.05``.

    Preserves: everything but the ``tuning`` attribute (the NumPy reference
    output, inputs, outputs, all other attributes).  Does not mutate
    ``graph``.
    """
    if accuracy is not None and spikes is not None:
        raise ValueError("budget takes accuracy or spikes, not both")
    if accuracy is None and spikes is None:
        accuracy = 0.05
    if accuracy is not None and not accuracy > 0:
        raise ValueError(f"budget: accuracy must be positive, got {accuracy}")
    if spikes is not None and not spikes > 0:
        raise ValueError(f"budget: spikes must be positive, got {spikes}")

    units = []
    for node in graph:
        opdef = get_op(node.op)
        if opdef.is_nonlinear:
            count = opdef.count_units(node, [graph[i].shape for i in node.inputs])
            units.append((node, count, unit_dimensions(node.op)))
    per_dim_neurons = None
    if spikes is not None:
        total_dims = sum(count * dims for _, count, dims in units) or 1
        per_dim_neurons = spikes / (MEAN_RATE_FRACTION * max_rate) / total_dims

    tuned = {}
    for node, _count, dims in units:
        if per_dim_neurons is not None:
            n = int(per_dim_neurons * dims)
        else:
            n = neurons_for(accuracy, max_rate, tau, dims)
        n = min(max(n, min_neurons), max_neurons)
        tuning = Attrs(n_neurons=n, max_rate=float(max_rate), tau=float(tau), dims=dims,
                       predicted_error=predicted_error(n, max_rate, tau, dims))
        tuned[node.id] = node.replace(attrs=node.attrs.replace(tuning=tuning))
    return rebuild(graph.replace(nodes=[tuned.get(n.id, n) for n in graph]))
