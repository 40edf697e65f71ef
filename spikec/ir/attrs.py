"""Immutable, hashable operation attributes.

Graph nodes are frozen dataclasses, so everything they hold must be hashable:
that is what lets common-subexpression elimination compare nodes by value.
NumPy arrays are not hashable, so constants travel as :class:`ConstArray`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


class ConstArray:
    """A read-only NumPy array that hashes and compares by value.

    Equality is exact (same shape, same dtype kind, same values), which is
    what CSE needs: two nodes scaling by equal constants are the same node.
    """

    __slots__ = ("_hash", "value")

    def __init__(self, value: Any):
        array = np.array(value, dtype=np.float64 if np.asarray(value).dtype.kind in "fbiu" else None)
        array.setflags(write=False)
        self.value = array
        digest = hashlib.sha1(array.tobytes()).hexdigest()
        self._hash = hash((array.shape, array.dtype.str, digest))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConstArray):
            return NotImplemented
        return (
            self._hash == other._hash
            and self.value.shape == other.value.shape
            and np.array_equal(self.value, other.value)
        )

    def __repr__(self) -> str:
        return format_array(self.value)

    def __reduce__(self):
        # Rebuild from the array: the cached hash is per process (str hashing
        # is salted), so pickling it would break equality in another process.
        return (type(self), (self.value,))


class IndexArray(ConstArray):
    """An integer index array (for fancy indexing), kept as ``intp``."""

    __slots__ = ()

    def __init__(self, value: Any):
        array = np.array(value, dtype=np.intp)
        array.setflags(write=False)
        self.value = array
        self._hash = hash(("idx", array.shape, hashlib.sha1(array.tobytes()).hexdigest()))


def format_array(value: np.ndarray, max_items: int = 6) -> str:
    """Short text form of a constant for listings: inline when small, else a summary."""
    value = np.asarray(value)
    if value.dtype.kind == "f":
        value = value + 0.0  # print -0.0 as 0.0
    if value.size <= max_items:
        text = np.array2string(value, precision=4, separator=",", suppress_small=True)
        return " ".join(text.split())
    if value.ndim == 2 and value.shape[0] == value.shape[1] and np.array_equal(value, np.eye(len(value))):
        return f"eye({len(value)})"
    if not value.any():
        return f"zeros{value.shape}"
    if np.all(value == value.flat[0]):
        return f"full({value.shape}, {value.flat[0]:.4g})"
    return f"<{value.dtype}{list(value.shape)}>"


def freeze(value: Any) -> Any:
    """Convert an attribute value to a hashable equivalent."""
    if isinstance(value, (ConstArray, str, int, float, bool, type(None))):
        return value
    if isinstance(value, np.ndarray):
        return IndexArray(value) if value.dtype.kind in "iu" else ConstArray(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, dict):
        return Attrs(value)
    hash(value)  # anything else must already be hashable (synapses, neuron types)
    return value


class Attrs(Mapping[str, Any]):
    """An immutable, hashable mapping of an operation's static parameters."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, Any] | None = None, **kwargs: Any):
        merged = dict(items or {}, **kwargs)
        self._items = tuple(sorted((k, freeze(v)) for k, v in merged.items()))
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attrs):
            return self._hash == other._hash and self._items == other._items
        return NotImplemented

    def replace(self, **changes: Any) -> Attrs:
        """A copy with some entries changed."""
        return Attrs(dict(self._items), **changes)

    def __repr__(self) -> str:
        return "Attrs(" + ", ".join(f"{k}={v!r}" for k, v in self._items) + ")"
