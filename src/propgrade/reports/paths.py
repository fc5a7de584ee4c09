"""Where report files go inside an output folder, and how pages link to each other."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from propgrade.errors import PropgradeError
from propgrade.intake.student_ids import id_problem, url_path

FEEDBACK_NAME = "feedback.html"
REPORT_NAME = "report.html"
SIMILARITY_NAME = "similarity.html"


def student_dir(out: Path, student: str) -> Path:
    """``OUT/<student>``, refusing ids that are not a single folder name.

    Ids come from folder names, so this only trips on a hand-made result; it keeps a page
    from ever being written outside OUT.
    """
    problem = id_problem(student)
    if problem is not None:
        raise PropgradeError(problem, hint="student ids are the names of the submission folders")
    return out / student


def feedback_href(student: str) -> str:
    """The relative URL of a student's page from ``OUT/report.html``.

    Every character but unreserved ones is percent-encoded, so ``#``, ``?``, ``:`` or ``%``
    in a folder name can neither cut the path short nor turn it into a ``javascript:`` URL.
    """
    return f"{quote(url_path(student), safe='')}/{FEEDBACK_NAME}"
