"""Rule tables keyed by class, filled by decorators next to what they describe.

A :class:`TypeTable` replaces a chain of ``isinstance``/``type(x) is`` tests:
each rule is registered where its class (or its back end) lives, with
``@table.register(SomeClass)``, and looked up along the class's MRO, like
nengo's ``Builder.register``.  A table made with ``exact=True`` matches the
class itself only, for rules that are wrong for subclasses (a subclass may
change the model a rule was written for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["TypeTable"]


class TypeTable:
    """A table of rules keyed by class.

    ``what`` names the rules in messages (``"nengo adapter"``).  ``missing``,
    if given, is called as ``missing(obj)`` by :meth:`__call__` when no rule
    matches, and must raise (or return a fallback result); without it a
    :class:`LookupError` is raised.
    """

    def __init__(self, what: str, *, exact: bool = False, missing: Callable[[Any], Any] | None = None):
        self.what = what
        self.exact = exact
        self._missing = missing
        self._rules: dict[type, Callable] = {}

    def register(self, *classes: type) -> Callable[[Callable], Callable]:
        """Decorator: ``fn`` becomes the rule for each of ``classes`` (one rule per class)."""

        def decorate(fn: Callable) -> Callable:
            for cls in classes:
                if cls in self._rules:
                    raise ValueError(f"{self.what}: {cls.__qualname__} is already registered "
                                     f"(to {self._rules[cls].__qualname__})")
                self._rules[cls] = fn
            return fn

        return decorate

    def lookup(self, cls: type) -> Callable | None:
        """The rule for ``cls``: its own, else (unless ``exact``) its nearest base class's; None if none."""
        if self.exact:
            return self._rules.get(cls)
        for base in cls.__mro__:
            rule = self._rules.get(base)
            if rule is not None:
                return rule
        return None

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Apply the rule for ``type(obj)`` to ``(obj, *args, **kwargs)``."""
        rule = self.lookup(type(obj))
        if rule is None:
            if self._missing is not None:
                return self._missing(obj, *args, **kwargs)
            raise LookupError(f"no {self.what} for {type(obj).__qualname__}")
        return rule(obj, *args, **kwargs)

    def __contains__(self, cls: type) -> bool:
        return self.lookup(cls) is not None

    def __iter__(self) -> Iterator[type]:
        """The registered classes, in registration order."""
        return iter(self._rules)
