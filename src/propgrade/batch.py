"""Grading a whole class: one folder per student, in parallel, one bad submission never
stopping the rest."""

from __future__ import annotations

import difflib
import gc
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from propgrade.engine.fingerprint import FINGERPRINT_KEYS
from propgrade.engine.grading import Plan, zero_result
from propgrade.engine.results import CheckResult, SubmissionResult
from propgrade.engine.standing import Standing, read_standing, standing_of, write_standing
from propgrade.errors import PropgradeError
from propgrade.export import read_record, write_record, write_results_json
from propgrade.gradebook import write_grades_csv
from propgrade.intake.late import lateness_of
from propgrade.intake.submission import fingerprint, grade_upload
from propgrade.sandbox import scratch


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path


def discover(submissions: Path, graded_file: str = "") -> list[Submission]:
    """Every immediate subdirectory is one student; its name is the student id.

    ``graded_file`` only names the file in the hint when there are no student folders."""
    if not submissions.is_dir():
        raise PropgradeError(
            f"{submissions}: submissions folder not found",
            hint="pass a folder that holds one subfolder per student",
        )
    found = [
        Submission(p.name, p)
        for p in sorted(submissions.iterdir())
        if p.is_dir() and not p.name.startswith((".", "_"))
    ]
    if not found:
        raise PropgradeError(
            f"{submissions}: no student folders found",
            hint="each student's files go in their own subfolder, e.g. "
            f"{submissions.name or 'submissions'}/alice/{graded_file}",
        )
    return found


def internal_error_result(plan: Plan, student: str, detail: str) -> SubmissionResult:
    """A submission that broke the grader itself: reported, never silently scored."""
    message = "internal grader error (not caused by your code); the instructor has been told"
    return zero_result(plan, student, message, internal_error=True).with_meta(internal_error=detail)


def _grade_safely(plan: Plan, submission: Submission) -> SubmissionResult:
    try:
        return grade_upload(plan, submission.student, submission.folder)
    except Exception:
        return internal_error_result(plan, submission.student, traceback.format_exc(limit=20))


# The plan is handed to pool workers by fork inheritance rather than pickling: it holds
# imported grader modules and Hypothesis strategies.
_PLAN: Plan | None = None


def _grade_in_child(submission: Submission) -> dict[str, Any]:
    assert _PLAN is not None
    return _grade_safely(_PLAN, submission).to_dict()


@contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Everything alive now (the plan: graders, strategies, drawn cases) is left out of
    the cyclic garbage collector's passes until the block ends.

    Grading allocates fast, so full collections come often, and each walked the plan's
    tens of thousands of objects again (about a tenth of the grader's CPU). Forked pool
    processes inherit the frozen set, and their collections no longer write to the
    parent's pages either. Nested use leaves an outer freeze to its owner.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _results(plan: Plan, submissions: list[Submission], jobs: int) -> Iterator[SubmissionResult]:
    with _long_lived_objects_frozen():
        yield from _graded(plan, submissions, jobs)


def _graded(plan: Plan, submissions: list[Submission], jobs: int) -> Iterator[SubmissionResult]:
    global _PLAN
    if jobs <= 1 or len(submissions) <= 1:
        for s in submissions:
            yield _grade_safely(plan, s)
        return
    _PLAN = plan
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures: dict[Future[dict[str, Any]], Submission] = {
                pool.submit(_grade_in_child, s): s for s in submissions
            }
            for future in as_completed(futures):
                # Let go of each finished future: it holds the whole result as sent back.
                submission = futures.pop(future)
                try:
                    yield SubmissionResult.from_dict(future.result())
                except Exception:
                    detail = traceback.format_exc(limit=20)
                    yield internal_error_result(plan, submission.student, detail)
    finally:
        _PLAN = None


Progress = Callable[[int, int, SubmissionResult, bool], None]
# Grades the submissions still to grade, yielding each result once, in any order: the
# local pool (``--jobs``) by default, or a cluster (``integrations.dask_cluster``).
Grader = Callable[[Plan, list[Submission]], Iterator[SubmissionResult]]


@dataclass
class BatchReport:
    results: list[SubmissionResult]  # everyone's, those left alone by ``only`` included
    seconds: float
    grades_csv: Path
    reused: int = 0
    warnings: list[str] = field(default_factory=list)
    standings: dict[str, Standing] = field(default_factory=dict)
    left_alone: list[str] = field(default_factory=list)  # outside ``only``: not graded
    unchanged: list[str] = field(default_factory=list)  # kept from an earlier run

    @property
    def internal_errors(self) -> list[str]:
        return [r.student for r in self.graded if "internal_error" in r.meta]

    @property
    def graded(self) -> list[SubmissionResult]:
        """The results this run was asked for (all of them without ``only``)."""
        return [r for r in self.results if r.student not in self.left_alone]


def select_students(submissions: list[Submission], only: Sequence[str]) -> list[Submission]:
    """The submissions of the students in ``only``; an id that is not there is an error."""
    known = {s.student for s in submissions}
    for student in only:
        if student not in known:
            near = difflib.get_close_matches(student, sorted(known), n=3)
            raise PropgradeError(
                f"--student {student}: no submission from this student",
                hint=f"did you mean {', '.join(near)}?"
                if near
                else "student ids are the names of the submission folders",
            )
    return [s for s in submissions if s.student in set(only)]


def _reusable(plan: Plan, out: Path, submission: Submission) -> SubmissionResult | None:
    """The stored result of an earlier run, if it was graded from exactly the same inputs."""
    stored = read_record(out, submission.student)
    if stored is None or "internal_error" in stored.meta:
        return None
    expected = fingerprint(plan, submission.folder)
    if any(stored.meta.get(k) != expected[k] for k in FINGERPRINT_KEYS):
        return None
    return stored


def grade_batch(
    plan: Plan,
    submissions: list[Submission],
    out: Path,
    *,
    jobs: int = 1,
    resume: bool = True,
    progress: Progress | None = None,
    only: Sequence[str] | None = None,
    grader: Grader | None = None,
) -> BatchReport:
    """Grade every submission, storing each result atomically as soon as it is known.

    With ``resume``, a submission whose stored result has the same fingerprint (its file,
    the config, graders, reference, seed and propgrade version) is not graded again, so a
    batch that was killed picks up where it stopped; the scratch folders such a batch
    left in the temp dir are removed too.

    With ``only``, just those students are graded; everyone else's files are left as
    they are, and their stored results still count in grades.csv.

    ``grader`` replaces the local pool of ``jobs`` processes; the results are stored,
    resumed and reported here all the same.
    """
    started = time.monotonic()
    scratch.sweep()
    out.mkdir(parents=True, exist_ok=True)
    chosen = submissions if only is None else select_students(submissions, only)
    kept = _stored(out, [s for s in submissions if s not in chosen])
    results: list[SubmissionResult] = []
    shared: dict[CheckResult, CheckResult] = {}
    todo: list[Submission] = []
    for submission in chosen:
        stored = _reusable(plan, out, submission) if resume else None
        if stored is None:
            todo.append(submission)
            continue
        results.append(_sharing_checks(stored, shared))
        if progress is not None:
            progress(len(results), len(chosen), stored, True)
    reused = len(results)
    unchanged = [r.student for r in results]
    results_of = grader or (lambda p, t: _results(p, t, jobs))
    for result in results_of(plan, todo):
        # The Gradescope file first: the record is what marks the submission as finished.
        write_results_json(out, result)
        write_record(out, result)
        results.append(_sharing_checks(result, shared))
        if progress is not None:
            progress(len(results), len(chosen), result, False)
    results.extend(_sharing_checks(r, shared) for r in kept)
    results.sort(key=lambda r: r.student)
    check_ids = [c.id for c in plan.checks]
    folders = {s.student: s.folder for s in submissions}
    left_alone = [r.student for r in kept]
    warnings: list[str] = []
    standings: dict[str, Standing] = {}
    for r in results:
        earlier = read_standing(out, r) if r.student in left_alone else None
        if earlier is not None:
            # Left alone: the numbers of the run that graded it, whatever its folder says now.
            standings[r.student] = earlier
            continue
        # Lateness is applied here, never stored in a result: a changed due date or
        # policy must not require regrading.
        lateness, said = lateness_of(
            folders[r.student], plan.assignment.due, plan.assignment.late_policy
        )
        if said is not None and r.student not in left_alone:
            warnings.append(f"{r.student}: {said}")
        standings[r.student] = standing_of(r, lateness)
        if r.student not in left_alone:
            if plan.assignment.due is not None:
                # Its score is the final one now; without a due date it was written as is.
                write_results_json(out, r, standings[r.student])
            write_standing(out, standings[r.student])
    entries = [(r, standings[r.student]) for r in results]
    with_late = plan.assignment.due is not None
    csv_path = write_grades_csv(out, entries, check_ids, with_late_columns=with_late)
    seconds = time.monotonic() - started
    return BatchReport(
        results, seconds, csv_path, reused, warnings, standings, left_alone, unchanged
    )


def _sharing_checks(
    result: SubmissionResult, shared: dict[CheckResult, CheckResult]
) -> SubmissionResult:
    """``result``, its check records replaced by an equal one already held, if any.

    Every result of the class is held until the reports are written. Most of its check
    records (every passed check, every check blocked by the same gate) are equal to
    another student's: one copy of each keeps the memory of a large class nearly flat.
    """
    result.checks = [shared.setdefault(check, check) for check in result.checks]
    return result


def _stored(out: Path, submissions: Sequence[Submission]) -> list[SubmissionResult]:
    """The stored results of students this run leaves alone (none if never graded)."""
    found = (read_record(out, s.student) for s in submissions)
    return [r for r in found if r is not None]
