"""Lowering options: how graph ops become neurons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from spikec.errors import SpikecError


@dataclass(frozen=True)
class LowerOptions:
    """Every knob of the lowering, with the defaults spikec picks.

    Attributes
    ----------
    products
        ``"parabola"``: each product ``x*y`` uses two Parabola neurons on
        ``x+y`` and ``x-y`` (exact in rate mode); ``"nef"``: a 2-D NEF ensemble
        of ``n_neurons`` neurons of ``neuron_type`` per product.
    max_rate
        Firing rate (Hz) of a parabola unit at the edge of its range.
    spiking
        How rate-tuned units spike: ``"regular"`` (nengo's RegularSpiking) or
        ``"poisson"`` (PoissonSpiking).
    neuron_type
        Neuron type of NEF ensembles (elementwise functions, NEF products);
        default :class:`spikec.models.neurons.LIF`.
    n_neurons
        Neurons per element of an NEF-lowered op.
    max_rates, intercepts
        Ranges of the uniform distributions of NEF tuning curves (nengo's
        defaults are (200, 400) Hz and (-1, 0.9)).
    solver
        A nengo solver for NEF decoders (default ``nengo.solvers.LstsqL2()``).
    n_eval_points
        Sample points per dimension for solving NEF decoders.
    range_margin
        Measured value ranges are widened by this factor around their centre.
    range_t
        Seconds of ideal simulation used to measure value ranges.
    unit_synapse
        Synapse on every projection from a neuron population into another
        nonlinear unit (a float is a lowpass time constant).  ``None`` (the
        default) keeps units instantaneous, which is exact in rate mode; in
        spiking mode a few milliseconds stop spike noise from pushing the
        next units out of their tuned ranges (nengo's default is 5 ms).
    state_synapse
        Synapse on the projections from neuron populations into a state
        whose synapse is nonlinear (``spikec.Adam``: it normalises its input
        by the input's running RMS, so spike noise must be filtered out
        first).  ``None`` (the default): ``unit_synapse``.  Linear states
        (integrators, lowpass) integrate raw spikes either way.
    parabola_pairs
        ``True`` (the default): a symmetric pair of Parabola neurons per
        square, silent at the centre of its range, with a quarter of the
        quantization error per spike (see
        :func:`spikec.lower.tuning.parabola_square_pairs`); ``False``: one
        neuron per square, tuned from the bottom of its range (it fires at a
        quarter of ``max_rate`` at the range's centre): half the neurons, but
        on operands that move over their range (a product of two sines) 4x
        the error for more spikes (benchmarks/products.py).
        ``"symmetric"``: one :class:`~spikec.models.neurons.SymmetricParabola`
        neuron per square (rate ``g**2 (u - c)**2`` for either sign, see
        :func:`spikec.lower.tuning.parabola_square_symmetric`): the pair's
        quantum with half its neurons, and on raw spikes (``unit_synapse=None``)
        one leftover voltage per square instead of two, so up to half the
        pair's quantization error when the sign of ``u - c`` flips (Gyrus's
        unit).  Such a network does not export to NIR.
    input_range
        ``None`` (the default): the operands of nonlinear units are tuned to
        the values measured on the traced example inputs, so a unit that
        reads a constant input is tuned to a narrow band around the example.
        ``(lo, hi)``: every runtime input may take any value in ``[lo, hi]``
        at run time; an operand that is a linear function of inputs only
        (``A.T``, a slice of ``A``...) is tuned to the exact image of that box.
    spike_phase
        Initial phase of spiking parabola units: ``"random"`` (the default,
        nengo's uniform voltages) or ``"aligned"`` (every unit starts half way
        to its first spike).  Aligned phases make the two squares of a
        product spike in step while their rates are close, so their
        difference (the product) carries less quantization noise.
        ``"rest"``: every neuron starts at voltage 0 (as NIR's neurons do).
    balanced_products
        ``True``: a product ``x*y`` is taken around the centres of its
        operands' ranges and its two squares are balanced, so that the neurons
        represent only ``(x - cx)(y - cy)`` over a range of ``+-2 sqrt(rx ry)``
        and the rest is linear (weights; see
        :func:`spikec.lower.tuning.balanced_product`).  Much finer when one
        operand barely moves.  ``False`` (the default): squares of ``x + y``
        and ``x - y``.
    product_radius
        ``None`` (the default): each square of a parabola product is tuned to
        its operands' measured (or declared) ranges.  A number ``R``: Gyrus's
        generic recipe, which holds over any domain: every square of
        ``x*y = ((x+y)**2 - (x-y)**2) / 4`` is a symmetric pair of Parabola
        neurons centred at 0 (each fires from 0, like a unit with intercept 0)
        reaching ``max_rate`` at ``+-R``, whatever the example.  Parabola
        neurons do not saturate, so the pair is exact in rate mode for every
        value; ``R`` only trades spikes against quantization error (each
        spike is worth ``R**2 / max_rate``).  Overrides ``balanced_products`` for
        products and squares, and ``parabola_pairs=False`` (one-sided units
        cannot centre at 0): with ``parabola_pairs="symmetric"`` each square is
        one symmetric neuron of that radius.
    radius_scale
        Parabola products and squares tuned to ranges (not ``product_radius``):
        each square's radius is its operand range's radius times this factor
        (default 1).  Symmetric pairs never saturate, so a value beyond the
        scaled radius is still exact in rate mode; a factor below 1 spends
        more spikes for finer quantization where the values mostly are (the
        ranges hold the extremes of the whole domain, 3 sd wide).
    product_balance
        ``None`` (the default): a parabola product squares ``x + y`` and
        ``x - y`` as they are.  ``"domain"``: the compiler writes each
        product as ``(s x) (y / s)`` (the same value) with ``s`` per element
        chosen so that both operands have one typical size over the domain's
        calibration runs (the median over the runs of each operand's RMS over
        ``range_t``; see :func:`spikec.lower.tuning.typical_magnitudes`), so
        neither square carries more than the product needs: fewer spikes for
        the same quantum.  The factors are shown in the netlist print
        (``balance=``).
    seed
        Seed for tuning curves and initial neuron states.
    dt
        Time step the netlist is built for (only ``lti`` depends on it).
    target
        Which neurons and synapses the netlist may use
        (:mod:`spikec.lower.targets`): ``"default"`` (spikec's own: Parabola
        product units, ideal state nodes) or ``"lif"`` (LIF populations,
        weights and lowpass synapses only, what NIR and neuromorphic chips
        run: NEF products and functions, states in NEF integrators whose
        recurrent lowpass is ``state_synapse``, 100 ms unless given; units
        read each other through ``unit_synapse``, 5 ms unless given; units
        are ``LIF(min_voltage=-inf)`` unless ``neuron_type`` is given).
    weight_bits
        ``None`` (the default): float weights.  ``b``: every weight rounded
        to ``b``-bit signed levels with one scale per projection
        (:mod:`spikec.lower.targets.quantize`).
    max_neurons
        The most neurons a program may lower to (default 10,000,000: a 100x100
        inverse with a pair of neurons per square, about 1 GB in nengo); a program that would need more raises a
        :class:`~spikec.errors.SpikecError` naming its largest op, before
        anything is built (``Program.estimate`` counts them).  ``None``: no limit.
    """

    products: str = "parabola"
    max_rate: float = 1000.0
    spiking: str = "regular"
    neuron_type: Any = None
    n_neurons: int = 50
    max_rates: tuple[float, float] = (200.0, 400.0)
    intercepts: tuple[float, float] = (-1.0, 0.9)
    solver: Any = None
    n_eval_points: int = 200
    range_margin: float = 1.2
    range_t: float = 1.0
    unit_synapse: Any = None
    state_synapse: Any = None
    parabola_pairs: bool | str = True
    input_range: Any = None
    balanced_products: bool = False
    spike_phase: str = "random"
    product_radius: float | None = None
    radius_scale: float = 1.0
    product_balance: str | None = None
    seed: int = 0
    dt: float = 0.001
    max_neurons: int | None = 10_000_000
    target: str = "default"
    weight_bits: int | None = None

    def __post_init__(self):
        from spikec.lower.targets import target_of

        for name, value in target_of(self.target).defaults.items():  # the target's choice where the user left None
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.weight_bits is not None and (int(self.weight_bits) != self.weight_bits or self.weight_bits < 2):
            raise SpikecError(f"weight_bits={self.weight_bits!r}: give a whole number of bits >= 2, or None")
        if self.products not in ("parabola", "nef"):
            raise SpikecError(f"products={self.products!r}: choose 'parabola' or 'nef'")
        if self.spiking not in ("regular", "poisson"):
            raise SpikecError(f"spiking={self.spiking!r}: choose 'regular' or 'poisson'")
        if self.spike_phase not in ("random", "aligned", "rest"):
            raise SpikecError(f"spike_phase={self.spike_phase!r}: choose 'random', 'aligned' or 'rest'")
        if not self.max_rate > 0 or self.n_neurons < 1 or self.range_margin < 1:
            raise SpikecError("max_rate must be > 0, n_neurons >= 1 and range_margin >= 1")

        if not (isinstance(self.parabola_pairs, bool) or self.parabola_pairs == "symmetric"):
            raise SpikecError(f"parabola_pairs={self.parabola_pairs!r}: choose True, False or 'symmetric'")
        if self.product_balance not in (None, "domain"):
            raise SpikecError(f"product_balance={self.product_balance!r}: choose None or 'domain'")
        if not float(self.radius_scale) > 0:
            raise SpikecError(f"radius_scale={self.radius_scale!r}: give a positive factor")
        if self.product_radius is not None and not float(self.product_radius) > 0:
            raise SpikecError(f"product_radius={self.product_radius!r}: give a positive radius or None")
        if self.input_range is not None:
            try:
                lo, hi = (float(v) for v in self.input_range)
            except (TypeError, ValueError):
                raise SpikecError(f"input_range={self.input_range!r}: give a pair (lo, hi)") from None
            if not lo < hi:
                raise SpikecError(f"input_range={self.input_range!r}: needs lo < hi")
            object.__setattr__(self, "input_range", (lo, hi))

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> LowerOptions:
        """Pick the lowering options out of a mapping; unknown keys are an error."""
        unknown = set(options) - cls.names()
        if unknown:
            raise SpikecError(f"unknown lowering options: {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(cls.names()))}")
        return cls(**options)

    def updated(self, **changes: Any) -> LowerOptions:
        return replace(self, **changes)
