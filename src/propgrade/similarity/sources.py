"""The texts to compare: each student's graded file, read through the same intake as
``propgrade grade`` (links refused, sizes capped, a notebook-only submission reduced to its
function definitions), the files of the ``--known`` folders, and the released stub.

Texts are only decoded and parsed with ``ast`` (``tokens.units_of``); nothing is imported
or run. A submission that cannot be read or parsed is left out with its reason, never
stops the run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from propgrade.config import AssignmentConfig
from propgrade.errors import PropgradeError, SubmissionProblem
from propgrade.intake.locate import Found, find_files_with_suffix, read_found
from propgrade.intake.notebook import synthesize_module
from propgrade.intake.submission import take_in
from propgrade.similarity.tokens import FILE, Units, units_of, units_of_parts

STUDENT = "student"
KNOWN = "known"


@dataclass(frozen=True)
class Document:
    name: str  # the student id, or the known file as KNOWN_DIR/relative/path
    kind: str  # STUDENT or KNOWN
    origin: str  # the file the text came from, relative to the submission or the folder
    text: str
    units: Units


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


Progress = Callable[[int, int], None]


def _units(text: str, origin: str, functions: Sequence[str], parts: bool) -> Units:
    try:
        return units_of(text, functions)
    except SyntaxError as exc:
        if parts:
            found = _units_of_parts(text, functions)
            if found is not None:
                return found
        raise SubmissionProblem(f"{origin} does not parse: {exc.msg} (line {exc.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SubmissionProblem(f"{origin} does not parse: {type(exc).__name__}") from None


def _units_of_parts(text: str, functions: Sequence[str]) -> Units | None:
    try:
        units = units_of_parts(text, functions)
    except (ValueError, RecursionError, MemoryError):
        return None
    return units if units.streams[FILE] else None


def _parse(name: str, kind: str, origin: str, data: bytes, functions: Sequence[str]) -> Document:
    text = data.decode("utf-8", errors="replace")
    # A known source that does not parse as a whole is read block by block (Python 2).
    units = _units(text, origin, functions, parts=kind == KNOWN)
    return Document(name, kind, origin, text, units)


def read_student(
    student: str, folder: Path, assignment: AssignmentConfig, scratch: Path
) -> Document | Skipped:
    """The graded file of ``folder`` as ``take_in`` finds it for grading, written into
    ``scratch`` (a private folder) and parsed from there."""
    graded = assignment.graded_file
    try:
        # Every argument grading passes: with the stub's digest, an unchanged stub handed
        # in beside a notebook counts as not submitted, and the notebook is what is read.
        intake = take_in(
            folder,
            graded,
            scratch,
            assignment.limits.file_bytes,
            assignment.functions,
            assignment.limits.imports,
            assignment.stub_sha256,
        )
        data = (intake.folder / graded).read_bytes()
        return _parse(student, STUDENT, intake.origin, data, assignment.functions)
    except SubmissionProblem as exc:
        return Skipped(student, exc.message)


def read_students(
    submissions: Sequence[tuple[str, Path]],
    assignment: AssignmentConfig,
    progress: Progress | None = None,
) -> tuple[list[Document], list[Skipped]]:
    documents: list[Document] = []
    skipped: list[Skipped] = []
    # One private folder for the whole class: each intake overwrites the file it reads.
    with tempfile.TemporaryDirectory(prefix="propgrade-similarity-") as tmp:
        for n, (student, folder) in enumerate(submissions, 1):
            read = read_student(student, folder, assignment, Path(tmp))
            if isinstance(read, Document):
                documents.append(read)
            else:
                skipped.append(read)
            if progress is not None:
                progress(n, len(submissions))
    return documents, skipped


def read_known(
    folders: Sequence[Path], assignment: AssignmentConfig
) -> tuple[list[Document], list[Skipped]]:
    """Every ``.py`` file and notebook under each folder (links are never followed)."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for folder in folders:
        if not folder.is_dir():
            raise PropgradeError(f"{folder}: --known folder not found")
        found = [
            *find_files_with_suffix(folder, ".py"),
            *find_files_with_suffix(folder, ".ipynb"),
        ]
        for item in found:
            name = f"{folder.name}/{item.relative}"
            try:
                documents.append(_read_known(name, item, assignment))
            except (SubmissionProblem, OSError) as exc:
                reason = exc.message if isinstance(exc, SubmissionProblem) else str(exc)
                skipped.append(Skipped(name, reason))
    return documents, skipped


def _read_known(name: str, item: Found, assignment: AssignmentConfig) -> Document:
    data = read_found(item, assignment.limits.file_bytes)
    if item.relative.endswith(".ipynb"):
        with tempfile.TemporaryDirectory(prefix="propgrade-similarity-") as tmp:
            target = Path(tmp) / assignment.graded_file
            synthesize_module(data, item.name, target, assignment.functions)
            data = target.read_bytes()
    return _parse(name, KNOWN, item.relative, data, assignment.functions)


def read_stub(assignment: AssignmentConfig) -> Units | None:
    """The released graded file (everything the student was given), or None when the
    assignment has no release."""
    if assignment.release is None:
        return None
    path = assignment.release / assignment.graded_file
    if not path.is_file():
        return None
    return units_of(path.read_text(encoding="utf-8"), assignment.functions)
