"""``propgrade new``: a scaffolded assignment releases, grades and selftests as it stands."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from propgrade.cli import main

pytestmark = pytest.mark.selftest


def run(*argv: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def graded(out_dir: Path, student: str) -> tuple[float, set[str]]:
    """(score, ids of the checks that did not pass) from the student's propgrade.json."""
    data = json.loads((out_dir / student / "propgrade.json").read_text())
    failed = {c["id"] for c in data["checks"] if c["status"] != "passed"}
    return sum(c["points"] for c in data["checks"]), failed


def test_a_new_course_grades_its_own_corpus_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "created" in out and "propgrade release week1" in out
    course = yaml.safe_load((tmp_path / "grading.yaml").read_text())
    assert course["assignments"]["week1"]["graded_file"] == "week1.py"

    code, _, err = run("release", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, err
    stub = (tmp_path / "assignments" / "week1" / "week1.py").read_text()
    assert "NotImplementedError" in stub and "np.mean" not in stub
    assert not (tmp_path / "assignments" / "week1" / "checks" / "test_hidden.py").exists()

    out_dir = tmp_path / "grades"
    corpus = tmp_path / "tests" / "submissions" / "week1"
    code, _, err = run(
        "grade", str(corpus), "--assignment", "week1", "--out", str(out_dir), "--jobs", "2",
        cwd=tmp_path, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    assert graded(out_dir, "correct_reference") == (5.0, set())
    assert graded(out_dir, "stub")[0] == 0.0
    assert graded(out_dir, "bug_sum_not_mean")[1] == {"mse_reference"}
    assert graded(out_dir, "bug_mutates_pred")[1] == {"mse_inputs_unchanged"}

    # Hints are declared with the checks and reach the student's page.
    page = (out_dir / "bug_mutates_pred" / "feedback.html").read_text()
    assert "Compute into new arrays" in page

    code, out, err = run("selftest", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, out + err


def test_a_second_assignment_is_appended_keeping_the_course_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = "# my course, my comments\ncourse: Numerics\n\nassignments:\n"
    assert run("new", "first", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    text = (tmp_path / "grading.yaml").read_text()
    (tmp_path / "grading.yaml").write_text(text.replace(text.split("assignments:\n")[0], original))
    code, out, err = run(
        "new", "second", "--graded-file", "optim.py", cwd=tmp_path, monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert "added to" in out
    text = (tmp_path / "grading.yaml").read_text()
    assert text.startswith(original)
    course = yaml.safe_load(text)
    assert list(course["assignments"]) == ["first", "second"]
    assert (tmp_path / "solutions" / "second" / "optim.py").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["new", "Week-1"], "not a valid assignment name"),
        (["new", "class"], "not a valid assignment name"),
        (["new", "ok", "--graded-file", "x.txt"], "not an importable module file name"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    code, _, err = run(*argv, cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


def test_nothing_existing_is_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    code, _, err = run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "already exists" in err

    (tmp_path / "graders" / "week2").mkdir()
    (tmp_path / "graders" / "week2" / "mine.py").write_text("# an instructor's file\n")
    before = (tmp_path / "grading.yaml").read_text()
    code, _, err = run("new", "week2", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "not overwriting" in err and "graders/week2" in err
    assert (tmp_path / "grading.yaml").read_text() == before
    assert not (tmp_path / "solutions" / "week2").exists()


def test_a_course_file_that_cannot_take_the_entry_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    course = tmp_path / "grading.yaml"
    # `assignments:` is no longer the last top-level key: appending would land elsewhere.
    text = course.read_text()
    _, body = text.split("assignments:\n")
    course.write_text("assignments:\n" + body + "course: Moved to the end\n")
    before = course.read_text()
    code, _, err = run("new", "week2", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "could not add 'week2'" in err
    assert course.read_text() == before
    assert not (tmp_path / "solutions" / "week2").exists()
    assert not (tmp_path / "graders" / "week2").exists()
    assert not (tmp_path / "tests" / "submissions" / "week2").exists()


def test_release_refuses_a_misspelt_check_id_as_grade_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    course = tmp_path / "grading.yaml"
    course.write_text(course.read_text().replace("mse_nonnegative:", "mse_nonnegtive:"))
    code, _, err = run("release", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert "grading.yaml: assignments.week1.checks.mse_nonnegtive" in err
    assert "did you mean 'mse_nonnegative'?" in err
    # Nothing was released: a broken assignment.yaml never reaches students.
    assert not (tmp_path / "assignments" / "week1").exists()


def test_release_keeps_the_stub_fixture_equal_to_the_released_stub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    solution = tmp_path / "solutions" / "week1" / "week1.py"
    solution.write_text(solution.read_text().replace("Mean squared error", "Mean square error"))
    code, out, err = run("release", "week1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, err
    fixture = tmp_path / "tests" / "submissions" / "week1" / "stub" / "week1.py"
    assert "refreshed the stub fixture" in out
    released = (tmp_path / "assignments" / "week1" / "week1.py").read_text()
    assert fixture.read_text() == released and "Mean square error" in released
    # A trial release elsewhere leaves the course's fixture alone.
    solution.write_text(solution.read_text().replace("Mean square error", "MSE"))
    code, out, err = run(
        "release", "week1", "--out", str(tmp_path / "trial"), cwd=tmp_path, monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert fixture.read_text() == released


def test_selftest_checks_the_courses_own_fixtures_and_names_one_that_does_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    corpus = tmp_path / "tests" / "submissions" / "week1"
    expect = corpus / "bug_sum_not_mean" / "expect.yaml"
    expect.write_text(expect.read_text().replace("[mse_reference]", "[mse_nonnegative]"))
    code, out, err = run("selftest", "week1", "--out", "st", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 1, out + err
    assert "fixtures: 3 of 4 hold their expect.yaml" in out
    assert f"error: fixture bug_sum_not_mean ({corpus / 'bug_sum_not_mean'}): " in err
    assert "mse_nonnegative should fail, but passed" in err
    assert "only ['mse_nonnegative'] should fail; also failed: ['mse_reference']" in err
    assert "the fixture corpus has 1 correct_* and 2 bug_* fixtures" in err

    # A misspelt expectation would test nothing: it is refused, with the nearest key.
    expect.write_text("description: x\nmust_fial: [mse_reference]\n")
    code, out, err = run("selftest", "week1", "--out", "st", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert "bug_sum_not_mean/expect.yaml: must_fial: unknown key" in err
    assert "did you mean 'must_fail'?" in err


HAND_MUTANT = '''"""Mean absolute error instead of squared."""
import numpy as np


def mse(pred, target):
    return float(np.mean(np.abs(np.asarray(pred, float) - np.asarray(target, float))))
'''


def test_hand_written_mutants_are_graded_named_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("new", "week1", cwd=tmp_path, monkeypatch=monkeypatch)[0] == 0
    code, out, err = run("selftest", "week1", "--out", "st", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, out + err
    counts = re.search(r"killed (\d+) of (\d+) non-equivalent", out)
    assert counts is not None, out
    killed, counted = map(int, counts.groups())

    mutants = tmp_path / "tests" / "mutants" / "week1"
    mutants.mkdir(parents=True)
    (mutants / "absolute_error.py").write_text(HAND_MUTANT)
    code, out, err = run("selftest", "week1", "--out", "st", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0, out + err
    assert f"killed {killed + 1} of {counted + 1} non-equivalent" in out
    assert (
        "hand-written absolute_error.py: Mean absolute error instead of squared.: killed by "
        "mse_reference" in out
    )
    assert "hand-absolute_error" in (tmp_path / "st" / "selftest.html").read_text()
