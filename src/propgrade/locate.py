"""Finding a student's graded file inside whatever folder layout they uploaded.

Used by the Gradescope runner and the nbgrader course grader. The found file is copied,
as a regular file, into a folder of its own before grading: a submission folder is
student-controlled, and a symlink named ``losses.py`` pointing at the reference would
otherwise be graded as the student's work.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from propgrade.errors import PropgradeError

# Folders an archiver or an editor adds; never a place a student meant to submit from.
_IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}
MAX_DEPTH = 6
MAX_ENTRIES = 5000  # a submission with more files than this is not searched further


class SubmissionProblem(PropgradeError):
    """The submission has no usable graded file; the message is meant for the student."""


@dataclass(frozen=True)
class Found:
    path: Path  # the file inside the submission
    relative: str  # its path relative to the submission root, for messages


def _walk(root: Path) -> list[tuple[int, str, Path]]:
    """(depth, relative path, path) of every regular file and symlink under ``root``."""
    found: list[tuple[int, str, Path]] = []
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = Path(folder).relative_to(root)
        depth = len(rel_folder.parts)
        keep = depth < MAX_DEPTH
        dirs[:] = sorted(d for d in dirs if keep and d not in _IGNORED_DIRS and d[0] != ".")
        for name in sorted(files):
            seen += 1
            if seen > MAX_ENTRIES:
                return found
            found.append((depth, str(rel_folder / name), Path(folder) / name))
    return found


def find_file(root: Path, name: str) -> Found | None:
    """The shallowest file called ``name`` under ``root``; None if there is none.

    Raises ``SubmissionProblem`` when several candidates are equally shallow: guessing
    which one the student meant would grade the wrong work silently.
    """
    if not root.is_dir():
        return None
    candidates = [(d, rel, p) for d, rel, p in _walk(root) if p.name == name]
    if not candidates:
        return None
    shallowest = min(d for d, _, _ in candidates)
    best = [(rel, p) for d, rel, p in candidates if d == shallowest]
    if len(best) > 1:
        listing = ", ".join(rel for rel, _ in best[:5])
        raise SubmissionProblem(
            f"found several {name} files at the same depth ({listing}); submit exactly one"
        )
    rel, path = best[0]
    return Found(path, rel)


def find_files_with_suffix(root: Path, suffix: str) -> list[Found]:
    """Every file ending in ``suffix`` under ``root``, shallowest first."""
    if not root.is_dir():
        return []
    return [Found(p, rel) for _, rel, p in _walk(root) if p.name.endswith(suffix)]


def listing(root: Path, limit: int = 10) -> str:
    """A short list of what the submission holds, for 'file not found' messages."""
    if not root.is_dir():
        return "nothing"
    names = [rel for _, rel, _ in _walk(root)][:limit]
    return ", ".join(names) if names else "nothing"


def copy_regular(found: Found, dest_dir: Path, dest_name: str, max_bytes: int = 2 << 20) -> Path:
    """Copy the found file into ``dest_dir`` as ``dest_name``, refusing links and devices."""
    try:
        info = os.lstat(found.path)
    except OSError as exc:
        raise SubmissionProblem(f"{found.relative}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionProblem(
            f"{found.relative} is a link or a special file, not a regular file; "
            "submit the file itself"
        )
    if info.st_size > max_bytes:
        raise SubmissionProblem(
            f"{found.relative} is {info.st_size} bytes; the limit is {max_bytes} bytes"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / dest_name
    # O_NOFOLLOW closes the window between the lstat above and the open.
    fd = os.open(found.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out)
    return dest
