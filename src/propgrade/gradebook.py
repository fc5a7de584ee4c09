"""grades.csv, the class's gradebook for an LMS, as every grading route writes it.

Without a due date (and outside nbgrader): ``student,score,max_score``, then one column per
check. With one, ``score`` is the final score (after the penalty) so an LMS import picks the
right number, and the raw score, the days late and the penalty stand beside it:

    student,raw_score,late_days,late_penalty,score,max_score,submitted_at,<check ids...>

In the nbgrader route the written answers graded in formgrader count too, as in
``nbgrader export``: ``written_score`` and ``written_max_score`` come before the checks,
and ``raw_score`` and ``max_score`` include them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from propgrade.engine.results import SubmissionResult, format_points
from propgrade.engine.standing import Standing
from propgrade.files import atomic_write_text
from propgrade.intake.student_ids import csv_cell

GRADES_NAME = "grades.csv"

Cell = float | int | str


def points_cell(result: SubmissionResult, value: float) -> Cell:
    """A total for the gradebook, or blank when a check of it could not be graded: a
    grader fault is no grade, and a blank cell cannot be mistaken for one."""
    return "" if result.internal_error_checks else format_points(value)


def check_cells(result: SubmissionResult, check_ids: Sequence[str]) -> list[Cell]:
    """Each check's points; blank where the grader failed on that check. A check worth
    no points (a gate such as ``svm_naive_implemented``) says ``passed`` or ``failed``:
    its points would read 0 either way."""
    faulty = set(result.internal_error_checks)
    by_id = {c.id: c for c in result.checks}

    def cell(cid: str) -> Cell:
        check = by_id.get(cid)
        if cid in faulty:
            return ""
        if check is not None and check.max_points == 0:
            return "passed" if check.passed else "failed"
        return format_points(0.0 if check is None else check.points)

    return [cell(cid) for cid in check_ids]


def grades_csv(results: Sequence[SubmissionResult], check_ids: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *check_ids])
    for r in sorted(results, key=lambda r: r.student):
        writer.writerow(
            [
                csv_cell(r.student),
                points_cell(r, r.score),
                format_points(r.max_score),
                *check_cells(r, check_ids),
            ]
        )
    return buffer.getvalue()


LATE_HEADER = (
    "student",
    "raw_score",
    "late_days",
    "late_penalty",
    "score",
    "max_score",
    "submitted_at",
)
WRITTEN_HEADER = ("written_score", "written_max_score")


def _written_cells(standing: Standing) -> list[float | int | str]:
    if standing.written is None:
        return ["", ""]
    return [format_points(standing.written.score), format_points(standing.written.max_score)]


def grades_csv_with_late(
    entries: Sequence[tuple[SubmissionResult, Standing]], check_ids: Sequence[str]
) -> str:
    with_written = any(standing.written is not None for _, standing in entries)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*LATE_HEADER, *(WRITTEN_HEADER if with_written else ()), *check_ids])
    for result, standing in sorted(entries, key=lambda e: e[0].student):
        lateness = standing.lateness
        submitted = "" if lateness.submitted is None else lateness.submitted.isoformat()
        writer.writerow(
            [
                csv_cell(result.student),
                points_cell(result, standing.raw),
                lateness.days_late,
                points_cell(result, standing.penalty),
                points_cell(result, standing.final),
                format_points(standing.max_score),
                submitted,
                *(_written_cells(standing) if with_written else ()),
                *check_cells(result, check_ids),
            ]
        )
    return buffer.getvalue()


def write_grades_csv(
    out: Path,
    entries: Sequence[tuple[SubmissionResult, Standing]],
    check_ids: Sequence[str],
    *,
    with_late_columns: bool,
) -> Path:
    """Write ``out/grades.csv``, with late columns when ``with_late_columns`` or when
    written answers count (the nbgrader route)."""
    path = out / GRADES_NAME
    if with_late_columns or any(standing.written is not None for _, standing in entries):
        text = grades_csv_with_late(entries, check_ids)
    else:
        text = grades_csv([result for result, _ in entries], check_ids)
    atomic_write_text(path, text)
    return path
