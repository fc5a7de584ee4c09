"""Finding and killing processes through /proc, safe against pid reuse.

A sandbox uid's processes are found by any of their uids (a non-dumpable process shows
up as owned by root), and every kill goes through a pidfd so it cannot hit a process that
reused the pid in between.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable

_VANISH_SECONDS = 5.0
# The Uid line is the ninth of /proc/<pid>/status, within its first few hundred bytes.
_STATUS_BYTES = 4096


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


def processes_of_uid(uid: int) -> list[int]:
    """Pids of every process whose real, effective, saved or fs uid is ``uid``."""
    try:
        pids = [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return []
    return processes_of_uid_among(pids, uid)


def processes_of_uid_among(pids: Iterable[int], uid: int) -> list[int]:
    """Those of ``pids`` that run with ``uid`` as any of their uids.

    Reads ``/proc/<pid>/status`` rather than the owner of ``/proc/<pid>``: a process that
    makes itself non-dumpable shows up there as owned by root.
    """
    wanted = str(uid).encode()
    found = []
    for pid in pids:
        # Raw reads and a search for the one line: this runs over every process on the
        # host twice per worker, and a file object and a line split cost more than the read.
        try:
            fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            status = os.read(fd, _STATUS_BYTES)
        except OSError:
            continue
        finally:
            os.close(fd)
        start = status.find(b"\nUid:")
        if start < 0:
            continue
        end = status.find(b"\n", start + 1)
        if wanted in status[start + len(b"\nUid:") : None if end < 0 else end].split():
            found.append(pid)
    return found


def _kill_pid_of_uid(pid: int, uid: int) -> None:
    # A pidfd pins the process, so the uid check and the kill hit the same process even
    # if the pid is reused in between.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if pid in processes_of_uid_among([pid], uid):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)


def stop_uid(uid: int, seconds: float = _VANISH_SECONDS) -> bool:
    """SIGKILL every process of ``uid`` until none is left; False if some outlived ``seconds``.

    Only for a uid this process holds the slot of: everything running under it is ours.
    """
    deadline = time.monotonic() + seconds
    while True:
        pids = processes_of_uid(uid)
        if not pids:
            return True
        if time.monotonic() >= deadline:
            return False
        for pid in pids:
            _kill_pid_of_uid(pid, uid)
        time.sleep(0.005)


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        pass
    # Kernels without CONFIG_PROC_CHILDREN: find them by parent pid.
    children = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and parent_of(int(entry.name)) == pid:
                children.append(int(entry.name))
    return children


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The command name may hold spaces and parentheses; fields resume after the last ")".
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def kill_child_of(pid: int, parent: int) -> None:
    # The pidfd pins the process: if it is no longer ``parent``'s child, its pid may have
    # been reused, and it is left alone.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if parent_of(pid) == parent:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
