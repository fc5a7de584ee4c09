"""grades.csv for an LMS, with the late penalty in columns of its own when there is a due date.

Without a due date (and outside nbgrader) the file is exactly ``export.grades_csv``. With
one, ``score`` is the final score (after the penalty) so an LMS import picks the right
number, and the raw score, the days late and the penalty stand beside it:

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

from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing
from propgrade.export import (
    GRADES_NAME,
    atomic_write_text,
    check_cells,
    format_points,
    grades_csv,
    points_cell,
)
from propgrade.intake.student_ids import csv_cell

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


def write_lms_csv(
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
