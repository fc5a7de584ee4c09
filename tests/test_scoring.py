"""How a check's points are decided, on a tiny course of its own.

``requires:`` gates checks on others; a plain ``assert`` in a property is a failed check;
any other exception in grader code is an internal error that is reported, never a 0.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import TinyCourse

from propgrade.cli import main
from propgrade.config import load_course
from propgrade.engine.grading import grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.export import gradescope_results
from propgrade.gradebook import grades_csv

GRADER = """
from hypothesis import strategies as st

from propgrade import check

NUMBERS = st.integers(1, 5)


@check("double_works", "double(x) returns 2 * x.", NUMBERS)
def double_works(x, student):
    assert student.call("double", x) == 2 * x, "double(x) is not 2 * x"


@check("double_positive", "double(x) > 0 for x > 0.", NUMBERS)
def double_positive(x, student):
    assert student.call("double", x) > 0, "double(x) is not positive"


@check("double_odd", "double(x) is odd (a property that does not hold).", NUMBERS)
def double_odd(x, student):
    assert student.call("double", x) % 2 == 1, "double(x) is even"


@check("double_grader_bug", "A check whose grader code is broken.", NUMBERS)
def double_grader_bug(x, student):
    student.call("double", x)
    raise ZeroDivisionError("grader bug")


@check("broken_gate", "A required check whose grader code is broken.", NUMBERS)
def broken_gate(x, student):
    if student.call("double", x) == 2 * x:
        raise KeyError("grader bug")


@check("after_broken_gate", "A check that needs the broken one.", NUMBERS)
def after_broken_gate(x, student):
    assert student.call("double", x) != 2 * x, "double(x) doubles"
"""

CONFIG = """
assignments:
  tiny:
    graders: graders
    graded_file: answer.py
    functions: [double]
    hypothesis: {seed: 1, max_examples: 5}
    checks:
      double_works: {points: 1}
      double_positive: {points: 1, requires: double_works}
      double_odd: {points: 1, requires: double_works}
      double_grader_bug: {points: 1, requires: [double_works]}
      broken_gate: {points: 0}
      after_broken_gate: {points: 1, requires: broken_gate}
"""

RIGHT = "def double(x):\n    return 2 * x\n"
WRONG = "def double(x):\n    return 1\n"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    files = {"grading.yaml": CONFIG, "graders/test_public.py": GRADER}
    files |= {"class/right/answer.py": RIGHT, "class/wrong/answer.py": WRONG}
    return tiny_course(tmp_path_factory.mktemp("tiny"), files)


@pytest.fixture(scope="module")
def graded(course: Path) -> dict[str, SubmissionResult]:
    plan = prepare(load_course(course / "grading.yaml").assignment("tiny"))
    return {
        student: grade_submission(plan, student, course / "class" / student)
        for student in ("right", "wrong")
    }


def _checks(result: SubmissionResult) -> dict[str, tuple[float, str]]:
    return {c.id: (c.points, c.feedback.message if c.feedback else "") for c in result.checks}


def test_a_check_counts_only_once_the_check_it_requires_passes(
    graded: dict[str, SubmissionResult],
) -> None:
    wrong = {c.id: c for c in graded["wrong"].checks}
    assert wrong["double_works"].feedback is not None
    assert not wrong["double_works"].feedback.blocked_by
    # double(x) = 1 is positive, but that earns nothing while double_works fails
    blocked = wrong["double_positive"]
    assert blocked.points == 0 and blocked.feedback is not None
    assert blocked.feedback.blocked_by == "double_works"
    assert "needs double_works to pass first" in blocked.feedback.message
    assert blocked.examples == 0  # not run at all
    assert graded["wrong"].score == 1  # after_broken_gate only: the double_* checks earn 0
    assert "internal_error" not in graded["wrong"].meta  # the broken check was never run


def test_a_plain_assert_is_a_failed_check_with_its_message(
    graded: dict[str, SubmissionResult],
) -> None:
    checks = _checks(graded["right"])
    assert checks["double_works"] == (1.0, "")
    assert checks["double_positive"] == (1.0, "")
    assert checks["double_odd"] == (0.0, "double(x) is even")
    odd = next(c for c in graded["right"].checks if c.id == "double_odd")
    assert odd.feedback is not None and not odd.feedback.internal_error
    assert odd.feedback.counterexample == "1"  # the smallest failing input


def test_any_other_exception_in_grader_code_is_an_internal_error(
    graded: dict[str, SubmissionResult],
) -> None:
    right = graded["right"]
    bug = next(c for c in right.checks if c.id == "double_grader_bug")
    assert bug.feedback is not None and bug.feedback.internal_error
    assert right.internal_error_checks == [
        "double_grader_bug",
        "broken_gate",
        "after_broken_gate",
    ]
    detail = right.meta["internal_error"]
    assert "check double_grader_bug raised ZeroDivisionError: grader bug" in detail
    assert "Traceback" in detail
    # the gradebook shows no grade for it, not a 0; nor a total that leaves it out
    rows = list(csv.DictReader(io.StringIO(grades_csv([right], [c.id for c in right.checks]))))
    assert rows[0]["double_grader_bug"] == "" and rows[0]["score"] == ""
    assert rows[0]["double_works"] == "1" and rows[0]["double_odd"] == "0"


def test_a_check_waiting_for_a_broken_check_is_no_grade_either(
    graded: dict[str, SubmissionResult],
) -> None:
    after = next(c for c in graded["right"].checks if c.id == "after_broken_gate")
    assert after.feedback is not None and after.feedback.internal_error
    assert after.feedback.blocked_by == "broken_gate"
    # where the grader did not fail, the gate held and the check was graded as usual
    wrong = {c.id: c for c in graded["wrong"].checks}
    assert wrong["broken_gate"].passed and wrong["after_broken_gate"].passed


def test_results_json_carries_the_hint_of_each_failed_check(
    graded: dict[str, SubmissionResult],
) -> None:
    tests = {t["name"].split(":")[0]: t for t in gradescope_results(graded["right"])["tests"]}
    assert "Hint: " in tests["double_odd"]["output"]
    assert "problem in the grader, not in your code" in tests["double_grader_bug"]["output"]
    blocked = {t["name"].split(":")[0]: t for t in gradescope_results(graded["wrong"])["tests"]}
    assert "Hint: " not in blocked["double_positive"]["output"]


def test_the_cli_names_the_broken_check_and_exits_3(course: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["grade", str(course / "class"), "-a", "tiny", "-o", str(tmp_path), "-j", "1"]
    code = main([*argv, "-c", str(course / "grading.yaml")], out=out, err=err)
    assert code == 3
    assert (
        "grading right hit an internal grader error in check(s) double_grader_bug, "
        "broken_gate, after_broken_gate" in err.getvalue()
    )
    assert "grading wrong" not in err.getvalue()
    record = json.loads((tmp_path / "right" / "propgrade.json").read_text())
    assert "ZeroDivisionError" in record["meta"]["internal_error"]
