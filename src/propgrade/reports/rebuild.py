"""Rebuilding every page of an output folder from the stored records, without grading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing, read_standing
from propgrade.errors import PropgradeError
from propgrade.export import RECORD_NAME, read_record
from propgrade.reports.class_report import write_class_report
from propgrade.reports.student_page import write_student_page
from propgrade.reports.visibility import STUDENT, check_audience


@dataclass(frozen=True)
class ReportPaths:
    report: Path  # OUT/report.html
    students: dict[str, Path]  # student id -> OUT/<student>/feedback.html
    unreadable: list[Path]  # records that exist but could not be read (skipped)


def _stored(out: Path) -> tuple[list[SubmissionResult], list[Path]]:
    records = sorted(out.glob(f"*/{RECORD_NAME}")) if out.is_dir() else []
    results, unreadable = [], []
    for record in records:
        result = read_record(out, record.parent.name)
        if result is None:
            unreadable.append(record)
        else:
            results.append(result)
    return results, unreadable


def _standings(out: Path, results: list[SubmissionResult]) -> dict[str, Standing]:
    # The numbers the grading run stored (late penalty, written answers), if still current.
    return {r.student: s for r in results if (s := read_standing(out, r)) is not None}


def rebuild_reports(out: Path, *, audience: str = STUDENT, sandbox: str = "") -> ReportPaths:
    """Read every ``OUT/*/propgrade.json`` and write every student page and the class report."""
    check_audience(audience)
    results, unreadable = _stored(out)
    if not results:
        found = f"{len(unreadable)} unreadable {RECORD_NAME} files" if unreadable else "none"
        raise PropgradeError(
            f"{out}: no grading records (OUT/<student>/{RECORD_NAME}) to build reports from "
            f"(found {found})",
            hint="pass the --out folder of a `propgrade grade` run, or grade first: "
            "propgrade grade SUBMISSIONS --assignment NAME --out OUT",
        )
    standings = _standings(out, results)
    students = {
        r.student: write_student_page(out, r, audience=audience, standing=standings.get(r.student))
        for r in results
    }
    report = write_class_report(out, results, sandbox=sandbox, standings=standings)
    return ReportPaths(report, students, unreadable)


def rebuild_class_report(out: Path) -> Path | None:
    """Write ``OUT/report.html`` again from the stored records, and nothing else (student
    pages stay as they are): how a similarity report written later gets its link. None
    when ``out`` holds no readable record."""
    results, _ = _stored(out)
    if not results:
        return None
    return write_class_report(out, results, standings=_standings(out, results))
