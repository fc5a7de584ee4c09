"""What a worker may use: its rlimits and the whole environment it sees.

The same table and environment for every layer, so a submission meets the same limits
wherever it is graded.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

from propgrade.sandbox.calls import Limits

_PASSED_THROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_FILE_SIZE_LIMIT = 16 << 20
_OPEN_FILES_LIMIT = 64
_CPU_SLACK_SECONDS = 10
_EXTRA_PROCESSES = 64
# A sandboxed worker runs under a uid of its own and needs no second process or thread.
# RLIMIT_AS is per process: every extra process would multiply the memory it may hold.
SANDBOX_PROCESSES = 1


def rlimit_list(table: dict[int, tuple[int, int]]) -> list[list[int]]:
    return [[which, soft, hard] for which, (soft, hard) in table.items()]


def worker_env(scratch: Path) -> dict[str, str]:
    """The whole environment a worker sees: nothing of the grader's leaks through."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for key in _PASSED_THROUGH_ENV:
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def rlimits(
    limits: Limits,
    *,
    is_root: bool,
    user_processes: int,
    extra_processes: int = _EXTRA_PROCESSES,
) -> dict[int, tuple[int, int]]:
    """The rlimits a worker runs under, keyed by ``resource.RLIMIT_*``."""
    memory = limits.memory_mb << 20
    cpu = int(limits.submission_seconds) + _CPU_SLACK_SECONDS
    table = {
        resource.RLIMIT_AS: (memory, memory),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_FSIZE: (_FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT),
        resource.RLIMIT_NOFILE: (_OPEN_FILES_LIMIT, _OPEN_FILES_LIMIT),
        # The soft limit sends SIGXCPU, the hard one SIGKILL a second later.
        resource.RLIMIT_CPU: (cpu, cpu + 1),
    }
    if not is_root:
        # RLIMIT_NPROC counts every process of the real uid, not just the worker's, and
        # root ignores it; so it only bounds fork bombs for an unprivileged grader.
        nproc = user_processes + extra_processes
        table[resource.RLIMIT_NPROC] = (nproc, nproc)
    return table


def apply_rlimits(table: dict[int, tuple[int, int]]) -> Callable[[], None]:
    def apply() -> None:
        for which, (soft, hard) in table.items():
            resource.setrlimit(which, (soft, hard))

    return apply
