"""Grading a real nbgrader course: set up with nbgrader itself, checked with `nbgrader export`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from propgrade.config import load_course
from propgrade.engine.results import CheckResult, Feedback, SubmissionResult
from propgrade.errors import ConfigError
from propgrade.sandbox import bwrap_layer, layer_choice, process_layer

nbgrader_api = pytest.importorskip("nbgrader.api")

from propgrade.integrations.nbgrader_course import CourseReport, grade_nbgrader_course  # noqa: E402

pytestmark = pytest.mark.nbgrader

BUGGY_SVM = "margins = np.maximum(0.0, scores - correct_class_scores + 1.0)"
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
NBGRADER_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # nbgrader runs `alembic` by name: the environment's bin folder goes on PATH, as
    # activating it would do (the README says so for instructors).
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def code_cell(source: str, **nbgrader: object) -> dict[str, object]:
    meta = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {
        "cell_type": "code",
        "metadata": meta,
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def notebook(cells: list[dict[str, object]]) -> str:
    data = {
        "cells": [{"id": f"cell-{n}", **cell} for n, cell in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(data)


def course_notebook() -> str:
    """The instructor's notebook: one manually graded written answer, as nbgrader marks it."""
    answer = {
        "cell_type": "markdown",
        "metadata": {
            "nbgrader": {
                "schema_version": 3,
                "grade": True,
                "solution": True,
                "locked": False,
                "points": 1,
                "grade_id": "inline_question_1",
            }
        },
        "source": "YOUR ANSWER HERE",
    }
    return notebook([code_cell("import numpy as np"), answer])


def stamp(folder: Path, when: datetime) -> None:
    (folder / "timestamp.txt").write_text(when.strftime(NBGRADER_FORMAT))
    (folder / "submission_secret.txt").write_text(f"secret-of-{folder.parent.name}")


@pytest.fixture(scope="module")
def course(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("course")
    course = base / "cs231n"
    (course / "source" / "linear_classifiers").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    stub = (root / "assignments/linear_classifiers/losses.py").read_text()
    source = course / "source" / "linear_classifiers"
    (source / "linear_classifiers.ipynb").write_text(course_notebook())
    (source / "losses.py").write_text(stub)
    # nbgrader registers the assignment, its notebook and grade cells in its gradebook.
    nbgrader(course, "generate_assignment", "linear_classifiers")

    # The course file: the repository's assignment, plus a due date and a late policy.
    raw = yaml.safe_load((root / "grading.yaml").read_text())
    body = raw["assignments"]["linear_classifiers"]
    for key in ("solution", "graders", "release"):
        body[key] = str((root / body[key]).resolve())
    body["due"] = DUE.isoformat()
    body["late_policy"] = {"per_day": 0.1, "max_days": 5}
    config = base / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    canary = base / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("the notebook must never run")
    student_notebook = notebook(
        [
            code_cell("%matplotlib inline\nimport shutil\nimport numpy as np"),
            code_cell(solution),
            code_cell(f"shutil.rmtree({str(canary)!r})\n"),
            code_cell("while True:\n    pass\n"),
        ]
    )
    buggy = solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    plan = {
        # student: (files, submitted at)
        "ana": ({"losses.py": solution}, DUE - timedelta(hours=1)),
        "ben": ({"losses.py": buggy}, DUE + timedelta(days=1, hours=2)),  # 2 started days
        "cy": ({"linear_classifiers.ipynb": student_notebook}, DUE - timedelta(minutes=5)),
        "dee": ({"notes.txt": "forgot"}, DUE),
        "eve": (
            {"work/losses.py": solution, ".ipynb_checkpoints/losses-checkpoint.py": "# old"},
            DUE + timedelta(days=6),  # past max_days
        ),
    }
    for student, (files, when) in plan.items():
        folder = course / "submitted" / student / "linear_classifiers"
        folder.mkdir(parents=True)
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        stamp(folder, when)

    report = grade_nbgrader_course(course, "linear_classifiers", config=config, jobs=2)
    return {"course": course, "report": report, "canary": canary, "config": config}


def _export(course: Path) -> dict[str, dict[str, str]]:
    nbgrader(course, "export", "--to", "export.csv")
    with (course / "export.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_nbgrader_export_shows_scores_and_late_penalties(course: dict[str, object]) -> None:
    rows = _export(course["course"])  # type: ignore[arg-type]
    assert sorted(rows) == ["ana", "ben", "cy", "dee", "eve"]
    # 48 points of checks plus nbgrader's own manually graded written answer.
    assert {row["max_score"] for row in rows.values()} == {"49.0"}
    ana, ben, cy, dee, eve = (rows[s] for s in ("ana", "ben", "cy", "dee", "eve"))
    assert float(ana["raw_score"]) == 48 and float(ana["late_submission_penalty"]) == 0
    assert float(ana["score"]) == 48
    raw_ben = float(ben["raw_score"])
    assert 0 < raw_ben < 48
    assert float(ben["late_submission_penalty"]) == pytest.approx(round(raw_ben * 0.2, 4))
    assert float(ben["score"]) == pytest.approx(raw_ben - round(raw_ben * 0.2, 4))
    assert float(cy["raw_score"]) == 48  # graded from the notebook's functions
    assert float(dee["raw_score"]) == 0
    assert float(eve["raw_score"]) == 48 and float(eve["score"]) == 0  # 6 days > max_days
    assert ana["duedate"].startswith("2026-12-01 23:59")
    assert ben["timestamp"].startswith("2026-12-03 01:59")


def test_every_check_is_an_autograded_grade_cell(course: dict[str, object]) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    report: CourseReport = course["report"]  # type: ignore[assignment]
    ben = next(s for s in report.students if s.student == "ben")
    failed = {c.id for c in ben.result.checks if not c.passed}
    assert "svm_vec_nonnegative" in failed
    with nbgrader_api.Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        # The checks join nbgrader's own notebook, the one students submit, beside its
        # manually graded answer.
        assert [nb.name for nb in gb.find_assignment("linear_classifiers").notebooks] == [
            "linear_classifiers"
        ]
        nb = gb.find_notebook("linear_classifiers", "linear_classifiers")
        cells = {c.name: c.cell_type for c in nb.grade_cells}
        assert len(cells) == 53 and cells.pop("inline_question_1") == "markdown"
        assert set(cells.values()) == {"code"}
        for check in ben.result.checks:
            grade = gb.find_grade(check.id, "linear_classifiers", "linear_classifiers", "ben")
            assert grade.score == check.points
            assert grade.max_score == check.max_points
            assert not grade.needs_manual_grade


def test_notebook_only_submission_never_ran(course: dict[str, object]) -> None:
    canary: Path = course["canary"]  # type: ignore[assignment]
    assert (canary / "keep.txt").is_file()
    report: CourseReport = course["report"]  # type: ignore[assignment]
    cy = next(s for s in report.students if s.student == "cy")
    assert cy.result.score == 48
    notes = cy.result.meta["intake_notes"]
    assert any("a while loop at top level, not graded" in n for n in notes)
    assert any("an expression at top level" in n for n in notes)  # the rmtree call


def test_feedback_is_where_release_feedback_expects_it(
    course: dict[str, object], tmp_path: Path
) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    folder = course_dir / "feedback" / "ben" / "linear_classifiers"
    page = (folder / "linear_classifiers.html").read_text()
    assert "Late penalty" in page and "2 days late: 20% off" in page
    assert "Smallest failing input" in page  # the buggy margin is shrunk
    assert (folder / "timestamp.txt").read_text().startswith("2026-12-03 01:59")
    assert (folder / "submission_secret.txt").is_file()
    dee_folder = course_dir / "feedback" / "dee" / "linear_classifiers"
    dee = (dee_folder / "linear_classifiers.html").read_text()
    assert "no losses.py found" in dee
    # nbgrader itself releases it to the exchange, named by the submission's secret.
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    nbgrader(
        course_dir,
        "release_feedback",
        "linear_classifiers",
        "--course",
        "cs231n",
        f"--Exchange.root={exchange}",
    )
    released = list((exchange / "cs231n" / "feedback").glob("*.html"))
    assert len(released) == 5
    assert any("feedback for ben" in p.read_text() for p in released)


def test_an_autograded_copy_without_the_written_answers_is_made_again(
    course: dict[str, object], tmp_path: Path
) -> None:
    """A copy an earlier run made without the student's answers (the notebook failed
    nbgrader's validation then) is not kept; --no-resume makes every copy again."""
    import nbformat

    from propgrade.cli import main

    copy = tmp_path / "cs231n"
    shutil.copytree(course["course"], copy)  # type: ignore[arg-type]
    path = copy / "autograded/ana/linear_classifiers/linear_classifiers.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert any(c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells)
    complete = len(nb.cells)
    nb.cells = [c for c in nb.cells if "propgrade" in c.metadata]  # the checks alone
    nbformat.write(nb, path)
    argv = ["grade", "--nbgrader", str(copy), "-a", "linear_classifiers", "-j", "1"]
    argv += ["--config", str(course["config"])]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == complete
    assert any(c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells)

    # A complete copy of the same submission is kept, outputs and all, unless --no-resume.
    first = next(c for c in nb.cells if c.cell_type == "code" and "propgrade" not in c.metadata)
    first.outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale output\n")]
    nbformat.write(nb, path)
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    assert "stale output" in path.read_text()
    assert main([*argv, "--no-resume"], out=io.StringIO(), err=io.StringIO()) == 0
    assert "stale output" not in path.read_text()
    assert len(nbformat.read(path, as_version=4).cells) == complete


def _check_cells(nb: dict[str, object]) -> dict[str, dict[str, object]]:
    cells = nb["cells"]  # type: ignore[index]
    return {
        c["metadata"]["propgrade"]["check"]: c
        for c in cells
        if "propgrade" in c["metadata"] and "check" in c["metadata"]["propgrade"]
    }  # type: ignore[index,operator]


def _nbgrader_exporter(template: str) -> Any:
    """nbconvert's HTML exporter as formgrader ("formgrade") or generate_feedback
    ("feedback") sets it up."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = template
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    # The feedback page inlines bootstrap's CSS from here.
    bootstrap = Path(handlers.__file__).parent / "static/node_modules/bootstrap/dist/css"
    config.HTMLExporter.extra_template_paths = [str(bootstrap)]
    return HTMLExporter(config=config)


def test_autograded_notebooks_show_every_check_as_formgrader_reads_it(
    course: dict[str, object],
) -> None:
    import nbformat
    from nbgrader.utils import determine_grade

    course_dir: Path = course["course"]  # type: ignore[assignment]
    report: CourseReport = course["report"]  # type: ignore[assignment]
    exporter = _nbgrader_exporter("formgrade")  # formgrader's own template
    with nbgrader_api.Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for grade in report.students:
            path = course_dir / "autograded" / grade.student / "linear_classifiers"
            nb = nbformat.read(path / "linear_classifiers.ipynb", as_version=4)
            nbformat.validate(nb)
            assert (path / "timestamp.txt").is_file()  # generate_feedback copies it onward
            assert not (path / ".ipynb_checkpoints").exists()  # nbgrader's ignore list
            cells = _check_cells(nb)
            assert list(cells) == [c.id for c in grade.result.checks]
            for check in grade.result.checks:
                # nbgrader reads from each cell the score propgrade recorded.
                cell = nbformat.from_dict(cells[check.id])
                assert determine_grade(cell) == (check.points, check.max_points)
                stored = gb.find_grade(
                    check.id, "linear_classifiers", "linear_classifiers", grade.student
                )
                assert stored.score == check.points
            # formgrader puts one score box per grade cell, each matched to a Grade row.
            html, _ = exporter.from_notebook_node(
                nb, resources={"base_url": "", "index": 0, "total": 5}
            )
            boxes = re.findall(r'<input class="score tabbable" id="([^"]+)"', html)
            submitted = gb.find_submission_notebook(
                "linear_classifiers", "linear_classifiers", grade.student
            )
            assert len(boxes) == len(set(boxes))
            assert set(boxes) <= {g.name for g in submitted.grades}
            assert set(boxes) >= {c.id for c in grade.result.checks}
            # cy's own notebook lacks the written answer (deleted, as students do);
            # nbgrader's autograde does not put it back either.
            assert ("inline_question_1" in boxes) == (grade.student != "cy")

    ben = nbformat.read(
        course_dir / "autograded/ben/linear_classifiers/linear_classifiers.ipynb", as_version=4
    )
    failed = _check_cells(ben)["svm_vec_nonnegative"]
    assert failed["outputs"][0]["output_type"] == "error"  # type: ignore[index]
    assert "Smallest failing input" in "\n".join(failed["outputs"][0]["traceback"])  # type: ignore[index]


def test_notebook_submission_keeps_its_answers_and_runs_nothing(
    course: dict[str, object],
) -> None:
    import nbformat

    course_dir: Path = course["course"]  # type: ignore[assignment]
    cy = nbformat.read(
        course_dir / "autograded/cy/linear_classifiers/linear_classifiers.ipynb", as_version=4
    )
    sources = [c.source for c in cy.cells if "propgrade" not in c.metadata]
    assert any("rmtree" in s for s in sources) and any("while True" in s for s in sources)
    assert all(not c.get("outputs") for c in cy.cells if "propgrade" not in c.metadata)
    # Only losses.py was handed in by ana: her copy is the released notebook, unanswered.
    with nbgrader_api.Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        answer = gb.find_grade(
            "inline_question_1", "linear_classifiers", "linear_classifiers", "ana"
        )
        assert answer.auto_score == 0 and not answer.needs_manual_grade
        comment = gb.find_comment(
            "inline_question_1", "linear_classifiers", "linear_classifiers", "ana"
        )
        assert comment.auto_comment == "No response."
    report: CourseReport = course["report"]  # type: ignore[assignment]
    ana = next(s for s in report.students if s.student == "ana")
    assert any("linear_classifiers.ipynb was not submitted" in n for n in ana.notes)


def test_lms_csv_has_late_columns(course: dict[str, object]) -> None:
    report: CourseReport = course["report"]  # type: ignore[assignment]
    with (report.out / "grades.csv").open() as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    header = next(csv.reader((report.out / "grades.csv").open()))
    assert header[:7] == [
        "student",
        "raw_score",
        "late_days",
        "late_penalty",
        "score",
        "max_score",
        "submitted_at",
    ]
    assert rows["ben"]["late_days"] == "2"
    assert float(rows["ben"]["score"]) == pytest.approx(
        float(rows["ben"]["raw_score"]) - float(rows["ben"]["late_penalty"])
    )
    assert rows["eve"]["score"] == "0" and rows["eve"]["raw_score"] == "48"
    assert (report.out / "ben" / "results.json").is_file()


def test_written_answers_count_in_the_maximum_of_every_output(course: dict[str, object]) -> None:
    """grades.csv, results.json and the gradebook: 48 check points + 1 written answer point."""
    report: CourseReport = course["report"]  # type: ignore[assignment]
    exported = _export(course["course"])  # type: ignore[arg-type]
    with (report.out / "grades.csv").open() as handle:
        ours = {row["student"]: row for row in csv.DictReader(handle)}
    for student, row in ours.items():
        assert row["max_score"] == "49" and row["written_max_score"] == "1"
        for key, theirs in (
            ("raw_score", "raw_score"),
            ("late_penalty", "late_submission_penalty"),
        ):
            assert float(row[key]) == pytest.approx(float(exported[student][theirs]))
        results = json.loads((report.out / student / "results.json").read_text())
        assert results["extra_data"]["propgrade"]["max_score"] == 49
        assert results["score"] == pytest.approx(float(row["score"]))


def test_grading_again_keeps_one_grade_per_cell(course: dict[str, object]) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    config: Path = course["config"]  # type: ignore[assignment]
    again = grade_nbgrader_course(course_dir, "linear_classifiers", config=config)
    assert [s.result.score for s in again.students] == [
        s.result.score
        for s in course["report"].students  # type: ignore[attr-defined]
    ]
    rows = _export(course_dir)
    assert float(rows["ana"]["score"]) == 48


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"due": "2026-12-01T23:59:00"}, "has no UTC offset"),
        ({"due": "next tuesday"}, "not a date and time"),
        ({"due": date(2026, 12, 1)}, "a date without a time"),  # YAML's unquoted date
        ({"late_policy": {"per_day": 0.1, "max_days": 5}}, "needs a due date"),
        (
            {"due": "2026-12-01T23:59:00Z", "late_policy": {"per_day": 10, "max_days": 5}},
            "at most 1",
        ),
        (
            {"due": "2026-12-01T23:59:00Z", "late_policy": {"per_dya": 0.1, "max_days": 5}},
            "did you mean 'per_day'",
        ),
        ({"due": "2026-12-01T23:59:00Z", "late_policy": {"per_day": 0.1}}, "max_days"),
    ],
)
def test_due_and_late_policy_are_validated(
    root: Path, tmp_path: Path, extra: dict[str, object], message: str
) -> None:
    raw = yaml.safe_load((root / "grading.yaml").read_text())
    body = raw["assignments"]["linear_classifiers"]
    for key in ("solution", "graders", "release"):
        body[key] = str((root / body[key]).resolve())
    body.update(extra)
    path = tmp_path / "grading.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_course(path)
    assert message in f"{info.value.message} (hint: {info.value.hint})"
    assert info.value.message.startswith(f"{path}: assignments.linear_classifiers.")


def test_due_date_is_read(root: Path, tmp_path: Path) -> None:
    text = (
        (root / "grading.yaml")
        .read_text()
        .replace(
            "    graded_file: losses.py\n",
            "    graded_file: losses.py\n    due: 2026-12-01T23:59:00+01:00\n"
            "    late_policy: {per_day: 0.1, max_days: 5}\n",
        )
    )
    path = root / "grading.yaml"
    copy = tmp_path / "grading.yaml"
    copy.write_text(
        text.replace("solutions/", f"{root}/solutions/").replace("graders/", f"{root}/graders/")
    )
    assignment = load_course(copy).assignment("linear_classifiers")
    assert assignment.due == datetime(2026, 12, 1, 22, 59, tzinfo=UTC)
    assert assignment.late_policy is not None and assignment.late_policy.max_days == 5
    assert load_course(path).assignment("linear_classifiers").due is None


def _student(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return nbgrader(home, *args, "--student=fay", f"--Exchange.cache={home / '.cache'}")


def test_feedback_reaches_the_student_through_nbgraders_exchange(
    root: Path, tmp_path: Path
) -> None:
    """The whole round trip with nbgrader's own commands, as a course runs it."""
    import nbformat

    from propgrade.cli import main

    course = tmp_path / "cs231n"
    exchange, home = tmp_path / "exchange", tmp_path / "fay"
    exchange.mkdir()
    home.mkdir()
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'cs231n'\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    # As the README says: the released folder, with the instructor's notebook in it.
    source = course / "source" / "linear_classifiers"
    shutil.copytree(root / "assignments/linear_classifiers", source)
    shutil.copy(root / "solutions/linear_classifiers/linear_classifiers.ipynb", source)
    nbgrader(course, "generate_assignment", "linear_classifiers")
    nbgrader(course, "release_assignment", "linear_classifiers")

    # The student fetches, answers the written question, implements losses.py, submits.
    shared = ("--course=cs231n", f"--Exchange.root={exchange}")
    _student(home, "fetch_assignment", "linear_classifiers", *shared)
    work = home / "linear_classifiers"
    nb = nbformat.read(work / "linear_classifiers.ipynb", as_version=4)
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "inline_question_1"
    )
    assert answer.source == "YOUR ANSWER HERE"
    answer.source = "Every margin is 1, so the loss is C - 1."
    nbformat.write(nb, work / "linear_classifiers.ipynb")
    (work / "losses.py").write_text((root / "solutions/linear_classifiers/losses.py").read_text())
    _student(home, "submit", "linear_classifiers", *shared)
    nbgrader(course, "collect", "linear_classifiers")

    out, err = io.StringIO(), io.StringIO()
    argv = ["grade", "--nbgrader", str(course), "--assignment", "linear_classifiers"]
    code = main([*argv, "--config", str(root / "grading.yaml")], out=out, err=err)
    assert code == 0, err.getvalue()
    assert "warning" not in err.getvalue()
    assert "recording 1 submission in the gradebook..." in err.getvalue()

    # Right away, propgrade's own page reaches the student.
    nbgrader(course, "release_feedback", "linear_classifiers")
    _student(home, "fetch_feedback", "linear_classifiers", *shared)
    fetched = list((work / "feedback").glob("*/linear_classifiers.html"))
    assert len(fetched) == 1
    assert "linear_classifiers: feedback for fay" in fetched[0].read_text()

    # The written answer waits for a grader; formgrader's save is a manual score.
    db = f"sqlite:///{course / 'gradebook.db'}"
    with nbgrader_api.Gradebook(db, course_id="cs231n") as gb:
        grade = gb.find_grade(
            "inline_question_1", "linear_classifiers", "linear_classifiers", "fay"
        )
        assert grade.needs_manual_grade and grade.auto_score is None
        grade.manual_score = 1
        gb.db.commit()

    # Grading again keeps the grader's score and, as nbgrader's autograde does, asks for
    # a second look.
    assert main([*argv, "--config", str(root / "grading.yaml")], out=out, err=err) == 0
    with nbgrader_api.Gradebook(db, course_id="cs231n") as gb:
        grade = gb.find_grade(
            "inline_question_1", "linear_classifiers", "linear_classifiers", "fay"
        )
        assert grade.manual_score == 1 and grade.needs_manual_grade

    # After manual grading, nbgrader's own feedback renders the autograded notebook:
    # the written answer, its grade and every check.
    nbgrader(course, "generate_feedback", "linear_classifiers", "--force")
    nbgrader(course, "release_feedback", "linear_classifiers")
    _student(home, "fetch_feedback", "linear_classifiers", *shared)
    page = fetched[0].read_text()
    assert "Every margin is 1" in page
    # 48 for the checks, 1 of 4 for the written answers: three were left unanswered.
    assert "Score: 49.0 / 52.0" in page
    assert page.count("# propgrade check ") == 52


def test_an_assignment_with_several_notebooks_needs_notebook(root: Path, tmp_path: Path) -> None:
    from propgrade.cli import main

    course = tmp_path / "course"
    (course / "submitted" / "ana" / "linear_classifiers").mkdir(parents=True)
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.add_assignment("linear_classifiers")
        gb.add_notebook("part1", "linear_classifiers")
        gb.add_notebook("part2", "linear_classifiers")
    out, err = io.StringIO(), io.StringIO()
    argv = ["grade", "--nbgrader", str(course), "--assignment", "linear_classifiers"]
    code = main([*argv, "--config", str(root / "grading.yaml")], out=out, err=err)
    assert code == 2
    assert "several notebooks (part1, part2)" in err.getvalue()
    assert "--notebook NAME" in err.getvalue()
    assert not (course / "autograded").exists()  # refused before anything was graded


def test_the_course_layout_comes_from_its_nbgrader_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from propgrade.integrations.nbgrader_layout import NbgraderError, read_layout

    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'cs231n'\n"
        "c.CourseDirectory.db_url = 'sqlite:////srv/grades.db'\n"
        "c.CourseDirectory.submitted_directory = 'handed_in'\n"
    )
    layout = read_layout(tmp_path, course_id=None, db_url=None)
    assert (layout.course_id, layout.db_url) == ("cs231n", "sqlite:////srv/grades.db")
    assert layout.folder("submitted", "ana", "hw1") == tmp_path / "handed_in" / "ana" / "hw1"
    (tmp_path / "handed_in" / "ana" / "hw1").mkdir(parents=True)
    (tmp_path / "handed_in" / "ben" / "hw2").mkdir(parents=True)
    assert layout.students("submitted", "hw1") == [("ana", tmp_path / "handed_in/ana/hw1")]
    assert read_layout(tmp_path, course_id="other", db_url=None).course_id == "other"

    # A relative SQLite path means the course folder, as for nbgrader run there, wherever
    # propgrade was started; so does a relative path the config file computes.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (tmp_path / "nbgrader_config.py").write_text(
        "import os\nc = get_config()\nc.CourseDirectory.db_url = 'sqlite:///gradebook.db'\n"
        "c.CourseDirectory.course_id = os.path.basename(os.getcwd())\n"
    )
    layout = read_layout(tmp_path, course_id=None, db_url=None)
    assert layout.db_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert layout.course_id == tmp_path.name
    # One given on the command line is the caller's, relative to the current folder.
    given = read_layout(tmp_path, course_id=None, db_url="sqlite:///mine.db").db_url
    assert given == f"sqlite:///{elsewhere / 'mine.db'}"

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.root = \n")
    with pytest.raises(NbgraderError, match=r"nbgrader_config\.py: cannot be read"):
        read_layout(tmp_path, course_id=None, db_url=None)


def test_jupyters_config_folders_count_as_for_nbgrader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nbgrader run in the course folder also reads nbgrader_config.py/.json from
    Jupyter's config folders (the grader account's ~/.jupyter on a JupyterHub, extra
    folders in JUPYTER_CONFIG_PATH, /etc/jupyter), the course folder's own file last;
    propgrade sees what nbgrader's own app sees there."""
    from nbgrader.apps.nbgraderapp import NbGraderApp
    from nbgrader.coursedir import CourseDirectory

    from propgrade.integrations.nbgrader_layout import NbgraderError, read_layout

    user, extra, course = tmp_path / "user", tmp_path / "extra", tmp_path / "course"
    for folder in (user, extra, course):
        folder.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(extra))
    (extra / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'cs231n'\n"
        "c.CourseDirectory.submitted_directory = 'handed_in'\n"
    )
    (user / "nbgrader_config.json").write_text(
        json.dumps({"CourseDirectory": {"course_id": "mine", "db_url": "sqlite:///grades.db"}})
    )

    def nbgraders() -> tuple[str, str, str]:
        with contextlib.chdir(course):
            app = NbGraderApp()
            app.load_config_file()
            seen = CourseDirectory(config=app.config)
            url = f"sqlite:///{course / seen.db_url.removeprefix('sqlite:///')}"
            return seen.course_id, url, seen.submitted_directory

    monkeypatch.chdir(tmp_path)  # propgrade started elsewhere
    layout = read_layout(course, course_id=None, db_url=None)
    ours = (layout.course_id, layout.db_url, layout.folder("submitted", "a", "b").parts[-3])
    assert ours == nbgraders() == ("cs231n", f"sqlite:///{course / 'grades.db'}", "handed_in")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'own'\n"
    )
    layout = read_layout(course, course_id=None, db_url=None)
    ours = (layout.course_id, layout.db_url, layout.folder("submitted", "a", "b").parts[-3])
    assert ours == nbgraders() and ours[0] == "own"

    (user / "nbgrader_config.json").write_text("{not json")
    with pytest.raises(NbgraderError, match=r"user/nbgrader_config\.json: cannot be read"):
        read_layout(course, course_id=None, db_url=None)


def test_a_gradebook_without_the_assignment_is_refused_before_grading(
    course: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never grade into an empty gradebook: exit 2, saying what is missing and what to run."""
    from propgrade.cli import main

    copy = tmp_path / "cs231n"
    shutil.copytree(course["course"], copy)  # type: ignore[arg-type]
    (copy / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.db_url = 'sqlite:///other.db'\n"
    )
    monkeypatch.chdir(tmp_path)
    argv = ["grade", "--nbgrader", str(copy), "-a", "linear_classifiers", "-j", "1"]
    argv += ["--no-resume", "--config", str(course["config"])]
    before = sorted(p.stat().st_mtime_ns for p in (copy / "autograded").rglob("*.ipynb"))

    def refused() -> str:
        out, err = io.StringIO(), io.StringIO()
        assert main(argv, out=out, err=err) == 2
        assert "[1/" not in err.getvalue()  # nothing was graded
        assert "nbgrader generate_assignment linear_classifiers" in err.getvalue()
        assert str(copy) in err.getvalue()
        return err.getvalue()

    assert f"the gradebook {copy / 'other.db'} does not exist" in refused()
    assert not (copy / "other.db").exists() and not (tmp_path / "other.db").exists()
    with nbgrader_api.Gradebook(f"sqlite:///{copy / 'other.db'}") as gb:
        pass
    assert "has no assignment 'linear_classifiers'" in refused()
    with nbgrader_api.Gradebook(f"sqlite:///{copy / 'other.db'}") as gb:
        gb.add_assignment("linear_classifiers")
    assert "has no notebook 'linear_classifiers' in assignment" in refused()
    with nbgrader_api.Gradebook(f"sqlite:///{copy / 'other.db'}") as gb:
        gb.add_notebook("linear_classifiers", "linear_classifiers")  # without its cells
    said = refused()
    assert "the released notebook does not match the gradebook" in said
    assert "linear_classifiers.ipynb" in said
    after = sorted(p.stat().st_mtime_ns for p in (copy / "autograded").rglob("*.ipynb"))
    assert after == before


def test_an_autograded_copy_of_the_same_submission_is_kept(
    course: dict[str, object], tmp_path: Path
) -> None:
    """What `nbgrader autograde` ran stays; a copy of an older submission does not."""
    import nbformat

    from propgrade.integrations.nbgrader_notebook import Sources, base_notebook

    course_dir: Path = course["course"]  # type: ignore[assignment]
    report: CourseReport = course["report"]  # type: ignore[assignment]
    submitted = course_dir / "submitted" / "cy" / "linear_classifiers"
    autograded = tmp_path / "autograded"
    autograded.mkdir()
    nb = nbformat.read(
        course_dir / "autograded/cy/linear_classifiers/linear_classifiers.ipynb", as_version=4
    )
    first = next(c for c in nb.cells if c.cell_type == "code" and "propgrade" not in c.metadata)
    first.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran by nbgrader\n")]
    nbformat.write(nb, autograded / "linear_classifiers.ipynb")
    shutil.copy(submitted / "timestamp.txt", autograded / "timestamp.txt")
    checks = [c.id for c in report.students[0].result.checks]
    src = Sources(
        "linear_classifiers",
        "linear_classifiers",
        "cy",
        report.db_url,
        submitted,
        autograded,
        tmp_path / "none",
    )

    kept, origin, _ = base_notebook(src, checks)
    assert origin == "autograded"
    assert not any("propgrade" in c.metadata for c in kept.cells)  # appended again later
    assert any(
        o.get("text") == "ran by nbgrader\n" for c in kept.cells for o in c.get("outputs", [])
    )

    (autograded / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    fresh, origin, _ = base_notebook(src, checks)
    assert origin == "submitted"
    assert not any(c.get("outputs") for c in fresh.cells)


def _result(*checks: CheckResult) -> SubmissionResult:
    return SubmissionResult("zoe", "linear_classifiers", list(checks))


def test_check_cells_score_as_nbgrader_reads_them_and_hide_what_is_hidden() -> None:
    import nbformat
    from nbgrader.utils import determine_grade

    from propgrade.integrations.nbgrader_notebook import with_checks

    secret = "W = [[ 0., -2.]]"
    feedback = Feedback("wrong loss", counterexample=secret, shrunk=True)
    result = _result(
        CheckResult("a_partial", "partly right", 0.5, 2, "failed", "visible", feedback, hint="H1"),
        CheckResult("b_hidden", "hidden one", 0, 2, "failed", "hidden", feedback),
        CheckResult("c_later", "after the due date", 0, 1, "failed", "after_due_date", feedback),
        CheckResult("d_passed", "fine", 1, 1, "passed", "visible", None, examples=20),
    )
    nb = with_checks(nbformat.v4.new_notebook(), result)
    nbformat.validate(nb)
    cells = {
        c.metadata["propgrade"]["check"]: c
        for c in nb.cells
        if "check" in c.metadata.get("propgrade", {})
    }
    assert [determine_grade(cells[c.id]) for c in result.checks] == [
        (0.5, 2.0),
        (0, 2.0),
        (0, 1.0),
        (1.0, 1.0),
    ]
    text = {k: json.dumps(c.outputs) for k, c in cells.items()}
    assert secret not in text["b_hidden"] and "hidden check" in text["b_hidden"]
    # Feedback is released after the due date: those checks are shown then.
    assert secret in text["c_later"] and secret in text["a_partial"]
    # The hint the feedback page shows, with the details it belongs to.
    assert "Hint: H1" in text["a_partial"] and "Hint:" not in text["b_hidden"]


def test_student_text_in_check_cells_is_escaped_in_nbgraders_feedback() -> None:
    import nbformat

    from propgrade.integrations.nbgrader_notebook import with_checks

    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31mRESTYLED"
    feedback = Feedback(f"raised ValueError: {payload}", got=payload)
    result = _result(CheckResult("a_check", "a sentence", 0, 1, "failed", "visible", feedback))
    nb = with_checks(nbformat.v4.new_notebook(), result)
    for cell in nb.cells[1:]:
        cell.metadata.nbgrader["score"] = 0.0  # what GetGrades adds from the gradebook
    for template in ("feedback", "formgrade"):  # generate_feedback's and formgrader's
        html, _ = _nbgrader_exporter(template).from_notebook_node(
            nb,
            resources={
                "base_url": "",
                "index": 0,
                "total": 1,
                "nbgrader": {"score": 0.0, "max_score": 1.0, "late_penalty": 0.0},
            },
        )
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)" in html
        assert "RESTYLED" in html and not re.search(r"ansi-[a-z-]+\">RESTYLED", html)


def _alone_in_a_copy(course: dict[str, object], tmp_path: Path, student: str) -> tuple[Path, Path]:
    """A copy of the graded course whose only submission will be ``student``'s."""
    copy = tmp_path / "cs231n"
    shutil.copytree(course["course"], copy)  # type: ignore[arg-type]
    for other in (copy / "submitted").iterdir():
        shutil.rmtree(other)
    folder = copy / "submitted" / student / "linear_classifiers"
    folder.mkdir(parents=True)
    return copy, folder


def test_a_notebook_that_forges_grade_cells_changes_nothing(
    course: dict[str, object], root: Path, tmp_path: Path
) -> None:
    """A student's cell claiming a check's grade id, or rewriting a graded answer's points."""
    import nbformat

    copy, folder = _alone_in_a_copy(course, tmp_path, "mal")
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    buggy = solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    forged_check = code_cell(
        "print('passed')",
        grade=True,
        solution=False,
        locked=True,
        points=100,
        grade_id="svm_vec_nonnegative",
    )
    forged_check["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed\n"}]
    answer = json.loads(course_notebook())["cells"][1]
    answer["metadata"]["nbgrader"]["points"] = 50
    answer["source"] = "my answer"
    (folder / "losses.py").write_text(buggy)
    (folder / "linear_classifiers.ipynb").write_text(notebook([forged_check, answer]))
    stamp(folder, DUE - timedelta(hours=1))

    report = grade_nbgrader_course(copy, "linear_classifiers", config=course["config"])  # type: ignore[arg-type]
    mal = report.students[0]
    assert not next(c for c in mal.result.checks if c.id == "svm_vec_nonnegative").passed
    nb = nbformat.read(
        copy / "autograded/mal/linear_classifiers/linear_classifiers.ipynb", as_version=4
    )
    claims = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "svm_vec_nonnegative"
    ]
    assert len(claims) == 1 and claims[0].metadata["propgrade"]["check"] == "svm_vec_nonnegative"
    assert claims[0].outputs[0]["output_type"] == "error"
    assert all(not c.get("outputs") for c in nb.cells if "propgrade" not in c.metadata)
    restored = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "inline_question_1"
    )
    assert restored.metadata.nbgrader.points == 1  # from the gradebook, not the student
    assert any("inline_question_1" in w and "points" in w for w in report.warnings)
    with nbgrader_api.Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
        grade = gb.find_grade(
            "svm_vec_nonnegative", "linear_classifiers", "linear_classifiers", "mal"
        )
        assert (grade.score, grade.max_score) == (0, 1)
        answer_grade = gb.find_grade(
            "inline_question_1", "linear_classifiers", "linear_classifiers", "mal"
        )
        assert answer_grade.max_score == 1 and answer_grade.needs_manual_grade


def test_active_html_in_an_answer_is_named_before_nbgrader_renders_it(
    course: dict[str, object], root: Path, tmp_path: Path
) -> None:
    """formgrader and generate_feedback render markdown answers as raw HTML; propgrade
    names the student and the cell whose answer would restyle or cover the page."""
    copy, folder = _alone_in_a_copy(course, tmp_path, "hx")
    answer = json.loads(course_notebook())["cells"][1]
    answer["source"] = (
        "<style>body{display:none}</style>"
        '<div style="position:fixed;top:0">Score: 52.0 / 52.0</div>'
    )
    plain = {**answer, "source": "My answer: <b>C - 1</b>, javascript: not used."}
    plain["metadata"] = {}
    (folder / "losses.py").write_text((root / "solutions/linear_classifiers/losses.py").read_text())
    (folder / "linear_classifiers.ipynb").write_text(
        notebook([code_cell("import numpy as np"), answer, plain])
    )
    stamp(folder, DUE - timedelta(hours=1))

    report = grade_nbgrader_course(copy, "linear_classifiers", config=course["config"])  # type: ignore[arg-type]
    flagged = [w for w in report.warnings if "render live" in w]
    assert flagged == [
        "hx: linear_classifiers.ipynb cell 2 (inline_question_1) holds <style>, a positioned "
        "inline style (an overlay), which formgrader and `nbgrader generate_feedback` render "
        "live (propgrade's page escapes it); review that answer before generating nbgrader's "
        "feedback, or release propgrade's page instead"
    ]


def test_a_grader_error_reaches_no_student_and_exits_3(
    course: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import propgrade.batch
    from propgrade.cli import main

    copy = tmp_path / "cs231n"
    shutil.copytree(course["course"], copy)  # type: ignore[arg-type]
    page = copy / "feedback/ana/linear_classifiers/linear_classifiers.html"
    before = page.read_text()
    real = propgrade.batch.grade_upload

    def flaky(plan, student, folder):  # type: ignore[no-untyped-def]
        if student == "ana":
            raise RuntimeError("grader bug")
        return real(plan, student, folder)

    monkeypatch.setattr(propgrade.batch, "grade_upload", flaky)
    out, err = io.StringIO(), io.StringIO()
    argv = ["grade", "--nbgrader", str(copy), "-a", "linear_classifiers", "-j", "1"]
    code = main([*argv, "--no-resume", "--config", str(course["config"])], out=out, err=err)
    assert code == 3
    assert "grading ana hit an internal grader error" in err.getvalue()
    # ana keeps her earlier grade and page; the others are graded as usual.
    rows = _export(copy)
    assert float(rows["ana"]["raw_score"]) == 48 and float(rows["cy"]["raw_score"]) == 48
    assert page.read_text() == before
    assert (copy / "propgrade/linear_classifiers/report.html").is_file()


def test_a_busy_gradebook_is_a_clear_error_and_nothing_is_lost(
    course: dict[str, object], root: Path, tmp_path: Path
) -> None:
    import sqlite3

    from propgrade.cli import main

    copy = tmp_path / "cs231n"
    shutil.copytree(course["course"], copy)  # type: ignore[arg-type]
    # ben fixed his code: his grades change, so the gradebook must be written.
    ben = copy / "submitted/ben/linear_classifiers/losses.py"
    ben.write_text((root / "solutions/linear_classifiers/losses.py").read_text())
    busy = sqlite3.connect(copy / "gradebook.db")
    busy.execute("BEGIN IMMEDIATE")  # a writer that does not let go: reading still works
    try:
        out, err = io.StringIO(), io.StringIO()
        argv = ["grade", "--nbgrader", str(copy), "-a", "linear_classifiers", "-j", "1"]
        code = main([*argv, "--no-resume", "--config", str(course["config"])], out=out, err=err)
    finally:
        busy.rollback()
        busy.close()
    assert code == 2
    assert "[5/5]" in err.getvalue()  # everything was graded before the gradebook refused
    assert "cannot be used: (sqlite3.OperationalError) database is locked" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert "Run the same command again" in err.getvalue()
    # The graded results are stored: the rerun finds every submission unchanged.
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, "--config", str(course["config"])], out=out, err=err) == 0
    assert err.getvalue().count("unchanged, kept") == 5
    rows = _export(copy)
    assert float(rows["ben"]["raw_score"]) == 48


def test_an_unreadable_notebook_falls_back_to_the_released_one(
    course: dict[str, object], root: Path, tmp_path: Path
) -> None:
    import nbformat

    copy, folder = _alone_in_a_copy(course, tmp_path, "kim")
    (folder / "losses.py").write_text((root / "solutions/linear_classifiers/losses.py").read_text())
    (folder / "linear_classifiers.ipynb").write_text('{"cells": [ not json')
    stamp(folder, DUE - timedelta(hours=1))

    report = grade_nbgrader_course(copy, "linear_classifiers", config=course["config"])  # type: ignore[arg-type]
    kim = report.students[0]
    assert kim.result.score == 48  # graded from losses.py all the same
    assert any("kim:" in w and "cannot be read as a notebook" in w for w in report.warnings)
    assert "linear_classifiers.ipynb could not be read as a notebook" in " ".join(kim.notes)
    nb = nbformat.read(
        copy / "autograded/kim/linear_classifiers/linear_classifiers.ipynb", as_version=4
    )
    nbformat.validate(nb)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    assert answer.source == "YOUR ANSWER HERE"  # the released notebook's, unanswered


def test_hostile_submissions_never_stop_the_course(
    course: dict[str, object], root: Path, tmp_path: Path
) -> None:
    """Links, a FIFO and broken notebooks beside a correct submission: each gets 0 with a
    reason, nothing behind a link is read, and the correct one reaches the gradebook."""
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    copy, ana = _alone_in_a_copy(course, tmp_path, "ana")
    (ana / "losses.py").write_text(solution)
    submitted = copy / "submitted"
    secret = tmp_path / "secret.ipynb"
    secret.write_text(notebook([code_cell("SECRET = 'never-read'\n" + solution)]))
    folders = {}
    for student in ("lnk", "fifo", "latin", "deep", "bomb", "nblink"):
        folders[student] = submitted / student / "linear_classifiers"
        folders[student].mkdir(parents=True)
    (folders["lnk"] / "losses.py").symlink_to(root / "solutions/linear_classifiers/losses.py")
    os.mkfifo(folders["fifo"] / "losses.py")
    (folders["latin"] / "linear_classifiers.ipynb").write_bytes(
        json.dumps(
            json.loads(notebook([code_cell("# coût\n" + solution)])), ensure_ascii=False
        ).encode("latin-1")
    )
    (folders["deep"] / "linear_classifiers.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (folders["bomb"] / "linear_classifiers.ipynb").write_text(
        notebook([code_cell("x = " + "-" * 100_000 + "1"), code_cell(solution)])
    )
    (folders["nblink"] / "linear_classifiers.ipynb").symlink_to(secret)
    for folder in [ana, *folders.values()]:
        stamp(folder, DUE - timedelta(hours=1))

    report = grade_nbgrader_course(copy, "linear_classifiers", config=course["config"])  # type: ignore[arg-type]
    scores = {s.student: s.result.score for s in report.students}
    errors = {s.student: s.result.error or "" for s in report.students}
    assert scores == {
        "ana": 48,
        "bomb": 48,
        "lnk": 0,
        "fifo": 0,
        "latin": 0,
        "deep": 0,
        "nblink": 0,
    }
    assert "is a symbolic link" in errors["lnk"]
    assert "named pipe (FIFO)" in errors["fifo"]
    assert "not UTF-8 text" in errors["latin"]
    assert "nested more than" in errors["deep"]
    assert "is a symbolic link" in errors["nblink"]
    assert report.internal_errors == []
    rows = _export(copy)
    assert float(rows["ana"]["raw_score"]) == 48 and float(rows["lnk"]["raw_score"]) == 0
    autograded = copy / "autograded" / "nblink" / "linear_classifiers"
    assert "never-read" not in "".join(p.read_text() for p in autograded.glob("*.ipynb"))
    assert not (copy / "autograded" / "fifo" / "linear_classifiers" / "losses.py").exists()


def _as_student(student: str, home: Path, exchange: Path, *args: str) -> None:
    nbgrader(
        home,
        *args,
        f"--student={student}",
        "--course=cs231n",
        f"--Exchange.root={exchange}",
        f"--Exchange.cache={home / '.cache'}",
    )


def _hand_in(student: str, home: Path, exchange: Path, losses: str) -> None:
    """Fetch (once), answer the first written question, write losses.py, submit."""
    import nbformat

    work = home / "linear_classifiers"
    if not work.is_dir():
        _as_student(student, home, exchange, "fetch_assignment", "linear_classifiers")
    nb = nbformat.read(work / "linear_classifiers.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "inline_question_1":
            cell.source = f"{student}: every margin is 1, so the loss is C - 1."
    nbformat.write(nb, work / "linear_classifiers.ipynb")
    (work / "losses.py").write_text(losses)
    _as_student(student, home, exchange, "submit", "linear_classifiers")


def _restamp(course: Path, student: str, when: datetime) -> None:
    # Submission times are the exchange's real clock; the due date lies in the past, so
    # the collected timestamp is set to where this walkthrough needs it.
    folder = course / "submitted" / student / "linear_classifiers"
    (folder / "timestamp.txt").write_text(when.strftime(NBGRADER_FORMAT))


def _rows_of(db: str, student: str) -> dict[str, tuple[object, ...]]:
    with nbgrader_api.Gradebook(db, course_id="cs231n") as gb:
        submission = gb.find_submission("linear_classifiers", student)
        rows: dict[str, tuple[object, ...]] = {
            "submission": (submission.timestamp, submission.late_submission_penalty)
        }
        for nb in submission.notebooks:
            for g in nb.grades:
                rows[g.name] = (g.auto_score, g.manual_score, g.needs_manual_grade)
        return rows


def _hand_grade(db: str, student: str) -> None:
    """What formgrader's save does: a manual score, and the review flag cleared."""
    with nbgrader_api.Gradebook(db, course_id="cs231n") as gb:
        for name in ("inline_question_1", "svm_vec_nonnegative"):
            grade = gb.find_grade(name, "linear_classifiers", "linear_classifiers", student)
            grade.manual_score = 1
            grade.needs_manual_grade = False
        gb.db.commit()


def _grades_csv(course: Path) -> dict[str, dict[str, str]]:
    path = course / "propgrade" / "linear_classifiers" / "grades.csv"
    with path.open() as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_a_late_resubmission_regrade_keeps_hand_grades_and_nbgraders_feedback(
    root: Path, tmp_path: Path
) -> None:
    """The walkthrough: release, fetch, submit, collect, grade, export, release_feedback,
    fetch_feedback, hand grade, generate_feedback, a late resubmission, and regrades
    that leave the hand grades and nbgrader's pages as the instructor made them."""
    from propgrade.cli import main

    course, exchange = tmp_path / "cs231n", tmp_path / "exchange"
    homes = {s: tmp_path / s for s in ("fay", "gus")}
    for folder in (exchange, *homes.values()):
        folder.mkdir()
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'cs231n'\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    source = course / "source" / "linear_classifiers"
    shutil.copytree(root / "assignments/linear_classifiers", source)
    shutil.copy(root / "solutions/linear_classifiers/linear_classifiers.ipynb", source)
    nbgrader(course, "generate_assignment", "linear_classifiers")
    nbgrader(course, "release_assignment", "linear_classifiers")
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    raw = yaml.safe_load((root / "grading.yaml").read_text())
    body = raw["assignments"]["linear_classifiers"]
    for key in ("solution", "graders", "release"):
        body[key] = str((root / body[key]).resolve())
    body["due"] = due.isoformat()
    body["late_policy"] = {"per_day": 0.1, "max_days": 5}
    config = tmp_path / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    for student, home in homes.items():
        _hand_in(student, home, exchange, solution)
    nbgrader(course, "collect", "linear_classifiers")
    for student in homes:
        _restamp(course, student, due - timedelta(hours=1))

    def grade(*extra: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        argv = ["grade", "--nbgrader", str(course), "-a", "linear_classifiers", "-j", "1"]
        code = main([*argv, "-c", str(config), *extra], out=out, err=err)
        assert code == 0, err.getvalue()
        return err.getvalue()

    grade()
    # One maximum everywhere: 48 check points and nbgrader's 4 written answer points.
    exported, ours = _export(course), _grades_csv(course)
    for student in homes:
        assert float(exported[student]["max_score"]) == 52 == float(ours[student]["max_score"])
        assert ours[student]["written_max_score"] == "4"
    nbgrader(course, "release_feedback", "linear_classifiers")
    _as_student("fay", homes["fay"], exchange, "fetch_feedback", "linear_classifiers")

    # Hand grading in formgrader, then nbgrader's own feedback pages.
    db = f"sqlite:///{course / 'gradebook.db'}"
    for student in homes:
        _hand_grade(db, student)
    nbgrader(course, "generate_feedback", "linear_classifiers", "--force")
    pages = {
        s: course / "feedback" / s / "linear_classifiers" / "linear_classifiers.html" for s in homes
    }
    theirs = {s: page.read_bytes() for s, page in pages.items()}
    assert all(b"every margin is 1" in page for page in theirs.values())
    hand_graded = {s: _rows_of(db, s) for s in homes}

    # Grading again with nothing new: every page, hand grade and review flag stays.
    said = grade()
    assert "(unchanged, kept)" in said
    assert "kept 2 feedback page(s) that propgrade did not write" in said
    assert all(str(page) in said for page in pages.values())
    assert {s: page.read_bytes() for s, page in pages.items()} == theirs
    assert {s: _rows_of(db, s) for s in homes} == hand_graded

    # gus resubmits late, with a bug; only he is graded again.
    buggy = solution.replace(BUGGY_SVM, "margins = scores - correct_class_scores + 1.0")
    _hand_in("gus", homes["gus"], exchange, buggy)
    nbgrader(course, "collect", "--update", "linear_classifiers")
    _restamp(course, "gus", due + timedelta(days=1, hours=2))  # 2 started days late
    _restamp(course, "fay", due - timedelta(hours=1))  # collected again: see _restamp
    said = grade("--student", "gus")
    assert "[1/1] gus" in said and "fay" not in said.split("kept")[0]
    assert f"{pages['gus']} (graded again: out of date)" in said
    assert _rows_of(db, "fay") == hand_graded["fay"]
    gus = _rows_of(db, "gus")
    assert gus["inline_question_1"][1:] == (1, True)  # the hand score kept, for review
    assert gus["svm_vec_nonnegative"][1:] == (1, True)
    assert {s: page.read_bytes() for s, page in pages.items()} == theirs

    # The same penalty and final score in nbgrader's export and in grades.csv.
    exported, ours = _export(course), _grades_csv(course)
    assert sorted(ours) == ["fay", "gus"]
    raw_gus = float(ours["gus"]["raw_score"])
    assert raw_gus == float(exported["gus"]["raw_score"]) < 45
    assert float(ours["gus"]["late_penalty"]) == pytest.approx(round(raw_gus * 0.2, 4))
    for student in homes:
        for ours_key, theirs_key in (
            ("late_penalty", "late_submission_penalty"),
            ("score", "score"),
            ("max_score", "max_score"),
        ):
            assert float(ours[student][ours_key]) == pytest.approx(
                float(exported[student][theirs_key])
            ), (student, ours_key)
    results = json.loads((course / "propgrade/linear_classifiers/gus/results.json").read_text())
    assert results["score"] == pytest.approx(float(ours["gus"]["score"]))

    # Everyone again: fay's reviewed hand grades are not flagged again, and gus's page
    # stays flagged as out of date, with the command that makes it again.
    said = grade()
    assert _rows_of(db, "fay") == hand_graded["fay"]
    assert {s: page.read_bytes() for s, page in pages.items()} == theirs
    redo = "nbgrader generate_feedback linear_classifiers --student gus --force"
    assert f"gus: the feedback page {pages['gus']} is out of date" in said and redo in said
    assert "fay: the feedback page" not in said
    nbgrader(course, *redo.split()[1:])
    said = grade()
    assert "out of date" not in said and "kept 2 feedback page(s)" in said

    # Only when asked, propgrade's page replaces nbgrader's, and says so.
    said = grade("--student", "gus", "--force-feedback")
    assert f"replaced 1 feedback page(s) that propgrade did not write: {pages['gus']}" in said
    assert "2 days late: 20% off" in pages["gus"].read_text()
    assert pages["fay"].read_bytes() == theirs["fay"]
    assert _rows_of(db, "fay") == hand_graded["fay"]


# -- hostile submissions and timestamps -----------------------------------------------------

HOSTILE = Path(__file__).parent / "submissions" / "linear_classifiers" / "hostile"


def small_course(root: Path, base: Path, plan: dict[str, tuple[str, str]]) -> tuple[Path, Path]:
    """A course like ``course``'s, with the students of ``plan`` (student: (losses.py,
    timestamp.txt)) submitted: (the course folder, its grading.yaml)."""
    course = base / "cs231n"
    source = course / "source" / "linear_classifiers"
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    (source / "linear_classifiers.ipynb").write_text(course_notebook())
    (source / "losses.py").write_text(
        (root / "assignments/linear_classifiers/losses.py").read_text()
    )
    nbgrader(course, "generate_assignment", "linear_classifiers")
    raw = yaml.safe_load((root / "grading.yaml").read_text())
    body = raw["assignments"]["linear_classifiers"]
    for key in ("solution", "graders", "release"):
        body[key] = str((root / body[key]).resolve())
    body["due"] = DUE.isoformat()
    body["late_policy"] = {"per_day": 0.1, "max_days": 5, "unknown_time": "late"}
    config = base / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    for student, (losses, when) in plan.items():
        folder = course / "submitted" / student / "linear_classifiers"
        folder.mkdir(parents=True)
        (folder / "losses.py").write_text(losses)
        (folder / "timestamp.txt").write_text(when)
    return course, config


def gradebook_rows(course: Path) -> dict[str, object]:
    """Every grade and every grade cell's maximum, as nbgrader's own API reads them."""
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="cs231n") as gb:
        nb = gb.find_notebook("linear_classifiers", "linear_classifiers")
        rows: dict[str, object] = {f"max {c.name}": c.max_score for c in nb.grade_cells}
        for student in gb.students:
            submission = gb.find_submission("linear_classifiers", student.id)
            rows[f"{student.id} total"] = submission.score
            for notebook_ in submission.notebooks:
                for g in notebook_.grades:
                    rows[f"{student.id} {g.name}"] = (g.auto_score, g.manual_score)
        return rows


ON_TIME = (DUE - timedelta(hours=1)).strftime(NBGRADER_FORMAT)
HOSTILE_STAMPS = {
    "overflow": "9999-12-31 23:59:59 -1400",  # OverflowError: past year 9999 in UTC
    "zone_folder": "2026-12-01 12:00:00 America",  # IsADirectoryError: a tzdata folder
    "zone_too_long": "2026-12-01 12:00:00 " + "Z" * 300,  # OSError: longer than a file name
}


def test_a_timestamp_that_breaks_the_parser_is_one_students_unknown_time(
    root: Path, tmp_path: Path
) -> None:
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    plan = {student: (solution, stamp) for student, stamp in HOSTILE_STAMPS.items()}
    plan["ana"] = (solution, ON_TIME)
    course, config = small_course(root, tmp_path, plan)
    report = grade_nbgrader_course(course, "linear_classifiers", config=config, jobs=2)
    rows = _export(course)
    assert sorted(rows) == sorted(plan)
    assert float(rows["ana"]["score"]) == 48 and float(rows["ana"]["late_submission_penalty"]) == 0
    for student in HOSTILE_STAMPS:
        # unknown_time: late counts an unknown time as past the last accepted day.
        assert float(rows[student]["raw_score"]) == 48, student
        assert float(rows[student]["score"]) == 0, student
        assert any(
            w.startswith(f"{student}: timestamp.txt: not a usable date and time")
            for w in report.warnings
        ), report.warnings
    assert set(_grades_csv(course)) == set(plan)


@pytest.mark.parametrize("layer", ["full", "reduced"])
def test_a_submission_cannot_rewrite_the_gradebook(root: Path, tmp_path: Path, layer: str) -> None:
    # At import the attack raises every grade cell's maximum to 1000 and leaves a daemon
    # that keeps giving every grade 1000 points and drops files into autograded/.
    if layer == "full" and not layer_choice.probe_full_layer().ok:
        pytest.skip("the full sandbox does not work here")
    course_dir = tmp_path / "cs231n"
    attack = (HOSTILE / "gradebook_rewrite" / "losses.py").read_text()
    attack = attack.replace("__HOSTILE_GRADEBOOK__", str(course_dir / "gradebook.db"))
    attack = attack.replace("__HOSTILE_AUTOGRADED__", str(course_dir / "autograded"))
    solution = (root / "solutions/linear_classifiers/losses.py").read_text()
    plan = {"ana": (solution, ON_TIME), "mallory": (attack, ON_TIME)}
    course, config = small_course(root, tmp_path, plan)
    chosen = bwrap_layer.BwrapLayer() if layer == "full" else process_layer.ProcessLayer()
    report = grade_nbgrader_course(
        course, "linear_classifiers", config=config, jobs=1, layer=chosen
    )
    graded = gradebook_rows(course)
    mallory = next(s for s in report.students if s.student == "mallory")
    assert "gradebook grade_cells: " in json.dumps(mallory.result.to_dict())  # it ran
    time.sleep(1.5)  # a daemon still alive would have struck by now
    after = gradebook_rows(course)
    assert after == graded
    maxima = {k: v for k, v in after.items() if k.startswith("max ")}
    assert max(maxima.values()) <= 6 and sum(maxima.values()) == 49  # 48 + the written answer
    assert after["ana total"] == 48 and after["mallory total"] == 0
    assert all(
        v[1] is None
        for k, v in after.items()
        if k.startswith(("ana ", "mallory ")) and isinstance(v, tuple)
    )
    assert not list((course / "autograded").rglob("pwned.txt"))
    rows = _export(course)
    assert float(rows["ana"]["score"]) == 48 and float(rows["mallory"]["score"]) == 0
