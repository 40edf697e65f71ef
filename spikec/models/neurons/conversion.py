"""What a user may pass as a neuron type: a spikec type, or a nengo one converted by a table.

Each model file registers the nengo class it converts from, next to the model,
by package and class name (``@from_nengo_named("nengo", "LIF")``) with a
function ``nengo object -> spikec type``, so that defining the models imports
neither nengo nor NengoDL.  The match is on the exact class (a nengo subclass
may change the model, so it is not taken for its base).  The nengo back end
registers its own adapter classes (``NengoParabola``...) by class in
:data:`from_nengo`, in the module that defines them.  Nothing here imports
nengo: an object can only be a nengo neuron type once nengo has been imported.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

from spikec.errors import ConstantError
from spikec.models.neurons.base import NeuronType
from spikec.util.typetable import TypeTable

__all__ = ["as_neuron_type", "from_nengo", "from_nengo_named"]

#: nengo neuron class -> ``fn(nengo_object) -> NeuronType`` (exact class only).
from_nengo = TypeTable("conversion from nengo", exact=True)

# (top-level package, class name) -> conversion, for classes not imported to register them.
_FROM_NENGO_BY_NAME: dict[tuple[str, str], Callable[[object], NeuronType]] = {}


def from_nengo_named(package: str, name: str) -> Callable[[Callable], Callable]:
    """Decorator: ``fn`` converts instances of the class ``name`` from the package ``package``
    (matched by name, so registering imports nothing)."""

    def decorate(fn: Callable) -> Callable:
        _FROM_NENGO_BY_NAME[(package, name)] = fn
        return fn

    return decorate


def _conversion(cls: type) -> Callable[[object], NeuronType] | None:
    rule = from_nengo.lookup(cls)
    if rule is None:
        rule = _FROM_NENGO_BY_NAME.get((cls.__module__.split(".")[0], cls.__name__))
    return rule


def _nengo_name(cls: type) -> str:
    # nengo.neurons.LIF is nengo.LIF to users.
    return f"nengo.{cls.__name__}" if cls.__module__.startswith("nengo.") else f"{cls.__module__}.{cls.__name__}"


def _spikec_types() -> list[str]:
    """The concrete public neuron types of spikec.models.neurons, found by walking the subclasses."""
    found, todo = [], list(NeuronType.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        if (cls.__module__.startswith("spikec.models.neurons.") and not cls.__name__.startswith("_")
                and not inspect.isabstract(cls) and cls.__name__ not in found):
            found.append(cls.__name__)
    return found


def _accepted() -> str:
    nengo_names = [_nengo_name(cls) for cls in from_nengo]
    nengo_names += [f"{package}.{name}" for package, name in _FROM_NENGO_BY_NAME]
    return (f"a spikec neuron type ({', '.join(_spikec_types())}) or a nengo neuron type instance "
            f"({', '.join(nengo_names)})")


def as_neuron_type(obj) -> NeuronType:
    """Normalise what a user passed as a neuron type.

    A spikec :class:`NeuronType` is returned as is; an instance of a Nengo
    neuron type listed in the error message becomes its spikec equivalent
    (matched by exact class: a subclass may change the model).  Anything
    else, a Nengo type with ``initial_state`` set (the netlist carries
    initial states separately), or a class instead of an instance raises
    :class:`~spikec.errors.ConstantError` naming what is accepted.
    """
    if isinstance(obj, NeuronType):
        return obj
    # Not imported here: if the user never imported nengo, obj is none of its types.
    nengo = sys.modules.get("nengo")
    nengo_type = nengo.neurons.NeuronType if nengo is not None else ()
    if isinstance(obj, type) and issubclass(obj, (NeuronType, nengo_type)):
        raise ConstantError(f"got the class {obj.__name__}, not a neuron type instance",
                            hint=f"write {obj.__name__}()")
    if nengo is not None and isinstance(obj, nengo_type):
        if obj.initial_state:
            raise ConstantError(
                f"cannot convert {obj!r}: spikec neuron types do not carry initial_state",
                hint="drop initial_state; populations draw their initial state from the seed",
            )
        rule = _conversion(type(obj))
        if rule is not None:
            return rule(obj)
        raise ConstantError(f"spikec has no equivalent of the nengo neuron type {obj!r}",
                            hint=f"pass {_accepted()}")
    raise ConstantError(f"cannot use {obj!r} (of type {type(obj).__name__}) as a neuron type",
                        hint=f"pass {_accepted()}")
