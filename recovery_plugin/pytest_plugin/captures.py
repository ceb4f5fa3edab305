"""``recovery_captures``: the session's captured responses, for users' own check files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from recovery_plugin.pytest_plugin.session import SESSION, VerificationSession

if TYPE_CHECKING:
    from recovery_plugin.http.batch import Readiness
    from recovery_plugin.http.capture import Capture

__all__ = ["CaptureView", "recovery_captures"]


class CaptureView:
    """Read-only view of the session's captures, for users' own check files."""

    def __init__(self, session: VerificationSession) -> None:
        self._session = session

    @property
    def base_url(self) -> str:
        return self._session.context.base_url

    @property
    def matchup_ids(self) -> list[str]:
        return list(self._session.context.matchup_ids)

    @property
    def readiness(self) -> Readiness | None:
        self._session.captures()
        return self._session.readiness

    def get(self, endpoint: str, matchup_id: str | None = None) -> Capture:
        """The capture of ``endpoint`` (for ``matchup_id`` when its path names one)."""
        spec = next((e for e in self._session.endpoints if e.name == endpoint), None)
        if spec is None:
            known = ", ".join(e.name for e in self._session.endpoints)
            raise KeyError(f"no endpoint named {endpoint!r} (known: {known})")
        if spec.per_matchup and matchup_id is None:
            raise KeyError(f"endpoint {endpoint!r} is per matchup: give a matchup_id")
        from recovery_plugin.http.capture import Target

        target = Target(spec.name, spec.path, matchup_id if spec.per_matchup else None)
        return self._session.capture_for(target)

    def __iter__(self) -> Iterator[Capture]:
        return iter(list(self._session.captures().values()))


@pytest.fixture(scope="session")
def recovery_captures(pytestconfig: pytest.Config) -> CaptureView:
    """Captured responses of the run's endpoints (enable with ``--recovery-base-url``)."""
    session = pytestconfig.stash.get(SESSION, None)
    if session is None:
        pytest.fail(
            "recovery_captures needs the recovery plugin enabled: pass --recovery-base-url URL"
            " (or set the recovery_base_url ini option)",
            pytrace=False,
        )
    return CaptureView(session)
