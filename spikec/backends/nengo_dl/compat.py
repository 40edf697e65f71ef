"""Import NengoDL on current TensorFlow releases.

NengoDL 3.6.0 (January 2023) is the last release; it was written against
TensorFlow 2.3-2.11, when ``tf.keras`` *was* the ``keras`` package (Keras 2)
and Keras kept its internals in ``keras.engine``.  Its ``nengo_dl/compat.py``
does, at import time::

    from keras.engine.functional import Functional, _build_map
    from keras.layers import BatchNormalizationV1, BatchNormalizationV2

and the rest of NengoDL builds its simulator as a ``tf.keras.Model``.  Those
two lines stopped working as Keras moved:

* TensorFlow 2.12 (Keras 2.12): works unchanged; this module then does
  nothing but import NengoDL.
* TensorFlow 2.13-2.15 (Keras 2.13-2.15): Keras 2 moved its internals from
  ``keras.engine`` to ``keras.src.engine``, so the import fails with
  ``No module named 'keras.engine'``.
* TensorFlow 2.16 and later: ``tf.keras`` is Keras 3 by default, a rewrite
  with no ``Functional`` of that shape.  Aliasing ``keras.src`` is not
  enough there: NengoDL's ``tf.keras.Model`` would then be a Keras 3 model
  while the names it imported come from elsewhere, and the simulator fails
  later (``KeyError: 'sim'``).  Keras 2 lives on as the ``tf_keras``
  package, and TensorFlow routes ``tf.keras`` to it when the environment
  variable ``TF_USE_LEGACY_KERAS=1`` is set.

So :func:`import_nengo_dl` does, only where needed:

1. ``TF_USE_LEGACY_KERAS=1`` (when ``tf_keras`` is installed and the
   variable is unset): makes ``tf.keras`` the Keras 2 of ``tf_keras``, the
   API NengoDL was written for.  TensorFlow reads it when ``tf.keras`` is
   first touched, so it must happen before anything uses ``tf.keras``; it
   still works if TensorFlow itself was imported earlier, as long as
   ``tf.keras`` was not used yet.  If it was (and resolved to Keras 3) the
   process cannot be fixed any more and a :class:`~spikec.errors.BackendError`
   says what to do.
2. ``sys.modules["keras.engine"]`` and ``sys.modules["keras.engine.functional"]``
   -> ``<keras2>.src.engine`` and ``<keras2>.src.engine.functional``, where
   ``<keras2>`` is the package that actually backs ``tf.keras``
   (``tf_keras``, or ``keras`` on 2.13-2.15).  This answers NengoDL's
   ``from keras.engine.functional import Functional, _build_map`` with the
   very classes its ``tf.keras.Model`` subclasses, so isinstance checks and
   graph traversal (``_build_map``) agree.
3. ``keras.layers.BatchNormalizationV1`` / ``BatchNormalizationV2`` set from
   ``<keras2>.src.layers``: NengoDL only uses them to recognise batch
   normalisation layers in its Keras converter; the top-level ``keras``
   (Keras 3 on TensorFlow >= 2.16) no longer exports them.

The aliases of steps 2 and 3 exist only while NengoDL is being imported and
are removed again afterwards (NengoDL keeps its own references), so other
code that probes ``keras.engine`` to tell Keras versions apart is not misled.
Step 1 lasts for the process: ``tf.keras`` has to stay Keras 2 for NengoDL
to work.  While NengoDL imports, its GPU probe (a second Python process that
starts TensorFlow, about 5 s) is answered in-process when TensorFlow is a
CPU-only build; see :func:`_skip_gpu_probe_if_cpu_only`.
``TF_CPP_MIN_LOG_LEVEL=2`` is also set, unless the user set it, to hide
TensorFlow's C++ start-up log (it only takes effect if TensorFlow was not
imported yet).

Verified combinations are listed in :data:`VERIFIED`; :data:`SUPPORTED_TENSORFLOW`
is the range they span.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import warnings
from types import ModuleType

from spikec.errors import BackendError

__all__ = ["NENGO_DL_VERSION", "SUPPORTED_TENSORFLOW", "VERIFIED", "import_nengo_dl"]

#: TensorFlow versions this shim is meant for (PEP 440 specifier).
SUPPORTED_TENSORFLOW = ">=2.12,<2.22"
#: The NengoDL release the shim was written for (the last one).
NENGO_DL_VERSION = "3.6.0"
#: Combinations where tests/test_nengo_dl_compat.py passed (nengo 4.1.0,
#: Python 3.11): (tensorflow-cpu, Keras package backing tf.keras, numpy).
#: 2.12: no patch needed; 2.15: keras.src alias; 2.16 and 2.21: tf_keras.
VERIFIED = (
    ("2.21.0", "tf_keras 2.21.0", "2.4.6"),
    ("2.16.2", "tf_keras 2.16.0", "1.26.4"),
    ("2.15.1", "keras 2.15.0", "1.26.4"),
    ("2.12.1", "keras 2.12.0", "1.24.3"),
)

_INSTALL_HINT = (
    "supported: TensorFlow " + SUPPORTED_TENSORFLOW + " (tested: "
    + "; ".join(f"tensorflow {tf} with {k}, numpy {np}" for tf, k, np in VERIFIED)
    + "). Install with `make install`, or by hand: "
    "`pip install tensorflow-cpu==2.21.0` then "
    f"`pip install --no-deps nengo-dl=={NENGO_DL_VERSION} tf_keras==2.21.0` "
    "(--no-deps: both declare a dependency on the full `tensorflow` package, "
    "which would be installed next to tensorflow-cpu). On TensorFlow >= 2.16 "
    "tf_keras must match TensorFlow's major.minor version."
)

_TRUE = ("1", "true", "True")
_LEGACY = "TF_USE_LEGACY_KERAS"
_MISSING = object()
_LOCK = threading.Lock()


def import_nengo_dl() -> ModuleType:
    """Import and return ``nengo_dl``, patching the Keras layout it expects.

    Safe to call any number of times, from any thread: once NengoDL is
    imported it is returned straight away.  See the module docstring for
    what is patched and why.

    Raises
    ------
    BackendError
        If NengoDL or TensorFlow is missing, ``tf.keras`` is already Keras 3
        in this process, or NengoDL fails to import; the message says which
        versions are supported and what to install.
    """
    mod = sys.modules.get("nengo_dl")
    if mod is not None and hasattr(mod, "Simulator"):
        return mod
    with _LOCK:
        mod = sys.modules.get("nengo_dl")
        if mod is not None and hasattr(mod, "Simulator"):
            return mod
        return _import_nengo_dl()


def _import_nengo_dl() -> ModuleType:
    for name, what in (("tensorflow", "TensorFlow"), ("nengo_dl", "NengoDL")):
        if importlib.util.find_spec(name) is None:
            raise BackendError(
                f"The nengo_dl back end needs {what}, which is not installed.",
                hint=_INSTALL_HINT,
            )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf_was_imported = "tensorflow" in sys.modules
    has_tf_keras = importlib.util.find_spec("tf_keras") is not None
    if has_tf_keras and _LEGACY not in os.environ:
        os.environ[_LEGACY] = "1"

    try:
        import tensorflow as tf
    except Exception as exc:  # ImportError, or a broken native library
        raise BackendError(
            f"TensorFlow failed to import ({type(exc).__name__}: {exc}).",
            hint=_INSTALL_HINT,
        ) from exc

    keras2 = _keras2_behind_tf_keras(tf, tf_was_imported, has_tf_keras)
    undo: list = []
    try:
        undo.append(_install_aliases(keras2))
        undo.append(_skip_gpu_probe_if_cpu_only(tf))
        with warnings.catch_warnings():
            # "This version of NengoDL has not been tested with your Nengo
            # version": we test NengoDL 3.6.0 with nengo 4.1 ourselves.
            warnings.filterwarnings(
                "ignore", message="This version of NengoDL has not been tested"
            )
            nengo_dl = importlib.import_module("nengo_dl")
    except BackendError:
        raise
    except Exception as exc:
        for name in [m for m in sys.modules if m == "nengo_dl" or m.startswith("nengo_dl.")]:
            del sys.modules[name]
        raise BackendError(
            f"NengoDL {NENGO_DL_VERSION} failed to import with TensorFlow "
            f"{tf.__version__} and Keras package `{keras2}` "
            f"({type(exc).__name__}: {exc}).",
            hint=_INSTALL_HINT,
        ) from exc
    finally:
        for fn in reversed(undo):
            fn()

    functional = getattr(getattr(nengo_dl, "compat", None), "Functional", None)
    if functional is not None and functional.__module__.split(".")[0] != keras2:
        raise BackendError(
            f"NengoDL imported Keras internals from `{functional.__module__}` "
            f"but tf.keras is backed by `{keras2}`; its simulator would fail. "
            "Something else in this process aliased `keras.engine`.",
            hint=_INSTALL_HINT,
        )
    return nengo_dl


def _keras2_behind_tf_keras(tf: ModuleType, tf_was_imported: bool, has_tf_keras: bool) -> str:
    """Name the top-level package that backs ``tf.keras`` and check it is Keras 2."""
    try:
        model_module = tf.keras.Model.__module__
    except Exception as exc:  # tf.keras's lazy loader raises ImportError
        detail = ""
        if os.environ.get(_LEGACY) in _TRUE and not has_tf_keras:
            detail = f" {_LEGACY}=1 is set but the `tf_keras` package is not installed."
        raise BackendError(
            f"tf.keras is unavailable with TensorFlow {tf.__version__} "
            f"({type(exc).__name__}: {exc}).{detail}",
            hint=_INSTALL_HINT,
        ) from exc
    package = model_module.split(".")[0]
    version = getattr(sys.modules.get(package), "__version__", "")
    if package == "tf_keras" or not version.startswith("3."):
        return package

    # tf.keras is Keras 3: say why it was not routed to tf_keras.
    legacy = os.environ.get(_LEGACY)
    if not has_tf_keras:
        why = (
            f"tf.keras is Keras {version} and the `tf_keras` package (Keras 2) "
            "is not installed."
        )
        hint = (
            f"install it: `pip install --no-deps \"tf_keras=={_major_minor(tf.__version__)}.*\"`. "
            + _INSTALL_HINT
        )
    elif legacy not in _TRUE:
        why = (
            f"tf.keras is Keras {version} because {_LEGACY}={legacy!r} is set "
            "in the environment; NengoDL needs Keras 2 (tf_keras)."
        )
        hint = f"unset {_LEGACY} or set it to 1 before starting Python."
    elif tf_was_imported:
        why = (
            f"tf.keras was already resolved to Keras {version} in this process "
            "before spikec could route it to tf_keras (TensorFlow was imported "
            f"and tf.keras used without {_LEGACY}=1); that cannot be undone "
            "in a running process."
        )
        hint = (
            f"set {_LEGACY}=1 in the environment before starting Python, or "
            "call spikec.backends.nengo_dl.compat.import_nengo_dl() before "
            "anything uses tf.keras."
        )
    else:  # pragma: no cover - would mean TensorFlow ignored the variable
        why = f"tf.keras is Keras {version} although {_LEGACY}=1."
        hint = _INSTALL_HINT
    raise BackendError("NengoDL cannot run on Keras 3. " + why, hint=hint)


def _install_aliases(keras2: str):
    """Point ``keras.engine`` and the batch-norm names at ``keras2``.

    Checks everything first and changes nothing if a check fails.  Returns a
    function that undoes exactly what was changed.
    """
    engine = _first_module(f"{keras2}.engine", f"{keras2}.src.engine")
    functional = _first_module(f"{keras2}.engine.functional", f"{keras2}.src.engine.functional")
    layers = _first_module(
        f"{keras2}.layers",
        f"{keras2}.src.layers",
        having=("BatchNormalizationV1", "BatchNormalizationV2"),
    )
    if engine is None or functional is None or layers is None:
        raise BackendError(
            f"The Keras package `{keras2}` behind tf.keras has no "
            "`engine.functional` module or no `BatchNormalizationV1` layer; "
            "it is not a Keras 2 that NengoDL can use.",
            hint=_INSTALL_HINT,
        )
    try:
        keras_layers = importlib.import_module("keras.layers")
    except ImportError as exc:
        raise BackendError(
            f"`import keras.layers` failed ({exc}); NengoDL imports from it. "
            "TensorFlow >= 2.16 depends on the `keras` package: reinstall it.",
            hint=_INSTALL_HINT,
        ) from exc
    try:
        current = importlib.import_module("keras.engine.functional")
    except ImportError:
        current = None

    undo: list = []
    if current is not functional:
        for name, module in (("keras.engine", engine), ("keras.engine.functional", functional)):
            undo.append((sys.modules, name, sys.modules.get(name, _MISSING)))
            sys.modules[name] = module
    for name in ("BatchNormalizationV1", "BatchNormalizationV2"):
        wanted = getattr(layers, name)
        if getattr(keras_layers, name, None) is not wanted:
            undo.append((keras_layers, name, keras_layers.__dict__.get(name, _MISSING)))
            setattr(keras_layers, name, wanted)

    def restore() -> None:
        for target, name, old in reversed(undo):
            if isinstance(target, dict):
                if old is _MISSING:
                    target.pop(name, None)
                else:
                    target[name] = old
            elif old is _MISSING:
                target.__dict__.pop(name, None)
            else:
                setattr(target, name, old)

    return restore


def _skip_gpu_probe_if_cpu_only(tf: ModuleType):
    """Answer NengoDL's import-time GPU probe in-process when no GPU is possible.

    ``nengo_dl/utils.py`` starts a second Python at import time that imports
    TensorFlow only to call ``tf.config.list_physical_devices('GPU')`` (it
    avoids doing so in-process because that call freezes TensorFlow's device
    configuration).  That costs a full TensorFlow start-up, about 5 s on a
    2-core machine.  When TensorFlow is a CPU-only build (tensorflow-cpu) and
    no pluggable-device plugin is present, the answer is known to be "no
    GPU" without asking devices, so ``subprocess.call`` answers exactly that
    command with its "no GPU" exit status while NengoDL imports.  Any other
    command, or any doubt, goes to the real ``subprocess.call``.  Returns the
    function that puts ``subprocess.call`` back.
    """
    import subprocess

    try:
        info = tf.sysconfig.get_build_info()
    except Exception:
        return lambda: None
    if info.get("is_cuda_build", True) or info.get("is_rocm_build", True):
        return lambda: None
    if os.environ.get("TF_PLUGGABLE_DEVICE_LIBRARY_PATH"):
        return lambda: None
    if any(os.path.isdir(os.path.join(p, "tensorflow-plugins")) for p in sys.path if p):
        return lambda: None

    real_call = subprocess.call

    def call(args, *rest, **kwargs):
        if (
            isinstance(args, (list, tuple))
            and len(args) == 3
            and args[0] == sys.executable
            and args[1] == "-c"
            and "list_physical_devices('GPU')" in args[2]
        ):
            return 1  # the probe's exit status for "no GPU"
        return real_call(args, *rest, **kwargs)

    subprocess.call = call

    def unpatch() -> None:
        if subprocess.call is call:
            subprocess.call = real_call

    return unpatch


def _first_module(*names: str, having: tuple[str, ...] = ()) -> ModuleType | None:
    """The first of ``names`` that imports and has every attribute in ``having``."""
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if all(hasattr(module, attr) for attr in having):
            return module
    return None


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
