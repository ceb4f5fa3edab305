"""Freshness / effect: did the recovery change what it should, and only that?

``expect_changed = ["$.updated_at"]`` — the after-capture must differ from the baseline (the
capture taken before the steps, or ``--baseline RUN_DIR``) at each path; ``expect_changed = true``
means anywhere in the body. ``expect_unchanged`` is the opposite (e.g. other regions must not
move). A path compares the whole list of nodes it selects (their normalized paths and values),
so ``$.options[*].value_mid`` has changed when any option's value, or the number of options, has.
A path that selects nothing in either capture fails: it is almost always a typo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.jsonpaths import JSONPathSyntax, compile_path, find, json_equal, show
from recovery_plugin.records import dataclass

__all__ = ["WHOLE_BODY", "EffectSpec", "check_paths", "compare", "parse_effect"]

WHOLE_BODY = "$"
MAX_DIFFS = 5


@dataclass(frozen=True)
class EffectSpec:
    """Paths that must change, and paths that must not, relative to the baseline."""

    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    where: str = ""

    @property
    def empty(self) -> bool:
        return not self.changed and not self.unchanged


def parse_effect(table: Mapping[str, Any], where: str) -> EffectSpec:
    """Read ``expect_changed`` / ``expect_unchanged`` from an endpoint table (other keys ignored).

    ``where`` names the endpoint (``recovery.toml: endpoints[2]``). Cheap and import-free; call
    :func:`check_paths` to compile the paths (a bad one is a :class:`ConfigError`).
    """
    return EffectSpec(
        changed=_paths(table, "expect_changed", where),
        unchanged=_paths(table, "expect_unchanged", where),
        where=where,
    )


def _paths(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    if key not in table:
        return ()
    raw = table[key]
    full = f"{where}.{key}"
    if raw is True:
        return (WHOLE_BODY,)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"{full}: must be true (the whole body) or a non-empty array of JSONPaths"
        )
    paths = []
    for i, path in enumerate(raw):
        if not isinstance(path, str) or not path.startswith("$"):
            raise ConfigError(
                f"{full}[{i}]: must be a JSONPath starting with '$', got {show(path)}"
            )
        paths.append(path)
    return tuple(paths)


def check_paths(spec: EffectSpec) -> None:
    """Compile every path; raise :class:`ConfigError` naming ``<where>.expect_changed[i]``."""
    for key, paths in (("expect_changed", spec.changed), ("expect_unchanged", spec.unchanged)):
        for i, path in enumerate(paths):
            try:
                compile_path(path)
            except JSONPathSyntax as exc:
                raise ConfigError(
                    f"{spec.where}.{key}[{i}]: invalid JSONPath {path!r}: {exc}"
                ) from None


def compare(spec: EffectSpec, baseline: Any, after: Any) -> list[str]:
    """Every reason ``after`` breaks ``spec`` against ``baseline`` (two decoded bodies)."""
    try:
        return _compare(spec, baseline, after)
    except JSONPathSyntax as exc:
        return [f"invalid JSONPath in expect_changed/expect_unchanged: {exc}"]


def _compare(spec: EffectSpec, baseline: Any, after: Any) -> list[str]:
    reasons: list[str] = []
    for path in spec.changed:
        before_nodes, after_nodes = find(path, baseline), find(path, after)
        if not before_nodes and not after_nodes:
            reasons.append(f"expect_changed {path}: no match in the baseline nor after")
        elif _same(before_nodes, after_nodes):
            where = "the body" if path == WHOLE_BODY else path
            reasons.append(
                f"expect_changed {path}: {where} is unchanged since the baseline: "
                f"still {_values(after_nodes)}"
            )
    for path in spec.unchanged:
        before_nodes, after_nodes = find(path, baseline), find(path, after)
        if not before_nodes and not after_nodes:
            reasons.append(f"expect_unchanged {path}: no match in the baseline nor after")
        elif not _same(before_nodes, after_nodes):
            diffs = _node_diffs(before_nodes, after_nodes)
            shown = "; ".join(diffs[:MAX_DIFFS])
            more = f"; and {len(diffs) - MAX_DIFFS} more" if len(diffs) > MAX_DIFFS else ""
            reasons.append(f"expect_unchanged {path}: changed since the baseline: {shown}{more}")
    return reasons


def _same(a: Sequence[tuple[str, Any]], b: Sequence[tuple[str, Any]]) -> bool:
    return len(a) == len(b) and all(
        pa == pb and json_equal(va, vb) for (pa, va), (pb, vb) in zip(a, b, strict=True)
    )


def _values(nodes: Sequence[tuple[str, Any]]) -> str:
    if len(nodes) == 1:
        return show(nodes[0][1])
    return show([value for _, value in nodes])


def _node_diffs(before: Sequence[tuple[str, Any]], after: Sequence[tuple[str, Any]]) -> list[str]:
    return _keyed_diffs(dict(before), dict(after), lambda where: where)


def _keyed_diffs(
    old: Mapping[Any, Any], new: Mapping[Any, Any], place: Callable[[Any], str]
) -> list[str]:
    """Per key of either side: gone, new, or the leaf differences below it."""
    diffs: list[str] = []
    for key in dict.fromkeys([*old, *new]):
        where = place(key)
        if key not in new:
            diffs.append(f"{where} was {show(old[key], 60)}, now absent")
        elif key not in old:
            diffs.append(f"{where} was absent, now {show(new[key], 60)}")
        else:
            diffs.extend(_leaf_diffs(where, old[key], new[key]))
    return diffs


def _leaf_diffs(where: str, old: Any, new: Any) -> list[str]:
    """The innermost places where ``old`` and ``new`` differ, as normalized paths."""
    if json_equal(old, new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return _keyed_diffs(old, new, lambda key: f"{where}[{_quote(key)}]")
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for d in _leaf_diffs(f"{where}[{i}]", o, n)
        ]
    return [f"{where} was {show(old, 60)}, now {show(new, 60)}"]


def _quote(key: str) -> str:
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"
