"""SLO items: ``recovery::slo[<endpoint>]``, one per endpoint with an ``slo``, run after that
endpoint's checks and judged over their latencies and errors (so the gate fails on them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recovery_plugin.pytest_plugin.items import CheckFailed, EndpointCheck

if TYPE_CHECKING:
    from recovery_plugin.config import EndpointSpec
    from recovery_plugin.http.latency import Sample, SLOResult

__all__ = ["SLOCheck", "with_slo_items"]

SLO_ITEM = "slo"


class SLOCheck(pytest.Item):
    def __init__(
        self, *, spec: EndpointSpec, samples: Callable[[str], Sequence[Sample]], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self._samples = samples
        self.result: SLOResult | None = None

    def runtest(self) -> None:
        from recovery_plugin.http.expectations import expectations_of
        from recovery_plugin.http.latency import evaluate_slo

        slo = expectations_of(self.spec).slo
        assert slo is not None
        self.result = evaluate_slo(self.spec.name, self._samples(self.spec.name), slo)
        if self.result.verdict == "failed":
            raise CheckFailed([self.result.reason])
        if self.result.verdict == "skipped":
            pytest.skip(self.result.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name}: latency SLO of {self.spec.name}"


def with_slo_items(
    parent: pytest.Collector,
    items: list[pytest.Item],
    samples: Callable[[str], Sequence[Sample]],
) -> list[pytest.Item]:
    """``items`` with an SLO item after the last check of each endpoint that has an ``slo``."""
    last: dict[str, int] = {}
    specs: dict[str, EndpointSpec] = {}
    for index, item in enumerate(items):
        if isinstance(item, EndpointCheck) and item.spec.slo is not None:
            last[item.spec.name] = index
            specs[item.spec.name] = item.spec
    after = {index: name for name, index in last.items()}
    result: list[pytest.Item] = []
    for index, item in enumerate(items):
        result.append(item)
        if index in after:
            name = after[index]
            result.append(
                SLOCheck.from_parent(
                    parent, name=f"{SLO_ITEM}[{name}]", spec=specs[name], samples=samples
                )
            )
    return result
