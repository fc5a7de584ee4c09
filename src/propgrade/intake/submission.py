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

from propgrade.engine.fingerprint import FINGERPRINT_KEYS, file_digest
from propgrade.engine.grading import Plan, grade_submission
from propgrade.engine.results import FAILED, CheckResult, Feedback, SubmissionResult
from propgrade.intake.locate import (
    Found,
    SubmissionProblem,
    find_file,
    find_files_with_suffix,
    listing,
    read_found,
)
from propgrade.intake.notebook import extract_functions, synthesize_module
from propgrade.intake.notebook_lines import CellLines, in_notebook_terms
from propgrade.intake.refused_imports import refused_import_notes
from propgrade.intake.untrusted_files import lstat_kind


@dataclass
class Intake:
    folder: Path  # a private folder holding only the graded file
    origin: str  # where it came from, relative to the submission, for messages
    notes: list[str] = field(default_factory=list)
    cells: CellLines | None = None  # a notebook's: where each line of the module came from


def take_in(
    submission: Path,
    graded_file: str,
    scratch: Path,
    max_bytes: int,
    functions: Sequence[str] = (),
    imports: Sequence[str] = ("numpy",),
    stub_sha256: str | None = None,
) -> Intake:
    """Put the graded file of ``submission`` into ``scratch``; ``SubmissionProblem`` if none.

    No file larger than ``max_bytes`` is read. ``functions`` are the graded functions: a
    notebook keeps only the imports they use. ``imports`` are the packages student code
    may import: a graded file's notes name the imports the policy refuses. Which source
    is graded follows one rule in every route (see ``_take_in``); ``stub_sha256`` is the
    released stub's digest.
    """
    try:
        return _take_in(
            submission, graded_file, scratch, max_bytes, functions, imports, stub_sha256
        )
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
    stub_sha256: str | None,
) -> Intake:
    """The rule, in this order:

    1. a graded file that differs from the released stub is graded (when a notebook
       beside it defines graded functions too, a note says they were not graded);
    2. otherwise the functions of the submission's single notebook are graded: a graded
       file byte-identical to the stub counts as not submitted (``nbgrader submit`` hands
       it in with every notebook-only submission, as does a zipped release folder),
       when it defines one of them (or there is no graded file at all);
    3. otherwise the graded file as it is (the stub, which fails), or the reason there is
       nothing to grade.
    """
    kind = lstat_kind(submission)
    if kind is not None:
        raise SubmissionProblem(
            f"the submission folder is {kind}; links are never followed: submit the files "
            "themselves"
        )
    found = find_file(submission, graded_file)
    data = read_found(found, max_bytes) if found is not None else None
    is_stub = data is not None and hashlib.sha256(data).hexdigest() == stub_sha256
    notebooks = find_files_with_suffix(submission, ".ipynb")
    own = Path(graded_file).stem
    if found is not None and data is not None and not is_stub:
        (scratch / graded_file).write_bytes(data)
        notes = refused_import_notes(data, imports, functions, own) if functions else []
        unused = _unused_notebook(notebooks, graded_file, functions, max_bytes)
        return Intake(scratch, found.relative, [*notes, *unused])
    if len(notebooks) == 1:
        notebook = notebooks[0]
        # Read once into memory and parsed from there: it cannot change between checks.
        nb_data = read_found(notebook, max_bytes)
        extracted = synthesize_module(nb_data, notebook.name, scratch / graded_file, functions)
        defines = any(f in extracted.functions for f in functions) or not functions
        if found is None or defines:
            why = (
                f"{found.relative} is the released stub, unchanged, so it counts as not submitted"
                if found is not None
                else f"{graded_file} was not submitted"
            )
            notes = [
                f"{why}: graded the imports and functions of "
                f"{notebook.relative} ({', '.join(extracted.functions) or 'none found'})",
                *extracted.notes,
            ]
            cells = CellLines.of(notebook.relative, extracted.source)
            return Intake(scratch, notebook.relative, notes, cells)
    if found is not None and data is not None:
        # The stub, and no notebook that defines a graded function: the stub fails.
        (scratch / graded_file).write_bytes(data)
        notes = refused_import_notes(data, imports, functions, own) if functions else []
        stub = f"{found.relative} is the released stub, unchanged"
        return Intake(scratch, found.relative, [*notes, stub])
    if len(notebooks) > 1:
        names = ", ".join(n.relative for n in notebooks[:5])
        raise SubmissionProblem(
            f"no {graded_file} found, and several notebooks ({names}): "
            f"submit {graded_file} or a single notebook"
        )
    raise SubmissionProblem(
        f"no {graded_file} found in the submission (found: {listing(submission)})"
    )


def _unused_notebook(
    notebooks: Sequence[Found], graded_file: str, functions: Sequence[str], max_bytes: int
) -> list[str]:
    """A note when the single notebook beside a changed graded file defines graded
    functions too: those are not graded, and the student should know."""
    if len(notebooks) != 1 or not functions:
        return []
    try:
        data = read_found(notebooks[0], max_bytes)
        defined = extract_functions(data, notebooks[0].name, graded=functions).functions
    except (SubmissionProblem, OSError, ValueError, RecursionError, MemoryError):
        return []
    also = [f for f in functions if f in defined]
    if not also:
        return []
    return [
        f"graded {graded_file}, which differs from the released stub; the functions of "
        f"{notebooks[0].relative} ({', '.join(also)}) were not graded: when a submission "
        f"holds both, {graded_file} is graded"
    ]


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
                plan.assignment.stub_sha256,
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
                plan.assignment.stub_sha256,
            )
        except SubmissionProblem as exc:
            result = problem_result(plan, student, exc.message)
            result.seconds = time.monotonic() - started
            return result
        result = grade_submission(plan, student, intake.folder)
    if intake.cells is not None:
        in_notebook_terms(result, intake.cells, plan.assignment.graded_file)
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
