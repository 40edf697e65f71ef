"""Tables keyed by name, filled where each entry is defined: ops, passes, lowering targets, back ends, trainers.

A :class:`NameTable` is the name-keyed sibling of
:class:`~spikec.util.typetable.TypeTable`: entries register under a unique
name (and optional aliases), and a lookup of a name nobody registered raises
the error class the table was made with, in the words of the user's call,
suggesting the closest known name (``difflib``) and listing them all.  The
table reads as a read-only mapping of the registered (not alias) names, in
registration order.

Entries that name code to import on first use (back ends, trainers) are
stored as ``"package.module:attribute"`` strings and loaded with
:func:`import_object`, so that asking for the NumPy back end never imports
JAX or TensorFlow.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["NameTable", "import_object"]

V = TypeVar("V")


class NameTable(Mapping[str, V], Generic[V]):
    """A table of entries keyed by name.

    Parameters
    ----------
    what
        What the entries are, in messages (``"op"``, ``"back end"``).
    error
        The exception class :meth:`lookup` raises for an unknown name (the
        caller's own: ``BackendError``, ``ValueError``...).
    asked
        How an unknown name is named in that message, a :meth:`str.format`
        template over ``name`` and ``what``; ``"target={name!r}"`` speaks
        as the option the user wrote.  Default ``"unknown {what} {name!r}"``.
    """

    def __init__(self, what: str, *, error: type[Exception] = KeyError, asked: str = "unknown {what} {name!r}"):
        self.what = what
        self.error = error
        self.asked = asked
        self._entries: dict[str, V] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, value: V, *aliases: str) -> V:
        """Add ``value`` under ``name`` (and ``aliases``); a name or alias already taken is a ValueError."""
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.what} {key!r} is already registered")
        if len({name, *aliases}) != 1 + len(aliases):
            raise ValueError(f"{self.what} {name!r}: aliases {aliases!r} repeat a name")
        self._entries[name] = value
        for alias in aliases:
            self._aliases[alias] = name
        return value

    def resolve(self, name: str) -> str:
        """The registered name that ``name`` (a name or an alias) stands for; unknown names raise :attr:`error`."""
        if isinstance(name, str):
            if name in self._entries:
                return name
            if name in self._aliases:
                return self._aliases[name]
        raise self.error(self.unknown(name))

    def lookup(self, name: str) -> V:
        """The entry registered under ``name`` or one of its aliases; unknown names raise :attr:`error`."""
        entry = self._entries.get(name) if isinstance(name, str) else None
        # A hit on a registered name is the hot path (get_op runs per node in every pass).
        return entry if entry is not None else self._entries[self.resolve(name)]

    def unknown(self, name: Any) -> str:
        """The message for an unknown ``name``: what was asked, the closest known name, every known name."""
        text = self.asked.format(name=name, what=self.what)
        if isinstance(name, str):
            close = difflib.get_close_matches(name, [*self._entries, *self._aliases], n=1)
            if close:
                text += f" (did you mean {close[0]!r}?)"
        return f"{text}; available: {', '.join(self.names()) or '(none)'}"

    def names(self) -> list[str]:
        """The registered names (not aliases), sorted."""
        return sorted(self._entries)

    def aliases(self) -> dict[str, str]:
        """alias -> registered name."""
        return dict(self._aliases)

    # The read-only mapping of registered names (``PASSES[name]``, ``sorted(TARGETS)``); aliases are not keys.
    def __getitem__(self, name: str) -> V:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        """The registered names, in registration order."""
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"NameTable({self.what!r}: {', '.join(self._entries)})"


def import_object(target: str) -> Any:
    """The object a ``"package.module:attribute"`` string names, importing the module on first use."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"expected 'package.module:attribute', got {target!r}")
    return getattr(importlib.import_module(module), attr)
