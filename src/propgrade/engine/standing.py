"""A submission's numbers, computed once: raw score, late penalty, final score, maximum.

Every output (grades.csv, results.json, the feedback pages, the class report, the
terminal table, nbgrader's gradebook) shows these same numbers, so that no two files can
disagree about a student's grade. In the nbgrader route the raw score and the maximum
include the written answers graded in formgrader, as ``nbgrader export`` counts them,
and the late penalty is taken from that whole raw score.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from propgrade.engine.results import SubmissionResult, format_points
from propgrade.files import atomic_write_text
from propgrade.intake.late import Lateness

STANDING_NAME = "standing.json"  # OUT/<student>/: what `propgrade report` shows again


@dataclass(frozen=True)
class Written:
    """nbgrader's own grade cells (written answers) of one submission, as graded so far."""

    score: float
    max_score: float
    ungraded: int = 0  # answers still waiting for a grader in formgrader
    # What scores set by hand on propgrade's own check cells add to (or take from) the
    # checks' points: nbgrader counts a manual score in place of the automatic one.
    check_adjustment: float = 0.0


@dataclass(frozen=True)
class Standing:
    student: str
    checks: float  # points from propgrade's checks
    checks_max: float
    lateness: Lateness
    written: Written | None = None  # None outside the nbgrader route

    @property
    def raw(self) -> float:
        if self.written is None:
            return self.checks
        return self.checks + self.written.check_adjustment + self.written.score

    @property
    def max_score(self) -> float:
        return self.checks_max + (self.written.max_score if self.written else 0.0)

    @property
    def penalty(self) -> float:
        return self.lateness.penalty(self.raw)

    @property
    def final(self) -> float:
        return max(self.raw - self.penalty, 0.0)

    @property
    def adds_to_checks(self) -> bool:
        """Whether these numbers say more than the checks' score: a due date or written
        answers."""
        return self.lateness.due is not None or self.written is not None

    def summary(self) -> str:
        """How the final score comes about, in one sentence for a page."""
        written = ""
        if self.written is not None:
            by_hand = self.written.check_adjustment
            adjusted = f", {by_hand:+g} set by hand" if by_hand else ""
            written = (
                f" (checks {format_points(self.checks)}{adjusted} + written answers "
                f"{format_points(self.written.score)} / {format_points(self.written.max_score)})"
            )
            if self.written.ungraded:
                count = self.written.ungraded
                answers = "answer awaits" if count == 1 else "answers await"
                written = f"{written[:-1]} so far: {count} written {answers} hand grading)"
        raw = f"Raw score {format_points(self.raw)}{written}."
        if self.lateness.due is None:
            return raw  # no due date: nothing is ever taken off
        late = self.lateness
        if late.submitted is not None and late.days_late == 0 and not late.unknown_late:
            return f"{raw} Submitted on time: no late penalty."
        return f"{raw} Late penalty: −{format_points(self.penalty)} ({late.describe()})."

    def to_dict(self) -> dict[str, Any]:
        submitted = self.lateness.submitted
        return {
            "student": self.student,
            "score": format_points(self.final),
            "max_score": format_points(self.max_score),
            "raw_score": format_points(self.raw),
            "late_penalty": format_points(self.penalty),
            "checks_score": format_points(self.checks),
            "checks_max_score": format_points(self.checks_max),
            "written": None if self.written is None else asdict(self.written),
            "late_days": self.lateness.days_late,
            "lateness": self.lateness.describe(),
            "submitted_at": None if submitted is None else submitted.isoformat(),
            "_lateness": _lateness_dict(self.lateness),
        }


def standing_of(
    result: SubmissionResult, lateness: Lateness, written: Written | None = None
) -> Standing:
    return Standing(result.student, result.score, result.max_score, lateness, written)


def _lateness_dict(lateness: Lateness) -> dict[str, Any]:
    data = asdict(lateness)
    for key in ("submitted", "due"):
        data[key] = None if data[key] is None else data[key].isoformat()
    return data


def _lateness_from(data: dict[str, Any]) -> Lateness:
    times = {
        key: None if data[key] is None else datetime.fromisoformat(data[key])
        for key in ("submitted", "due")
    }
    return Lateness(**{**data, **times})


def write_standing(out: Path, standing: Standing) -> Path:
    """Store the numbers, when they say more than the result does (a due date, or
    written answers); otherwise remove any stale ones."""
    path = out / standing.student / STANDING_NAME
    if not standing.adds_to_checks:
        path.unlink(missing_ok=True)
        return path
    atomic_write_text(path, json.dumps(standing.to_dict(), indent=1, sort_keys=True) + "\n")
    return path


def read_standing(out: Path, result: SubmissionResult) -> Standing | None:
    """The numbers stored beside a result, if they are for this very result."""
    try:
        data = json.loads((out / result.student / STANDING_NAME).read_text(encoding="utf-8"))
        written = None if data["written"] is None else Written(**data["written"])
        stored = Standing(
            result.student,
            float(data["checks_score"]),
            float(data["checks_max_score"]),
            _lateness_from(data["_lateness"]),
            written,
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
    # A record graded again since (by an older propgrade, say) makes these stale.
    if stored.checks != result.score or stored.checks_max != result.max_score:
        return None
    return stored
