"""From an uploaded submission folder to a graded result, whatever shape the upload has.

Gradescope uploads and nbgrader's ``submitted/`` folders are not the tidy one-file
folders ``propgrade grade`` expects: the graded file may be nested (a zipped folder), or
missing while a notebook holds the functions. ``grade_upload`` finds or synthesizes the
graded file, copies it into a private folder and grades that copy with the engine.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from propgrade.engine import Plan, grade_submission
from propgrade.locate import (
    SubmissionProblem,
    copy_regular,
    find_file,
    find_files_with_suffix,
    listing,
)
from propgrade.notebook import synthesize_module
from propgrade.results import FAILED, CheckResult, Feedback, SubmissionResult


@dataclass
class Intake:
    folder: Path  # a private folder holding only the graded file
    origin: str  # where it came from, relative to the submission, for messages
    notes: list[str] = field(default_factory=list)


def take_in(submission: Path, graded_file: str, scratch: Path) -> Intake:
    """Put the graded file of ``submission`` into ``scratch``; ``SubmissionProblem`` if none."""
    found = find_file(submission, graded_file)
    if found is not None:
        copy_regular(found, scratch, graded_file)
        return Intake(scratch, found.relative)
    notebooks = find_files_with_suffix(submission, ".ipynb")
    if len(notebooks) == 1:
        # The copy is parsed, never the original: it cannot change between checks.
        copy = copy_regular(notebooks[0], scratch / "notebook", "submitted.ipynb", 50 << 20)
        extracted = synthesize_module(copy, scratch / graded_file)
        notes = [
            f"{graded_file} was not submitted: graded the imports and functions of "
            f"{notebooks[0].relative} ({', '.join(extracted.functions) or 'none found'})",
            *extracted.notes,
        ]
        return Intake(scratch, notebooks[0].relative, notes)
    if len(notebooks) > 1:
        names = ", ".join(n.relative for n in notebooks[:5])
        raise SubmissionProblem(
            f"no {graded_file} found, and several notebooks ({names}): "
            f"submit {graded_file} or a single notebook"
        )
    raise SubmissionProblem(
        f"no {graded_file} found in the submission (found: {listing(submission)})"
    )


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
        )
        for c in plan.checks
    ]
    meta = {**plan.meta, "file_sha256": "missing"}
    return SubmissionResult(student, plan.assignment.name, checks, error=message, meta=meta)


def grade_upload(plan: Plan, student: str, submission: Path) -> SubmissionResult:
    """Grade whatever ``submission`` holds. Student mistakes never raise here."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="propgrade-intake-") as tmp:
        try:
            intake = take_in(submission, plan.assignment.graded_file, Path(tmp))
        except SubmissionProblem as exc:
            result = problem_result(plan, student, exc.message)
            result.seconds = time.monotonic() - started
            return result
        result = grade_submission(plan, student, intake.folder)
    result.meta["graded_from"] = intake.origin
    if intake.notes:
        result.meta["intake_notes"] = intake.notes
    return result
