"""Class-wide numbers behind the class report: pass rates, common failures, grading time.

Plain data, computed once from the results and rendered elsewhere.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from propgrade.engine.results import SubmissionResult

# A number that is not part of a name (float32, x2): replaced by "#" so that the same
# mistake on different inputs groups together.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![\w])", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
NOT_GRADED = "(not graded)"


def normalise_message(message: str) -> str:
    return _SPACES.sub(" ", _NUMBER.sub("#", message)).strip()


@dataclass(frozen=True)
class CheckRate:
    id: str
    sentence: str
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class FailureGroup:
    """Students who failed one check with the same message, numbers aside."""

    check_id: str
    pattern: str
    students: list[str] = field(default_factory=list)
    message: str = ""  # the representative's own message
    counterexample: str = ""  # the smallest one seen in the group
    expected: str = ""
    got: str = ""
    example_student: str = ""
    # Other failures (check ids) that exactly these students have too: one mistake that
    # fails several checks is one row of the report, not one per check.
    also: list[str] = field(default_factory=list)

    def offer(
        self, student: str, message: str, counterexample: str, expected: str, got: str
    ) -> None:
        """Count a student; keep their failure as the example if it is the smallest yet."""
        self.students.append(student)
        candidate = (len(counterexample), counterexample, student)
        current = (len(self.counterexample), self.counterexample, self.example_student)
        if not self.example_student or candidate < current:
            self.message, self.counterexample = message, counterexample
            self.expected, self.got, self.example_student = expected, got, student


@dataclass(frozen=True)
class Timing:
    seconds: list[float]
    mean: float
    median: float
    maximum: float
    slowest: list[tuple[str, float]]


def check_order(results: Sequence[SubmissionResult]) -> list[tuple[str, str]]:
    """Every check id with its sentence, in the order the results list them."""
    seen: dict[str, str] = {}
    for r in results:
        for c in r.checks:
            seen.setdefault(c.id, c.sentence)
    return list(seen.items())


def pass_rates(results: Sequence[SubmissionResult]) -> list[CheckRate]:
    """Pass rate of each check over the graded submissions, weakest first.

    Submissions that could not be graded at all (no file, syntax error) are left out: they
    fail every check and would only lower every bar by the same amount.
    """
    graded = [r for r in results if not r.error]
    rates = []
    for check_id, sentence in check_order(results):
        outcomes = [c.passed for r in graded for c in r.checks if c.id == check_id]
        rates.append(CheckRate(check_id, sentence, sum(outcomes), len(outcomes)))
    return sorted(rates, key=lambda c: (c.rate, c.id))


def failure_groups(results: Sequence[SubmissionResult]) -> list[FailureGroup]:
    """Failures grouped by check and normalised message, most common first.

    A submission that could not be graded counts once, under its error, rather than once
    per check with the same message; so does an exception that fails many checks, and a
    check blocked by a failed requirement is not counted at all. A stub then takes a few
    lines of the report, not most of them. Failures that the very same students have
    are one group, under the first check the results list (the others in ``also``): one
    student's single bug that fails eight checks takes one row.
    """
    groups: dict[tuple[str, str], FailureGroup] = {}

    for r in results:
        first_line = (r.error.strip().splitlines() or [r.error])[0]
        failures = [(NOT_GRADED, first_line, "", "", "")] if r.error else []
        raised: set[str] = set()
        for c in [] if r.error else r.checks:
            fb = c.feedback
            if c.passed or fb is None or fb.blocked_by:
                continue  # a blocked check is a consequence: its cause is counted
            if fb.traceback:
                # One exception in the student's code fails every check that calls the
                # function: it is one mistake, counted once, under the first such check.
                cause = normalise_message(fb.message)
                if cause in raised:
                    continue
                raised.add(cause)
            failures.append((c.id, fb.message, fb.counterexample, fb.expected, fb.got))
        for check_id, message, counterexample, expected, got in failures:
            key = (check_id, normalise_message(message))
            group = groups.setdefault(key, FailureGroup(check_id, key[1]))
            group.offer(r.student, message, counterexample, expected, got)
    together: dict[tuple[str, ...], FailureGroup] = {}
    for group in groups.values():  # in the order the results list the checks
        first = together.setdefault(tuple(group.students), group)
        if first is not group:
            first.also.append(group.check_id)
    return sorted(together.values(), key=lambda g: (-len(g.students), g.check_id, g.pattern))


def timing(results: Sequence[SubmissionResult], slowest: int = 5) -> Timing:
    seconds = [r.seconds for r in results]
    ranked = sorted(((r.student, r.seconds) for r in results), key=lambda x: (-x[1], x[0]))
    return Timing(
        seconds=seconds,
        mean=statistics.fmean(seconds) if seconds else 0.0,
        median=statistics.median(seconds) if seconds else 0.0,
        maximum=max(seconds, default=0.0),
        slowest=ranked[:slowest],
    )


def sandbox_counts(results: Sequence[SubmissionResult], fallback: str = "") -> Counter[str]:
    """How many submissions ran under each isolation layer (``meta["sandbox"]``)."""
    return Counter(str(r.meta.get("sandbox") or fallback or "not recorded") for r in results)
