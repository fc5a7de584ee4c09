"""Writing results: Gradescope's results.json per student and the class grades.csv.

Every file is written atomically (temporary file, fsync, rename), so a grader killed at
any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from propgrade.engine.results import CheckResult, SubmissionResult
from propgrade.intake.student_ids import csv_cell

if TYPE_CHECKING:
    from propgrade.engine.standing import Standing

RESULTS_NAME = "results.json"
RECORD_NAME = "propgrade.json"  # the full result, for resuming and rebuilding reports
GRADES_NAME = "grades.csv"


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; results are meant to be read (served, handed out).
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_points(value: float) -> float | int:
    """Points as JSON/CSV show them: whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else round(value, 4)


def gradescope_results(
    result: SubmissionResult, standing: Standing | None = None
) -> dict[str, Any]:
    """The submission in Gradescope's autograder results schema.

    With a ``standing`` (a due date, or nbgrader's written answers), ``score`` is the
    final score and the raw score, the penalty and the maximum go in ``extra_data``.
    """
    tests = []
    for number, c in enumerate(result.checks, start=1):
        tests.append(
            {
                "name": f"{c.id}: {c.sentence}",
                "number": str(number),
                "score": format_points(c.points),
                "max_score": format_points(c.max_points),
                "status": c.status,
                "output": "" if c.feedback is None else _output(c, graded=not result.error),
                "visibility": c.visibility,
            }
        )
    passed = sum(1 for c in result.checks if c.passed)
    summary = (
        f"Could not grade: {result.error}"
        if result.error
        else f"{passed} of {len(result.checks)} checks passed."
    )
    numbers = (
        {"max_score": format_points(result.max_score)}
        if standing is None
        else {k: v for k, v in standing.to_dict().items() if not k.startswith("_")}
    )
    return {
        "score": format_points(result.score if standing is None else standing.final),
        "execution_time": round(result.seconds, 3),
        "output": summary,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        # Gradescope's schema has no top-level maximum (it sums the tests'); kept here.
        "extra_data": {
            "propgrade": {
                "student": result.student,
                **numbers,
                **result.meta,
                # Code that touches frames, tracing or threads (engine/review.py).
                "review_by_hand": bool(result.meta.get("review")),
            }
        },
    }


def _output(check: CheckResult, *, graded: bool) -> str:
    """What Gradescope shows for a failed check: the feedback and the same hint as the
    feedback page (Gradescope shows only this file). A submission that could not be
    graded at all (no file, a syntax error) gets its reason only: a check's hint would
    point at a mistake nobody made."""
    # Imported here: the reports package imports this module for its atomic writes.
    from propgrade.reports.hints import hint_for

    assert check.feedback is not None
    hint = hint_for(check, graded=graded)
    text = check.feedback.render()
    return text if hint is None else f"{text}\nHint: {hint}"


def write_results_json(
    out: Path, result: SubmissionResult, standing: Standing | None = None
) -> Path:
    path = out / result.student / RESULTS_NAME
    atomic_write_text(path, json.dumps(gradescope_results(result, standing), indent=2) + "\n")
    return path


def write_record(out: Path, result: SubmissionResult) -> Path:
    path = out / result.student / RECORD_NAME
    atomic_write_text(path, json.dumps(result.to_dict(), indent=1, sort_keys=True) + "\n")
    return path


def read_record(out: Path, student: str) -> SubmissionResult | None:
    """A previously stored result, or None if there is none or it cannot be read."""
    path = out / student / RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SubmissionResult.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


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


def write_grades_csv(
    out: Path, results: Sequence[SubmissionResult], check_ids: Sequence[str]
) -> Path:
    path = out / GRADES_NAME
    atomic_write_text(path, grades_csv(results, check_ids))
    return path
