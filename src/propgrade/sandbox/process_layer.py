"""The reduced layer: a plain child process with rlimits, for machines without bwrap."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from propgrade.sandbox import scratch as scratch_dirs
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.layers import REDUCED, WorkerProcess, ZygoteStarts, zygote_enabled
from propgrade.sandbox.limits import apply_rlimits, rlimit_list, rlimits, worker_env
from propgrade.sandbox.processes import count_user_processes

REAP_SECONDS = 10.0


class ProcessLayer(ZygoteStarts):
    """A separate process with rlimits, a scrubbed environment and its own session.

    Contains runaway loops, memory and output; does not stop reading files, network
    access or a ``setsid`` + double-fork child escaping the process-group kill. Workers
    are forked from a zygote running as the grader's user (so a student can kill it; the
    next worker then starts a new one), or started by exec with ``zygote=False``.
    """

    name = REDUCED

    def __init__(self, *, zygote: bool | None = None) -> None:
        self.use_zygote = zygote_enabled(zygote)
        self.zygote_problem: str | None = None  # why workers start by exec after all

    def describe(self) -> str:
        return (
            "reduced: separate process with rlimits (memory, CPU, file size, open files, "
            "no core dumps), scrubbed environment and its own process group. WARNING: file "
            "reads are NOT prevented (student code can read anything the grader's user can, "
            "including solutions/ and graders/), nor network access or setsid escapees"
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
            preexec_fn=apply_rlimits(table),
        )

    def _zygote_key(self, limits: Limits) -> tuple[object, ...]:
        # One zygote per process for every reduced layer: they are all alike (each child
        # is told which imports its student code may make).
        return (REDUCED, sys.executable, tuple(sorted(worker_env(Path("/")).items())))

    def _zygote_launch(self, limits: Limits) -> zygote.Launch:
        argv = [sys.executable, "-I", "-B", str(zygote.ZYGOTE_MAIN)]
        # Same environment as every worker's, so numpy and OpenBLAS start up the same.
        return zygote.Launch(argv, env=worker_env(Path("/")), config={"mode": REDUCED})

    def _fork(
        self,
        found: zygote.Zygote,
        source: bytes,
        filename: str,
        module_name: str,
        limits: Limits,
    ) -> WorkerProcess:
        scratch = scratch_dirs.make("worker")
        try:
            (scratch / filename).write_bytes(source)
            uid = os.getuid()
            is_root = uid == 0
            table = rlimits(
                limits,
                is_root=is_root,
                user_processes=0 if is_root else count_user_processes(uid),
            )
            request = {
                "cwd": str(scratch),
                "graded": str(scratch / filename),
                "module": module_name,
                "imports": list(limits.imports),
                "env": worker_env(scratch),
                "rlimits": rlimit_list(table),
            }
            return zygote.spawn_worker(
                found,
                request,
                group_kill=True,
                after_stop=lambda: scratch_dirs.remove(scratch),
            )
        except BaseException:
            scratch_dirs.remove(scratch)
            raise

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        # Only signal the group while the leader is unreaped: its zombie keeps the
        # group id from being reused by an unrelated process.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        # Unkillable only in uninterruptible sleep; nothing more to do from here.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=REAP_SECONDS)
