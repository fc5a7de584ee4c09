"""What a student may see of each check, in Gradescope's visibility vocabulary.

``hidden`` checks never show their outcome to students; ``after_due_date`` and
``after_published`` ones show it later. A student page is written before the due date, so
it withholds both. The instructor sees everything.
"""

from __future__ import annotations

from enum import Enum

from propgrade.engine.results import CheckResult
from propgrade.errors import PropgradeError

STUDENT = "student"
RELEASED = "released"  # a student after the due date (e.g. nbgrader's release_feedback)
INSTRUCTOR = "instructor"
AUDIENCES = (STUDENT, RELEASED, INSTRUCTOR)


class Disclosure(Enum):
    SHOWN = "shown"
    LATER = "later"  # after_due_date / after_published: the outcome comes later
    HIDDEN = "hidden"  # the outcome is never shown to students

    @property
    def label(self) -> str:
        return {
            Disclosure.SHOWN: "",
            Disclosure.LATER: "available after the due date",
            Disclosure.HIDDEN: "hidden",
        }[self]


def check_audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise PropgradeError(
            f"unknown report audience {audience!r}", hint=f"use one of: {', '.join(AUDIENCES)}"
        )
    return audience


def disclosure(check: CheckResult, audience: str) -> Disclosure:
    if audience == INSTRUCTOR or check.visibility == "visible":
        return Disclosure.SHOWN
    if check.visibility in ("after_due_date", "after_published"):
        return Disclosure.SHOWN if audience == RELEASED else Disclosure.LATER
    # "hidden", and any value this version does not know: withholding is the safe side.
    return Disclosure.HIDDEN
