"""Grading an nbgrader course: ``submitted/`` in, gradebook scores and feedback out.

The pipeline, in the order the steps run:

1. take in every ``submitted/<student>/<assignment>/``: its graded file (nested or not)
   or, failing that, a module synthesized from its notebook (``intake.py``);
2. grade all of them with the engine (``batch.grade_batch``, parallel with ``jobs``);
3. in this process only (SQLite has one writer), record every check as an autograded
   grade cell of one gradebook notebook, the submission time and the late penalty, so
   ``nbgrader export`` and formgrader show the scores;
4. write ``feedback/<student>/<assignment>/<notebook>.html`` with the files
   ``nbgrader release_feedback`` reads beside it.

nbgrader is imported lazily: propgrade does not need it unless a course uses it.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from propgrade.batch import Progress, Submission, grade_batch
from propgrade.config import CONFIG_NAME, AssignmentConfig, find_course_config, load_course
from propgrade.engine import Plan, prepare
from propgrade.errors import PropgradeError
from propgrade.export import atomic_write_text, format_points, write_record, write_results_json
from propgrade.intake import problem_result, take_in
from propgrade.late import TIMESTAMP_NAME, Lateness, TimestampError, assess, read_timestamp
from propgrade.lms import write_lms_csv
from propgrade.locate import SubmissionProblem
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import RELEASED
from propgrade.results import SubmissionResult
from propgrade.sandbox import Layer

SECRET_NAME = "submission_secret.txt"  # written by nbgrader's submit, read by release_feedback
DEFAULT_COURSE_ID = "default_course"  # nbgrader's default
NBGRADER_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


class NbgraderError(PropgradeError):
    """The nbgrader course cannot be graded (layout, gradebook, nbgrader missing)."""


@dataclass
class StudentGrade:
    student: str
    result: SubmissionResult
    lateness: Lateness
    feedback: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def penalty(self) -> float:
        return self.lateness.penalty(self.result.score)

    @property
    def final_score(self) -> float:
        return max(self.result.score - self.penalty, 0.0)


@dataclass
class CourseReport:
    assignment: str
    notebook: str
    db_url: str
    out: Path
    students: list[StudentGrade]
    warnings: list[str] = field(default_factory=list)


def nbgrader_api() -> Any:
    """``nbgrader.api``, or a clear error when nbgrader is not installed."""
    try:
        return importlib.import_module("nbgrader.api")
    except ImportError:
        raise NbgraderError(
            "grading an nbgrader course needs nbgrader, which is not installed",
            hint="pip install 'nbgrader>=0.9,<0.10'",
        ) from None


def _assignment(course_dir: Path, name: str, config: Path | None) -> AssignmentConfig:
    path = config or (
        course_dir / CONFIG_NAME
        if (course_dir / CONFIG_NAME).is_file()
        else find_course_config(Path.cwd())
    )
    if path is None:
        raise NbgraderError(
            f"no {CONFIG_NAME} in {course_dir}, in {Path.cwd()} or its parents",
            hint=f"pass the course file with --config path/to/{CONFIG_NAME}",
        )
    return load_course(path).assignment(name)


def _submissions(course_dir: Path, nb_assignment: str) -> list[tuple[str, Path]]:
    submitted = course_dir / "submitted"
    if not submitted.is_dir():
        raise NbgraderError(
            f"{submitted}: not found; is {course_dir} an nbgrader course directory?",
            hint="run `nbgrader collect` first, or pass the folder that holds submitted/",
        )
    found = [
        (p.name, p / nb_assignment)
        for p in sorted(submitted.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / nb_assignment).is_dir()
    ]
    if not found:
        raise NbgraderError(f"{submitted}: no student has submitted {nb_assignment!r}")
    return found


def _naive_utc(value: datetime | None) -> datetime | None:
    # nbgrader stores naive UTC datetimes.
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def grade_nbgrader_course(
    course_dir: Path,
    assignment_name: str,
    *,
    config: Path | None = None,
    nbgrader_assignment: str | None = None,
    notebook: str | None = None,
    db_url: str | None = None,
    course_id: str = DEFAULT_COURSE_ID,
    out: Path | None = None,
    jobs: int = 1,
    resume: bool = True,
    layer: Layer | None = None,
    progress: Progress | None = None,
) -> CourseReport:
    """Grade every submission of an nbgrader course and record it in its gradebook.

    ``assignment_name`` names the assignment in grading.yaml (``config``, by default the
    course directory's or the nearest one); ``nbgrader_assignment`` its nbgrader name
    if that differs. Checks become grade cells of the gradebook notebook ``notebook``
    (default: the graded file's stem, e.g. ``losses``). ``out`` (default
    ``<course>/propgrade/<assignment>``) receives results.json per student and the
    LMS CSV.
    """
    course_dir = course_dir.resolve()
    assignment = _assignment(course_dir, assignment_name, config)
    nb_assignment = nbgrader_assignment or assignment.name
    notebook = notebook or Path(assignment.graded_file).stem
    db_url = db_url or f"sqlite:///{course_dir / 'gradebook.db'}"
    out = (out or course_dir / "propgrade" / nb_assignment).resolve()
    api = nbgrader_api()  # fail before grading, not after
    submissions = _submissions(course_dir, nb_assignment)
    plan = prepare(assignment, layer=layer)
    warnings: list[str] = []
    students = _grade(plan, submissions, out, jobs, resume, progress, warnings)
    _write_gradebook(api, db_url, course_id, nb_assignment, notebook, plan, students)
    for grade, (_, folder) in zip(students, submissions, strict=True):
        grade.feedback = _write_feedback(course_dir, nb_assignment, notebook, folder, grade)
        if not (folder / SECRET_NAME).is_file():
            warnings.append(
                f"{grade.student}: no {SECRET_NAME} in the submission (nbgrader collect "
                "copies it); `nbgrader release_feedback` cannot release this feedback"
            )
    write_lms_csv(
        out,
        [(g.result, g.lateness) for g in students],
        [c.id for c in plan.checks],
        with_late_columns=assignment.due is not None,
    )
    return CourseReport(nb_assignment, notebook, db_url, out, students, warnings)


def _grade(
    plan: Plan,
    submissions: Sequence[tuple[str, Path]],
    out: Path,
    jobs: int,
    resume: bool,
    progress: Progress | None,
    warnings: list[str],
) -> list[StudentGrade]:
    graded_file = plan.assignment.graded_file
    problems: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="propgrade-nbgrader-") as tmp:
        staged = []
        for student, folder in submissions:
            scratch = Path(tmp) / student
            scratch.mkdir()
            try:
                intake = take_in(folder, graded_file, scratch)
                notes[student] = intake.notes
            except SubmissionProblem as exc:
                # Left empty: the engine scores it 0; the precise reason replaces its own.
                problems[student] = exc.message
            staged.append(Submission(student, scratch))
        report = grade_batch(plan, staged, out, jobs=jobs, resume=resume, progress=progress)
    by_student = {r.student: r for r in report.results}
    grades = []
    for student, folder in submissions:
        result = by_student[student]
        if student in problems:
            result = problem_result(plan, student, problems[student])
            write_results_json(out, result)
            write_record(out, result)
        try:
            submitted = read_timestamp(folder)
        except TimestampError as exc:
            warnings.append(f"{student}: {exc.message}; no late penalty applied")
            submitted = None
        lateness = assess(submitted, plan.assignment.due, plan.assignment.late_policy)
        grades.append(StudentGrade(student, result, lateness, notes=notes.get(student, [])))
    return grades


def _write_gradebook(
    api: Any,
    db_url: str,
    course_id: str,
    nb_assignment: str,
    notebook: str,
    plan: Plan,
    students: Sequence[StudentGrade],
) -> None:
    due = _naive_utc(plan.assignment.due)
    with api.Gradebook(db_url, course_id=course_id) as gb:
        # Only an explicit due date replaces the one nbgrader may already hold.
        gb.update_or_create_assignment(nb_assignment, **({"duedate": due} if due else {}))
        gb.update_or_create_notebook(notebook, nb_assignment)
        # Every grade cell exists before any submission is created: nbgrader gives a new
        # submission one Grade row per cell that exists at that moment.
        cells = {
            c.id: gb.update_or_create_grade_cell(
                c.id,
                notebook,
                nb_assignment,
                max_score=plan.assignment.check(c.id).points,
                cell_type="code",
            )
            for c in plan.checks
        }
        for grade in students:
            gb.update_or_create_student(grade.student)
            timestamp = _naive_utc(grade.lateness.submitted)
            submission = gb.update_or_create_submission(
                nb_assignment, grade.student, **({"timestamp": timestamp} if timestamp else {})
            )
            submitted_nb = _submitted_notebook(api, gb, submission, notebook, nb_assignment)
            have = {g.cell_id for g in submitted_nb.grades}
            for cell in cells.values():
                # A submission created before these cells existed (an earlier run, or
                # nbgrader's own autograde) lacks their Grade rows.
                if cell.id not in have:
                    gb.db.add(api.Grade(cell_id=cell.id, notebook=submitted_nb))
            gb.db.commit()
            for check in grade.result.checks:
                row = gb.find_grade(check.id, notebook, nb_assignment, grade.student)
                row.auto_score = check.points
                row.needs_manual_grade = False
            submitted_nb.late_submission_penalty = grade.penalty
            gb.db.commit()


def _submitted_notebook(api: Any, gb: Any, submission: Any, notebook: str, assignment: str) -> Any:
    try:
        return gb.find_submission_notebook(notebook, assignment, submission.student.id)
    except api.MissingEntry:
        # The submission predates this notebook in the gradebook.
        master = gb.find_notebook(notebook, assignment)
        created = api.SubmittedNotebook(notebook=master, assignment=submission)
        gb.db.add(created)
        gb.db.commit()
        return created


def _write_feedback(
    course_dir: Path, nb_assignment: str, notebook: str, submitted: Path, grade: StudentGrade
) -> Path:
    folder = course_dir / "feedback" / grade.student / nb_assignment
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{notebook}.html"
    raw = grade.result.score
    lateness = [
        f"Submission: {grade.lateness.describe()}. Late penalty: "
        f"−{format_points(grade.penalty)}; score after the penalty: "
        f"{format_points(grade.final_score)} / {format_points(grade.result.max_score)} "
        f"(checks: {format_points(raw)})."
    ]
    atomic_write_text(
        page, render_student_page(grade.result, audience=RELEASED, notes=lateness + grade.notes)
    )
    # release_feedback reads both files beside the page: the time for its log, the
    # secret to name the released file so only the submitting student can fetch it.
    stamp = submitted / TIMESTAMP_NAME
    if stamp.is_file():
        shutil.copyfile(stamp, folder / TIMESTAMP_NAME)
    else:
        now = datetime.now(UTC).strftime(NBGRADER_TIMESTAMP_FORMAT)
        atomic_write_text(folder / TIMESTAMP_NAME, now)
    secret = submitted / SECRET_NAME
    if secret.is_file():
        shutil.copyfile(secret, folder / SECRET_NAME)
    return page
