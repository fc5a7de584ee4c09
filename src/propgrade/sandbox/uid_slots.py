"""Unprivileged uids for the full layer: one per live worker on the host, never shared."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from propgrade.errors import WorkerError
from propgrade.sandbox.processes import processes_of_uid

UID_BASE_ENV = "PROPGRADE_UID_BASE"
DEFAULT_UID_BASE = 64000
DEFAULT_SLOTS = 256
_SLOT_LOCK_DIR = "/run/propgrade-slots"


@dataclass(frozen=True)
class Slot:
    """An unprivileged uid held exclusively, through a lock on ``lock_fd``, until released."""

    index: int
    uid: int
    lock_fd: int


class SlotPool:
    """Hands out uids ``uid_base + i`` so that no two live workers on the host share one.

    Exclusivity across grader processes comes from an ``flock`` per slot; the lock belongs
    to the open file, so it is dropped by the kernel if the grader dies. A slot is only
    handed out when no process runs under its uid: that skips a uid some other user has,
    and a sandbox of a crashed grader that is still being torn down.
    """

    def __init__(self, lock_dir: Path, uid_base: int, count: int) -> None:
        if uid_base < 1000 or count < 1:
            raise WorkerError(f"invalid sandbox uid range: uid_base={uid_base}, count={count}")
        self.lock_dir = lock_dir
        self.uid_base = uid_base
        self.count = count
        self._quarantined: list[int] = []

    def acquire(self) -> Slot:
        directory = self._directory()
        for index in range(self.count):
            path = os.path.join(directory, f"slot-{index}.lock")
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise WorkerError(f"cannot open the sandbox slot lock {path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise WorkerError(f"cannot lock the sandbox slot {path}: {exc}") from exc
            uid = self.uid_base + index
            if processes_of_uid(uid):
                os.close(fd)
                continue
            return Slot(index, uid, fd)
        last = self.uid_base + self.count - 1
        raise WorkerError(
            f"all {self.count} sandbox uids ({self.uid_base}-{last}) are in use",
            hint=f"run fewer jobs at once, or pick a free range with {UID_BASE_ENV}",
        )

    def release(self, slot: Slot) -> None:
        with contextlib.suppress(OSError):
            os.close(slot.lock_fd)

    def quarantine(self, slot: Slot) -> None:
        """Keep a slot locked for the rest of this process: its uid still runs something."""
        self._quarantined.append(slot.lock_fd)

    def _directory(self) -> str:
        directory = str(self.lock_dir)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        info = os.lstat(directory)
        # Anyone able to create or replace the lock files could take every slot or make
        # two graders share a uid; so the directory must be ours and closed to others.
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise WorkerError(
                f"the sandbox slot directory {directory} is not a private directory of "
                f"uid {os.geteuid()}",
                hint="remove it; propgrade recreates it with mode 0700",
            )
        return directory


def default_lock_dir() -> Path:
    if os.geteuid() == 0 and os.path.isdir("/run") and os.access("/run", os.W_OK):
        return Path(_SLOT_LOCK_DIR)
    return Path(tempfile.gettempdir()) / f"propgrade-slots-{os.geteuid()}"


def default_uid_base() -> int:
    text = os.environ.get(UID_BASE_ENV, "").strip()
    if not text:
        return DEFAULT_UID_BASE
    try:
        return int(text)
    except ValueError:
        raise WorkerError(
            f"{UID_BASE_ENV}={text!r} is not a number", hint=f"e.g. {UID_BASE_ENV}=64000"
        ) from None


def share_with_group(scratch: Path, gid: int, *, writable: bool = False) -> None:
    """Let the worker's gid, and only it, read the scratch directory and its files.

    ``writable`` also lets it create files in the directory: the reduced layer's only
    writable place (Landlock allows nothing else), where HOME points and where libraries
    such as matplotlib keep their caches. The files already there stay read-only.
    """
    os.chown(scratch, -1, gid)
    os.chmod(scratch, 0o770 if writable else 0o750)
    for entry in os.scandir(scratch):
        if entry.is_file(follow_symlinks=False):
            os.chown(entry.path, -1, gid, follow_symlinks=False)
            os.chmod(entry.path, 0o640)
