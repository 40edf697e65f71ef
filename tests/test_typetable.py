"""spikec.util.typetable.TypeTable: MRO and exact lookup, one rule per class, the missing hook."""

from __future__ import annotations

import pytest

from spikec.util.typetable import TypeTable


class A:
    pass


class B(A):
    pass


class C(B):
    pass


def test_mro_lookup_takes_the_nearest_registered_base():
    table = TypeTable("rule")
    table.register(A)(lambda obj: "A")
    table.register(C)(lambda obj: "C")
    assert table(A()) == "A" and table(B()) == "A" and table(C()) == "C"
    assert B in table and object not in table
    assert list(table) == [A, C]


def test_exact_lookup_ignores_base_classes():
    table = TypeTable("rule", exact=True)
    table.register(A)(lambda obj, k: f"A{k}")
    assert table(A(), 1) == "A1"
    assert table.lookup(B) is None and B not in table
    with pytest.raises(LookupError, match="no rule for B"):
        table(B(), 1)


def test_one_rule_per_class_and_the_missing_hook():
    table = TypeTable("adapter", missing=lambda obj: f"fallback {type(obj).__name__}")
    table.register(A, B)(lambda obj: "AB")
    with pytest.raises(ValueError, match="already registered"):
        table.register(B)(lambda obj: "B")
    assert table(C()) == "AB" and table(1) == "fallback int"
