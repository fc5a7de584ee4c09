"""Finding a student's graded file inside whatever folder layout they uploaded.

Used by every route (folder, nbgrader, Gradescope, ``check``). The folder is searched
without following links, and the found file is read through ``untrusted_files``: a
symlink named ``losses.py`` pointing at the reference, a hard link to it, or a FIFO is
refused with a reason, never graded as the student's work.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from propgrade.errors import SubmissionProblem
from propgrade.intake.untrusted_files import kind_of, read_beneath

__all__ = [
    "Found",
    "SubmissionProblem",
    "find_file",
    "find_files_with_suffix",
    "listing",
    "read_found",
]

# Folders an archiver or an editor adds; never a place a student meant to submit from.
_IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", "node_modules"}
MAX_DEPTH = 6
MAX_ENTRIES = 5000  # a submission with more files than this is not searched further


@dataclass(frozen=True)
class Found:
    root: Path  # the submission
    relative: str  # the file's path below it, also used in messages

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]


def _walk(root: Path) -> list[tuple[int, str]]:
    """(depth, relative path) of every entry that is not a folder under ``root``; links to
    folders are listed, never entered."""
    found: list[tuple[int, str]] = []
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = Path(folder).relative_to(root)
        depth = len(rel_folder.parts)
        keep = depth < MAX_DEPTH
        linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = sorted(
            d for d in dirs if keep and d not in _IGNORED_DIRS and d[0] != "." and d not in linked
        )
        for name in sorted([*files, *linked]):
            seen += 1
            if seen > MAX_ENTRIES:
                return found
            found.append((depth, (rel_folder / name).as_posix()))
    return found


def _is_folder(root: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(root).st_mode)
    except OSError:
        return False


def find_file(root: Path, name: str) -> Found | None:
    """The shallowest file called ``name`` under ``root``; None if there is none.

    Raises ``SubmissionProblem`` when several candidates are equally shallow: guessing
    which one the student meant would grade the wrong work silently.
    """
    if not _is_folder(root):
        return None
    candidates = [(d, rel) for d, rel in _walk(root) if rel.rsplit("/", 1)[-1] == name]
    if not candidates:
        return None
    shallowest = min(d for d, _ in candidates)
    best = [rel for d, rel in candidates if d == shallowest]
    if len(best) > 1:
        listed = ", ".join(best[:5])
        raise SubmissionProblem(
            f"found several {name} files at the same depth ({listed}); submit exactly one"
        )
    return Found(root, best[0])


def find_files_with_suffix(root: Path, suffix: str) -> list[Found]:
    """Every file ending in ``suffix`` under ``root``, shallowest first."""
    if not _is_folder(root):
        return []
    return [Found(root, rel) for _, rel in _walk(root) if rel.endswith(suffix)]


def listing(root: Path, limit: int = 10) -> str:
    """A short list of what the submission holds, for 'file not found' messages; links
    and special files say what they are."""
    if not _is_folder(root):
        return "nothing"
    names = []
    for _, rel in _walk(root)[:limit]:
        try:
            mode = os.lstat(root / rel).st_mode
        except OSError:
            mode = stat.S_IFREG
        names.append(rel if stat.S_ISREG(mode) else f"{rel} ({kind_of(mode)}, not read)")
    return ", ".join(names) if names else "nothing"


def read_found(found: Found, max_bytes: int) -> bytes:
    """The found file's bytes; ``FileRefused`` for a link, a special file, a hard link or
    a file over ``max_bytes``."""
    data = read_beneath(found.root, found.relative, max_bytes=max_bytes)
    if data is None:
        raise SubmissionProblem(f"{found.relative} disappeared while it was being read")
    return data
