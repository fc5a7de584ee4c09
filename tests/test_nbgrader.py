"""Grading a real nbgrader course: set up with nbgrader itself, checked with `nbgrader export`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from propgrade.config import load_course
from propgrade.errors import ConfigError

nbgrader_api = pytest.importorskip("nbgrader.api")

from propgrade.nbgrader_course import CourseReport, grade_nbgrader_course  # noqa: E402

BUGGY_SVM = "margins = np.maximum(0.0, scores - correct_class_scores + 1.0)"
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
NBGRADER_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
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
        "cells": cells,
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
        "eve": ({"work/losses.py": solution}, DUE + timedelta(days=6)),  # past max_days
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
    # 44 points of checks plus nbgrader's own manually graded written answer.
    assert {row["max_score"] for row in rows.values()} == {"45.0"}
    ana, ben, cy, dee, eve = (rows[s] for s in ("ana", "ben", "cy", "dee", "eve"))
    assert float(ana["raw_score"]) == 44 and float(ana["late_submission_penalty"]) == 0
    assert float(ana["score"]) == 44
    raw_ben = float(ben["raw_score"])
    assert 0 < raw_ben < 44
    assert float(ben["late_submission_penalty"]) == pytest.approx(round(raw_ben * 0.2, 4))
    assert float(ben["score"]) == pytest.approx(raw_ben - round(raw_ben * 0.2, 4))
    assert float(cy["raw_score"]) == 44  # graded from the notebook's functions
    assert float(dee["raw_score"]) == 0
    assert float(eve["raw_score"]) == 44 and float(eve["score"]) == 0  # 6 days > max_days
    assert ana["duedate"].startswith("2026-12-01 23:59")
    assert ben["timestamp"].startswith("2026-12-03 01:59")


def test_every_check_is_an_autograded_grade_cell(course: dict[str, object]) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    report: CourseReport = course["report"]  # type: ignore[assignment]
    ben = next(s for s in report.students if s.student == "ben")
    failed = {c.id for c in ben.result.checks if not c.passed}
    assert "svm_vec_nonnegative" in failed
    with nbgrader_api.Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        nb = gb.find_notebook("losses", "linear_classifiers")
        assert len(nb.grade_cells) == 36
        assert {c.cell_type for c in nb.grade_cells} == {"code"}
        for check in ben.result.checks:
            grade = gb.find_grade(check.id, "losses", "linear_classifiers", "ben")
            assert grade.score == check.points
            assert grade.max_score == check.max_points
            assert not grade.needs_manual_grade
        # nbgrader's own notebook and its manual cell are untouched.
        own = gb.find_notebook("linear_classifiers", "linear_classifiers")
        assert [c.name for c in own.grade_cells] == ["inline_question_1"]


def test_notebook_only_submission_never_ran(course: dict[str, object]) -> None:
    canary: Path = course["canary"]  # type: ignore[assignment]
    assert (canary / "keep.txt").is_file()
    report: CourseReport = course["report"]  # type: ignore[assignment]
    cy = next(s for s in report.students if s.student == "cy")
    assert cy.result.score == 44
    assert any("a while loop at top level, not graded" in n for n in cy.notes)
    assert any("an expression at top level" in n for n in cy.notes)  # the rmtree call


def test_feedback_is_where_release_feedback_expects_it(
    course: dict[str, object], tmp_path: Path
) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    folder = course_dir / "feedback" / "ben" / "linear_classifiers"
    page = (folder / "losses.html").read_text()
    assert "Late penalty" in page and "2 days late: 20% off" in page
    assert "Smallest failing input" in page or "Failing input" in page
    assert (folder / "timestamp.txt").read_text().startswith("2026-12-03 01:59")
    assert (folder / "submission_secret.txt").is_file()
    dee = (course_dir / "feedback" / "dee" / "linear_classifiers" / "losses.html").read_text()
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
    assert rows["eve"]["score"] == "0" and rows["eve"]["raw_score"] == "44"
    assert (report.out / "ben" / "results.json").is_file()


def test_grading_again_keeps_one_grade_per_cell(course: dict[str, object]) -> None:
    course_dir: Path = course["course"]  # type: ignore[assignment]
    config: Path = course["config"]  # type: ignore[assignment]
    again = grade_nbgrader_course(course_dir, "linear_classifiers", config=config)
    assert [s.result.score for s in again.students] == [
        s.result.score
        for s in course["report"].students  # type: ignore[attr-defined]
    ]
    rows = _export(course_dir)
    assert float(rows["ana"]["score"]) == 44


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
