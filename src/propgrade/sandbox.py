"""How a worker process is started and stopped.

A ``Layer`` owns both ends of a worker's life, so a stronger isolation (namespaces and a
dropped uid via bwrap) can replace ``ProcessLayer`` without touching the worker client.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from propgrade.calls import Limits

_PASSED_THROUGH_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_FILE_SIZE_LIMIT = 16 << 20
_OPEN_FILES_LIMIT = 64
_CPU_SLACK_SECONDS = 10
_EXTRA_PROCESSES = 64
_REAP_SECONDS = 10.0


class Layer(Protocol):
    """An isolation strategy for worker processes."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str:
        """One sentence on what this layer contains and what it does not."""
        ...

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` with cwd ``scratch`` and piped stdin, stdout and stderr."""
        ...

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """Stop the process and everything it started that the layer can reach; reap it."""
        ...


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


def rlimits(limits: Limits, *, is_root: bool, user_processes: int) -> dict[int, tuple[int, int]]:
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
        nproc = user_processes + _EXTRA_PROCESSES
        table[resource.RLIMIT_NPROC] = (nproc, nproc)
    return table


def count_user_processes(uid: int) -> int:
    """Processes (and threads' owners) currently run by ``uid``, from /proc."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        count += 1
    return count


def _apply_rlimits(table: dict[int, tuple[int, int]]) -> Callable[[], None]:
    def apply() -> None:
        for which, (soft, hard) in table.items():
            resource.setrlimit(which, (soft, hard))

    return apply


class ProcessLayer:
    """A separate process with rlimits, a scrubbed environment and its own session.

    Contains runaway loops, memory and output; does not stop reading files, network
    access or a ``setsid`` + double-fork child escaping the process-group kill.
    """

    name = "reduced"

    def describe(self) -> str:
        return (
            "reduced: separate process with rlimits (memory, CPU, file size, open files, "
            "no core dumps), scrubbed environment and its own process group; does not "
            "prevent file reads, network access or setsid escapees"
        )

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        uid = os.getuid()
        is_root = uid == 0
        table = rlimits(
            limits,
            is_root=is_root,
            user_processes=0 if is_root else count_user_processes(uid),
        )
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=worker_env(scratch),
            close_fds=True,
            start_new_session=True,
            # preexec_fn is unsafe only with threads that hold locks across fork; the
            # grader spawns workers from its main thread.
            preexec_fn=_apply_rlimits(table),
        )

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        # Only signal the group while the leader is unreaped: its zombie keeps the
        # group id from being reused by an unrelated process.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        # Unkillable only in uninterruptible sleep; nothing more to do from here.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_REAP_SECONDS)


def default_layer() -> Layer:
    return ProcessLayer()
