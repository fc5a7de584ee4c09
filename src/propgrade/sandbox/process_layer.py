"""The reduced layer: a plain child process with rlimits, for machines without bwrap."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from propgrade.sandbox import scratch as scratch_dirs
from propgrade.sandbox import zygote
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.landlock import describe_writes
from propgrade.sandbox.layers import REDUCED, WorkerProcess, ZygoteStarts, zygote_enabled
from propgrade.sandbox.limits import apply_rlimits, rlimit_list, rlimits, worker_env
from propgrade.sandbox.processes import count_user_processes, stop_uid
from propgrade.sandbox.seccomp import SeccompStatus, process_seccomp_status
from propgrade.sandbox.uid_slots import (
    DEFAULT_SLOTS,
    Slot,
    SlotPool,
    default_lock_dir,
    default_uid_base,
    share_with_group,
)

REAP_SECONDS = 10.0


class ProcessLayer(ZygoteStarts):
    """A separate process with rlimits, a scrubbed environment and its own session.

    Contains runaway loops, memory and output. Before the student's file is imported the
    worker closes itself to new processes (a seccomp filter: no fork, clone or exec, so
    nothing it starts can outlive it) and to writes outside its scratch folder (Landlock,
    where the kernel has it). Where the grader runs as root, each worker runs under a slot
    uid of its own (as in the full layer), which cannot write the grader's files. It does
    not stop reading files or network access. Workers are forked from a zygote (a child
    subreaper, which kills whatever a worker left behind), or started by exec with
    ``zygote=False``.
    """

    name = REDUCED

    def __init__(self, *, zygote: bool | None = None, seccomp: bool = True) -> None:
        self.use_zygote = zygote_enabled(zygote)
        self.zygote_problem: str | None = None  # why workers start by exec after all
        self.seccomp = process_seccomp_status() if seccomp else SeccompStatus(None, "disabled")
        self._pool: SlotPool | None = None
        self._running: dict[int, Slot] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        if self.seccomp.program is not None:
            processes = "cannot start processes (seccomp)"
        else:
            processes = (
                "WARNING: processes it starts are NOT prevented "
                f"({self.seccomp.detail}) and can outlive it"
            )
        if self.drops_uid():
            user = "runs as an unprivileged uid of its own"
        else:
            user = "runs as the grader's own user"
        return (
            f"reduced: separate process with rlimits (memory, CPU, file size, open files, "
            f"no core dumps), scrubbed environment and its own session; {user}; "
            f"{processes}; {describe_writes()}. WARNING: file reads are NOT prevented "
            "(student code can read anything the grader's user can, including solutions/ "
            "and graders/), nor network access"
        )

    def worker_confinement(self) -> dict[str, object]:
        program = self.seccomp.program
        return {"seccomp": None if program is None else program.hex(), "write": []}

    # -- a slot uid per worker when the grader is root ---------------------------------------

    def drops_uid(self) -> bool:
        """Whether workers run under slot uids: as root, where such a uid can reach both
        the scratch folders and the Python installation."""
        if os.geteuid() != 0:
            return False
        return _traversable(Path(tempfile.gettempdir())) and all(
            _traversable(Path(p)) for p in {sys.prefix, os.path.realpath(sys.executable)}
        )

    def _slots(self) -> SlotPool:
        with self._lock:
            if self._pool is None:
                self._pool = SlotPool(default_lock_dir(), default_uid_base(), DEFAULT_SLOTS)
            return self._pool

    def _free_slot(self, slot: Slot | None) -> None:
        if slot is None:
            return
        pool = self._slots()
        # Whatever still runs under its uid is killed before the uid goes to the next.
        if stop_uid(slot.uid):
            pool.release(slot)
        else:
            pool.quarantine(slot)

    # -- starting ---------------------------------------------------------------------------

    def spawn(
        self, argv: Sequence[str], *, scratch: Path, limits: Limits
    ) -> subprocess.Popen[bytes]:
        slot = self._slots().acquire() if self.drops_uid() else None
        try:
            if slot is not None:
                share_with_group(scratch, slot.uid, writable=True)
            uid = os.getuid() if slot is None else slot.uid
            is_root = uid == 0
            table = rlimits(
                limits,
                is_root=is_root,
                user_processes=0 if is_root or slot is not None else count_user_processes(uid),
            )
            popen = subprocess.Popen(
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
                user=None if slot is None else slot.uid,
                group=None if slot is None else slot.uid,
                extra_groups=None if slot is None else [],
            )
        except BaseException:
            self._free_slot(slot)
            raise
        if slot is not None:
            with self._lock:
                self._running[popen.pid] = slot
        return popen

    def _zygote_key(self, limits: Limits) -> tuple[object, ...]:
        # One zygote per process for every reduced layer: they are all alike (each child
        # is told which imports its student code may make).
        return (
            REDUCED,
            sys.executable,
            tuple(sorted(worker_env(Path("/")).items())),
            self._uid_range(),
        )

    def _uid_range(self) -> tuple[int, int]:
        if not self.drops_uid():
            return (0, -1)
        pool = self._slots()
        return (pool.uid_base, pool.uid_base + pool.count - 1)

    def _zygote_launch(self, limits: Limits) -> zygote.Launch:
        argv = [sys.executable, "-I", "-B", str(zygote.ZYGOTE_MAIN)]
        uid_min, uid_max = self._uid_range()
        config = {"mode": REDUCED, "uid_min": uid_min, "uid_max": uid_max}
        # Same environment as every worker's, so numpy and OpenBLAS start up the same.
        return zygote.Launch(argv, env=worker_env(Path("/")), config=config)

    def _fork(
        self,
        found: zygote.Zygote,
        source: bytes,
        filename: str,
        module_name: str,
        limits: Limits,
    ) -> WorkerProcess:
        scratch = scratch_dirs.make("worker")
        slot: Slot | None = None
        try:
            (scratch / filename).write_bytes(source)
            slot = self._slots().acquire() if self.drops_uid() else None
            if slot is not None:
                share_with_group(scratch, slot.uid, writable=True)
            uid = os.getuid()
            is_root = uid == 0 and slot is None
            table = rlimits(
                limits,
                is_root=is_root,
                user_processes=0 if is_root or slot is not None else count_user_processes(uid),
            )
            request = {
                "cwd": str(scratch),
                "graded": str(scratch / filename),
                "module": module_name,
                "imports": list(limits.imports),
                "env": worker_env(scratch),
                "rlimits": rlimit_list(table),
                "confine": self.worker_confinement(),
                "uid": -1 if slot is None else slot.uid,
                "gid": -1 if slot is None else slot.uid,
            }
            held = slot

            def after_stop() -> None:
                try:
                    # Anything the worker left behind is the zygote's child by now.
                    with contextlib.suppress(zygote.ZygoteGone):
                        if found.alive():
                            found.sweep()
                    self._free_slot(held)
                finally:
                    scratch_dirs.remove(scratch)

            return zygote.spawn_worker(found, request, group_kill=True, after_stop=after_stop)
        except BaseException:
            self._free_slot(slot)
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
        with self._lock:
            slot = self._running.pop(process.pid, None)
        self._free_slot(slot)


def _traversable(path: Path) -> bool:
    """Whether any user can reach ``path``: every folder on the way lets others pass."""
    try:
        path = path.resolve()
        folders = [path, *path.parents] if path.is_dir() else list(path.parents)
        return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in folders)
    except OSError:
        return False
