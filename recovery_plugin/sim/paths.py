"""Safe artifact directory names for the reprocess command (ids contain ``|``, Hangul, ``/``...)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["artifact_dirname", "safe_child"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_SLUG = 40
_FP_LEN = 12


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def artifact_dirname(mode: str, matchup_id: str | None, poll_fingerprint: str | None) -> str:
    """``manual_<mode>_<ascii slug of the id>_<id hash>_<fingerprint or no_fp>``.

    Only ``[A-Za-z0-9_-]`` survive (no ``/``, no ``.``, no control characters); the slug is cut
    to 40 characters and an 8-hex hash of the full id keeps distinct ids apart, e.g.
    ``20260603|광역자치단체장|11-000`` in apply mode -> ``manual_apply_20260603_11-000_<hash>_no_fp``.
    """
    mode_part = _UNSAFE.sub("_", mode.replace("-", "_")).strip("_") or "mode"
    if matchup_id is None:
        id_part = "fp_only"
    else:
        pieces = (_UNSAFE.sub("", piece) for piece in matchup_id.split("|"))
        slug = "_".join(p for p in pieces if p)[:_MAX_SLUG].strip("_-")
        id_part = f"{slug}_{_digest(matchup_id, 8)}" if slug else f"id_{_digest(matchup_id, 8)}"
    if poll_fingerprint is None:
        fp_part = "no_fp"
    elif re.fullmatch(r"[0-9A-Za-z]+", poll_fingerprint):
        fp_part = "fp_" + poll_fingerprint[:_FP_LEN]
    else:
        fp_part = "fp_" + _digest(poll_fingerprint, _FP_LEN)
    return f"manual_{mode_part}_{id_part}_{fp_part}"


def safe_child(base: Path, name: str) -> Path:
    """``base / name``, refusing anything that would not be a direct child of ``base``."""
    candidate = (base / name).resolve()
    if candidate.parent != base.resolve() or name in ("", ".", ".."):
        raise ValueError(f"refusing artifact directory {name!r} outside {base}")
    return candidate
