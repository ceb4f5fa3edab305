"""The ops checklist: preflight, one line per step, and a retry/rollback guide per failed step.

The ``retry-guide:`` / ``rollback-guide:`` prefixes are stable (scripts grep for them) and stay
the same in every language (the code puts them in front); only the prose after them is translated.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from recovery_plugin.names import MATCHUP_IDS_NAME
from recovery_plugin.report.causes import ADVICE, advice, artifacts_note, step_cause
from recovery_plugin.report.model import FAILED_STATUSES, step_label, verdict_line
from recovery_plugin.report.redo_ids import (
    MAX_REAPPLY_INLINE_IDS,
    batch_flags,
    inline_ids,
    redo_flags,
    write_ids_to_redo,
)

__all__ = [
    "GUIDE_PREFIXES",
    "MAX_REAPPLY_INLINE_IDS",
    "RESUME_GUIDE",
    "RETRY_GUIDE",
    "ROLLBACK_GUIDE",
    "build_checklist",
    "write_ids_to_redo",
]

RETRY_GUIDE = "retry-guide:"
ROLLBACK_GUIDE = "rollback-guide:"
RESUME_GUIDE = "resume-guide:"
GUIDE_PREFIXES = (RETRY_GUIDE, ROLLBACK_GUIDE, RESUME_GUIDE)
"""What a guide line starts with: ``line.startswith(GUIDE_PREFIXES)`` picks the guides out."""

_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "preflight": "preflight: {name} {state}",
        "ok": "ok",
        "missing": "missing",
        "step": "step {label}: {status}{duration}",
        "verification": "verification: {verdict}",
        "readiness_failed": "readiness: {url} did not answer 2xx within {deadline:g}s ({attempts} probes)",
        "ingest": "ingest {status} after {attempts} attempt(s){code}: {advice}{artifacts}",
        "generic": (
            "raise the backoff and"
            " timeout (steps.ingest.backoff / timeout, the script's --backoff-seconds / --timeout),"
            " retry once, and inspect the dead-letter and failure-classification artifacts"
        ),
        "reprocess": (
            "reprocess {status} for {count} matchup id(s): {ids}. {causes}{resume}Re-run them with"
            " --mode dry-run to regenerate the payload and before/after snapshots, re-check each"
            " matchup id and poll fingerprint, then re-apply only them: {command}"
        ),
        "capture": (
            "capture failed for {endpoints}. Restore /health first, then verify"
            " /api/v1/dashboard/summary, then the matchup endpoints, in that order; re-check with:"
            " {command}"
        ),
        "no_matchup": "step reprocess: skipped (no --matchup-id given)",
        "rolled_back": "rolled back {label}: succeeded (on_failure exited 0; log: {log})",
        "rollback_failed": (
            "rollback of {label} {status}{code}: the change may be half-applied; check it by hand"
            " before re-running (log: {log})"
        ),
        "finally_failed": "finally {status}{code}: the clean-up did not complete (log: {log})",
        "batch": "batch {index} ({kind}, {count} id(s)): {verdict}{summary}",
        "resume": (
            "stopped after batch {after}: {reason}. {count} id(s) left to do: {ids}. When the"
            " cause is fixed, resume with: {command}"
        ),
    },
    "ko": {
        "preflight": "사전 점검: {name} {state}",
        "ok": "정상",
        "missing": "누락",
        "step": "단계 {label}: {status}{duration}",
        "verification": "검증: 통과 {passed}, 실패 {failed}, 오류 {error} / 전체 {total}",
        "readiness_failed": "준비 상태: {url} 이(가) {deadline:g}초 안에 2xx 로 응답하지 않음 (시도 {attempts}회)",
        "ingest": "ingest {status} — {attempts}회 시도{code}. {advice}{artifacts}",
        "generic": (
            "backoff/timeout 값을 올리고"
            " (steps.ingest.backoff / timeout, 스크립트의 --backoff-seconds / --timeout) 1회 재시도한 뒤"
            " dead-letter 및 실패 분류 산출물을 확인하세요"
        ),
        "reprocess": (
            "reprocess {status} — 매치업 {count}건: {ids}. {causes}{resume}--mode dry-run 으로 다시"
            " 실행해 payload 와 전/후 스냅샷을 재생성하고, 매치업 ID 와 poll fingerprint 를 재확인한 뒤"
            " 해당 ID 만 다시 적용하세요: {command}"
        ),
        "capture": (
            "capture 실패 — {endpoints}. /health 를 먼저 복구하고, 이어서"
            " /api/v1/dashboard/summary, 그다음 매치업 엔드포인트 순서로 확인하세요. 재검증: {command}"
        ),
        "no_matchup": "단계 reprocess: 건너뜀 (--matchup-id 없음)",
        "rolled_back": "{label} 롤백 완료: 성공 (on_failure 종료 코드 0; 로그: {log})",
        "rollback_failed": (
            "{label} 롤백 {status}{code}: 변경이 일부만 적용되었을 수 있습니다. 다시 실행하기 전에"
            " 직접 상태를 확인하세요 (로그: {log})"
        ),
        "finally_failed": "finally {status}{code}: 정리 작업이 끝나지 않았습니다 (로그: {log})",
        "batch": "배치 {index} ({kind}, {count}건): {verdict}{summary}",
        "resume": (
            "배치 {after} 이후 중단: {reason}. 남은 매치업 {count}건: {ids}. 원인을 해결한 뒤"
            " 다음 명령으로 이어서 실행하세요: {command}"
        ),
    },
}


def build_checklist(report: Mapping[str, Any], lang: str = "en") -> list[str]:
    lang = lang if lang in _TEXT else "en"
    text = _TEXT[lang]
    lines = [
        text["preflight"].format(name=name, state=text["ok" if present else "missing"])
        for name, present in report.get("preflight", {}).items()
    ]
    lines += [f"preflight: {line}" for line in report.get("unmasked_secrets", [])]
    steps: list[Mapping[str, Any]] = report.get("steps", [])
    if report.get("mode") == "apply" and not report.get("matchup_ids"):
        lines.append(text["no_matchup"])
    for step in steps:
        duration = f" ({step['duration_s']:.1f}s)" if step.get("duration_s") is not None else ""
        lines.append(
            text["step"].format(label=step_label(step), status=step["status"], duration=duration)
        )
    verification = report.get("verification")
    if verification:
        summary = verification["summary"]
        lines.append(text["verification"].format(verdict=verdict_line(summary), **summary))
    readiness = report.get("readiness")
    if readiness and not readiness.get("ready"):
        lines.append(
            text["readiness_failed"].format(
                url=readiness["url"],
                deadline=readiness["deadline_s"],
                attempts=len(readiness["attempts"]),
            )
        )
    lines.extend(_batch_lines(report, text))
    lines.extend(_handler_lines(steps, text))
    lines.extend(_guides(report, steps, text, lang))
    return lines


def _batch_lines(report: Mapping[str, Any], text: Mapping[str, str]) -> list[str]:
    batches = report.get("batches")
    if not batches:
        return []
    lines = [
        text["batch"].format(
            index=b["index"],
            kind=b["kind"],
            count=len(b["ids"]),
            verdict=b["verdict"],
            summary=f" ({b['summary']})" if b.get("summary") else "",
        )
        for b in batches["items"]
    ]
    left = [str(i) for i in batches.get("ids_left", [])]
    if left and batches.get("stopped_after") is not None:
        lines.append(
            f"{RESUME_GUIDE} "
            + text["resume"].format(
                after=batches["stopped_after"],
                reason=batches.get("stop_reason") or "-",
                count=len(left),
                ids=", ".join(left[:MAX_INLINE_IDS])
                + (", ..." if len(left) > MAX_INLINE_IDS else ""),
                command=_resume_command(report, batches),
            )
        )
    return lines


def _handler_lines(steps: list[Mapping[str, Any]], text: Mapping[str, str]) -> list[str]:
    """What was rolled back and whether it worked; a failed ``finally``."""
    lines = []
    for step in steps:
        if step["name"] not in ("rollback", "finally") or step["status"] in ("planned", "skipped"):
            continue
        code = f", exit {step['exit_code']}" if step.get("exit_code") is not None else ""
        log = step.get("log_path") or "-"
        if step["name"] == "finally":
            if step["status"] != "success":
                lines.append(
                    text["finally_failed"].format(status=step["status"], code=code, log=log)
                )
            continue
        label = step_label({"name": step.get("rollback_of"), "matchup_id": step.get("matchup_id")})
        key = "rolled_back" if step["status"] == "success" else "rollback_failed"
        lines.append(text[key].format(label=label, status=step["status"], code=code, log=log))
    return lines


def _guides(
    report: Mapping[str, Any], steps: list[Mapping[str, Any]], text: Mapping[str, str], lang: str
) -> list[str]:
    guides = []
    ingest_failed = False
    for step in steps:
        if step["name"] == "ingest" and step["status"] in FAILED_STATUSES:
            ingest_failed = True
            code = f", exit {step['exit_code']}" if step.get("exit_code") is not None else ""
            cause = step_cause(step, report)
            guides.append(
                f"{RETRY_GUIDE} "
                + text["ingest"].format(
                    status=step["status"],
                    attempts=len(step.get("attempts", [])),
                    code=code,
                    advice=advice(cause, step, lang) or text["generic"],
                    artifacts=artifacts_note(step, lang),
                )
            )
    reprocess = [s for s in steps if s["name"] == "reprocess"]
    failed_reprocess = [s for s in reprocess if s["status"] in FAILED_STATUSES]
    anything_failed = ingest_failed or bool(failed_reprocess)
    # Skipped because a step failed or the run was interrupted: still to do, like the failed.
    todo = [
        s
        for s in reprocess
        if s["status"] in FAILED_STATUSES or (anything_failed and s["status"] == "skipped")
    ]
    shown = failed_reprocess or todo
    if shown:
        ids = [str(s["matchup_id"]) for s in shown]
        statuses = sorted({str(s["status"]) for s in shown})
        # The finisher's ``ids_to_redo`` when there (it knows a resumed run's and a chosen skip).
        redo = [str(i) for i in report.get("ids_to_redo") or []]
        guides.append(
            f"{ROLLBACK_GUIDE} "
            + text["reprocess"].format(
                status="/".join(statuses),
                count=len(ids),
                ids=_id_list(ids),
                causes=_reprocess_causes(report, failed_reprocess, lang),
                command=_rerun_command(
                    report,
                    redo or [str(s["matchup_id"]) for s in todo],
                    skip_ingest=not ingest_failed,
                ),
                resume=ADVICE.get(lang, ADVICE["en"])["resume"].format(run_dir=report["run_dir"])
                if report.get("run_dir")
                else "",
            )
        )
    capture = next((s for s in steps if s["name"] == "capture"), None)
    if capture is not None and capture["status"] in FAILED_STATUSES:
        guides.append(
            f"{ROLLBACK_GUIDE} "
            + text["capture"].format(
                endpoints=_id_list(_failed_endpoints(report)) or "the verification session",
                command=_verify_command(report),
            )
        )
    return guides


def _reprocess_causes(report: Mapping[str, Any], failed: list[Mapping[str, Any]], lang: str) -> str:
    """One sentence per cause among the failed steps, naming their ids: ``<advice> (ids). ``."""
    by_advice: dict[str, list[str]] = {}
    for step in failed:
        said = advice(step_cause(step, report), step, lang)
        if said is not None:
            by_advice.setdefault(said, []).append(str(step["matchup_id"]))
    return "".join(f"{said} ({', '.join(ids)}). " for said, ids in by_advice.items())


def _failed_endpoints(report: Mapping[str, Any]) -> list[str]:
    verification = report.get("verification") or {}
    failed = []
    for test in verification.get("tests", []):
        if test.get("outcome") in ("failed", "error"):
            name = test.get("endpoint") or test.get("nodeid", "?")
            if test.get("matchup_id") is not None:
                name = f"{name}[{test['matchup_id']}]"
            failed.append(str(name))
    return failed


# Above this many ids a verify command names the run directory's id file instead of listing them.
MAX_INLINE_IDS = 5


def _id_list(ids: list[str]) -> str:
    """The ids for the prose of a guide: every one up to the cap, then how many more."""
    if len(ids) <= MAX_REAPPLY_INLINE_IDS:
        return ", ".join(ids)
    rest = len(ids) - MAX_REAPPLY_INLINE_IDS
    return ", ".join(ids[:MAX_REAPPLY_INLINE_IDS]) + f", ... and {rest} more"


def _id_flags(ids: list[str], report: Mapping[str, Any], file_name: str) -> list[str]:
    if len(ids) > MAX_INLINE_IDS and report.get("run_dir"):
        return ["--matchup-file", f"{report['run_dir']}/{file_name}"]
    return inline_ids(ids)


def _common_flags(report: Mapping[str, Any]) -> list[str]:
    flags = ["--api-base", str(report.get("api_base", ""))]
    config = report.get("config_path")
    if config:
        flags += ["--config", str(config)]
    return flags


def _rerun_command(report: Mapping[str, Any], ids: list[str], *, skip_ingest: bool = True) -> str:
    argv = ["recovery-bundle", "run", "--mode", "apply"]
    argv += ["--skip-ingest"] if skip_ingest else []
    argv += _common_flags(report)
    if report.get("output_dir"):
        argv += ["--output-dir", str(report["output_dir"])]
    if report.get("poll_fingerprint"):
        argv += ["--poll-fingerprint", str(report["poll_fingerprint"])]
    argv += batch_flags(report.get("batches"))
    return shlex.join(argv + redo_flags(ids, report))


def _resume_command(report: Mapping[str, Any], batches: Mapping[str, Any]) -> str:
    """``--resume`` re-runs what was skipped, with the operator's batch flags (the canary only
    when it did not pass: see
    :func:`~recovery_plugin.report.redo_ids.batch_flags`)."""
    argv = ["recovery-bundle", "run", "--resume", str(report.get("run_dir", ""))]
    return shlex.join(argv + batch_flags(batches))


def _verify_command(report: Mapping[str, Any]) -> str:
    argv = ["recovery-bundle", "verify", *_common_flags(report)]
    return shlex.join(
        argv + _id_flags([str(i) for i in report.get("matchup_ids", [])], report, MATCHUP_IDS_NAME)
    )
