"""Small spikec networks for the NIR tests and the interop benchmark: a dense LIF net, a classifier in the README's
style (trained gains and biases, spike amplitude 0.01), a conv net and a lowpass chain.  Each builder takes a
random generator and a LIF type and returns ``(function, example input)``."""

from __future__ import annotations

import dataclasses

import numpy as np

import spikec
from spikec.ir.attrs import ConstArray


def lif0(**kw):
    """spikec's LIF as NIR has it: no refractory period, no voltage floor."""
    return spikec.LIF(tau_ref=0.0, min_voltage=-np.inf, **kw)


def dense_net(rng, lif):
    w1, w2 = rng.normal(0, 1, (20, 30)), rng.normal(0, 0.5, (30, 10)) * 0.02
    b1 = rng.uniform(0.5, 1.5, 30)

    def f(x):
        h = spikec.neurons(spikec.dense(x, spikec.param("w1", w1)), lif, gain=2.0, bias=spikec.param("b1", b1))
        return spikec.neurons(spikec.dense(h, spikec.param("w2", w2)), lif, gain=1.0, bias=0.8)

    return f, rng.uniform(0, 1, 20)


def classifier(rng, lif):
    """The README's classifier style: conv -> LIF -> pool -> conv -> LIF -> dense, trained gains and biases."""
    k1, k2 = rng.normal(0, 0.5, (3, 3, 2, 4)), rng.normal(0.02, 0.05, (3, 3, 4, 3))
    w = rng.normal(0, 0.01, (2 * 2 * 3, 5))
    g1, b1 = rng.uniform(1, 3, 4), rng.uniform(0.5, 1.5, 4)

    def f(img):
        h = spikec.neurons(spikec.conv2d(img, spikec.param("k1", k1), padding="same"), lif,
                           gain=spikec.param("g1", np.broadcast_to(g1, (8, 8, 4)).copy()),
                           bias=spikec.param("b1", np.broadcast_to(b1, (8, 8, 4)).copy()))
        h = spikec.avg_pool2d(h, 2)
        h = spikec.neurons(spikec.conv2d(h, spikec.param("k2", k2)), lif, 3.0, 1.0)
        return spikec.dense(h, spikec.param("w", w))

    return f, rng.uniform(0, 1, (8, 8, 2))


def conv_net(rng, lif):
    k1 = rng.normal(0, 0.5, (3, 3, 1, 3))
    w = rng.normal(0, 0.05, (3 * 3 * 3, 4))

    def f(img):
        h = spikec.neurons(spikec.conv2d(img, k1, strides=2), lif, 2.0, 1.0)
        return spikec.neurons(spikec.dense(h, w), lif, 1.0, 0.9)

    return f, rng.uniform(0, 1, (7, 7, 1))


def lowpass_chain(rng, lif):
    w1, w2 = rng.normal(0, 1, (6, 20)), rng.normal(0, 0.3, (20, 8))

    def f(x):
        h = spikec.neurons(spikec.dense(x, w1), lif, 1.5, 1.0)
        h2 = spikec.neurons(spikec.filter(spikec.dense(h, w2 * 0.05), 0.01), lif, 1.0, 0.9)
        return spikec.filter(h2, 0.02)

    return f, rng.uniform(0, 1, 6)


def compile_rest(f, x, **options):
    """Compiled with every neuron starting at rest (as NIR's do)."""
    return spikec.compile(f, spike_phase="rest", **options)(x)


def as_exported(net):
    """``net`` as its NIR export describes it: LIFs without floor and refractory period, starting at rest."""
    pops = []
    for p in net.populations:
        t = p.neuron_type
        if type(t).__name__ == "LIF":
            t = dataclasses.replace(t, tau_ref=0.0, min_voltage=-np.inf)
        state = tuple((k, ConstArray(np.zeros_like(v.value))) for k, v in p.initial_state)
        pops.append(dataclasses.replace(p, neuron_type=t, initial_state=state))
    return dataclasses.replace(net, populations=tuple(pops))


def spikec_trains(net, x, steps, dt):
    """Per-neuron spike trains (0/1, ``(steps, n)``) of every spiking population, from spikec's simulator."""
    from spikec.backends.numpy.runner import run_netlist
    from spikec.netlist import Output

    spiking = [p for p in net.populations if p.neuron_type.spiking]
    extra = tuple(Output(f"spikes_{p.name}", len(net.outputs) + k, p.name, (p.n,)) for k, p in enumerate(spiking))
    probe = dataclasses.replace(net, outputs=net.outputs + extra)
    res = run_netlist(probe, [lambda t: x], steps=steps, dt=dt, mode="spiking")
    trains = {p.name: res.outputs[len(net.outputs) + k] * dt / p.neuron_type.amplitude
              for k, p in enumerate(spiking)}
    return trains, res
