"""JAX's persistent compilation cache for spikec's compiled runs.

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
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jax

__all__ = ["ENV", "cache_dir", "setup"]

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
