"""Hints are declared with the checks and shown the same way on every route.

A tiny course of its own: one check declares its hint, one gets it per variant from
``check_each``, one has its hint replaced in grading.yaml, and one has none. The student
page (also nbgrader's feedback page), the check cells of nbgrader's autograded notebook,
Gradescope's results.json and ``propgrade check`` must all show the same hint for the same
failure; a check without one gets the generic hint, whatever it is called.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import nbformat
import pytest
from conftest import TinyCourse
from hypothesis import strategies as st

from propgrade import GraderError, check, check_each
from propgrade.cli import main
from propgrade.config import load_course, load_released
from propgrade.engine.grading import grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.errors import ConfigError
from propgrade.export import gradescope_results, read_record, write_record
from propgrade.integrations.nbgrader_notebook import with_checks
from propgrade.reports.hints import GENERIC_HINT, hint_for
from propgrade.reports.student_page import render_student_page

GRADER = """
from hypothesis import strategies as st

from propgrade import CheckFailed, check, check_each

NUMBERS = st.integers(1, 5)


@check(
    "twice_works",
    "twice(x) returns 2 * x.",
    NUMBERS,
    hint="Multiply by two: HINT-DECLARED.",
)
def twice_works(x, student):
    assert student.call("twice", x) == 2 * x, "twice(x) is not 2 * x"


@check_each(
    {"twice": "twice", "thrice": "thrice"},
    "{key}_positive",
    "{fn}(x) > 0 for x > 0.",
    NUMBERS,
    hint="HINT-EACH for {fn} ({key}).",
)
def positive(x, student, fn):
    assert student.call(fn, x) > 0, f"{fn}(x) is not positive"


@check("twice_output_shapes", "twice(x) is an int.", NUMBERS, hint="HINT-IN-GRADER")
def twice_output_shapes(x, student):
    assert isinstance(student.call("twice", x), int), "not an int"


@check("thrice_works", "thrice(x) returns 3 * x.", NUMBERS)
def thrice_works(x, student):
    assert student.call("thrice", x) == 3 * x, "thrice(x) is not 3 * x"


@check("thrice_sign", "thrice(x) has the sign of x.", NUMBERS, hint="HINT-DECLARED-SIGN")
def thrice_sign(x, student):
    if student.call("thrice", x) < 0:
        raise CheckFailed("thrice(x) < 0", hint="HINT-OF-THE-FAILURE: the sign is flipped.")
"""

CONFIG = """
assignments:
  tiny:
    solution: solution
    release: released
    graders: graders
    graded_file: answer.py
    functions: [twice, thrice]
    hypothesis: {seed: 1, max_examples: 5}
    checks:
      twice_works: 1
      twice_positive: 1
      thrice_positive: 1
      twice_output_shapes: {points: 1, hint: "  HINT-FROM-YAML replaces the declared one.  "}
      thrice_works: 1
      thrice_sign: 1
"""

SOLUTION = """def twice(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


def thrice(x):
    ### BEGIN SOLUTION
    return 3 * x
    ### END SOLUTION
"""

WRONG = "def twice(x):\n    return -1.5\n\n\ndef thrice(x):\n    return -1\n"

EXPECTED = {
    "twice_works": "Multiply by two: HINT-DECLARED.",
    "twice_positive": "HINT-EACH for twice (twice).",
    "thrice_positive": "HINT-EACH for thrice (thrice).",
    "twice_output_shapes": "HINT-FROM-YAML replaces the declared one.",
    "thrice_works": "",
    "thrice_sign": "HINT-DECLARED-SIGN",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    files = {
        "grading.yaml": CONFIG,
        "graders/test_public.py": GRADER,
        "solution/answer.py": SOLUTION,
        "wrong/answer.py": WRONG,
    }
    return tiny_course(tmp_path_factory.mktemp("hints"), files)


@pytest.fixture(scope="module")
def wrong(course: Path) -> SubmissionResult:
    plan = prepare(load_course(course / "grading.yaml").assignment("tiny"))
    return grade_submission(plan, "wrong", course / "wrong")


def _release(course: Path, target: Path) -> None:
    argv = ["release", "tiny", "-c", str(course / "grading.yaml"), "-o", str(target)]
    assert main(argv, io.StringIO(), io.StringIO()) == 0


def test_results_carry_the_declared_hint(wrong: SubmissionResult) -> None:
    assert {c.id: c.hint for c in wrong.checks} == EXPECTED
    assert not any(c.passed for c in wrong.checks)


def test_a_check_without_a_hint_gets_the_generic_one_whatever_its_name(
    wrong: SubmissionResult,
) -> None:
    shown = {c.id: hint_for(c) for c in wrong.checks}
    assert shown["thrice_works"] == GENERIC_HINT
    # a failure that names its mistake shows its own hint instead of the declared one
    assert shown["thrice_sign"] == "HINT-OF-THE-FAILURE: the sign is flipped."
    # reports/ knows no assignment: an id ending like another assignment's check gets the
    # hint its own grader declared, not one chosen by the suffix.
    assert shown["twice_output_shapes"] == EXPECTED["twice_output_shapes"]


def test_every_route_shows_the_same_hint(
    course: Path, wrong: SubmissionResult, tmp_path: Path
) -> None:
    page = render_student_page(wrong)  # nbgrader's feedback page is this page too
    gradescope = {t["name"].split(":")[0]: t["output"] for t in gradescope_results(wrong)["tests"]}
    released = tmp_path / "released"
    _release(course, released)
    (released / "answer.py").write_text(WRONG)
    out = io.StringIO()
    assert main(["check", str(released)], out, io.StringIO()) == 1
    terminal = out.getvalue()
    # nbgrader: the check cells of the autograded notebook, which generate_feedback renders
    notebook = with_checks(nbformat.v4.new_notebook(), wrong)
    cells = {
        c.metadata["propgrade"]["check"]: json.dumps(c.outputs)
        for c in notebook.cells
        if "check" in c.metadata.get("propgrade", {})
    }
    for c in wrong.checks:
        hint = hint_for(c)
        assert hint is not None
        assert hint in page, c.id
        assert f"Hint: {hint}" in gradescope[c.id], c.id
        assert f"Hint: {hint}" in terminal, c.id
        assert json.dumps(f"Hint: {hint}")[1:-1] in cells[c.id], c.id
    # A stored record rebuilds the pages with the same hints.
    write_record(tmp_path / "out", wrong)
    again = read_record(tmp_path / "out", "wrong")
    assert again is not None and [c.hint for c in again.checks] == list(EXPECTED.values())
    assert [hint_for(c) for c in again.checks] == [hint_for(c) for c in wrong.checks]


def test_the_release_carries_grading_yamls_hint(course: Path, tmp_path: Path) -> None:
    released = tmp_path / "released"
    _release(course, released)
    assignment = load_released(released)
    assert assignment.check("twice_output_shapes").hint == EXPECTED["twice_output_shapes"]
    assert assignment.check("twice_works").hint == ""  # the grader's, which travels with it


def test_old_records_without_a_hint_still_read(wrong: SubmissionResult) -> None:
    data = wrong.to_dict()
    for c in data["checks"]:
        del c["hint"]
        del c["feedback"]["hint"]  # nor one of a failure
    old = SubmissionResult.from_dict(data)
    assert all(c.hint == "" and hint_for(c) == GENERIC_HINT for c in old.checks)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "expected a non-empty string, got int 3"),
        ('""', "expected a non-empty string"),
        ('"   "', "got blanks"),
    ],
)
def test_grading_yaml_hint_is_validated(tmp_path: Path, value: str, message: str) -> None:
    config = tmp_path / "grading.yaml"
    config.write_text(
        CONFIG.replace("thrice_works: 1", f"thrice_works: {{points: 1, hint: {value}}}")
    )
    with pytest.raises(ConfigError, match=message) as caught:
        load_course(config)
    assert "assignments.tiny.checks.thrice_works.hint" in str(caught.value)
    assert str(config) in str(caught.value)


def test_a_misspelt_hint_key_names_the_nearest(tmp_path: Path) -> None:
    config = tmp_path / "grading.yaml"
    config.write_text(CONFIG.replace("thrice_works: 1", 'thrice_works: {points: 1, hnit: "x"}'))
    with pytest.raises(ConfigError, match="unknown key") as caught:
        load_course(config)
    assert caught.value.hint == "did you mean 'hint'?"


def _prop(x: int, student: object) -> None:
    pass


def _each(x: int, student: object, fn: str) -> None:
    pass


@pytest.mark.parametrize("hint", [3, "", "  "])
def test_a_declared_hint_must_be_a_sentence(hint: object) -> None:
    with pytest.raises(GraderError, match="is not a hint"):
        check("c", "s.", st.just(1), hint=hint)(_prop)  # type: ignore[arg-type]
    with pytest.raises(GraderError, match="is not a hint"):
        check_each({"a": "f"}, "{key}_c", "s.", st.just(1), hint=hint)(_each)  # type: ignore[arg-type]


def test_a_hint_that_cannot_be_formatted_names_the_check() -> None:
    with pytest.raises(GraderError, match="'a_c': its hint cannot be formatted") as caught:
        check_each({"a": "f"}, "{key}_c", "s.", st.just(1), hint="use {N} samples")(_each)
    assert caught.value.hint is not None and "{{" in caught.value.hint
    made = check_each({"a": "f"}, "{key}_c", "s.", st.just(1), hint="a set {{1}} in {fn}")(_each)
    assert [c.hint for c in made] == ["a set {1} in f"]
