"""``dataclass`` at import speed: the standard library's dataclasses, with less compiled.

Before 3.13, CPython compiles every method a dataclass gets (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, a frozen class's ``__setattr__`` and ``__delattr__``) from generated
source, each in an ``exec`` of its own: about 0.4 ms a frozen class here, and a dry-run defines
more than 40 of them (half of the package's own import time). Compiling is the cost, not the
number of ``exec`` calls: one ``exec`` of the same source for a whole class saved 10%.

So here the standard library still processes the fields (``fields()``, ``replace()``,
``asdict()`` and the type checker see an ordinary dataclass, ``__dataclass_params__`` says what
was asked for); ``__init__`` alone is compiled, from the source the standard library writes (it
is called per object, so it stays straight-line code), and the other methods are closures over
the field names that behave as the standard library's do. A third of the cost per class.

What this does not model (other options, ``ClassVar``/``InitVar``/``KW_ONLY``,
``field(init=False)``, non-string annotations, a dataclass base, a method the class defines
itself, a field named like the generated code's own names) goes to the standard library
unchanged, and so does every class from 3.13 on (not measured there). ``tests/test_records.py``
holds the two side by side.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

__all__ = ["dataclass"]

_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_MODELLED_OPTIONS = frozenset({"frozen", "eq", "repr"})
_RESERVED_PREFIX = "__dataclass_"
_UNMODELLED_ANNOTATIONS = ("ClassVar", "InitVar", "KW_ONLY")


class _Factory:
    """The default a field with a ``default_factory`` shows in ``__init__``'s signature."""

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _Factory()


def _modelled(cls: type, options: Mapping[str, bool]) -> bool:
    if not set(options) <= _MODELLED_OPTIONS:
        return False
    own = cls.__dict__
    if any(name in own for name in _GENERATED):
        return False
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return False
    annotations = own.get("__annotations__", {})
    seen_default = False
    for name, annotation in annotations.items():
        if not isinstance(annotation, str) or any(
            word in annotation for word in _UNMODELLED_ANNOTATIONS
        ):
            return False
        if name == "self" or name.startswith(_RESERVED_PREFIX):
            return False
        value = own.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            if not value.init or value.kw_only is True:
                return False
            has_default = (
                value.default is not dataclasses.MISSING
                or value.default_factory is not dataclasses.MISSING
            )
        else:
            has_default = value is not dataclasses.MISSING
        if seen_default and not has_default:
            return False  # the standard library raises its own TypeError for this
        seen_default = seen_default or has_default
    return True


def _make_init(
    cls: type, fields: list[dataclasses.Field[Any]], frozen: bool
) -> Callable[..., None]:
    """``__init__`` compiled from the source the standard library writes (a frozen class sets
    through ``object``); defaults and factories are names in the function's globals."""
    scope: dict[str, Any] = {
        "__dataclass_object__": object,
        "__dataclass_HAS_FACTORY__": _HAS_FACTORY,
    }
    params = ["self"]
    body = []
    for f in fields:
        value = f.name
        default = f"__dataclass_dflt_{f.name}__"
        if f.default_factory is not dataclasses.MISSING:
            scope[default] = f.default_factory
            params.append(f"{f.name}=__dataclass_HAS_FACTORY__")
            value = f"{default}() if {f.name} is __dataclass_HAS_FACTORY__ else {f.name}"
        elif f.default is not dataclasses.MISSING:
            scope[default] = f.default
            params.append(f"{f.name}={default}")
        else:
            params.append(f.name)
        if frozen:
            body.append(f" __dataclass_object__.__setattr__(self,{f.name!r},{value})")
        else:
            body.append(f" self.{f.name}={value}")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    exec(f"def __init__({','.join(params)}):\n" + ("\n".join(body) or " pass") + "\n", scope)
    init: Callable[..., None] = scope["__init__"]
    init.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    return init


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``obj -> (obj.a, obj.b, ...)``, the tuple the standard library compares and hashes."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        only = operator.attrgetter(names[0])
        return lambda obj: (only(obj),)
    return operator.attrgetter(*names)


def _methods(
    cls: type, fields: list[dataclasses.Field[Any]], frozen: bool, eq: bool, want_repr: bool
) -> dict[str, Any]:
    """The methods the standard library would add, behaving as its own do."""
    methods: dict[str, Any] = {"__init__": _make_init(cls, fields, frozen)}
    if want_repr:
        shown = tuple(f.name for f in fields if f.repr)

        def __repr__(self: Any) -> str:
            pairs = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
            return f"{self.__class__.__qualname__}({pairs})"

        methods["__repr__"] = reprlib.recursive_repr()(__repr__)
    if eq:
        compared = _values(tuple(f.name for f in fields if f.compare))

        def __eq__(self: Any, other: object) -> Any:
            if other.__class__ is self.__class__:
                return compared(self) == compared(other)
            return NotImplemented

        methods["__eq__"] = __eq__
        if frozen:
            hashed = _values(
                tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            )
            methods["__hash__"] = lambda self: hash(hashed(self))
        else:
            methods["__hash__"] = None  # as the standard library: eq without frozen is unhashable
    if frozen:
        guarded = frozenset(f.name for f in fields)
        owner: type[Any] = cls

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is owner or name in guarded:
                raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
            super(owner, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is owner or name in guarded:
                raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
            super(owner, self).__delattr__(name)

        methods["__setattr__"], methods["__delattr__"] = __setattr__, __delattr__
    return methods


def _fast_dataclass(cls: type, options: Mapping[str, bool]) -> type:
    if not _modelled(cls, options):
        return dataclasses.dataclass(cls, **options)
    frozen = options.get("frozen", False)
    eq = options.get("eq", True)
    want_repr = options.get("repr", True)
    documented = bool(cls.__dict__.get("__doc__"))
    if not documented:
        # Set below from the real __init__: the standard library's would parse object's signature.
        cls.__doc__ = cls.__name__
    dataclasses.dataclass(cls, init=False, repr=False, eq=False)  # fields, defaults, match args
    fields = list(dataclasses.fields(cls))
    for name, method in _methods(cls, fields, frozen, eq, want_repr).items():
        if method is not None:
            method.__name__ = name
            method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = True, want_repr, eq, frozen
    if not documented:
        cls.__doc__ = _signature_doc(cls, fields)
    return cls


def _signature_doc(cls: type, fields: list[dataclasses.Field[Any]]) -> str:
    """The docstring the standard library gives an undocumented dataclass, ``Name(a: 'int' = 0)``:
    ``inspect.signature``'s text (0.1 ms a class), written directly (annotations are strings here)."""
    params = []
    for f in fields:
        text = f"{f.name}: {f.type!r}"
        if f.default_factory is not dataclasses.MISSING:
            text += f" = {_HAS_FACTORY!r}"
        elif f.default is not dataclasses.MISSING:
            text += f" = {f.default!r}"
        params.append(text)
    return f"{cls.__name__}({', '.join(params)})"


def _decorator(cls: type | None = None, /, **options: bool) -> Any:
    if cls is None:
        return lambda cls: _fast_dataclass(cls, options)
    return _fast_dataclass(cls, options)


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
elif sys.version_info >= (3, 13):
    from dataclasses import dataclass
else:
    dataclass: Callable[..., Any] = _decorator
