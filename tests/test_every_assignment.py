"""Every assignment of the course file goes through every route: release, check, Gradescope
and nbgrader. The deep tests of each route use linear_classifiers; these prove the engine
carries any assignment the same way (a second one shows it is a framework, not one exercise).
"""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from test_gradescope import simulate, validate_results
from test_nbgrader import code_cell, nbgrader, notebook, stamp

from propgrade.cli import main
from propgrade.config import AssignmentConfig, load_course
from propgrade.integrations.gradescope import build_gradescope_bundle

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = list(load_course(ROOT / "grading.yaml").assignments)


def assignment_of(name: str) -> AssignmentConfig:
    return load_course(ROOT / "grading.yaml").assignment(name)


def reference_text(a: AssignmentConfig) -> str:
    assert a.solution is not None
    return (a.solution / a.graded_file).read_text()


def first_bug(name: str) -> tuple[str, set[str]]:
    """The graded file and the checks it must fail, of the corpus's first single-bug fixture."""
    corpus = ROOT / "tests" / "submissions" / name
    folder = sorted(corpus.glob("bug_*"))[0]
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    graded = assignment_of(name).graded_file
    return (folder / graded).read_text(), set(expect["must_fail"])


def test_there_is_more_than_one_assignment() -> None:
    assert len(ASSIGNMENTS) >= 2


@pytest.mark.parametrize("name", ASSIGNMENTS)
@pytest.mark.sandbox  # grades the reference and the stub
def test_check_passes_the_reference_and_fails_the_stub(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = assignment_of(name)
    assert a.release is not None
    folder = tmp_path / name
    shutil.copytree(a.release, folder)
    monkeypatch.chdir(folder)
    assert main(["check"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("0 passed"), last
    (folder / a.graded_file).write_text(reference_text(a))
    assert main(["check"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith(" 0 failed"), last


@pytest.mark.sandbox
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_gradescope_bundle_grades_the_reference_and_a_bug(name: str, tmp_path: Path) -> None:
    a = assignment_of(name)
    bundle = build_gradescope_bundle(a, tmp_path / "autograder.zip")
    full = simulate(bundle, tmp_path / "ref", {a.graded_file: reference_text(a)})
    validate_results(full.data)
    assert full.failed() == []
    assert full.data["score"] == a.max_score

    text, must_fail = first_bug(name)
    buggy = simulate(bundle, tmp_path / "bug", {a.graded_file: text})
    validate_results(buggy.data)
    failed = {t["name"].split(":")[0] for t in buggy.failed()}
    assert must_fail <= failed
    assert buggy.data["score"] < full.data["score"]


@pytest.mark.nbgrader
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_nbgrader_course_gets_grades_for_the_reference_and_a_bug(name: str, tmp_path: Path) -> None:
    a = assignment_of(name)
    assert a.release is not None
    course = tmp_path / "course"
    source = course / "source" / name
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    (source / f"{name}.ipynb").write_text(notebook([code_cell("import numpy as np")]))
    (source / a.graded_file).write_text((a.release / a.graded_file).read_text())
    nbgrader(course, "generate_assignment", name)

    raw = yaml.safe_load((ROOT / "grading.yaml").read_text())
    body = raw["assignments"][name]
    for key in ("solution", "graders", "release"):
        body[key] = str((ROOT / body[key]).resolve())
    config = tmp_path / "grading.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    text, _ = first_bug(name)
    for student, graded in (("ana", reference_text(a)), ("ben", text)):
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        (folder / a.graded_file).write_text(graded)
        stamp(folder, datetime(2026, 12, 1, tzinfo=UTC))

    args = ["grade", "--nbgrader", str(course), "--assignment", name, "--config", str(config)]
    assert main(args) == 0
    nbgrader(course, "export", "--to", "export.csv")
    with (course / "export.csv").open() as handle:
        rows = {
            row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == name
        }
    total = a.max_score
    assert float(rows["ana"]["score"]) == total
    assert float(rows["ben"]["score"]) < total
    assert (course / "feedback" / "ben" / name / f"{name}.html").is_file()
