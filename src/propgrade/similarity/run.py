"""``propgrade similarity``: read a class, compare it, write the page and the CSV."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from propgrade.batch import discover
from propgrade.config import AssignmentConfig
from propgrade.files import atomic_write_text
from propgrade.similarity.compare import Comparison, compare
from propgrade.similarity.sources import Skipped, read_known, read_stub, read_students
from propgrade.similarity.tokens import FILE

CSV_NAME = "similarity.csv"


@dataclass(frozen=True)
class SimilarityReport:
    comparison: Comparison
    skipped: list[Skipped]
    page: Path
    csv: Path
    seconds: float
    class_report: Path | None = None  # OUT/report.html, rewritten to link the page

    @property
    def flagged(self) -> int:
        return sum(1 for p in self.comparison.pairs if p.score >= self.comparison.threshold)


def pairs_csv(comparison: Comparison) -> str:
    """One row per pair that shares any weighted fragment, strongest first; the pairs left
    out score 0."""
    functions = sorted({u for p in comparison.pairs for u in p.units} - {FILE})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["a", "b", "b_kind", "score", "strongest", "file_score", *functions])
    for p in comparison.pairs:
        b = comparison.documents[p.b]
        writer.writerow(
            [
                comparison.documents[p.a].name,
                b.name,
                b.kind,
                f"{p.score:.4f}",
                p.unit,
                f"{p.units.get(FILE, 0.0):.4f}",
                *(f"{p.units[f]:.4f}" if f in p.units else "" for f in functions),
            ]
        )
    return buffer.getvalue()


def run_similarity(
    assignment: AssignmentConfig,
    submissions: Path,
    out: Path,
    known: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> SimilarityReport:
    from propgrade.reports.rebuild import rebuild_class_report
    from propgrade.reports.similarity_page import write_similarity_page

    started = time.monotonic()
    folders = [(s.student, s.folder) for s in discover(submissions, assignment.graded_file)]
    students, skipped = read_students(folders, assignment, progress)
    sources, unread = read_known(known, assignment)
    comparison = compare([*students, *sources], read_stub(assignment), step=step)
    skipped = [*skipped, *unread]
    out.mkdir(parents=True, exist_ok=True)
    table = out / CSV_NAME
    atomic_write_text(table, pairs_csv(comparison))
    page = write_similarity_page(out, comparison, assignment.name, skipped)
    # Written into a graded output folder: its class report links the page from now on.
    class_report = rebuild_class_report(out)
    seconds = time.monotonic() - started
    return SimilarityReport(comparison, skipped, page, table, seconds, class_report)
