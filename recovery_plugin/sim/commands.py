"""Running the simulated service's commands from the harness: own process group, timeout."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from recovery_plugin.procgroup import stop_process_group

__all__ = ["run_in_own_group"]


def run_in_own_group(
    argv: Sequence[str], timeout: float, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion; past ``timeout`` stop its whole group and re-raise."""
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, grace_s=0.0)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
