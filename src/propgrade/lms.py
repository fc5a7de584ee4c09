"""grades.csv for an LMS, with the late penalty in columns of its own when there is a due date.

Without a due date the file is exactly ``export.grades_csv``. With one, ``score`` is the
final score (after the penalty) so an LMS import picks the right number, and the raw
score, the days late and the penalty stand beside it:

    student,raw_score,late_days,late_penalty,score,max_score,submitted_at,<check ids...>
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from propgrade.export import (
    GRADES_NAME,
    atomic_write_text,
    check_cells,
    format_points,
    grades_csv,
    points_cell,
)
from propgrade.late import Lateness
from propgrade.results import SubmissionResult
from propgrade.student_ids import csv_cell

LATE_HEADER = (
    "student",
    "raw_score",
    "late_days",
    "late_penalty",
    "score",
    "max_score",
    "submitted_at",
)


def grades_csv_with_late(
    entries: Sequence[tuple[SubmissionResult, Lateness]], check_ids: Sequence[str]
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*LATE_HEADER, *check_ids])
    for result, lateness in sorted(entries, key=lambda e: e[0].student):
        penalty = lateness.penalty(result.score)
        submitted = "" if lateness.submitted is None else lateness.submitted.isoformat()
        writer.writerow(
            [
                csv_cell(result.student),
                points_cell(result, result.score),
                lateness.days_late,
                points_cell(result, penalty),
                points_cell(result, max(result.score - penalty, 0.0)),
                format_points(result.max_score),
                submitted,
                *check_cells(result, check_ids),
            ]
        )
    return buffer.getvalue()


def write_lms_csv(
    out: Path,
    entries: Sequence[tuple[SubmissionResult, Lateness]],
    check_ids: Sequence[str],
    *,
    with_late_columns: bool,
) -> Path:
    """Write ``out/grades.csv``, with late columns when ``with_late_columns``."""
    path = out / GRADES_NAME
    if with_late_columns:
        text = grades_csv_with_late(entries, check_ids)
    else:
        text = grades_csv([result for result, _ in entries], check_ids)
    atomic_write_text(path, text)
    return path
