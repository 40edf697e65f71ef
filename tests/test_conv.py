"""Convolution, average pooling, dense layers and trainable parameters, through every stage.

Oracles: SciPy's ``correlate2d`` (and explicit zero padding, TensorFlow's
"same" rule) for ``conv2d``; reshape-and-mean for ``avg_pool2d``; the ideal
NumPy reference for every back end's rate mode; the NumPy netlist simulator
(float64) for the JAX back end's spike trains.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from numpy.testing import assert_allclose, assert_array_equal

import spikec
from spikec.ir.linear_map import linear_map
from spikec.netlist import AvgPool, Convolution


def scipy_conv(x, k, strides=(1, 1), padding="valid"):
    """Cross-correlation by scipy, channel by channel; TensorFlow's 'same' padding."""
    h, w, c = x.shape
    kh, kw, _, f = k.shape
    sy, sx = strides
    if padding == "same":
        oh, ow = -(-h // sy), -(-w // sx)
        ph, pw = max((oh - 1) * sy + kh - h, 0), max((ow - 1) * sx + kw - w, 0)
        x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.stack([sum(scipy.signal.correlate2d(x[..., ch], k[:, :, ch, fi], mode="valid") for ch in range(c))
                    for fi in range(f)], axis=-1)
    return out[::sy, ::sx]


CASES = [((7, 6, 2), (3, 3, 2, 4), (1, 1), "valid"), ((7, 6, 2), (3, 2, 2, 3), (2, 1), "valid"),
         ((7, 6, 1), (3, 3, 1, 2), (2, 2), "same"), ((5, 5, 3), (1, 1, 3, 2), (1, 1), "same"),
         ((6, 6, 2), (4, 4, 2, 2), (1, 1), "same")]


@pytest.mark.parametrize("xshape, kshape, strides, padding", CASES)
def test_conv2d_reference_matches_scipy(xshape, kshape, strides, padding):
    rng = np.random.default_rng(1)
    x, k = rng.normal(size=xshape), rng.normal(size=kshape)
    expected = scipy_conv(x, k, strides, padding)
    assert_allclose(spikec.conv2d(x, k, strides, padding), expected, atol=1e-12)
    # the netlist transform and the linear-map matrix give the same values
    conv = Convolution(xshape, spikec.param("k", k).init, strides, padding)
    assert conv.output_shape == expected.shape
    assert_allclose(conv.matrix() @ x.ravel(), expected.ravel(), atol=1e-12)
    prog = spikec.compile(lambda img: spikec.conv2d(img, k, strides, padding))(x)
    (node,) = [n for n in prog.graph if n.op == "conv2d"]
    (m,), bias = linear_map(node, [xshape])
    assert_allclose(m @ x.ravel(), expected.ravel(), atol=1e-12)
    assert not bias.any()


def test_avg_pool2d_reference_and_map():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 9, 3))
    expected = x[:, :8].reshape(3, 2, 4, 2, 3).mean(axis=(1, 3))  # 'valid': the last column is dropped
    assert_allclose(spikec.avg_pool2d(x, 2), expected, atol=1e-12)
    prog = spikec.compile(lambda img: spikec.avg_pool2d(img, 2))(x)
    (node,) = [n for n in prog.traced_graph if n.op == "avg_pool2d"]
    (m,), _ = linear_map(node, [x.shape])
    assert_allclose(m @ x.ravel(), expected.ravel(), atol=1e-12)
    assert m.nnz == expected.size * 4
    # the netlist transform: the same matrix, and JAX's pooling plan gives the same values
    pool = AvgPool(x.shape, (2, 2), (2, 2))
    assert_allclose(pool.matrix().toarray(), m.toarray())
    assert pool.nnz == m.nnz
    from spikec.backends.netsim import LaxAvgPoolPlan

    for tr in (pool, AvgPool(x.shape, (3, 2), (1, 2))):
        got = np.asarray(LaxAvgPoolPlan(tr).apply(None, np.stack([x.ravel(), -x.ravel()])))
        assert_allclose(got, np.stack([tr.matrix() @ x.ravel(), -(tr.matrix() @ x.ravel())]), atol=1e-6)


def test_dense_reference():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 3)), rng.normal(size=(6, 4))
    assert_allclose(spikec.dense(x, w), x.ravel() @ w)
    with pytest.raises(spikec.ShapeError):
        spikec.compile(lambda v: spikec.dense(v, np.ones((5, 4))))(x)


def test_conv2d_shape_errors_name_the_op():
    with pytest.raises(spikec.ShapeError, match="conv2d"):
        spikec.compile(lambda v: spikec.conv2d(v, np.ones((3, 3, 2, 1))))(np.zeros((5, 5, 3)))
    with pytest.raises(TypeError):
        spikec.param("", np.ones(3))


def small_net(rng):
    k1 = rng.normal(0, 0.5, (3, 3, 2, 4))
    w = rng.normal(0, 0.5, (2 * 2 * 4, 3))
    lif = spikec.LIF(amplitude=0.01)

    def net(img):
        h = spikec.neurons(spikec.conv2d(img, spikec.param("k1", k1), padding="same"), lif, gain=2.0,
                           bias=spikec.param("b1", np.ones(4)))
        return spikec.dense(spikec.avg_pool2d(spikec.avg_pool2d(h, 2), 2), spikec.param("w", w))

    return net


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 8, 2))
    return spikec.compile(small_net(rng))(x), x


def test_convolution_stays_a_convolution(small):
    prog, _ = small
    net = prog.netlist
    convs = [p for p in net.projections if isinstance(p.transform, Convolution)]
    assert len(convs) == 1 and convs[0].transform.kernel.shape == (3, 3, 2, 4)
    assert sum(isinstance(p.transform, AvgPool) for p in net.projections) == 2
    # the convolution feeds the neurons directly (no copy through a sum node)
    assert convs[0].post == net[net.info["params"]["b1"].target].name
    assert all(p.transform.shape[0] * p.transform.shape[1] < 300 * 256 for p in net.projections)
    params = net.info["params"]
    assert set(params) == {"k1", "b1", "w"}
    assert params["k1"].kind == "weights" and params["b1"].kind == "bias" and params["w"].transpose
    # the bias parameter broadcasts per channel onto the population's neurons
    pop = net[params["b1"].target]
    assert_allclose(params["b1"].to_netlist(np.arange(4.0)), np.tile(np.arange(4.0), 64) + (pop.bias.value - 1))
    assert_allclose(params["b1"].from_netlist(pop.bias.value), np.ones(4))


@pytest.mark.parametrize("backend", ["numpy", "jax", "nengo"])
def test_rate_mode_matches_reference(small, backend):
    prog, x = small
    ideal = prog.run(x, t=0.005, backend="numpy", mode="ideal").outputs[0][-1]
    rate = prog.run(x, t=0.005, backend=backend, mode="rate").outputs[0][-1]
    assert_allclose(rate, ideal, rtol=1e-5 if backend == "jax" else 1e-9, atol=1e-5)
    assert np.abs(ideal).max() > 0.1  # the neurons are active


def test_spiking_jax_float64_matches_numpy_spike_for_spike(small):
    prog, x = small
    a = prog.run(x, t=0.05, backend="numpy", mode="spiking")
    b = prog.run(x, t=0.05, backend="jax", mode="spiking", dtype="float64")
    assert a.spikes[-1] > 50
    assert_array_equal(a.spikes, b.spikes)
    assert_allclose(a.outputs[0], b.outputs[0], atol=1e-9)


def test_convolution_matches_nengo_convolution():
    nengo = pytest.importorskip("nengo")
    rng = np.random.default_rng(4)
    for xshape, kshape, strides, padding in CASES:
        x, k = rng.normal(size=xshape), rng.normal(size=kshape)
        tr = nengo.Convolution(kshape[3], xshape, kernel_size=kshape[:2], strides=strides, padding=padding,
                               init=k)
        ours = spikec.conv2d(x, k, strides, padding)
        assert_allclose(_nengo_apply(tr, x), ours.ravel(), atol=1e-10)


def _nengo_apply(tr, x):
    import nengo

    with nengo.Network() as model:
        node = nengo.Node(x.ravel())
        out = nengo.Node(size_in=tr.size_out)
        nengo.Connection(node, out, transform=tr, synapse=None)
        probe = nengo.Probe(out)
    with nengo.Simulator(model, progress_bar=False) as sim:
        sim.step()
    return sim.data[probe][-1]


@pytest.mark.parametrize("xshape, kshape, strides, padding", CASES)
def test_convolution_fan_out_and_nnz_match_its_matrix(xshape, kshape, strides, padding):
    k = np.random.default_rng(5).normal(size=kshape)
    k[0, 0] = 0.0  # zeros are not weights
    conv = Convolution(xshape, spikec.param("k", k).init, strides, padding)
    m = conv.matrix()
    m.eliminate_zeros()
    assert_array_equal(conv.fan_out(), np.asarray((m != 0).sum(axis=0)).ravel())
    assert conv.nnz == m.nnz


@pytest.mark.parametrize("xshape, kshape, strides, padding", CASES)
def test_jax_convolution_gradients_equal_jax_autodiff(xshape, kshape, strides, padding):
    """The JAX back end's convolution has its own kernel gradient (GEMMs per kernel offset): it must
    equal JAX's autodiff of ``lax.conv_general_dilated``, input gradient included."""
    jax = pytest.importorskip("jax")
    from spikec.backends.netsim import _lax_conv, _lax_conv_impl
    from spikec.ir.conv import conv_padding

    pads = conv_padding(xshape, kshape, strides, padding)
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        x = jax.numpy.asarray(rng.normal(size=(3, *xshape)))
        k = jax.numpy.asarray(rng.normal(size=kshape))
        g = jax.numpy.asarray(rng.normal(size=_lax_conv_impl(x, k, strides, pads).shape))
        ours = jax.vjp(lambda a, b: _lax_conv(a, b, strides, pads), x, k)
        theirs = jax.vjp(lambda a, b: _lax_conv_impl(a, b, strides, pads), x, k)
        assert_allclose(ours[0], theirs[0], rtol=1e-12)
        for mine, ref in zip(ours[1](g), theirs[1](g)):
            assert np.abs(ref).max() > 0
            assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)
