"""The generated checks: real pytest items, one per endpoint and one per matchup id.

Node ids are ``recovery::<endpoint>`` and ``recovery::<endpoint>[<matchup id>]``; each item reads
its capture from the session (as soon as it has arrived) and fails with the reasons an operator
can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recovery_plugin.config import EndpointSpec
from recovery_plugin.ids import printable

if TYPE_CHECKING:
    from recovery_plugin.http.capture import Capture, CaptureKey, Target

__all__ = [
    "COLLECTOR_NAME",
    "MARKER",
    "CheckFailed",
    "EndpointCheck",
    "RecoveryChecks",
    "new_target",
    "target_key",
]

MARKER = "recovery_check"
COLLECTOR_NAME = "recovery"
"""The generated checks' collector: their node ids are ``recovery::<endpoint>[<matchup id>]``."""

CaptureSource = Callable[["Target"], "Capture"]
TargetSource = Callable[[EndpointSpec, "str | None"], "Target"]
"""The target a check requests: the capture batch's own when it has one (shared, not copied)."""
Location = tuple[str, int | None, str]
Judge = Callable[["EndpointCheck"], list[str]]


class CheckFailed(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = reasons


class RecoveryChecks(pytest.Collector):
    """The generated checks: one per endpoint, and one per matchup id for per-matchup paths."""

    def __init__(
        self,
        *,
        checks: list[tuple[EndpointSpec, str | None]],
        capture_for: CaptureSource,
        judge: Judge | None = None,
        target_for: TargetSource | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # For ``-k recovery_check`` and ``"recovery_check" in item.keywords``: every check finds
        # it here, its parent, instead of holding its own entry.
        self.keywords[MARKER] = getattr(pytest.mark, MARKER)
        self._checks = checks
        self._capture_for = capture_for
        self._judge = judge
        self._target_for = target_for or new_target

    def collect(self) -> list[pytest.Item]:
        items: list[pytest.Item] = []
        for spec, matchup_id in self._checks:
            name = spec.name if matchup_id is None else f"{spec.name}[{printable(matchup_id)}]"
            items.append(
                EndpointCheck.from_parent(
                    self,
                    name=name,
                    spec=spec,
                    matchup_id=matchup_id,
                    capture_for=self._capture_for,
                    judge=self._judge,
                    target=self._target_for(spec, matchup_id),
                )
            )
        return items


class EndpointCheck(pytest.Item):
    """GET one endpoint (from the session's batch capture) and check it against its spec."""

    _extra_keywords: set[str] | None
    _own_marks: list[pytest.Mark] | None
    _stash: pytest.Stash | None

    def __init__(
        self,
        *,
        spec: EndpointSpec,
        matchup_id: str | None,
        capture_for: CaptureSource,
        judge: Judge | None = None,
        target: Target | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._extra_keywords = None  # pytest's empty set, made again only if anybody asks
        self._own_marks = None  # made when first asked for (``own_markers``)
        self._stash = None  # likewise (``stash``)
        self._judge = judge
        self.spec = spec
        self.matchup_id = matchup_id
        self._capture_for = capture_for
        self._location: Location | None = None
        self.target = target if target is not None else new_target(spec, matchup_id)

    def runtest(self) -> None:
        from recovery_plugin.http.checks import evaluate

        judge = self._judge
        reasons = judge(self) if judge else evaluate(self.spec, self._capture_for(self.target))
        if reasons:
            raise CheckFailed(reasons)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The path as configured ({matchup_id} and all: the id is in the name), not as
        # requested: every check keeps this text all session, and an encoded Hangul id made it
        # ~0.4 kB a check. The reasons name the path as requested.
        return self.path, None, f"{self.name}: GET {self.spec.path}"

    @property
    def own_markers(self) -> list[pytest.Mark]:
        """pytest's marks of the item, made when first asked for: ``recovery_check(endpoint,
        matchup_id)`` first, then any a hook adds. Its mark, list and args are ~0.4 kB a check,
        kept all session, and a generated session without ``-m`` or check files never asks."""
        marks = self._own_marks
        if marks is None:
            mark = getattr(pytest.mark, MARKER)(self.spec.name, self.matchup_id).mark
            marks = self._own_marks = [mark]
        return marks

    @own_markers.setter
    def own_markers(self, value: list[pytest.Mark]) -> None:
        self._own_marks = value

    def marks_besides_own(self) -> Iterator[pytest.Mark]:
        """Every mark of the item (its parents' too) but its own ``recovery_check``, without
        making that one."""
        own = self._own_marks
        for node in self.iter_parents():
            marks = own if node is self else node.own_markers
            for mark in marks or ():
                if mark.name != MARKER:
                    yield mark

    @property
    def stash(self) -> pytest.Stash:
        """pytest's per-item store for plugins, made when first asked for: the plugins of a
        generated session never ask, and an empty one is ~0.1 kB a check, kept all session."""
        stash = self._stash
        if stash is None:
            stash = self._stash = pytest.Stash()
        return stash

    @stash.setter
    def stash(self, value: pytest.Stash) -> None:
        self._stash = value

    @property
    def _store(self) -> pytest.Stash:  # pytest's deprecated alias of ``stash``
        return self.stash

    @_store.setter
    def _store(self, value: pytest.Stash) -> None:
        self._stash = value

    @property
    def extra_keyword_matches(self) -> set[str]:
        """pytest's extra ``-k`` names of the item, made when first asked for: an empty set is
        ~0.2 kB, kept all session, and hardly any item ever has one."""
        extra = self._extra_keywords
        if extra is None:
            extra = self._extra_keywords = set()
        return extra

    @extra_keyword_matches.setter
    def extra_keyword_matches(self, value: set[str]) -> None:
        self._extra_keywords = value

    @property
    def location(self) -> Location:
        """pytest's ``Item.location``, kept in an attribute of our own: pytest caches it with a
        ``functools.cached_property``, whose write to the instance ``__dict__`` turns each
        item's compact attribute storage into a full dict (~0.7 kB an item, kept all session)."""
        location = self._location
        if location is None:
            compute = _PYTEST_LOCATION
            location = self._location = compute(self) if compute else super().location
        return location


def target_key(spec: EndpointSpec, matchup_id: str | None) -> CaptureKey:
    """The key of the check's target: the id only when the endpoint's path names one."""
    return spec.name, matchup_id if spec.per_matchup else None


def new_target(spec: EndpointSpec, matchup_id: str | None) -> Target:
    """The target of ``spec`` (for ``matchup_id`` when its path names one)."""
    from recovery_plugin.http.capture import Target

    name, request_id = target_key(spec, matchup_id)
    return Target(name, spec.path, request_id)


def _pytest_location() -> Callable[[pytest.Item], Location] | None:
    """The function behind pytest's ``Item.location``; None (use pytest's own, cached as it
    caches it) when this pytest defines it otherwise."""
    descriptor = vars(pytest.Item).get("location")
    function = getattr(descriptor, "func", None) or getattr(descriptor, "fget", None)
    return function if callable(function) else None


_PYTEST_LOCATION = _pytest_location()
