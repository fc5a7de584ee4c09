"""Reading a file out of a student's folder, on the trusted side, before any sandbox.

A submission folder is written by the student, or by ``unzip``/``tar`` from the
student's archive, or lives on a shared JupyterHub volume: all of these can hold
symbolic links, hard links and special files. So every read here walks down from the
submission's root one folder at a time with ``O_NOFOLLOW`` (a link anywhere on the way is
refused, and a link swapped in after a check cannot be followed), refuses FIFOs, sockets
and devices before opening them, refuses a file with several names (a hard link to a
course file reads as that file), and reads no more than a cap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from propgrade.errors import SubmissionProblem

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: should a FIFO be swapped in after the type check, opening it must not wait
# for a writer that never comes.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class FileRefused(SubmissionProblem):
    """A file of the submission that is not read; the message is meant for the student."""


def kind_of(mode: int) -> str:
    """What a file is, in words, from its ``st_mode``."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _parts(relative: str) -> tuple[str, ...]:
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("", ".", "..") or "\0" in p for p in parts) or parts[0] == "/":
        raise FileRefused(f"{relative!r} is not a path inside the submission")
    return parts


def _open_folder(name: str | Path, relative: str, dir_fd: int | None) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            # ELOOP: the last component is a link (O_NOFOLLOW); ENOTDIR: a file or a link.
            raise FileRefused(
                f"{relative} lies under {name}, which is a symbolic link or not a folder; "
                "links are never followed: submit the files themselves"
            ) from None
        raise FileRefused(f"{relative}: cannot be read ({exc.strerror})") from None


def read_beneath(root: Path, relative: str, *, max_bytes: int) -> bytes | None:
    """The bytes of ``root/relative``, or None when there is no such file.

    Raises ``FileRefused`` for a link anywhere below ``root`` (``root`` itself included),
    a special file, a file with more than one name, and a file over ``max_bytes``; nothing
    behind a refused name is read.
    """
    *folders, leaf = _parts(relative)
    try:
        fd = _open_folder(root, relative, None)
    except FileRefused:
        if not os.path.lexists(root):
            return None
        raise
    try:
        for index, name in enumerate(folders):
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            if not stat.S_ISDIR(info.st_mode):
                where = "/".join(folders[: index + 1])
                raise FileRefused(
                    f"{relative} lies under {where}, which is {kind_of(info.st_mode)}; "
                    "links are never followed: submit the files themselves"
                )
            inner = _open_folder(name, relative, fd)
            os.close(fd)
            fd = inner
        try:
            info = os.stat(leaf, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        _refuse_unless_plain(relative, info, max_bytes)
        try:
            file_fd = os.open(leaf, _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            raise FileRefused(f"{relative}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as handle:
        # Checked again on what was opened: the name may have been swapped since.
        _refuse_unless_plain(relative, os.fstat(handle.fileno()), max_bytes)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        raise FileRefused(f"{relative} is over {max_bytes} bytes; the limit is {max_bytes} bytes")
    return data


def _refuse_unless_plain(relative: str, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(
            f"{relative} is {kind_of(info.st_mode)}, not a regular file; "
            "links and special files are never read: submit the file itself"
        )
    if info.st_nlink > 1:
        # Another name for the same file may be anywhere, a course file included.
        raise FileRefused(
            f"{relative} is a hard link (the same file has {info.st_nlink} names); "
            "submit a copy of the file itself"
        )
    if info.st_size > max_bytes:
        raise FileRefused(f"{relative} is {info.st_size} bytes; the limit is {max_bytes} bytes")


def lstat_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a plain folder or file; None for those."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISDIR(mode) or stat.S_ISREG(mode) else kind_of(mode)
