"""What propgrade reads from and writes to an nbgrader course's gradebook.

One ``GradebookTarget`` names where the checks' scores go (the database, the course id,
the assignment and the notebook whose grade cells they become); every step takes it
whole. All writes happen in the grading process only: SQLite has one writer.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from propgrade.engine.grading import Plan
from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing, Written, standing_of
from propgrade.intake.late import Lateness
from propgrade.integrations.nbgrader_layout import NbgraderError, nbgrader_module
from propgrade.integrations.nbgrader_notebook import NotebookNode, record_manual_cells


@dataclass
class StudentGrade:
    student: str
    result: SubmissionResult
    lateness: Lateness
    feedback: Path | None = None
    notes: list[str] = field(default_factory=list)  # shown to the student
    written: Written | None = None  # nbgrader's own grade cells, as graded so far
    unchanged: bool = False  # kept from an earlier run, not graded again
    moved: bool = False  # submitted anew, or its check scores changed, in this run

    @property
    def standing(self) -> Standing:
        return standing_of(self.result, self.lateness, self.written)

    @property
    def penalty(self) -> float:
        return self.standing.penalty


@dataclass(frozen=True)
class GradebookTarget:
    """Where the checks' scores go: ``notebook`` of ``assignment`` in the course
    ``course_id`` of the gradebook ``db_url``."""

    db_url: str
    course_id: str
    assignment: str
    notebook: str
    notebooks: tuple[str, ...] = ()  # all of the assignment's notebooks in the gradebook

    @property
    def api(self) -> Any:
        return nbgrader_module("api")

    @contextmanager
    def open(self) -> Iterator[Any]:
        with self.api.Gradebook(self.db_url, course_id=self.course_id) as gb:
            yield gb


def sqlite_file(db_url: str) -> Path | None:
    """The file of a SQLite gradebook, None for other databases and in-memory ones."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


def require_gradebook(db_url: str, root: Path, assignment: str) -> None:
    """Refuse a gradebook that does not exist yet: opening it would make an empty one."""
    path = sqlite_file(db_url)
    if path is not None and not path.is_file():
        raise NbgraderError(
            f"the gradebook {path} does not exist, so nbgrader never generated {assignment!r} "
            "with it; grading into a new, empty gradebook would hide every grade",
            hint=f"run `nbgrader generate_assignment {assignment}` in {root} (check "
            "CourseDirectory.db_url in its nbgrader_config.py)",
        )


def require_records(target: GradebookTarget, root: Path) -> tuple[str, ...]:
    """Refuse a gradebook without the assignment and notebook that nbgrader generated.

    Their grade cells tell nbgrader's preprocessors what the written answers are; without
    them every notebook fails nbgrader's validation and loses its answers. Returns the
    names of all the assignment's notebooks.
    """
    api = target.api
    redo = f"run `nbgrader generate_assignment {target.assignment}` in {root}"
    with target.open() as gb:
        try:
            found = gb.find_assignment(target.assignment)
        except api.MissingEntry:
            raise NbgraderError(
                f"the gradebook {target.db_url} has no assignment {target.assignment!r}",
                hint=f"{redo}, or check CourseDirectory.db_url in its nbgrader_config.py",
            ) from None
        try:
            gb.find_notebook(target.notebook, target.assignment)
        except api.MissingEntry:
            raise NbgraderError(
                f"the gradebook {target.db_url} has no notebook {target.notebook!r} in "
                f"assignment {target.assignment!r}",
                hint=f"{redo} with {target.notebook}.ipynb in its source folder, or pass "
                "--notebook with one the students submit",
            ) from None
        return tuple(sorted(nb.name for nb in found.notebooks))


def _naive_utc(value: datetime | None) -> datetime | None:
    # nbgrader stores naive UTC datetimes.
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def write_checks(target: GradebookTarget, plan: Plan, students: Sequence[StudentGrade]) -> set[str]:
    """Record the checks' scores; returns the students whose grade a grader should look
    at again: those who submitted anew or whose check scores changed."""
    api, nb_assignment, notebook = target.api, target.assignment, target.notebook
    due = _naive_utc(plan.assignment.due)
    changed = set()
    with target.open() as gb:
        # Only an explicit due date replaces the one nbgrader may already hold.
        gb.update_or_create_assignment(nb_assignment, **({"duedate": due} if due else {}))
        # Every grade cell exists before any submission is created: nbgrader gives a new
        # submission one Grade row per cell that exists at that moment.
        # Their keys, read once: every commit expires the objects, and reading an
        # attribute of an expired one is a query.
        cell_keys = {
            c.id: gb.update_or_create_grade_cell(
                c.id,
                notebook,
                nb_assignment,
                max_score=plan.assignment.check(c.id).points,
                cell_type="code",
            ).id
            for c in plan.checks
        }
        for grade in students:
            gb.update_or_create_student(grade.student)
            timestamp = _naive_utc(grade.lateness.submitted)
            before = _stored_timestamp(target, gb, grade.student)
            with warnings.catch_warnings():
                # nbgrader's own submission code trips SQLAlchemy's autoflush warnings;
                # they say nothing about this course and would reach the terminal.
                warnings.filterwarnings("ignore", module=r"nbgrader\.api")
                submission = gb.update_or_create_submission(
                    nb_assignment, grade.student, **({"timestamp": timestamp} if timestamp else {})
                )
            submitted_nb = _submitted_notebook(target, gb, submission)
            have = {g.cell_id for g in submitted_nb.grades}
            for key in cell_keys.values():
                # A submission created before these cells existed (an earlier run, or
                # nbgrader's own autograde) lacks their Grade rows.
                if key not in have:
                    gb.db.add(api.Grade(cell_id=key, notebook=submitted_nb))
            gb.db.commit()
            # One lookup per submission, not one query per check.
            rows = {g.cell_id: g for g in submitted_nb.grades}
            scores = {rows[cell_keys[c.id]]: float(c.points) for c in grade.result.checks}
            resubmitted = timestamp is not None and before != timestamp
            if resubmitted or any(row.auto_score != p for row, p in scores.items()):
                changed.add(grade.student)
            for row, points in scores.items():
                row.auto_score = points
                # As nbgrader's autograde does: a score a grader set by hand is kept (it
                # wins over the automatic one) and flagged for review, but only when this
                # submission's grade moved: a regrade of others must not undo reviews.
                if grade.student in changed:
                    row.needs_manual_grade = row.manual_score is not None
            gb.db.commit()
    return changed


def _stored_timestamp(target: GradebookTarget, gb: Any, student: str) -> datetime | None:
    try:
        stored: datetime | None = gb.find_submission(target.assignment, student).timestamp
    except target.api.MissingEntry:
        return None
    return stored


def _submitted_notebook(target: GradebookTarget, gb: Any, submission: Any) -> Any:
    api = target.api
    try:
        return gb.find_submission_notebook(
            target.notebook, target.assignment, submission.student.id
        )
    except api.MissingEntry:
        # The submission predates this notebook in the gradebook.
        master = gb.find_notebook(target.notebook, target.assignment)
        created = api.SubmittedNotebook(notebook=master, assignment=submission)
        gb.db.add(created)
        gb.db.commit()
        return created


def record_written_answers(
    target: GradebookTarget,
    graded: Sequence[StudentGrade],
    copies: Sequence[tuple[NotebookNode, str, list[str]]],
    check_ids: Sequence[str],
    changed: Collection[str],
    warnings: list[str],
) -> None:
    """nbgrader's own cells of every student's notebook, as ``nbgrader autograde`` would
    record them; a notebook that cannot be recorded is one warning, not the class's."""
    unrun: set[str] = set()
    with target.open() as gb:
        for grade, (nb, _, _) in zip(graded, copies, strict=True):
            try:
                unrun.update(
                    record_manual_cells(
                        gb,
                        nb,
                        target.notebook,
                        target.assignment,
                        grade.student,
                        check_ids,
                        review=grade.student in changed,
                    )
                )
            except target.api.InvalidEntry:
                raise  # the database failed, not this notebook: see gradebook_errors
            # One odd notebook must not cost the class its files.
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                gb.db.rollback()
                warnings.append(
                    f"{grade.student}: written answers not recorded ({type(exc).__name__}: "
                    f"{exc}); grade them in formgrader"
                )
    if unrun:
        warnings.append(
            f"{target.notebook}.ipynb has nbgrader autograder test cells "
            f"({', '.join(sorted(unrun))}); propgrade never runs notebooks: run "
            "`nbgrader autograde` for them before `propgrade grade`, which keeps their "
            "scores and outputs"
        )


def read_written(
    target: GradebookTarget, students: Sequence[StudentGrade], check_ids: Collection[str]
) -> None:
    """Every student's written answers (nbgrader's own grade cells), as graded so far."""
    with target.open() as gb:
        for grade in students:
            try:
                submission = gb.find_submission(target.assignment, grade.student)
            except target.api.MissingEntry:
                continue
            grade.written = _written(submission, target.notebook, check_ids)


def _written(submission: Any, notebook: str, check_ids: Collection[str]) -> Written:
    score = maximum = adjustment = 0.0
    ungraded = 0
    for nb in submission.notebooks:
        for row in nb.grades:
            if nb.name == notebook and row.name in check_ids:
                # A grader's score on a check cell counts in nbgrader's total: here too.
                adjustment += float(row.score or 0.0) - float(row.auto_score or 0.0)
                continue
            maximum += float(row.max_score or 0.0)
            if row.manual_score is None and row.auto_score is None:
                ungraded += 1
            score += float(row.score or 0.0)
    return Written(score, maximum, ungraded, round(adjustment, 6))


def record_penalties(target: GradebookTarget, students: Sequence[StudentGrade]) -> None:
    """nbgrader's late penalty, the same as grades.csv's: a share of the whole raw score."""
    with target.open() as gb:
        for grade in students:
            found = gb.find_submission_notebook(target.notebook, target.assignment, grade.student)
            found.late_submission_penalty = grade.penalty
        gb.db.commit()
