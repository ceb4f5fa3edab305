"""``dataclass`` at import speed: the standard library's dataclasses, with less compiled.

Before 3.13, CPython compiles every method a dataclass gets (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, a frozen class's ``__setattr__`` and ``__delattr__``) from generated
source, each in an ``exec`` of its own: about 0.4 ms a frozen class here, and a dry-run defines
more than 40 of them (half of the package's own import time). Compiling is the cost, not the
number of ``exec`` calls: one ``exec`` of the same source for a whole class saved 10%.

So here ``__init__`` alone is compiled, from the source the standard library writes (it is
called per object, so it stays straight-line code), and the other methods are closures over the
field names that behave as the standard library's do. The fields are the standard library's own
``Field`` objects, made as it makes them (``fields()``, ``replace()``, ``asdict()`` and the type
checker see an ordinary dataclass; ``__dataclass_params__`` says what was asked for), without its
per-field search of the module for ``ClassVar`` and ``InitVar`` spelled as strings.

The compiled ``__init__`` code is kept between runs, beside the package's bytecode, keyed by its
whole source (:class:`_InitCodes`): compiling it was a sixth of a dry-run's own time.

What this does not model (other options, ``ClassVar``/``InitVar``/``KW_ONLY``,
``field(init=False)``, non-string annotations, a dataclass base, a method the class defines
itself, a field named like the generated code's own names, a metaclass, ``__slots__``, a
mutable default) goes to the standard library unchanged, and so does every class from 3.13 on
(not measured there). ``tests/test_records.py`` holds the two side by side.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import marshal
import operator
import os
import reprlib
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from types import CodeType
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

_SPECIAL_ANNOTATIONS = (typing.ClassVar, dataclasses.InitVar, dataclasses.KW_ONLY)


def _template() -> tuple[Any, Any]:
    """A ``Field``'s kind mark and a ``__dataclass_params__`` as this Python makes them (their
    constructors differ between versions), from one class the standard library processes."""
    namespace = {"__annotations__": {"x": "int"}, "__module__": __name__, "__doc__": "-"}
    cls: Any = dataclasses.dataclass(
        type("_Template", (), namespace), init=False, repr=False, eq=False
    )
    (only,) = dataclasses.fields(cls)
    return only._field_type, cls.__dataclass_params__  # type: ignore[attr-defined]


_FIELD_KIND, _PARAMS_TEMPLATE = _template()


def _modelled(cls: type, options: Mapping[str, bool]) -> bool:
    if not set(options) <= _MODELLED_OPTIONS or type(cls) is not type:
        return False
    own = cls.__dict__
    if "__slots__" in own or any(name in own for name in _GENERATED):
        return False
    bases = [base for base in cls.__mro__[1:] if base is not object]
    if any(hasattr(base, "__dataclass_fields__") for base in bases):
        return False
    annotations = own.get("__annotations__", {})
    if any(
        isinstance(value, dataclasses.Field) and name not in annotations
        for name, value in own.items()
    ):
        return False  # the standard library raises its own TypeError for this
    module = sys.modules.get(cls.__module__)
    namespace = vars(module) if module is not None else {}
    seen_default = False
    for name, annotation in annotations.items():
        if not isinstance(annotation, str) or _special(annotation, namespace):
            return False
        if name == "self" or name.startswith(_RESERVED_PREFIX):
            return False
        if any(name in vars(base) for base in bases):
            return False  # an inherited attribute of that name: the standard library's rules
        value = own.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            if not value.init or value.kw_only is True:
                return False
            has_default = (
                value.default is not dataclasses.MISSING
                or value.default_factory is not dataclasses.MISSING
            )
            default = value.default
        else:
            has_default = value is not dataclasses.MISSING
            default = value
        if type(default).__hash__ is None:
            return False  # a mutable default: the standard library's ValueError
        if seen_default and not has_default:
            return False  # the standard library raises its own TypeError for this
        seen_default = seen_default or has_default
    return True


def _special(annotation: str, namespace: Mapping[str, Any]) -> bool:
    """``ClassVar``, ``InitVar`` or ``KW_ONLY``, by name or by what the annotation's leading
    name is bound to in the class's module (an alias), as the standard library decides."""
    if any(word in annotation for word in _UNMODELLED_ANNOTATIONS):
        return True
    head = annotation.split("[", 1)[0].strip()
    owner, _, name = head.rpartition(".")
    if owner:
        namespace = getattr(namespace.get(owner.strip()), "__dict__", {})
    value = namespace.get(name.strip())
    return any(value is special for special in _SPECIAL_ANNOTATIONS)


def _set_fields(cls: type, frozen: bool, eq: bool, want_repr: bool) -> list[dataclasses.Field[Any]]:
    """What the standard library's ``dataclass`` sets on a modelled class besides the methods:
    the fields (a default moves from the ``Field`` to the class attribute), the parameters and
    ``__match_args__``."""
    own = cls.__dict__
    fields: dict[str, dataclasses.Field[Any]] = {}
    for name, annotation in own.get("__annotations__", {}).items():
        value = own.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field):
            made = value
            if made.default is dataclasses.MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, made.default)
        else:
            made = dataclasses.field(default=value)
        made.name, made.type = name, annotation
        made._field_type = _FIELD_KIND  # type: ignore[attr-defined]
        if made.kw_only is dataclasses.MISSING:
            made.kw_only = False
        fields[name] = made
    params = object.__new__(type(_PARAMS_TEMPLATE))
    for slot in type(_PARAMS_TEMPLATE).__slots__:
        setattr(params, slot, getattr(_PARAMS_TEMPLATE, slot))
    params.init, params.repr, params.eq, params.frozen = True, want_repr, eq, frozen
    params.order = params.unsafe_hash = False
    cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]
    cls.__dataclass_params__ = params  # type: ignore[attr-defined]
    if "__match_args__" not in own:
        cls.__match_args__ = tuple(fields)  # type: ignore[attr-defined, misc]
    return list(fields.values())


class _InitCodes:
    """Compiled ``__init__`` sources, kept between runs in one file beside the package's
    bytecode, as Python keeps a module's: a source found there is not compiled again.

    The key is the whole source, so an entry cannot be stale. The file maps each source to its
    code object's marshalled bytes, so that reading it costs a copy of bytes and a process
    unmarshals only the entries it uses. It is read at the first ``__init__`` a process makes
    and written, atomically, at exit when something was added. No ``__pycache__`` (an install
    that writes no bytecode), ``PYTHONDONTWRITEBYTECODE``, a ``pycache_prefix``, or an
    unreadable or foreign file: every source is compiled, as before.
    """

    MAX_ENTRIES = 2000
    """A bound on the file: tests and plugins can define dataclasses without end."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"records-init.{sys.implementation.cache_tag}.bin"
        self._kept: dict[str, bytes] | None = None
        self._added = False

    def code(self, source: str) -> CodeType:
        if self._kept is None:
            self._kept = self._read()
        kept = self._kept.get(source)
        if kept is not None:
            with contextlib.suppress(EOFError, ValueError, TypeError):
                code = marshal.loads(kept)
                if isinstance(code, CodeType):
                    return code
        code = compile(source, "<string>", "exec")
        self._kept[source] = marshal.dumps(code)
        if not self._added and self._writable():
            self._added = True
            atexit.register(self._write)
        return code

    def _writable(self) -> bool:
        return not sys.dont_write_bytecode and sys.pycache_prefix is None

    def _read(self) -> dict[str, bytes]:
        if sys.pycache_prefix is not None:
            return {}
        try:
            loaded = marshal.loads(self.path.read_bytes())  # load(file) reads piece by piece
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if not isinstance(loaded, dict) or len(loaded) > self.MAX_ENTRIES:
            return {}
        return {
            source: code
            for source, code in loaded.items()
            if isinstance(source, str) and isinstance(code, bytes)
        }

    def _write(self) -> None:
        if self._kept is None or not self.path.parent.is_dir():
            return
        kept = dict(list(self._kept.items())[-self.MAX_ENTRIES :])
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(marshal.dumps(kept))
            temporary.replace(self.path)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                temporary.unlink()


_INIT_CODES = _InitCodes(Path(__file__).parent / "__pycache__")


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
    source = f"def __init__({','.join(params)}):\n" + ("\n".join(body) or " pass") + "\n"
    exec(_INIT_CODES.code(source), scope)
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
    fields = _set_fields(cls, frozen, eq, want_repr)
    for name, method in _methods(cls, fields, frozen, eq, want_repr).items():
        if method is not None:
            method.__name__ = name
            method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if not cls.__dict__.get("__doc__"):
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
