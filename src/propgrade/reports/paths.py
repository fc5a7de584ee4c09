"""Where report files go inside an output folder, and how pages link to each other."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from propgrade.errors import PropgradeError

FEEDBACK_NAME = "feedback.html"
REPORT_NAME = "report.html"


def student_dir(out: Path, student: str) -> Path:
    """``OUT/<student>``, refusing ids that are not a single folder name.

    Ids come from folder names, so this only trips on a hand-made result; it keeps a page
    from ever being written outside OUT.
    """
    if student in ("", ".", "..") or "/" in student or "\0" in student:
        raise PropgradeError(
            f"student id {student!r} is not a folder name",
            hint="student ids are the names of the submission folders",
        )
    return out / student


def feedback_href(student: str) -> str:
    """The relative URL of a student's page from ``OUT/report.html``.

    Every character but unreserved ones is percent-encoded, so ``#``, ``?``, ``:`` or ``%``
    in a folder name can neither cut the path short nor turn it into a ``javascript:`` URL.
    """
    return f"{quote(student, safe='')}/{FEEDBACK_NAME}"
