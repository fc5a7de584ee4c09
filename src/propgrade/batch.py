"""Grading a whole class: one folder per student, in parallel, one bad submission never
stopping the rest."""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from propgrade.engine import Plan, grade_submission
from propgrade.errors import PropgradeError
from propgrade.export import write_grades_csv, write_results_json
from propgrade.results import FAILED, CheckResult, Feedback, SubmissionResult


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path


def discover(submissions: Path) -> list[Submission]:
    """Every immediate subdirectory is one student; its name is the student id."""
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
            hint="each student's files go in their own subfolder, e.g. submissions/alice/losses.py",
        )
    return found


def internal_error_result(plan: Plan, student: str, detail: str) -> SubmissionResult:
    """A submission that broke the grader itself: reported, never silently scored."""
    message = "internal grader error (not caused by your code); the instructor has been told"
    checks = [
        CheckResult(
            id=c.id,
            sentence=c.sentence,
            points=0.0,
            max_points=plan.assignment.check(c.id).points,
            status=FAILED,
            visibility=plan.assignment.check(c.id).visibility,
            feedback=Feedback(message=message, internal_error=True),
        )
        for c in plan.checks
    ]
    meta = dict(plan.meta)
    meta["internal_error"] = detail
    return SubmissionResult(student, plan.assignment.name, checks, error=message, meta=meta)


def _grade_safely(plan: Plan, submission: Submission) -> SubmissionResult:
    try:
        return grade_submission(plan, submission.student, submission.folder)
    except Exception:
        return internal_error_result(plan, submission.student, traceback.format_exc(limit=20))


# The plan is handed to pool workers by fork inheritance rather than pickling: it holds
# imported grader modules and Hypothesis strategies.
_PLAN: Plan | None = None


def _grade_in_child(submission: Submission) -> dict[str, Any]:
    assert _PLAN is not None
    return _grade_safely(_PLAN, submission).to_dict()


def _results(plan: Plan, submissions: list[Submission], jobs: int) -> Iterator[SubmissionResult]:
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
                try:
                    yield SubmissionResult.from_dict(future.result())
                except Exception:
                    detail = traceback.format_exc(limit=20)
                    yield internal_error_result(plan, futures[future].student, detail)
    finally:
        _PLAN = None


Progress = Callable[[int, int, SubmissionResult], None]


@dataclass
class BatchReport:
    results: list[SubmissionResult]
    seconds: float
    grades_csv: Path

    @property
    def internal_errors(self) -> list[str]:
        return [r.student for r in self.results if "internal_error" in r.meta]


def grade_batch(
    plan: Plan,
    submissions: list[Submission],
    out: Path,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> BatchReport:
    """Grade every submission, writing each results.json as soon as it is known."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    results: list[SubmissionResult] = []
    for result in _results(plan, submissions, jobs):
        write_results_json(out, result)
        results.append(result)
        if progress is not None:
            progress(len(results), len(submissions), result)
    results.sort(key=lambda r: r.student)
    csv_path = write_grades_csv(out, results, [c.id for c in plan.checks])
    return BatchReport(results, time.monotonic() - started, csv_path)
