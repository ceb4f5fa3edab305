"""An endpoint's expectations beyond status and body subset, parsed by the engines.

The runbook schema keeps these keys as the file wrote them (the config layer sits below the
engines); :func:`check_runbook` parses every endpoint's once at resolve time, so a bad value is a
one-line :class:`~recovery_plugin.errors.ConfigError` naming the dotted key before anything runs.
Parsing is import-free; ``compile_paths`` also compiles the JSONPaths (importing the library).
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from recovery_plugin.config import EndpointSpec, Runbook
from recovery_plugin.errors import ConfigError
from recovery_plugin.http import assertions as assertion_engine
from recovery_plugin.http import effect as effect_engine
from recovery_plugin.http.assertions import Assertion, parse_assertions
from recovery_plugin.http.effect import EffectSpec, parse_effect
from recovery_plugin.records import dataclass

if TYPE_CHECKING:  # parsed only when an endpoint sets them: a dry-run without them skips both
    from recovery_plugin.http.latency import LatencySLO
    from recovery_plugin.http.poll import PollSpec

__all__ = ["Expectations", "check_runbook", "expectations_of"]


@dataclass(frozen=True)
class Expectations:
    assertions: tuple[Assertion, ...] = ()
    reprocessed: tuple[Assertion, ...] = ()
    """Asserted only for a matchup reprocessed in this run."""
    effect: EffectSpec = field(default_factory=EffectSpec)
    max_ms: float | None = None
    slo: LatencySLO | None = None
    poll: PollSpec | None = None


def expectations_of(spec: EndpointSpec, where: str = "") -> Expectations:
    """``spec``'s expectations; ``where`` prefixes errors (``recovery.toml: endpoints[2]``)."""
    at = where or f"endpoint {spec.name!r}"
    table: dict[str, object] = {}
    if spec.expect_changed is not None:
        table["expect_changed"] = spec.expect_changed
    if spec.expect_unchanged is not None:
        table["expect_unchanged"] = spec.expect_unchanged
    max_ms = slo = poll = None
    if spec.max_ms is not None or spec.slo is not None:
        from recovery_plugin.http.latency import parse_max_ms, parse_slo

        max_ms = parse_max_ms(spec.max_ms, f"{at}.max_ms") if spec.max_ms is not None else None
        slo = parse_slo(spec.slo, f"{at}.slo") if spec.slo is not None else None
    if spec.poll is not None:
        from recovery_plugin.http.poll import parse_poll

        poll = parse_poll(spec.poll, f"{at}.poll")
    return Expectations(
        assertions=parse_assertions(list(spec.assertions), f"{at}.assert"),
        reprocessed=parse_assertions(list(spec.reprocessed_assert), f"{at}.reprocessed_assert"),
        effect=parse_effect(table, at),
        max_ms=max_ms,
        slo=slo,
        poll=poll,
    )


def check_runbook(runbook: Runbook, *, compile_paths: bool = False) -> None:
    """Parse every endpoint's expectations; raise ConfigError naming the file and the key."""
    for i, spec in enumerate(runbook.endpoints):
        found = expectations_of(spec, f"{runbook.source}: endpoints[{i}]")
        if compile_paths:
            assertion_engine.check_paths(found.assertions + found.reprocessed)
            effect_engine.check_paths(found.effect)
        if spec.expect_schema:
            _check_schema_file(
                Path(spec.expect_schema),
                f"{runbook.source}: endpoints[{i}].expect_schema",
                full=compile_paths,
            )


def _check_schema_file(path: Path, where: str, *, full: bool) -> None:
    """A schema file that cannot be used fails the run before anything runs, not its check.

    ``full`` (not a dry-run) reads and checks it as the check will, its ``$ref``d files too;
    a dry-run only asks that it exists (jsonschema is not worth its import there).
    """
    if full:
        from recovery_plugin.http.contract import load_schema_file

        load_schema_file(path, where)
    elif not path.is_file():
        raise ConfigError(f"{where}: no such JSON Schema file: {path}")
