"""NengoDL through spikec's compatibility shim, checked against nengo itself.

What NengoDL promises: it builds the same model as nengo (nengo's own
builder makes gains, biases, encoders and decoders from the same seeds) and
runs nengo's operators as TensorFlow ops, so for the same network and seed
its output equals nengo.Simulator's up to floating point.  Measured here
(50 neurons, 1 s, seed 0): with ``dtype="float64"`` decoded outputs agree to
~1e-15 and LIF spike trains are identical; with NengoDL's default float32
they agree to ~4e-7 and the spike trains were still identical, but a float32
rounding may move a spike by one step, so that case is checked with a
tolerance.  Training (``sim.fit``) runs LIF neurons in their rate form; the
trained network then also works when run spiking.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

nengo = pytest.importorskip("nengo")

from spikec.backends.nengo_dl.compat import import_nengo_dl
from spikec.errors import BackendError

# Without TensorFlow / NengoDL installed these tests skip, except on CI,
# where `make test` installs both and a skip would hide a broken install.
_missing = [m for m in ("tensorflow", "nengo_dl") if importlib.util.find_spec(m) is None]
if _missing and not os.environ.get("CI"):
    pytest.skip(f"not installed: {', '.join(_missing)}", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _no_decoder_cache():
    """Keep nengo's on-disk decoder cache (~/.cache/nengo) out of these tests.

    It is shared by every environment on the machine and stores pickles that
    another NumPy major version cannot read (numpy 2 writes ``numpy._core``).
    """
    old = nengo.rc.get("decoder_cache", "enabled")
    nengo.rc.set("decoder_cache", "enabled", "False")
    yield
    nengo.rc.set("decoder_cache", "enabled", old)


@pytest.fixture(scope="module")
def dl():
    nengo_dl = import_nengo_dl()
    import tensorflow as tf

    # One thread each: on 2-core machines TF's default pools slow everything
    # else down.  Only possible before TF's runtime starts.
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    return nengo_dl


def _network(dl, neuron_type, dtype):
    with nengo.Network(seed=0) as net:
        dl.configure_settings(dtype=dtype)
        stim = nengo.Node(lambda t: np.sin(2 * np.pi * t))
        ens = nengo.Ensemble(50, 1, neuron_type=neuron_type)
        nengo.Connection(stim, ens)
        decoded = nengo.Probe(ens, synapse=0.01)
        spikes = nengo.Probe(ens.neurons)
    return net, decoded, spikes


def _run_both(dl, neuron_type, dtype, t=1.0):
    net, decoded, spikes = _network(dl, neuron_type, dtype)
    with nengo.Simulator(net, progress_bar=False) as ref:
        ref.run(t)
    with dl.Simulator(net, progress_bar=False) as sim:
        sim.run(t)
    # Sanity: the network does represent its input, in both.
    ideal = np.sin(2 * np.pi * ref.trange())[:, None]
    assert np.sqrt(np.mean((ref.data[decoded] - ideal) ** 2)) < 0.15
    return ref.data, sim.data, decoded, spikes


def test_import_is_idempotent_and_leaves_no_aliases(dl):
    import tensorflow as tf

    assert import_nengo_dl() is dl
    assert hasattr(dl, "Simulator")
    # NengoDL's Keras internals are the ones behind tf.keras (else the
    # simulator fails later with KeyError: 'sim').
    keras2 = tf.keras.Model.__module__.split(".")[0]
    assert dl.compat.Functional.__module__.split(".")[0] == keras2
    assert issubclass(dl.compat.Functional, tf.keras.Model)
    if keras2 == "tf_keras":  # TensorFlow >= 2.16 route
        assert os.environ.get("TF_USE_LEGACY_KERAS") in ("1", "true", "True")
        # The temporary aliases are gone again.
        assert "keras.engine" not in sys.modules
        import keras.layers

        assert not hasattr(keras.layers, "BatchNormalizationV1")


@pytest.mark.parametrize("dtype, atol", [("float64", 1e-9), ("float32", 1e-5)])
def test_rate_neurons_match_nengo(dl, dtype, atol):
    ref, got, decoded, _ = _run_both(dl, nengo.LIFRate(), dtype)
    assert got[decoded].shape == ref[decoded].shape
    np.testing.assert_allclose(got[decoded], ref[decoded], atol=atol, rtol=0)


def test_spiking_lif_matches_nengo_exactly_in_float64(dl):
    ref, got, decoded, spikes = _run_both(dl, nengo.LIF(), "float64")
    assert (ref[spikes] > 0).sum() > 1000  # it does spike
    np.testing.assert_array_equal(got[spikes] > 0, ref[spikes] > 0)
    np.testing.assert_allclose(got[decoded], ref[decoded], atol=1e-9, rtol=0)


def test_spiking_lif_matches_nengo_closely_in_float32(dl):
    ref, got, decoded, spikes = _run_both(dl, nengo.LIF(), "float32")
    counts_ref = (ref[spikes] > 0).sum(axis=0)
    counts_got = (got[spikes] > 0).sum(axis=0)
    # float32 rounding may move a spike across a step boundary, no more.
    assert np.abs(counts_got - counts_ref).max() <= 1
    rms = np.sqrt(np.mean((got[decoded] - ref[decoded]) ** 2))
    assert rms < 0.01


def test_fit_in_rate_mode_reduces_loss_and_transfers_to_spiking(dl):
    import tensorflow as tf

    with nengo.Network(seed=0) as net:
        dl.configure_settings(stateful=False)
        inp = nengo.Node(np.zeros(1))
        ens = nengo.Ensemble(50, 1, neuron_type=nengo.LIF())
        out = nengo.Node(size_in=1)
        nengo.Connection(inp, ens, synapse=None)
        # Decoders start at zero: the output is 0, the target x**2.
        nengo.Connection(ens, out, function=lambda x: [0.0], synapse=None)
        p = nengo.Probe(out, synapse=None)
        p_filtered = nengo.Probe(out, synapse=0.01)

    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, size=(64, 1, 1))
    y = x**2
    with dl.Simulator(net, minibatch_size=32, progress_bar=False, seed=0) as sim:
        sim.compile(optimizer=tf.optimizers.Adam(1e-4), loss={p: tf.losses.mse})
        history = sim.fit({inp: x}, {p: y}, epochs=20, verbose=0)
        losses = history.history["loss"]
        # Training steps LIF in its rate form (what training will use).
        assert losses[0] > 0.05
        assert losses[-1] < 0.1 * losses[0]

        # The trained decoders work when the same network runs spiking.
        steps = 300
        spiking = sim.predict({inp: np.tile(x, (1, steps, 1))}, verbose=0)[p_filtered]
        mse = np.mean((spiking[:, 100:, :].mean(axis=1) - y[:, 0, :]) ** 2)
        assert mse < 0.01, mse


def _python(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=240,
    )


def test_tensorflow_imported_first_with_keras3_in_use_gives_backend_error():
    """tf.keras already resolved to Keras 3: cannot be repaired; explain."""
    pytest.importorskip("tf_keras")
    import tensorflow as tf
    from packaging.version import Version

    if Version(tf.__version__) < Version("2.16"):
        pytest.skip("tf.keras is Keras 2 on this TensorFlow")
    result = _python(
        """
        import tensorflow as tf
        tf.keras.layers.Dense  # resolves tf.keras to Keras 3
        from spikec.backends.nengo_dl.compat import import_nengo_dl
        from spikec.errors import BackendError
        try:
            import_nengo_dl()
        except BackendError as e:
            print("BACKEND-ERROR", e)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BACKEND-ERROR" in result.stdout
    assert "already resolved to Keras 3" in result.stdout
    assert "TF_USE_LEGACY_KERAS=1" in result.stdout


@pytest.mark.slow
def test_tensorflow_imported_first_but_keras_untouched_still_works():
    """TensorFlow imported without the variable, tf.keras not used yet: fine."""
    result = _python(
        """
        import tensorflow as tf
        from spikec.backends.nengo_dl.compat import import_nengo_dl
        import nengo, numpy as np
        dl = import_nengo_dl()
        with nengo.Network(seed=0) as net:
            a = nengo.Ensemble(10, 1)
            p = nengo.Probe(a, synapse=0.01)
        with dl.Simulator(net, progress_bar=False) as sim:
            sim.run_steps(10)
        print("OK", tf.keras.Model.__module__)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK" in result.stdout


def test_missing_nengo_dl_gives_actionable_backend_error(monkeypatch):
    """No NengoDL installed: a BackendError that says what to install."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "nengo_dl", None)  # as if never imported

    def find_spec(name, *args, **kwargs):
        if name == "nengo_dl":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(BackendError) as info:
        import_nengo_dl()
    message = str(info.value)
    assert "NengoDL" in message
    assert "pip install --no-deps nengo-dl==3.6.0" in message
    assert ">=2.12" in message
