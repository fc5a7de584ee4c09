"""From an uploaded submission folder to a graded result, whatever shape the upload has.

Every route comes through here: a folder of student folders, nbgrader's ``submitted/``,
a Gradescope upload and ``propgrade check``. The graded file may be nested (a zipped
folder), or missing while a notebook holds the functions. ``grade_upload`` finds or
synthesizes the graded file, writes it into a private folder and grades that copy with
the engine. The submission folder is read as hostile (``untrusted_files``), and anything
that goes wrong while reading, decoding or parsing it is that submission's problem, with
a reason, never an exception that stops a batch.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from propgrade.engine.grading import FINGERPRINT_KEYS, Plan, file_digest, grade_submission
from propgrade.engine.results import FAILED, CheckResult, Feedback, SubmissionResult
from propgrade.intake.locate import (
    SubmissionProblem,
    find_file,
    find_files_with_suffix,
    listing,
    read_found,
)
from propgrade.intake.notebook import synthesize_module
from propgrade.intake.refused_imports import refused_import_notes
from propgrade.intake.untrusted_files import lstat_kind


@dataclass
class Intake:
    folder: Path  # a private folder holding only the graded file
    origin: str  # where it came from, relative to the submission, for messages
    notes: list[str] = field(default_factory=list)


def take_in(
    submission: Path,
    graded_file: str,
    scratch: Path,
    max_bytes: int,
    functions: Sequence[str] = (),
    imports: Sequence[str] = ("numpy",),
) -> Intake:
    """Put the graded file of ``submission`` into ``scratch``; ``SubmissionProblem`` if none.

    No file larger than ``max_bytes`` is read. ``functions`` are the graded functions: a
    notebook keeps only the imports they use. ``imports`` are the packages student code
    may import: a graded file's notes name the imports the policy refuses.
    """
    try:
        return _take_in(submission, graded_file, scratch, max_bytes, functions, imports)
    except SubmissionProblem:
        raise
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        # Whatever the checks above did not foresee in a student's folder stays that
        # student's problem; the batch goes on.
        raise SubmissionProblem(
            f"the submission could not be read: {type(exc).__name__}: {exc}"[:300]
        ) from None


def _take_in(
    submission: Path,
    graded_file: str,
    scratch: Path,
    max_bytes: int,
    functions: Sequence[str],
    imports: Sequence[str],
) -> Intake:
    kind = lstat_kind(submission)
    if kind is not None:
        raise SubmissionProblem(
            f"the submission folder is {kind}; links are never followed: submit the files "
            "themselves"
        )
    found = find_file(submission, graded_file)
    if found is not None:
        data = read_found(found, max_bytes)
        (scratch / graded_file).write_bytes(data)
        own = Path(graded_file).stem
        notes = refused_import_notes(data, imports, functions, own) if functions else []
        return Intake(scratch, found.relative, notes)
    notebooks = find_files_with_suffix(submission, ".ipynb")
    if len(notebooks) == 1:
        notebook = notebooks[0]
        # Read once into memory and parsed from there: it cannot change between checks.
        data = read_found(notebook, max_bytes)
        extracted = synthesize_module(data, notebook.name, scratch / graded_file, functions)
        notes = [
            f"{graded_file} was not submitted: graded the imports and functions of "
            f"{notebook.relative} ({', '.join(extracted.functions) or 'none found'})",
            *extracted.notes,
        ]
        return Intake(scratch, notebook.relative, notes)
    if len(notebooks) > 1:
        names = ", ".join(n.relative for n in notebooks[:5])
        raise SubmissionProblem(
            f"no {graded_file} found, and several notebooks ({names}): "
            f"submit {graded_file} or a single notebook"
        )
    raise SubmissionProblem(
        f"no {graded_file} found in the submission (found: {listing(submission)})"
    )


def fingerprint(plan: Plan, submission: Path) -> dict[str, Any]:
    """What a submission's grade depends on; equal fingerprints give equal grades."""
    own = {k: plan.meta[k] for k in FINGERPRINT_KEYS if k != "file_sha256"}
    return {**own, "file_sha256": intake_digest(plan, submission)}


def intake_digest(plan: Plan, submission: Path) -> str:
    """What the grade of ``submission`` depends on in its folder: the digest of the file
    that would be graded, or of the reason none can be."""
    graded_file = plan.assignment.graded_file
    with tempfile.TemporaryDirectory(prefix="propgrade-intake-") as tmp:
        try:
            take_in(
                submission,
                graded_file,
                Path(tmp),
                plan.limits.file_bytes,
                plan.assignment.functions,
                plan.limits.imports,
            )
        except SubmissionProblem as exc:
            return problem_digest(exc.message)
        return file_digest(Path(tmp) / graded_file)


def problem_digest(message: str) -> str:
    return "problem-" + hashlib.sha256(message.encode("utf-8", "surrogateescape")).hexdigest()


def problem_result(plan: Plan, student: str, message: str) -> SubmissionResult:
    """Every check failed with ``message``: nothing could be graded."""
    checks = [
        CheckResult(
            id=c.id,
            sentence=c.sentence,
            points=0.0,
            max_points=plan.assignment.check(c.id).points,
            status=FAILED,
            visibility=plan.assignment.check(c.id).visibility,
            feedback=Feedback(message=message),
            hint=plan.assignment.check(c.id).hint or c.hint,
        )
        for c in plan.checks
    ]
    meta = {**plan.meta, "file_sha256": problem_digest(message)}
    return SubmissionResult(student, plan.assignment.name, checks, error=message, meta=meta)


def grade_upload(plan: Plan, student: str, submission: Path) -> SubmissionResult:
    """Grade whatever ``submission`` holds. Student mistakes never raise here."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="propgrade-intake-") as tmp:
        try:
            intake = take_in(
                submission,
                plan.assignment.graded_file,
                Path(tmp),
                plan.limits.file_bytes,
                plan.assignment.functions,
                plan.limits.imports,
            )
        except SubmissionProblem as exc:
            result = problem_result(plan, student, exc.message)
            result.seconds = time.monotonic() - started
            return result
        result = grade_submission(plan, student, intake.folder)
    result.meta["graded_from"] = intake.origin
    if intake.notes:
        result.meta["intake_notes"] = intake.notes
    return result


def grade_notebook(plan: Plan, student: str, notebook: Path) -> SubmissionResult:
    """Grade ``notebook`` as a notebook-only submission, whatever lies next to it (the
    released stub of the graded file, say, which a folder would be graded by)."""
    with tempfile.TemporaryDirectory(prefix="propgrade-notebook-") as tmp:
        submission = Path(tmp) / "submission"
        submission.mkdir()
        shutil.copyfile(notebook, submission / notebook.name, follow_symlinks=False)
        return grade_upload(plan, student, submission)
