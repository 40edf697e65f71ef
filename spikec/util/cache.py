"""A small least-recently-used memo for compiled functions (the JAX simulator's runs, training steps)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable
from typing import Any


class LruCache:
    """``build()`` results by key; beyond ``size`` entries the least recently used one is dropped.

    Compiled JAX functions hold their weights and XLA executables, so only
    a few are kept.  A key that cannot be hashed (a custom optimizer or loss
    object, say) is never stored: its value is built anew on every call.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._entries: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value remembered under ``key``, or ``build()``'s, remembered."""
        try:
            hit = self._entries.get(key)
        except TypeError:
            return build()
        if hit is None:
            hit = self._entries[key] = build()
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return hit

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
