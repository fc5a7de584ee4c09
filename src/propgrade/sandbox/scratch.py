"""Scratch folders for workers and zygotes, and removing the ones a killed grader left.

A grader killed with SIGKILL cannot remove its scratch folders. So each one is made with
a shared lock (``flock``) held on the folder for as long as its creator, or a process
forked from it, lives; the kernel drops the lock when the last of them dies, whatever pid
namespace they ran in. A later run removes propgrade's folders in the temp dir that
nobody holds any more and that are older than a grace period (a folder is locked a moment
after it is made, and another grader may have just made it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "propgrade-"
KINDS = ("worker", "zygote")
GRACE_SECONDS = 600.0

_held: dict[str, int] = {}  # folder -> the descriptor holding its lock


def make(kind: str) -> Path:
    """A new scratch folder in the temp dir, locked until ``remove`` or process exit."""
    if kind not in KINDS:
        raise ValueError(f"unknown scratch kind {kind!r}")
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-"))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held[str(path)] = fd
    return path


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    fd = _held.pop(str(path), None)
    if fd is not None:
        os.close(fd)


def sweep(folder: Path | None = None, *, grace: float = GRACE_SECONDS) -> list[Path]:
    """Remove abandoned scratch folders in ``folder`` (default: the temp dir)."""
    folder = folder or Path(tempfile.gettempdir())
    prefixes = tuple(f"{PREFIX}{kind}-" for kind in KINDS)
    now = time.time()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefixes):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < grace:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(entry.path, ignore_errors=True)
                if not os.path.lexists(entry.path):
                    removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed
