"""Writing results: Gradescope's results.json and propgrade's own record, per student.

Both are written atomically (``propgrade.files``). The class's grades.csv is
``propgrade.gradebook``'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from propgrade.engine.results import CheckResult, SubmissionResult, format_points
from propgrade.engine.standing import Standing
from propgrade.files import atomic_write_text

RESULTS_NAME = "results.json"
RECORD_NAME = "propgrade.json"  # the full result, for resuming and rebuilding reports


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
    # Imported here: the reports package imports this module to read the records.
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
