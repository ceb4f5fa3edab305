"""Why a step failed, from what the report knows, and the advice that fits that cause (en, ko).

The causes, most specific first: a required environment variable missing (the preflight says
so), the command or script not found (exit 127, or the error says so), a timeout, an
interruption, a signal (a negative exit code), a plain exit code. Anything else is ``unknown``,
and only then does a guide fall back to generic advice.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.records import dataclass

__all__ = [
    "ADVICE",
    "Cause",
    "advice",
    "artifacts_note",
    "cause_label",
    "existing_artifacts",
    "step_cause",
]

_NOT_FOUND = re.compile(
    r"command not found|can't open file|no such file or directory|not found|errno 2\b",
    re.IGNORECASE,
)
_COMMAND_NOT_FOUND_EXIT = 127


@dataclass(frozen=True)
class Cause:
    kind: str
    """``missing_env``, ``not_found``, ``timeout``, ``interrupted``, ``signal``, ``exit_code``,
    ``checks`` (the capture step: verification failed) or ``unknown``."""
    detail: str = ""


def step_cause(step: Mapping[str, Any], report: Mapping[str, Any]) -> Cause:
    """The cause of a failed (or timed-out, interrupted) step."""
    status = step.get("status")
    if step.get("name") == "capture" and status == "failed":
        return Cause("checks", str(step.get("error") or "some checks failed"))
    missing = [name for name, present in (report.get("preflight") or {}).items() if not present]
    if status == "failed" and missing:
        return Cause("missing_env", ", ".join(str(name) for name in missing))
    code = step.get("exit_code")
    error = str(step.get("error") or "")
    if status == "failed" and (code == _COMMAND_NOT_FOUND_EXIT or _NOT_FOUND.search(error)):
        return Cause("not_found", error.splitlines()[0] if error else f"exit {code}")
    if status == "timeout":
        return Cause("timeout")
    if status == "interrupted":
        return Cause("interrupted")
    if isinstance(code, int) and code < 0:
        return Cause("signal", _signal_name(-code))
    if isinstance(code, int) and code != 0:
        return Cause("exit_code", str(code))
    return Cause("unknown")


def existing_artifacts(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(what, path)`` of the step's report and log that exist on disk: a guide names no other."""
    found = []
    for what, key in (("report", "output_path"), ("log", "log_path")):
        path = step.get(key)
        if path and Path(str(path)).exists():
            found.append((what, str(path)))
    return found


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


ADVICE: Mapping[str, Mapping[str, str]] = {
    "en": {
        "missing_env": (
            "required environment variable(s) not set: {detail}; export them (or set them in the"
            " runbook's env table), check with --mode dry-run, then retry"
        ),
        "not_found": (
            "the command or script was not found ({detail}); check the step's command in the"
            " runbook, the working directory and the PATH, then retry"
        ),
        "timeout": (
            "it did not finish within its timeout; find what it waits on (its log), raise"
            " steps.{step}.timeout if it is just slow, then retry"
        ),
        "interrupted": (
            "the run was interrupted before it finished; the step itself did not fail: retry it"
        ),
        "signal": (
            "it was killed by signal {detail}; check for the OOM killer (dmesg) or an operator"
            " kill, then retry"
        ),
        "exit_code": (
            "it exited with code {detail}; the reason is in its last output lines (its log);"
            " fix it, then retry"
        ),
        "exit_code_ingest": (
            "it exited with code {detail}; the reason is in its last output lines (its log) and"
            " its dead-letter and failure-classification artifacts; fix it, then retry"
        ),
        "artifacts": " ({items})",
        "report": "report: {path}",
        "log": "log: {path}",
        "resume": "Shorter: recovery-bundle run --resume {run_dir} re-applies what is left. ",
    },
    "ko": {
        "missing_env": (
            "필수 환경 변수가 설정되지 않음: {detail}. 변수를 export 하거나 (runbook 의 env 표에 설정)"
            " --mode dry-run 으로 확인한 뒤 재시도하세요"
        ),
        "not_found": (
            "명령 또는 스크립트를 찾을 수 없음 ({detail}). runbook 의 단계 command, 작업 디렉터리,"
            " PATH 를 확인한 뒤 재시도하세요"
        ),
        "timeout": (
            "제한 시간 안에 끝나지 않음. 무엇을 기다리는지 로그에서 확인하고, 단지 느린 경우"
            " steps.{step}.timeout 을 올린 뒤 재시도하세요"
        ),
        "interrupted": "실행이 중단됨 — 단계 자체가 실패한 것은 아닙니다. 재시도하세요",
        "signal": (
            "시그널 {detail} 로 종료됨. OOM killer (dmesg) 나 운영자의 종료인지 확인한 뒤 재시도하세요"
        ),
        "exit_code": (
            "종료 코드 {detail} 로 끝남. 원인은 마지막 출력 줄 (로그) 에 있습니다. 고친 뒤 재시도하세요"
        ),
        "exit_code_ingest": (
            "종료 코드 {detail} 로 끝남. 원인은 마지막 출력 줄 (로그) 과 dead-letter 및 실패 분류"
            " 산출물에 있습니다. 고친 뒤 재시도하세요"
        ),
        "artifacts": " ({items})",
        "report": "보고서: {path}",
        "log": "로그: {path}",
        "resume": "더 짧게: recovery-bundle run --resume {run_dir} 로 남은 단계를 다시 적용합니다. ",
    },
}


def advice(cause: Cause, step: Mapping[str, Any], lang: str) -> str | None:
    """The advice for ``cause`` in ``lang``; None for an unknown cause (generic advice applies)."""
    text = ADVICE.get(lang, ADVICE["en"])
    if cause.kind not in text:
        return None  # unknown (or the capture's checks, which have their own guide)
    key = cause.kind
    if key == "exit_code" and step.get("name") == "ingest":
        key = "exit_code_ingest"  # the ingest script leaves its own failure artifacts
    return text[key].format(detail=cause.detail, step=step.get("name", "?"))


def artifacts_note(step: Mapping[str, Any], lang: str) -> str:
    """`` (report: ...; log: ...)`` naming only the artifacts that exist; empty when none do."""
    text = ADVICE.get(lang, ADVICE["en"])
    items = [text[what].format(path=path) for what, path in existing_artifacts(step)]
    return text["artifacts"].format(items="; ".join(items)) if items else ""


def cause_label(cause: Cause) -> str:
    """A few words naming the cause, for the views (``exit code 3``, ``killed by signal SIGKILL``)."""
    labels = {
        "missing_env": f"missing environment variable(s): {cause.detail}",
        "not_found": f"command or script not found: {cause.detail}",
        "timeout": "timed out",
        "interrupted": "interrupted",
        "signal": f"killed by signal {cause.detail}",
        "exit_code": f"exit code {cause.detail}",
        "checks": f"verification failed: {cause.detail}",
    }
    return labels.get(cause.kind, "unknown")
