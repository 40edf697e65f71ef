"""spikec.util.nametable.NameTable, and the registries built on it speaking as they did."""

from __future__ import annotations

import pytest

from spikec.errors import BackendError, RunError, SpikecError
from spikec.util.nametable import NameTable, import_object


class PickError(Exception):
    pass


def table() -> NameTable[int]:
    t: NameTable[int] = NameTable("colour", error=PickError)
    t.register("red", 1, "rouge")
    t.register("green", 2)
    t.register("blue", 3, "bleu", "azure")
    return t


def test_lookup_by_name_or_alias_and_the_mapping_of_names():
    t = table()
    assert t.lookup("red") == t.lookup("rouge") == 1 and t.lookup("azure") == 3
    assert t.resolve("bleu") == "blue" and t.resolve("green") == "green"
    assert list(t) == ["red", "green", "blue"]  # registration order; aliases are not keys
    assert t.names() == ["blue", "green", "red"]
    assert dict(t) == {"red": 1, "green": 2, "blue": 3} and len(t) == 3
    assert "red" in t and "rouge" not in t and t.aliases() == {"rouge": "red", "bleu": "blue", "azure": "blue"}
    with pytest.raises(KeyError):
        t["rouge"]  # the mapping is strict; lookup resolves aliases


def test_unknown_names_raise_the_callers_error_with_a_suggestion_and_the_known_names():
    t = table()
    with pytest.raises(PickError) as info:
        t.lookup("gren")
    assert str(info.value) == "unknown colour 'gren' (did you mean 'green'?); available: blue, green, red"
    with pytest.raises(PickError, match=r"^unknown colour 'xyz'; available: blue, green, red$"):
        t.resolve("xyz")  # nothing close: no suggestion
    with pytest.raises(PickError, match="did you mean 'azure'"):
        t.lookup("azur")  # aliases are suggested as written
    with pytest.raises(PickError, match=r"unknown colour \[1\]"):
        t.lookup([1])  # not a name at all (unhashable): still the caller's error


def test_the_asked_template_speaks_as_the_users_option():
    t: NameTable[int] = NameTable("mode", error=ValueError, asked="mode={name!r}")
    t.register("rate", 0)
    with pytest.raises(ValueError, match=r"^mode='spike'; available: rate$"):
        t.lookup("spike")
    empty: NameTable[int] = NameTable("thing")
    with pytest.raises(KeyError, match=r"available: \(none\)"):
        empty.lookup("a")


def test_names_and_aliases_are_registered_once():
    t = table()
    for name, aliases in [("red", ()), ("rouge", ()), ("violet", ("azure",)), ("grey", ("grey",))]:
        with pytest.raises(ValueError, match=r"colour '\w+' is already registered|aliases \('grey',\) repeat a name"):
            t.register(name, 9, *aliases)
    assert t.names() == ["blue", "green", "red"]  # a refused registration leaves the table as it was


def test_import_object_loads_module_attribute_strings():
    import os.path

    assert import_object("os.path:join") is os.path.join
    for bad in ("os.path", ":join", "os.path:"):
        with pytest.raises(ValueError, match=r"package\.module:attribute"):
            import_object(bad)


def test_the_registries_keep_their_errors_and_messages():
    from spikec.backends import available_backends, get_backend, register_backend
    from spikec.ir import get_op
    from spikec.lower.targets import TARGETS, register_target, target_of
    from spikec.passes import PASSES, register_pass
    from spikec.passes.manager import resolve
    from spikec.train import available_trainers, get_trainer, loss_function

    with pytest.raises(KeyError, match=r"unknown op 'matmull' \(did you mean 'matmul'\?\)"):
        get_op("matmull")
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        resolve("nope")
    assert resolve("eliminate_dead_code")[:2] == ("dce", PASSES["dce"])
    with pytest.raises(SpikecError, match=r"target='lfi' \(did you mean 'lif'\?\)"):
        target_of("lfi")
    with pytest.raises(BackendError, match=r"unknown back end 'numpi' \(did you mean 'numpy'\?\); "
                                           r"available: jax, nengo, nengo_dl, numpy"):
        get_backend("numpi")
    with pytest.raises(RunError, match=r"fit\(backend='numpy'\) has no trainer; available: jax, nengo_dl"):
        get_trainer("numpy")
    with pytest.raises(SpikecError, match=r"loss='mes' is neither a function .* \(did you mean 'mse'\?\)"):
        loss_function("mes")
    assert available_backends() == ["jax", "nengo", "nengo_dl", "numpy"]
    assert available_trainers() == ["jax", "nengo_dl"]
    with pytest.raises(ValueError, match="pass 'cse' is already registered"):
        register_pass("cse", lambda g: g)
    with pytest.raises(ValueError, match="lowering target 'lif' is already registered"):
        register_target(TARGETS["lif"])
    with pytest.raises(ValueError, match="back end 'numpy' is already registered"):
        register_backend("numpy", "os.path:join")
