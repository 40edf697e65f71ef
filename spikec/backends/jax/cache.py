"""JAX's persistent compilation cache for spikec's compiled runs, and the plans' cache next to it.

A compiled chunk (:mod:`spikec.backends.jax.scan`) depends only on the
program's structure, so a second process running the same program can load
it from disk instead of compiling it again.  :func:`setup` points JAX's
persistent cache at a per-user folder the first time the jax back end runs:

* ``SPIKEC_JAX_CACHE`` unset: the platform's cache folder,
  ``$XDG_CACHE_HOME/spikec/jax`` (``~/.cache/spikec/jax``) on Linux,
  ``~/Library/Caches/spikec/jax`` on macOS, ``%LOCALAPPDATA%\\spikec\\jax``
  on Windows;
* ``SPIKEC_JAX_CACHE=/some/folder``: that folder;
* ``SPIKEC_JAX_CACHE=0`` (or ``off``, ``false``, ``no``, empty): no cache.

A cache folder the user already gave JAX (``jax_compilation_cache_dir``) is
kept.  Small programs are cached too: the minimum compile time and entry
size are set to zero, because a small program's compile time is exactly
the time to first result that the cache saves.

The sparse projections' *plans* (:mod:`spikec.backends.jax.plans`: ELL
layouts, factored matrices) are NumPy work done before compiling, 1-2 s for
a random 10,000-neuron network; :func:`cached_plan` keeps the large ones in
the ``plans`` subfolder, keyed by a hash of the matrix (pattern and values),
the dtype, the options and the plan code itself, so a second process reads
them instead.  The entries are pickles, written by this user's own runs like
JAX's own entries: a folder others can write to should not be given as
``SPIKEC_JAX_CACHE``.

Finding an executable in JAX's cache still needs the program traced and
lowered to StableHLO (its key), about 0.2 s for a 5x5 inverse, as much as
loading and running it.  :func:`save_export` keeps each compiled chunk as a
serialized :mod:`jax.export` module in the ``runs`` subfolder, keyed by
:func:`run_key` (the netlist, the run's options and argument shapes, the
JAX version and spikec's own code), and a second process calls the
deserialized module instead of tracing.  Each subfolder keeps its
:data:`KEEP` most recently written entries.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["ENV", "KEEP", "PLAN_MIN_NNZ", "PLAN_MIN_SECONDS", "cache_dir", "cached_plan", "load_export", "plan_dir",
           "run_key", "save_export", "setup"]

ENV = "SPIKEC_JAX_CACHE"
_OFF = {"0", "off", "false", "no", ""}
_done: list[Path | None] = []


def cache_dir() -> Path | None:
    """The folder the cache goes to (None: disabled by ``SPIKEC_JAX_CACHE``)."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "spikec" / "jax"


def setup() -> Path | None:
    """Turn the persistent cache on (once per process); returns the folder in use, or None."""
    if _done:
        return _done[0]
    folder = None
    if jax.config.jax_compilation_cache_dir:  # the user's own choice wins
        folder = Path(jax.config.jax_compilation_cache_dir)
    else:
        wanted = cache_dir()
        if wanted is not None:
            try:
                wanted.mkdir(parents=True, exist_ok=True)
                folder = wanted
            except OSError:  # a read-only home: run without a cache rather than fail
                folder = None
            if folder is not None:
                jax.config.update("jax_compilation_cache_dir", str(folder))
    if folder is not None:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _done.append(folder)
    return folder


# Plans of sparse matrices with fewer entries are built in microseconds: not worth looking for a file.
PLAN_MIN_NNZ = 1_000
# Only plans that took this long to build are stored (a 10-row readout of 10,000 neurons: 0.3 s to try the
# factored plans; most small matrices: a millisecond, cheaper than a file).
PLAN_MIN_SECONDS = 0.02
# The plans' code is part of their key: an edited plans module never reads an older entry.
_PLAN_CODE = ("plans.py", "strided.py")
_code_hash: list[bytes] = []


def _digest(data: bytes = b""):
    # SHA-1 names cache entries (no security role): OpenSSL's runs at twice blake2b's speed here, and a 10k
    # network's keys hash 25 MB.
    return hashlib.sha1(data, usedforsecurity=False)


def plan_dir() -> Path | None:
    """The folder of cached plans (None: disabled by ``SPIKEC_JAX_CACHE``)."""
    folder = cache_dir()
    return None if folder is None else folder / "plans"


def _plan_key(transform, dtype, options: tuple) -> str:
    if not _code_hash:
        here = Path(__file__).parent
        _code_hash.append(hashlib.blake2b(b"".join((here / f).read_bytes() for f in _PLAN_CODE)).digest())
    h = _digest(_code_hash[0])
    h.update(repr((type(transform).__name__, tuple(transform.shape), np.dtype(dtype).name, options)).encode())
    for part in (transform.rows.value, transform.cols.value, transform.data.value):
        a = np.ascontiguousarray(part)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.data)
    return h.hexdigest()


def cached_plan(transform, dtype, options: tuple, build: Callable[[], Any]) -> Any:
    """``build()``'s plan for a sparse ``transform``, from the plans folder when a previous process made it.

    Small matrices (under :data:`PLAN_MIN_NNZ` entries) and a disabled
    cache build directly; plans built in under :data:`PLAN_MIN_SECONDS` are
    not stored; an unreadable or stale entry is built again and rewritten.
    The plan's ``transform`` is not stored: it is given back.
    """
    folder = plan_dir()
    if folder is None or getattr(transform, "nnz", 0) < PLAN_MIN_NNZ:
        return build()
    path = folder / f"{_plan_key(transform, dtype, options)}.pkl"
    try:
        with open(path, "rb") as f:
            plan = pickle.load(f)
        plan.transform = transform
        return plan
    except Exception:  # missing, truncated or from an incompatible version: build it again
        pass
    start = time.perf_counter()
    plan = build()
    if time.perf_counter() - start < PLAN_MIN_SECONDS:
        return plan
    stored = copy.copy(plan)
    stored.transform = None
    _store(path, stored)
    return plan


# Entries kept per subfolder (plans, runs): past it the least recently written go.  Every edit of spikec's
# code makes the stored runs stale, so without a bound a developer's folder would only grow.
KEEP = 256


def _store(path: Path, entry: Any) -> None:
    """Pickle ``entry`` to ``path`` (silently not, in a read-only folder), then prune the folder to :data:`KEEP`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # written under another name and renamed: a process reading it never sees half a file
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            pickle.dump(entry, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, path)
        entries = [e for e in os.scandir(path.parent) if e.name.endswith(path.suffix)]
        if len(entries) > KEEP:
            entries.sort(key=lambda e: e.stat().st_mtime)
            for old in entries[: len(entries) - KEEP]:
                os.remove(old.path)
    except (OSError, pickle.PicklingError):  # a read-only folder, a race with another process, an unpicklable plan
        pass


_code_digest: list[bytes] = []


def _spikec_code() -> bytes:
    """A digest of spikec's sources: an exported run never outlives the code that traced it."""
    if not _code_digest:
        root = Path(__file__).resolve().parents[2]
        h = _digest()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _code_digest.append(h.digest())
    return _code_digest[0]


def run_key(net, options: tuple, args) -> str | None:
    """The key of a compiled run: netlist contents, options, argument shapes and dtypes, JAX and spikec code.

    None when the netlist does not pickle the same way twice (then nothing is stored).
    """
    try:
        blob = pickle.dumps(net, protocol=4)
    except Exception:
        return None
    h = _digest(_spikec_code())
    h.update(blob)
    leaves, tree = jax.tree_util.tree_flatten(args)
    shapes = [(tuple(np.shape(a)), np.dtype(a.dtype).str if hasattr(a, "dtype") else type(a).__name__)
              for a in leaves]
    h.update(repr((options, str(tree), shapes, jax.__version__, jax.default_backend())).encode())
    return h.hexdigest()


def _run_path(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / "runs" / f"{key}.jaxexport"


def load_export(key: str | None) -> Any:
    """What :func:`save_export` stored under ``key``, or None."""
    path = None if key is None else _run_path(key)
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # none, or unreadable: the caller traces again
        return None


def save_export(key: str | None, entry: Any) -> None:
    """Store a serialized run (and what goes with it) under ``key``; silently not in a read-only folder."""
    path = None if key is None else _run_path(key)
    if path is not None:
        _store(path, entry)
