"""What grading produced: per-check and per-submission results, as plain data.

These are built in the trusted process and serialised to JSON; presentation (CSV,
Gradescope JSON, terminal text) lives elsewhere.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any

PASSED = "passed"
FAILED = "failed"


def format_points(value: float) -> float | int:
    """Points as JSON/CSV show them: whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else round(value, 4)


@dataclass(frozen=True, slots=True)
class Feedback:
    """Why a check failed, in words a student can act on."""

    message: str
    counterexample: str = ""  # the minimal failing input Hypothesis found, rendered
    expected: str = ""
    got: str = ""
    traceback: str = ""  # the student's own traceback, trimmed to their file
    shrunk: bool = False  # whether the counterexample is Hypothesis' minimal one
    internal_error: bool = False  # the grader itself failed: not the student's fault
    blocked_by: str = ""  # not graded: this required check failed (see propgrade.engine.gating)
    hint: str = ""  # the failure's own hint, where the property named the mistake
    # What only the hidden reference knows (its output, the error measured against it),
    # taken out of ``message`` and ``expected`` of a check shown before the due date:
    # instructors and students after the due date see it (see ``withhold_reference``).
    reference: str = ""

    def render(self) -> str:
        parts = [self.message]
        if self.counterexample:
            label = "Smallest failing input" if self.shrunk else "Failing input"
            parts.append(f"{label}:\n{self.counterexample}")
        if self.expected:
            parts.append(f"Expected: {self.expected}")
        if self.got:
            parts.append(f"Got: {self.got}")
        if self.traceback:
            parts.append(f"Your traceback:\n{self.traceback}")
        return "\n".join(parts)


WITHHELD_EXPECTED = "withheld until the due date (it is the reference solution's output)"
_ERROR_CLAUSE = re.compile(r" \((?:relative|absolute) error [^()]*\)$")


def withhold_reference(feedback: Feedback) -> Feedback:
    """``feedback`` without the reference's output, for a check students see before the
    due date: a student who chooses which inputs fail would otherwise read the hidden
    reference off its failures. The expected value goes, and so does the error measured
    against it (with the student's own value, it gives the reference's away)."""
    if not feedback.expected or feedback.internal_error or feedback.reference:
        return feedback
    message = _ERROR_CLAUSE.sub("", feedback.message)
    return replace(
        feedback,
        message=message,
        expected=WITHHELD_EXPECTED,
        reference=f"{feedback.message}\nExpected: {feedback.expected}",
    )


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    sentence: str
    points: float
    max_points: float
    status: str
    visibility: str
    feedback: Feedback | None = None
    examples: int = 0  # how many cases were evaluated
    # The check's declared hint (grading.yaml's, else the grader's; "" for none): kept with
    # the result so every page and file shows the same one, also when rebuilt from records.
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    checks: list[CheckResult]
    error: str = ""  # why nothing could be graded (no file, syntax error, import failure)
    output: str = ""  # what the student's code printed (capped)
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    @property
    def internal_error_checks(self) -> list[str]:
        """Checks whose grader code failed: their 0 is no grade, so it is never reported."""
        return [c.id for c in self.checks if c.feedback is not None and c.feedback.internal_error]

    def with_meta(self, **values: Any) -> SubmissionResult:
        self.meta.update(values)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        checks = [
            CheckResult(
                **{
                    **_shared(c, _CHECK_TEXTS),
                    "feedback": Feedback(**_shared(c["feedback"], _FEEDBACK_TEXTS))
                    if c.get("feedback")
                    else None,
                }
            )
            for c in data["checks"]
        ]
        return cls(**{**data, "checks": checks})


# Texts that are the same for many students (a check's sentence and hint, a common failure
# message): one copy each, however many results of a large class are held for the reports.
_CHECK_TEXTS = ("id", "sentence", "status", "visibility", "hint")
_FEEDBACK_TEXTS = ("message", "blocked_by", "hint")


def _shared(fields: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    shared = dict(fields)
    for name in names:
        value = shared.get(name)
        if type(value) is str:
            shared[name] = sys.intern(value)
    return shared
