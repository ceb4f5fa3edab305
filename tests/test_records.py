"""``records.dataclass`` makes the classes the standard library makes, only faster to define.

Every shape is defined twice, once by each decorator, and the two are compared by what a caller
can see: signature, docstring, repr, equality, hashing, immutability, ``replace``/``asdict``,
pickling. Shapes the fast path does not model must come out exactly as the standard library's.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import os
import pickle
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from typing import ClassVar as Shared

import pytest

from recovery_plugin import records

Decorator = Callable[..., Any]
FAST_PATH = sys.version_info < (3, 13)


def modelled_shapes(dc: Decorator) -> dict[str, type]:
    @dc(frozen=True)
    class Frozen:
        """A documented frozen record."""

        name: str
        count: int = 0
        tags: tuple[str, ...] = ()
        notes: list[str] = dataclasses.field(default_factory=list, compare=False, repr=False)
        extra: dict[str, int] = dataclasses.field(default_factory=dict)

    @dc
    class Mutable:
        value: int
        items: list[int] = dataclasses.field(default_factory=list)

        def __post_init__(self) -> None:
            self.value *= 2

    @dc(eq=False)
    class Identity:
        size: int = 1

    @dc(frozen=True)
    class Empty:
        pass

    @dc(frozen=True, repr=False)
    class Quiet:
        secret: str

    @dc(frozen=True)
    class Hashing:
        kept: int
        skipped: int = dataclasses.field(default=0, hash=False)
        uncompared: int = dataclasses.field(default=0, compare=False)

    @dc(frozen=True)
    class Metadata:
        path: str = dataclasses.field(default="", metadata={"rule": "x"})

    return {
        cls.__name__: cls for cls in (Frozen, Mutable, Identity, Empty, Quiet, Hashing, Metadata)
    }


STDLIB = modelled_shapes(dataclasses.dataclass)
FAST = modelled_shapes(records.dataclass)
ARGS: dict[str, tuple[Any, ...]] = {
    "Frozen": ("a", 2, ("t",), ["n"], {"k": 1}),
    "Mutable": (3, [1]),
    "Identity": (5,),
    "Empty": (),
    "Quiet": ("hush",),
    "Hashing": (1, 2, 3),
    "Metadata": ("p",),
}


@pytest.mark.parametrize("name", sorted(STDLIB))
def test_a_modelled_class_looks_the_same(name: str) -> None:
    std, fast = STDLIB[name], FAST[name]
    if FAST_PATH:
        assert fast.__init__.__code__ is not std.__init__.__code__
    assert str(inspect.signature(fast)) == str(inspect.signature(std))
    assert fast.__doc__ == std.__doc__
    assert repr(fast.__dataclass_params__) == repr(std.__dataclass_params__)  # type: ignore[attr-defined]
    assert fast.__match_args__ == std.__match_args__  # type: ignore[attr-defined]
    assert [_field_seen(f) for f in dataclasses.fields(fast)] == [
        _field_seen(f) for f in dataclasses.fields(std)
    ]
    assert _class_attributes(fast) == _class_attributes(std)
    assert (fast.__hash__ is None) == (std.__hash__ is None)
    assert fast.__init__.__qualname__ == f"{fast.__qualname__}.__init__"


def _field_seen(f: dataclasses.Field[Any]) -> tuple[Any, ...]:
    return (
        f.name,
        f.type,
        f.default,
        f.default_factory,
        f.init,
        f.repr,
        f.compare,
        f.hash,
        f.metadata,
        f.kw_only,
        f._field_type,  # type: ignore[attr-defined]
    )


def _class_attributes(cls: type) -> dict[str, Any]:
    """The class's own attributes but its methods and docstring: field defaults among them."""
    return {
        name: value
        for name, value in vars(cls).items()
        if not callable(value)
        and name not in {"__doc__", "__dict__", "__weakref__"}
        and name not in {"__dataclass_fields__", "__dataclass_params__"}
    }


def _outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "returns", action()
    except Exception as exc:
        return "raises", type(exc)


def _shown(value: object) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x…", repr(value)).replace("modelled_shapes.<locals>.", "")


@pytest.mark.parametrize("name", sorted(STDLIB))
def test_a_modelled_instance_behaves_the_same(name: str) -> None:
    std, fast = STDLIB[name], FAST[name]
    args = ARGS[name]
    made = {}
    for cls in (std, fast):
        one, two = cls(*args), cls(*args)
        made[cls] = (
            _shown(one),
            one == two,
            one != two,
            one == object(),
            _outcome(lambda one=one, two=two: hash(one) == hash(two)),
            dataclasses.asdict(one),
            dataclasses.astuple(one),
            _shown(dataclasses.replace(one)),
        )
    assert made[fast] == made[std]
    assert (std(*args) == fast(*args)) is False  # another class: never equal


@records.dataclass(frozen=True)
class Sent:
    """Crosses a pipe, as a capture does from the capture process."""

    key: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def test_a_record_survives_pickling() -> None:
    sent = Sent("k", b"{}", (("content-type", "application/json"),))
    assert pickle.loads(pickle.dumps(sent)) == sent
    assert hash(pickle.loads(pickle.dumps(sent))) == hash(sent)


def test_defaults_and_factories_are_fresh_per_instance() -> None:
    first, second = FAST["Frozen"]("a"), FAST["Frozen"]("b")
    assert first.notes == [] and first.notes is not second.notes
    assert first.extra == {} and first.extra is not second.extra
    assert (first.count, first.tags) == (0, ())
    assert FAST["Mutable"](2).value == 4  # __post_init__ ran


def test_fields_left_out_of_comparison_and_hash_are_left_out() -> None:
    frozen = FAST["Frozen"]
    assert frozen("a", notes=["x"]) == frozen("a", notes=["y"])
    assert "notes" not in repr(frozen("a", notes=["x"]))
    hashing = FAST["Hashing"]
    assert hash(hashing(1, 2, 3)) == hash(hashing(1, 9, 9))
    assert hashing(1, 2, 3) != hashing(1, 9, 3)
    assert hashing(1, 2, 3) == hashing(1, 2, 9)


@pytest.mark.parametrize("dc", [dataclasses.dataclass, records.dataclass], ids=["stdlib", "fast"])
def test_a_frozen_instance_refuses_every_change(dc: Decorator) -> None:
    frozen = modelled_shapes(dc)["Frozen"]
    record = frozen("a")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        record.name = "b"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'other'"):
        record.other = 1
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'count'"):
        del record.count

    class Child(frozen):  # type: ignore[valid-type, misc]
        pass

    child = Child("c")
    child.other = 1  # a plain subclass may add attributes, as with the standard library
    assert child.other == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.name = "d"


def test_a_mutable_record_is_unhashable_and_assignable() -> None:
    record = FAST["Mutable"](1)
    record.value = 7
    assert record.value == 7
    with pytest.raises(TypeError, match="unhashable"):
        hash(record)
    identity = FAST["Identity"]
    assert identity() != identity()  # eq=False: identity, as the standard library


def test_repr_of_a_record_that_contains_itself() -> None:
    for dc in (dataclasses.dataclass, records.dataclass):
        record = modelled_shapes(dc)["Mutable"](1)
        record.items.append(record)
        assert repr(record).endswith("(value=2, items=[...])")


def unmodelled_shapes(dc: Decorator) -> dict[str, type]:
    @dc(order=True)
    class Ordered:
        rank: int

    @dc(frozen=True)
    class WithClassVar:
        limit: ClassVar[int] = 3
        value: int = 0

    @dc
    class WithInitVar:
        value: int
        seed: dataclasses.InitVar[int] = 0

        def __post_init__(self, seed: int) -> None:
            self.value += seed

    @dc
    class NotInInit:
        value: int
        derived: int = dataclasses.field(init=False, default=0)

    @dc(frozen=True)
    class Base:
        a: int

    @dc(frozen=True)
    class Derived(Base):
        b: int = 0

    @dc
    class OwnEq:
        a: int

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = None  # type: ignore[assignment]

    @dc(kw_only=True)
    class KeywordOnly:
        a: int

    @dc(frozen=True)
    class AliasedClassVar:
        limit: Shared[int] = 3
        value: int = 0

    class Named:
        value = 5

    @dc(frozen=True)
    class InheritsAnAttribute(Named):
        value: int

    @dc(frozen=True)
    class Abstract(abc.ABC):  # noqa: B024 - an ABC's metaclass, not its abstract methods
        value: int = 0

    @dc(frozen=True)
    class Slotted:
        __slots__ = ("value",)
        value: int

    return {
        cls.__name__: cls
        for cls in (
            Ordered,
            WithClassVar,
            WithInitVar,
            NotInInit,
            Derived,
            OwnEq,
            KeywordOnly,
            AliasedClassVar,
            InheritsAnAttribute,
            Abstract,
            Slotted,
        )
    }


STDLIB_UNMODELLED = unmodelled_shapes(dataclasses.dataclass)
FAST_UNMODELLED = unmodelled_shapes(records.dataclass)


@pytest.mark.parametrize("name", sorted(STDLIB_UNMODELLED))
def test_what_the_fast_path_does_not_model_is_the_standard_librarys(name: str) -> None:
    std, fast = STDLIB_UNMODELLED[name], FAST_UNMODELLED[name]
    assert str(inspect.signature(fast)) == str(inspect.signature(std))
    assert fast.__doc__ == std.__doc__
    assert repr(fast.__dataclass_params__) == repr(std.__dataclass_params__)  # type: ignore[attr-defined]
    # the standard library's own generated code, not ours: the same source file name
    assert fast.__init__.__code__.co_filename == std.__init__.__code__.co_filename
    assert fast.__init__.__code__.co_names == std.__init__.__code__.co_names
    assert [_field_seen(f) for f in dataclasses.fields(fast)] == [
        _field_seen(f) for f in dataclasses.fields(std)
    ]


@pytest.mark.parametrize("dc", [dataclasses.dataclass, records.dataclass], ids=["stdlib", "fast"])
def test_a_field_without_default_after_one_with_is_the_standard_error(dc: Decorator) -> None:
    with pytest.raises(TypeError, match="non-default argument 'late' follows default argument"):

        @dc(frozen=True)
        class Broken:
            early: int = 0
            late: int  # type: ignore[misc]


@pytest.mark.parametrize("dc", [dataclasses.dataclass, records.dataclass], ids=["stdlib", "fast"])
def test_a_mutable_default_is_the_standard_error(dc: Decorator) -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @dc
        class Broken:
            items: list[int] = []  # noqa: RUF012


def test_annotations_that_are_not_strings_go_to_the_standard_library() -> None:
    namespace = {"__annotations__": {"a": int}, "__module__": __name__}
    cls = records.dataclass(type("Evaluated", (), namespace))
    assert str(inspect.signature(cls)) == "(a: int) -> None"
    assert cls(1) == cls(1)


def test_a_mutable_default_given_to_field_is_the_standard_error() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @records.dataclass(frozen=True)
        class Broken:
            items: list[int] = dataclasses.field(default=[])


# --- compiled __init__ kept between runs ---------------------------------------------------

_DEFINE = textwrap.dedent(
    """
    from __future__ import annotations
    import sys
    from pathlib import Path
    from recovery_plugin import records

    compiled = []
    real_compile = compile
    records.compile = lambda *args: compiled.append(args[0]) or real_compile(*args)
    records._INIT_CODES = records._InitCodes(Path(sys.argv[1]))

    @records.dataclass(frozen=True)
    class Kept:
        name: str
        count: int = 2

    assert Kept("a") == Kept("a", 2) and repr(Kept("a")) == "Kept(name='a', count=2)"
    print(len(compiled))
    """
)


def _define(directory: Path, *flags: str) -> int:
    """How many ``__init__`` sources a new process compiled to define one class."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"}
    }
    done = subprocess.run(
        [sys.executable, *flags, "-c", _DEFINE, str(directory)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return int(done.stdout)


needs_fast_path = pytest.mark.skipif(not FAST_PATH, reason="the standard library's from 3.13")


@needs_fast_path
def test_a_compiled_init_is_kept_for_the_next_process(tmp_path: Path) -> None:
    assert _define(tmp_path) == 1
    (kept,) = tmp_path.iterdir()
    assert kept.name == f"records-init.{sys.implementation.cache_tag}.bin"
    assert _define(tmp_path) == 0  # found, not compiled again
    assert kept.stat().st_size > 0


@needs_fast_path
@pytest.mark.parametrize("content", [b"", b"not marshal data", b"\xfb\x00", b"N"])
def test_an_unreadable_kept_file_is_compiled_again_and_replaced(
    tmp_path: Path, content: bytes
) -> None:
    kept = tmp_path / f"records-init.{sys.implementation.cache_tag}.bin"
    kept.write_bytes(content)
    assert _define(tmp_path) == 1
    assert _define(tmp_path) == 0
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no temporary left


@needs_fast_path
def test_a_kept_entry_that_does_not_unmarshal_is_compiled_again(tmp_path: Path) -> None:
    import marshal

    assert _define(tmp_path) == 1
    (kept,) = tmp_path.iterdir()
    entries = marshal.loads(kept.read_bytes())
    kept.write_bytes(marshal.dumps({source: b"junk" for source in entries}))
    assert _define(tmp_path) == 1
    assert _define(tmp_path) == 0


@needs_fast_path
def test_nothing_is_kept_without_bytecode_or_a_cache_directory(tmp_path: Path) -> None:
    assert _define(tmp_path, "-B") == 1  # PYTHONDONTWRITEBYTECODE
    assert _define(tmp_path, "-B") == 1
    assert list(tmp_path.iterdir()) == []
    assert _define(tmp_path / "missing") == 1
    assert not (tmp_path / "missing").exists()
    prefix = f"pycache_prefix={tmp_path / 'prefix'}"  # bytecode goes elsewhere: so would this
    assert _define(tmp_path, "-X", prefix) == 1
    assert _define(tmp_path, "-X", prefix) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prefix"]


@needs_fast_path
def test_a_kept_file_is_bounded(tmp_path: Path) -> None:
    codes = records._InitCodes(tmp_path)
    for n in range(codes.MAX_ENTRIES + 10):
        codes.code(f"def __init__(self, a{n}):\n self.a = a{n}\n")
    codes._write()
    fresh = records._InitCodes(tmp_path)
    fresh.code("def __init__(self):\n pass\n")
    assert fresh._kept is not None and len(fresh._kept) == codes.MAX_ENTRIES + 1
