"""Grading an nbgrader course: ``submitted/`` in, gradebook scores and feedback out.

The pipeline, in the order the steps run:

0. find the gradebook target (``nbgrader_gradebook.GradebookTarget``): the course's
   gradebook as nbgrader run in the course folder sees it, and the notebook that carries
   the checks; a gradebook nbgrader never generated the assignment into is refused
   before anything is graded;
1. take in every ``submitted/<student>/<assignment>/``: its graded file (nested or not)
   or, failing that, a module synthesized from its notebook (``intake/submission.py``);
2. grade all of them with the engine (``batch.grade_batch``, parallel with ``jobs``);
3. in this process only (SQLite has one writer), record every check as an autograded
   grade cell of the assignment's notebook, the submission time and the late penalty, so
   ``nbgrader export`` and formgrader show the scores beside the written answers;
4. write ``autograded/<student>/<assignment>/<notebook>.ipynb``, the student's notebook
   plus one cell per check (``nbgrader_notebook.py``), which formgrader shows and
   ``nbgrader generate_feedback`` renders; notebooks that are not the assignment's stay
   in ``submitted/``, and answers with active HTML are named (``nbgrader_html.py``);
5. write ``feedback/<student>/<assignment>/<notebook>.html`` with the files
   ``nbgrader release_feedback`` reads beside it. The checks belong to the notebook the
   student submits, because ``nbgrader fetch_feedback`` only fetches pages named after
   the notebooks in the student's own submission.

nbgrader is imported lazily: propgrade does not need it unless a course uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from propgrade.batch import BatchReport, Progress, Submission, grade_batch
from propgrade.config import CONFIG_NAME, AssignmentConfig, find_course_config, load_course
from propgrade.engine.grading import Plan, prepare
from propgrade.engine.standing import read_standing, write_standing
from propgrade.export import write_results_json
from propgrade.gradebook import write_grades_csv
from propgrade.intake.late import lateness_of
from propgrade.intake.student_ids import readable
from propgrade.integrations.nbgrader_feedback import SECRET_NAME, PageFate, PageOutcome, write_page
from propgrade.integrations.nbgrader_gradebook import (
    GradebookTarget,
    StudentGrade,
    read_written,
    record_penalties,
    record_written_answers,
    require_gradebook,
    require_records,
    write_checks,
)
from propgrade.integrations.nbgrader_html import active_html
from propgrade.integrations.nbgrader_layout import (
    CourseLayout,
    NbgraderError,
    gradebook_errors,
    nbgrader_module,
    read_layout,
)
from propgrade.integrations.nbgrader_notebook import (
    MAX_NOTEBOOK_BYTES,
    NotebookNode,
    Sources,
    base_notebooks,
    released_problem,
    with_checks,
    write_autograded,
)
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import RELEASED
from propgrade.sandbox.layers import Layer


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
    layout = read_layout(course_dir, course_id=course_id, db_url=db_url)
    warnings: list[str] = []
    submissions = _submissions(layout, nb_assignment, warnings)
    target = _target(layout, nb_assignment, notebook, assignment.graded_file)
    plan = prepare(assignment, layer=layer)
    staged = [Submission(student, folder) for student, folder in submissions]
    batch = grade_batch(plan, staged, out, jobs=jobs, resume=resume, progress=progress, only=only)
    students = _student_grades(plan, submissions, batch, out, warnings)
    # A submission that broke the grader is not recorded anywhere a student looks: its 0
    # would be the grader's fault. The next run grades it again.
    skipped = set(batch.internal_errors) | set(batch.left_alone)
    folders = dict(submissions)
    pairs = [(g, folders[g.student]) for g in students if g.student not in skipped]
    copies = _record(target, layout, plan, pairs, warnings, jobs=jobs, resume=resume, tell=tell)
    for grade, _ in pairs:
        write_results_json(out, grade.result, grade.standing)
        write_standing(out, grade.standing)
    pages = _write_student_files(layout, target, pairs, copies, force_feedback, warnings)
    _warn_about_pages(pages, [g for g, _ in pairs], nb_assignment, warnings)
    check_ids = [c.id for c in plan.checks]
    rows = [(g.result, g.standing) for g in students]
    write_grades_csv(out, rows, check_ids, with_late_columns=True)
    return CourseReport(
        nb_assignment,
        target.notebook,
        target.db_url,
        out,
        students,
        warnings,
        batch.internal_errors,
        plan.layer.describe() if plan.layer else "",
        batch.left_alone,
        pages,
        assignment.due,
    )


def _target(
    layout: CourseLayout, nb_assignment: str, notebook: str | None, graded_file: str
) -> GradebookTarget:
    """The gradebook's notebook that carries the checks, refused before any grading
    when nbgrader never generated the assignment into that gradebook."""
    nbgrader_module("api")  # fail before grading, not after
    require_gradebook(layout.db_url, layout.root, nb_assignment)
    with gradebook_errors(layout.db_url):
        chosen = notebook or resolve_notebook(layout, nb_assignment, graded_file)
        target = GradebookTarget(layout.db_url, layout.course_id, nb_assignment, chosen)
        target = replace(target, notebooks=require_records(target, layout.root))
        released = _sources(layout, target, layout.root, ".", MAX_NOTEBOOK_BYTES)
        problem = released_problem(released)
    if problem is not None:
        raise NbgraderError(
            f"the released notebook does not match the gradebook {target.db_url}: {problem}",
            hint=f"run `nbgrader generate_assignment {nb_assignment} --force` and "
            f"`nbgrader release_assignment {nb_assignment}` in {layout.root} with this gradebook",
        )
    return target


def _record(
    target: GradebookTarget,
    layout: CourseLayout,
    plan: Plan,
    pairs: Sequence[tuple[StudentGrade, Path]],
    warnings: list[str],
    *,
    jobs: int,
    resume: bool,
    tell: Callable[[str], None],
) -> list[tuple[NotebookNode, str, list[str]]]:
    """Every graded student's checks, written answers and penalty in the gradebook;
    returns the notebooks the autograded copies are made of."""
    graded = [grade for grade, _ in pairs]
    count = f"{len(graded)} submission{'' if len(graded) == 1 else 's'}"
    tell(f"recording {count} in the gradebook")
    with gradebook_errors(target.db_url):
        changed = write_checks(target, plan, graded)
    for grade in graded:
        grade.moved = grade.student in changed
    check_ids = [c.id for c in plan.checks]
    limit = plan.limits.file_bytes
    sources = [_sources(layout, target, folder, grade.student, limit) for grade, folder in pairs]
    tell(f"writing the autograded notebooks and feedback pages of {count}")
    copies = base_notebooks(sources, check_ids, jobs, resume=resume)
    for grade, (nb, _, said) in zip(graded, copies, strict=True):
        # nbgrader's warnings name tampered cells (a locked cell edited, points changed):
        # the instructor's business, not the student's page.
        warnings.extend(f"{grade.student}: {message}" for message in said)
        warnings.extend(
            f"{grade.student}: {target.notebook}.ipynb {found.describe()}, which formgrader "
            "and `nbgrader generate_feedback` render live (propgrade's page escapes it); "
            "review that answer before generating nbgrader's feedback, or release "
            "propgrade's page instead"
            for found in active_html(nb)
        )
    with gradebook_errors(target.db_url):
        record_written_answers(target, graded, copies, check_ids, changed, warnings)
        read_written(target, graded, check_ids)
        record_penalties(target, graded)
    return copies


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
    pages: Sequence[PageOutcome],
    graded: Sequence[StudentGrade],
    assignment: str,
    warnings: list[str],
) -> None:
    """Name every page kept or replaced: they hold (or held) an instructor's work. A kept
    page that is out of date is named on every run until it is made again."""
    kept = [
        f"{outcome.page}{' (graded again: out of date)' if outcome.stale else ''}"
        for outcome in pages
        if outcome.fate is PageFate.KEPT
    ]
    if kept:
        warnings.append(
            f"kept {len(kept)} feedback page(s) that propgrade did not write (nbgrader "
            f"generate_feedback's, with hand scores and comments): {', '.join(kept)}; "
            "pass --force-feedback to replace them with propgrade's pages"
        )
    for outcome, grade in zip(pages, graded, strict=True):
        if outcome.fate is PageFate.KEPT and outcome.stale:
            warnings.append(
                f"{grade.student}: the feedback page {outcome.page} is out of date: the "
                "grade changed after it was made, and `nbgrader release_feedback` would "
                f"ship it; run `nbgrader generate_feedback {assignment} --student "
                f"{grade.student} --force` in the course folder"
            )
    replaced = [str(o.page) for o in pages if o.fate is PageFate.REPLACED]
    if replaced:
        warnings.append(
            f"--force-feedback: replaced {len(replaced)} feedback page(s) that propgrade "
            f"did not write: {', '.join(replaced)}"
        )


def _write_student_files(
    layout: CourseLayout,
    target: GradebookTarget,
    pairs: Sequence[tuple[StudentGrade, Path]],
    copies: Sequence[tuple[NotebookNode, str, list[str]]],
    force_feedback: bool,
    warnings: list[str],
) -> list[PageOutcome]:
    """``autograded/`` and ``feedback/`` for every graded student."""
    pages = []
    nb_assignment, notebook = target.assignment, target.notebook
    for (grade, folder), (nb, origin, _) in zip(pairs, copies, strict=True):
        autograded = layout.folder("autograded", grade.student, nb_assignment)
        checked = with_checks(nb, grade.result)
        foreign = write_autograded(
            checked, folder, autograded, notebook, layout.ignore, target.notebooks
        )
        if foreign:
            names = ", ".join(foreign)
            grade.notes.append(
                f"{names}: not a notebook of this assignment, so not graded and not in this "
                "feedback (it stays with your submission)."
            )
            warnings.append(
                f"{grade.student}: {names} left in submitted/, not copied to autograded/: "
                f"not a notebook of {nb_assignment!r} in the gradebook"
            )
        if origin == "released":
            handed_in = (folder / f"{notebook}.ipynb").is_file()
            why = "could not be read as a notebook" if handed_in else "was not submitted"
            grade.notes.append(f"{notebook}.ipynb {why}: its written answers count as unanswered.")
        html = render_student_page(
            grade.result, audience=RELEASED, notes=grade.notes, standing=grade.standing
        )
        feedback = layout.folder("feedback", grade.student, nb_assignment)
        outcome = write_page(
            feedback, notebook, html, folder, force=force_feedback, moved=grade.moved
        )
        grade.feedback = outcome.page
        pages.append(outcome)
        if not (folder / SECRET_NAME).is_file():
            warnings.append(
                f"{grade.student}: no {SECRET_NAME} in the submission (nbgrader collect "
                "copies it); `nbgrader release_feedback` cannot release this feedback"
            )
    return pages


def resolve_notebook(layout: CourseLayout, assignment: str, graded_file: str) -> str:
    """The nbgrader notebook that carries the checks when ``--notebook`` is not given.

    It must be a notebook the students submit: ``nbgrader fetch_feedback`` delivers only
    pages named after those. So: the assignment's one notebook in the gradebook, else
    the one notebook in ``source/`` or ``release/``, else the graded file's stem.
    """
    api = nbgrader_module("api")
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
    layout: CourseLayout, target: GradebookTarget, submitted: Path, student: str, max_bytes: int
) -> Sources:
    return Sources(
        target.notebook,
        target.assignment,
        student,
        target.db_url,
        submitted,
        layout.folder("autograded", student, target.assignment),
        layout.folder("release", ".", target.assignment),
        max_bytes,
    )
