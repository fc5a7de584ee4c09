"""Grading an nbgrader course: ``submitted/`` in, gradebook scores and feedback out.

The pipeline, in the order the steps run:

1. take in every ``submitted/<student>/<assignment>/``: its graded file (nested or not)
   or, failing that, a module synthesized from its notebook (``intake/submission.py``);
2. grade all of them with the engine (``batch.grade_batch``, parallel with ``jobs``);
3. in this process only (SQLite has one writer), record every check as an autograded
   grade cell of the assignment's notebook, the submission time and the late penalty, so
   ``nbgrader export`` and formgrader show the scores beside the written answers;
4. write ``autograded/<student>/<assignment>/<notebook>.ipynb``, the student's notebook
   plus one cell per check (``nbgrader_notebook.py``), which formgrader shows and
   ``nbgrader generate_feedback`` renders;
5. write ``feedback/<student>/<assignment>/<notebook>.html`` with the files
   ``nbgrader release_feedback`` reads beside it. The checks belong to the notebook the
   student submits, because ``nbgrader fetch_feedback`` only fetches pages named after
   the notebooks in the student's own submission.

nbgrader is imported lazily: propgrade does not need it unless a course uses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from propgrade.batch import BatchReport, Progress, Submission, grade_batch
from propgrade.config import CONFIG_NAME, AssignmentConfig, find_course_config, load_course
from propgrade.engine.grading import Plan, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing, Written, read_standing, standing_of, write_standing
from propgrade.export import write_results_json
from propgrade.intake.late import Lateness, lateness_of
from propgrade.intake.student_ids import readable
from propgrade.integrations.lms import write_lms_csv
from propgrade.integrations.nbgrader_feedback import SECRET_NAME, PageFate, PageOutcome, write_page
from propgrade.integrations.nbgrader_layout import (
    CourseLayout,
    NbgraderError,
    gradebook_errors,
    nbgrader_module,
    read_layout,
)
from propgrade.integrations.nbgrader_notebook import (
    NotebookNode,
    Sources,
    base_notebooks,
    record_manual_cells,
    with_checks,
    write_autograded,
)
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import RELEASED
from propgrade.sandbox.layers import Layer


@dataclass
class StudentGrade:
    student: str
    result: SubmissionResult
    lateness: Lateness
    feedback: Path | None = None
    notes: list[str] = field(default_factory=list)  # shown to the student
    written: Written | None = None  # nbgrader's own grade cells, as graded so far
    unchanged: bool = False  # kept from an earlier run, not graded again

    @property
    def standing(self) -> Standing:
        return standing_of(self.result, self.lateness, self.written)

    @property
    def penalty(self) -> float:
        return self.standing.penalty

    @property
    def final_score(self) -> float:
        return self.standing.final


@dataclass
class CourseReport:
    assignment: str
    notebook: str
    db_url: str
    out: Path
    students: list[StudentGrade]
    warnings: list[str] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)  # graded again next run
    sandbox: str = ""
    left_alone: list[str] = field(default_factory=list)  # not asked for (``only``)
    pages: list[PageOutcome] = field(default_factory=list)
    due: datetime | None = None


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


def _submissions(
    layout: CourseLayout, nb_assignment: str, warnings: list[str]
) -> list[tuple[str, Path]]:
    found = []
    for student, folder in layout.students("submitted", nb_assignment):
        if readable(student) != student:
            # nbgrader's gradebook (SQLite text) and its exchange cannot hold such an id.
            warnings.append(
                f"{readable(student)}: the student folder's name is not UTF-8; not graded "
                "(rename it to the student's nbgrader id)"
            )
            continue
        found.append((student, folder))
    if not found:
        where = layout.folder("submitted", "*", nb_assignment)
        if not where.parent.parent.is_dir():
            raise NbgraderError(
                f"{where.parent.parent}: not found; is {layout.root} an nbgrader course directory?",
                hint="run `nbgrader collect` first, or pass the folder that holds submitted/",
            )
        raise NbgraderError(f"{where}: no student has submitted {nb_assignment!r}")
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
    course_id: str | None = None,
    out: Path | None = None,
    jobs: int = 1,
    resume: bool = True,
    layer: Layer | None = None,
    progress: Progress | None = None,
    step: Callable[[str], None] | None = None,
    only: Sequence[str] | None = None,
    force_feedback: bool = False,
) -> CourseReport:
    """Grade every submission of an nbgrader course and record it in its gradebook.

    ``assignment_name`` names the assignment in grading.yaml (``config``, by default the
    course directory's or the nearest one); ``nbgrader_assignment`` its nbgrader name
    if that differs. Checks become grade cells of the gradebook notebook ``notebook``
    (default: the assignment's only notebook, see ``resolve_notebook``). ``out``
    (default ``<course>/propgrade/<assignment>``) receives results.json per student and
    the LMS CSV. The course id, the gradebook and the folders are those of the course's
    ``nbgrader_config.py``; ``course_id`` and ``db_url`` override it. ``step`` hears
    what the work after grading is doing, which takes a while on a large class.

    ``only`` grades just those students: everyone else's gradebook rows, autograded
    notebooks and feedback pages are left alone (grades.csv still lists them). A
    feedback page propgrade did not write (``nbgrader generate_feedback``'s) is kept,
    and listed in ``CourseReport.pages``, unless ``force_feedback``.
    """
    tell = step or (lambda _: None)
    course_dir = course_dir.resolve()
    assignment = _assignment(course_dir, assignment_name, config)
    nb_assignment = nbgrader_assignment or assignment.name
    out = (out or course_dir / "propgrade" / nb_assignment).resolve()
    api = nbgrader_module("api")  # fail before grading, not after
    layout = read_layout(course_dir, course_id=course_id, db_url=db_url)
    db_url, course_id = layout.db_url, layout.course_id
    warnings: list[str] = []
    submissions = _submissions(layout, nb_assignment, warnings)
    with gradebook_errors(db_url):
        notebook = notebook or resolve_notebook(api, layout, nb_assignment, assignment.graded_file)
    plan = prepare(assignment, layer=layer)
    staged = [Submission(student, folder) for student, folder in submissions]
    batch = grade_batch(plan, staged, out, jobs=jobs, resume=resume, progress=progress, only=only)
    students = _student_grades(plan, submissions, batch, out, warnings)
    # A submission that broke the grader is not recorded anywhere a student looks: its 0
    # would be the grader's fault. The next run grades it again.
    failed = batch.internal_errors
    skipped = set(failed) | set(batch.left_alone)
    folders = dict(submissions)
    pairs = [(g, folders[g.student]) for g in students if g.student not in skipped]
    graded = [grade for grade, _ in pairs]
    count = f"{len(graded)} submission{'' if len(graded) == 1 else 's'}"
    tell(f"recording {count} in the gradebook")
    with gradebook_errors(db_url):
        changed = _write_gradebook(api, db_url, course_id, nb_assignment, notebook, plan, graded)
    check_ids = [c.id for c in plan.checks]
    sources = [
        _sources(layout, nb_assignment, notebook, folder, grade.student, plan.limits.file_bytes)
        for grade, folder in pairs
    ]
    tell(f"writing the autograded notebooks and feedback pages of {count}")
    copies = base_notebooks(sources, check_ids, jobs)
    for grade, (_, _, said) in zip(graded, copies, strict=True):
        # nbgrader's warnings name tampered cells (a locked cell edited, points changed):
        # the instructor's business, not the student's page.
        warnings.extend(f"{grade.student}: {message}" for message in said)
    with gradebook_errors(db_url):
        _record_written_answers(
            api,
            db_url,
            course_id,
            nb_assignment,
            notebook,
            graded,
            copies,
            check_ids,
            changed,
            warnings,
        )
        _read_written(api, db_url, course_id, nb_assignment, notebook, graded, check_ids)
        _record_penalties(api, db_url, course_id, nb_assignment, notebook, graded)
    for grade in graded:
        write_results_json(out, grade.result, grade.standing)
        write_standing(out, grade.standing)
    pages = _write_student_files(
        layout, nb_assignment, notebook, pairs, copies, force_feedback, warnings
    )
    _warn_about_pages(pages, graded, warnings)
    write_lms_csv(
        out,
        [(g.result, g.standing) for g in students],
        check_ids,
        with_late_columns=True,
    )
    sandbox = plan.layer.describe() if plan.layer else ""
    return CourseReport(
        nb_assignment,
        notebook,
        db_url,
        out,
        students,
        warnings,
        failed,
        sandbox,
        batch.left_alone,
        pages,
        assignment.due,
    )


def _student_grades(
    plan: Plan,
    submissions: Sequence[tuple[str, Path]],
    batch: BatchReport,
    out: Path,
    warnings: list[str],
) -> list[StudentGrade]:
    """Everyone's grade with a result, in the order of ``submissions``. A student left
    alone (``only``) keeps the numbers of the run that graded them."""
    by_student = {r.student: r for r in batch.results}
    grades = []
    for student, folder in submissions:
        result = by_student.get(student)
        if result is None:
            continue  # left alone and never graded
        unchanged = student in batch.unchanged
        stored = read_standing(out, result) if student in batch.left_alone else None
        if stored is not None:
            # The page shows the intake's notes itself (result.meta), after any error.
            grade = StudentGrade(student, result, stored.lateness)
            grade.written = stored.written
            grades.append(grade)
            continue
        lateness, said = lateness_of(folder, plan.assignment.due, plan.assignment.late_policy)
        if said is not None and student not in batch.left_alone:
            warnings.append(f"{student}: {said}")
        grades.append(StudentGrade(student, result, lateness, unchanged=unchanged))
    return grades


def _warn_about_pages(
    pages: Sequence[PageOutcome], graded: Sequence[StudentGrade], warnings: list[str]
) -> None:
    """Name every page kept or replaced: they hold (or held) an instructor's work."""
    kept = [
        f"{outcome.page}{'' if grade.unchanged else ' (graded again: out of date)'}"
        for outcome, grade in zip(pages, graded, strict=True)
        if outcome.fate is PageFate.KEPT
    ]
    if kept:
        stale = any(name.endswith("out of date)") for name in kept)
        redo = "run `nbgrader generate_feedback --force` for those out of date, or "
        redo = redo if stale else ""
        warnings.append(
            f"kept {len(kept)} feedback page(s) that propgrade did not write (nbgrader "
            f"generate_feedback's, with hand scores and comments): {', '.join(kept)}; "
            f"{redo}pass --force-feedback to replace them with propgrade's pages"
        )
    replaced = [str(o.page) for o in pages if o.fate is PageFate.REPLACED]
    if replaced:
        warnings.append(
            f"--force-feedback: replaced {len(replaced)} feedback page(s) that propgrade "
            f"did not write: {', '.join(replaced)}"
        )


def _record_written_answers(
    api: Any,
    db_url: str,
    course_id: str,
    nb_assignment: str,
    notebook: str,
    graded: Sequence[StudentGrade],
    copies: Sequence[tuple[NotebookNode, str, list[str]]],
    check_ids: Sequence[str],
    changed: Collection[str],
    warnings: list[str],
) -> None:
    unrun: set[str] = set()
    with api.Gradebook(db_url, course_id=course_id) as gb:
        for grade, (nb, _, _) in zip(graded, copies, strict=True):
            try:
                unrun.update(
                    record_manual_cells(
                        gb,
                        nb,
                        notebook,
                        nb_assignment,
                        grade.student,
                        check_ids,
                        review=grade.student in changed,
                    )
                )
            except api.InvalidEntry:
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
            f"{notebook}.ipynb has nbgrader autograder test cells ({', '.join(sorted(unrun))}); "
            "propgrade never runs notebooks: run `nbgrader autograde` for them before "
            "`propgrade grade`, which keeps their scores and outputs"
        )


def _write_student_files(
    layout: CourseLayout,
    nb_assignment: str,
    notebook: str,
    pairs: Sequence[tuple[StudentGrade, Path]],
    copies: Sequence[tuple[NotebookNode, str, list[str]]],
    force_feedback: bool,
    warnings: list[str],
) -> list[PageOutcome]:
    """``autograded/`` and ``feedback/`` for every graded student."""
    pages = []
    for (grade, folder), (nb, origin, _) in zip(pairs, copies, strict=True):
        autograded = layout.folder("autograded", grade.student, nb_assignment)
        write_autograded(with_checks(nb, grade.result), folder, autograded, notebook, layout.ignore)
        if origin == "released":
            handed_in = (folder / f"{notebook}.ipynb").is_file()
            why = "could not be read as a notebook" if handed_in else "was not submitted"
            grade.notes.append(f"{notebook}.ipynb {why}: its written answers count as unanswered.")
        html = render_student_page(
            grade.result, audience=RELEASED, notes=grade.notes, standing=grade.standing
        )
        feedback = layout.folder("feedback", grade.student, nb_assignment)
        outcome = write_page(feedback, notebook, html, folder, force=force_feedback)
        grade.feedback = outcome.page
        pages.append(outcome)
        if not (folder / SECRET_NAME).is_file():
            warnings.append(
                f"{grade.student}: no {SECRET_NAME} in the submission (nbgrader collect "
                "copies it); `nbgrader release_feedback` cannot release this feedback"
            )
    return pages


def resolve_notebook(api: Any, layout: CourseLayout, assignment: str, graded_file: str) -> str:
    """The nbgrader notebook that carries the checks when ``--notebook`` is not given.

    It must be a notebook the students submit: ``nbgrader fetch_feedback`` delivers only
    pages named after those. So: the assignment's one notebook in the gradebook, else
    the one notebook in ``source/`` or ``release/``, else the graded file's stem.
    """
    with api.Gradebook(layout.db_url, course_id=layout.course_id) as gb:
        try:
            names = sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
        except api.MissingEntry:
            names = []
    if not names:
        for folder in (
            layout.folder("source", ".", assignment),
            layout.folder("release", ".", assignment),
        ):
            names = sorted(p.stem for p in folder.glob("*.ipynb"))
            if names:
                break
    if len(names) > 1:
        raise NbgraderError(
            f"assignment {assignment!r} has several notebooks ({', '.join(names)}); "
            "propgrade does not know which one should carry its checks",
            hint="pass --notebook NAME, one the students submit (its feedback page is "
            "named after it)",
        )
    return names[0] if names else Path(graded_file).stem


def _sources(
    layout: CourseLayout,
    nb_assignment: str,
    notebook: str,
    submitted: Path,
    student: str,
    max_bytes: int,
) -> Sources:
    return Sources(
        notebook,
        nb_assignment,
        student,
        layout.db_url,
        submitted,
        layout.folder("autograded", student, nb_assignment),
        layout.folder("release", ".", nb_assignment),
        max_bytes,
    )


def _write_gradebook(
    api: Any,
    db_url: str,
    course_id: str,
    nb_assignment: str,
    notebook: str,
    plan: Plan,
    students: Sequence[StudentGrade],
) -> set[str]:
    """Record the checks' scores; returns the students whose grade a grader should look
    at again: those who submitted anew or whose check scores changed."""
    due = _naive_utc(plan.assignment.due)
    changed = set()
    with api.Gradebook(db_url, course_id=course_id) as gb:
        # Only an explicit due date replaces the one nbgrader may already hold.
        gb.update_or_create_assignment(nb_assignment, **({"duedate": due} if due else {}))
        gb.update_or_create_notebook(notebook, nb_assignment)
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
            before = _stored_timestamp(api, gb, nb_assignment, grade.student)
            with warnings.catch_warnings():
                # nbgrader's own submission code trips SQLAlchemy's autoflush warnings;
                # they say nothing about this course and would reach the terminal.
                warnings.filterwarnings("ignore", module=r"nbgrader\.api")
                submission = gb.update_or_create_submission(
                    nb_assignment, grade.student, **({"timestamp": timestamp} if timestamp else {})
                )
            submitted_nb = _submitted_notebook(api, gb, submission, notebook, nb_assignment)
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


def _stored_timestamp(api: Any, gb: Any, nb_assignment: str, student: str) -> datetime | None:
    try:
        stored: datetime | None = gb.find_submission(nb_assignment, student).timestamp
    except api.MissingEntry:
        return None
    return stored


def _read_written(
    api: Any,
    db_url: str,
    course_id: str,
    nb_assignment: str,
    notebook: str,
    students: Sequence[StudentGrade],
    check_ids: Collection[str],
) -> None:
    """Every student's written answers (nbgrader's own grade cells), as graded so far."""
    with api.Gradebook(db_url, course_id=course_id) as gb:
        for grade in students:
            try:
                submission = gb.find_submission(nb_assignment, grade.student)
            except api.MissingEntry:
                continue
            grade.written = _written(submission, notebook, check_ids)


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


def _record_penalties(
    api: Any,
    db_url: str,
    course_id: str,
    nb_assignment: str,
    notebook: str,
    students: Sequence[StudentGrade],
) -> None:
    """nbgrader's late penalty, the same as grades.csv's: a share of the whole raw score."""
    with api.Gradebook(db_url, course_id=course_id) as gb:
        for grade in students:
            found = gb.find_submission_notebook(notebook, nb_assignment, grade.student)
            found.late_submission_penalty = grade.penalty
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
