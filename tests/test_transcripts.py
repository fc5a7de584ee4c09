"""Property runs kept across students: the same answers end the same way, bodies unrun."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TinyCourse

from propgrade.config import load_course
from propgrade.engine.checks import CheckFailed
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.engine.transcripts import AnswerDigests, Ended, Transcripts, answer_digest
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    StudentFailure,
    SubclassArray,
    Unsupported,
)

ROOT = Path(__file__).resolve().parent.parent

GRADER = """
from hypothesis import strategies as st

from propgrade import check

STARTS = [0]  # property bodies started, over every check
CALLS = [0]  # for "drifting": a different argument every time its body runs


@check("halving_chain", "Halving x thirty times, one call at a time, gives x / 2**30.",
       st.integers(1, 5))
def halving_chain(x, student):
    STARTS[0] += 1
    value = float(x)
    for _ in range(30):
        value = student.call("halve", value)
    assert value == x / 2**30, f"got {value}"


@check("double", "Doubling x gives 2x.", st.integers(1, 50))
def double(x, student):
    STARTS[0] += 1
    assert student.call("double", x) == 2 * x, "not doubled"


@check("drifting", "A property that asks another call each time it runs (not allowed).",
       st.just(0))
def drifting(_, student):
    CALLS[0] += 1
    assert student.call("double", CALLS[0]) == 2 * CALLS[0], "not doubled"


@check("grader_fault", "A property that breaks on its own when double returns 0.",
       st.integers(1, 3))
def grader_fault(x, student):
    STARTS[0] += 1
    if student.call("double", x) == 0:
        raise ZeroDivisionError("the grader's own mistake")
"""

CONFIG = """
assignments:
  kept:
    graders: graders
    graded_file: answer.py
    functions: [halve, double]
    hypothesis: {seed: 3, max_examples: 4}
    checks:
      halving_chain: {points: 1}
      double: {points: 1}
      drifting: {points: 1}
      grader_fault: {points: 1}
"""

RIGHT = "def halve(x):\n    return x / 2\n\ndef double(x):\n    return 2 * x\n"
ANSWERS = {
    "right": RIGHT,
    "twin": "# the same answers, written otherwise\n" + RIGHT.replace("x / 2", "0.5 * x"),
    # Wrong only on the 25th step and later of each chain: its runs part from the kept
    # ones late, after 24 known answers.
    "late": RIGHT.replace("return x / 2", "return x / 2 if x > 2**-24 * 5.5 else x"),
    "zero": "def halve(x):\n    return 0.0\n\ndef double(x):\n    return 0\n",
    "small": RIGHT.replace("return 2 * x", "return 2 * x if x <= 50 else 0"),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    files = {"grading.yaml": CONFIG, "graders/test_kept.py": GRADER}
    files |= {f"class/{student}/answer.py": text for student, text in ANSWERS.items()}
    return tiny_course(tmp_path_factory.mktemp("kept"), files)


def _plan(course: Path) -> Plan:
    return prepare(load_course(course / "grading.yaml").assignment("kept"))


def _starts(plan: Plan) -> list[int]:
    starts: list[int] = plan.checks[0].prop.__globals__["STARTS"]
    return starts


def _grade(plan: Plan, course: Path, student: str) -> tuple[SubmissionResult, int]:
    """The result, and how many property bodies (but the drifting one's) started."""
    starts = _starts(plan)
    starts[0] = 0
    result = grade_submission(plan, student, course / "class" / student)
    return result, starts[0]


def _comparable(result: SubmissionResult) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("seconds")
    data.pop("student")
    return data


def _cases(plan: Plan, *checks: str) -> int:
    return sum(len(plan.cases[c]) for c in checks)


def test_a_student_with_an_earlier_students_answers_runs_no_property_body(
    course: Path,
) -> None:
    plan = _plan(course)
    first, started = _grade(plan, course, "right")
    assert first.score == 4
    assert started == _cases(plan, "halving_chain", "double", "grader_fault")
    assert plan.transcripts is not None
    before = plan.transcripts.replayed
    twin, started = _grade(plan, course, "twin")
    assert started == 0
    assert plan.transcripts.replayed - before == _cases(plan, *plan.cases)
    assert _comparable(twin)["checks"] == _comparable(first)["checks"]


def test_answers_that_part_from_the_kept_ones_run_the_body_and_grade_as_without(
    course: Path,
) -> None:
    kept = _plan(course)
    _grade(kept, course, "right")
    late, started = _grade(kept, course, "late")
    assert started > 0
    alone = _plan(course)
    alone.transcripts = None
    expected, _ = _grade(alone, course, "late")
    assert late.checks[0].points == 0 and late.checks[0].feedback is not None
    assert late.checks[0].feedback.message.startswith("got ")
    assert _comparable(late) == _comparable(expected)


def test_a_body_asking_other_calls_after_the_same_answers_is_never_replayed(
    course: Path,
) -> None:
    plan = _plan(course)
    assert plan.transcripts is not None
    _grade(plan, course, "right")
    case = plan.cases["drifting"][0]
    digests = AnswerDigests({})
    assert plan.transcripts.replay("drifting", 0, case, digests) is not None
    # "zero" answers the kept call otherwise, so the body runs, and asks another call
    # than the kept run did: what it would do after the same answers is not known.
    zero, _ = _grade(plan, course, "zero")
    assert zero.score == 0
    assert plan.transcripts.replay("drifting", 0, case, digests) is None


def test_a_grader_fault_is_not_kept_and_is_reported_with_its_traceback_again(
    course: Path,
) -> None:
    plan = _plan(course)
    first, _ = _grade(plan, course, "zero")
    assert "ZeroDivisionError" in first.meta["internal_error"]
    again, started = _grade(plan, course, "zero")
    assert started >= 1  # the faulty run's body
    assert "ZeroDivisionError" in again.meta["internal_error"]
    assert "Traceback" in again.meta["internal_error"]


def test_a_plan_copied_with_other_cases_does_not_replay_the_kept_runs(course: Path) -> None:
    plan = _plan(course)
    _grade(plan, course, "right")
    # "small" doubles the cases drawn (1 to 50) right, and no larger number: the kept
    # runs of the drawn cases would pass it.
    cases = dict(plan.cases, double=[x + 100 for x in plan.cases["double"]])
    copied = dataclasses.replace(plan, cases=cases)
    assert copied.transcripts is plan.transcripts
    result, started = _grade(copied, course, "small")
    assert started >= len(cases["double"])
    assert result.checks[1].id == "double" and result.checks[1].points == 0


def test_nothing_is_kept_past_the_bound(course: Path) -> None:
    plan = _plan(course)
    plan.transcripts = Transcripts(max_bytes=0)
    _, first = _grade(plan, course, "right")
    _, second = _grade(plan, course, "twin")
    assert second == first > 0
    assert plan.transcripts.replayed == 0 and plan.transcripts.size == 0


# -- what an answer's digest sees ------------------------------------------------------


def _outcome(value: Any = None, **fields: Any) -> CallOutcome:
    return CallOutcome(value=value, **fields)


DIFFERENT = [
    (_outcome(0.0), _outcome(-0.0)),
    (_outcome(1), _outcome(1.0)),
    (_outcome(1), _outcome(True)),
    (_outcome("1"), _outcome(1)),
    (_outcome(None), _outcome(Unsupported("set"))),
    (_outcome(Unsupported("set")), _outcome(Unsupported("frozenset"))),
    (_outcome(np.zeros(2)), _outcome(np.zeros(2, dtype=np.float32))),
    (_outcome(np.zeros(2)), _outcome(np.zeros((1, 2)))),
    (_outcome(np.zeros(2)), _outcome(np.zeros(2).view(SubclassArray))),
    (_outcome(np.array([1.0, 2.0])), _outcome(np.array([1.0, 2.5]))),
    (_outcome((1.0, 2.0)), _outcome((1.0, (2.0,)))),
    (_outcome({"a": 1, "b": 2}), _outcome({"b": 2, "a": 1})),
    (_outcome(1.0, trace_events=10), _outcome(1.0, trace_events=11)),
    (_outcome(1.0), _outcome(1.0, args_after=(np.zeros(1),))),
    (_outcome(1.0, args_after=(np.zeros(1),)), _outcome(1.0, args_after=(np.ones(1),))),
    (
        _outcome(failure=StudentFailure(FailureKind.EXCEPTION, "ValueError: a")),
        _outcome(failure=StudentFailure(FailureKind.EXCEPTION, "ValueError: b")),
    ),
    (
        _outcome(failure=StudentFailure(FailureKind.EXCEPTION, "E", "line 1")),
        _outcome(failure=StudentFailure(FailureKind.EXCEPTION, "E", "line 2")),
    ),
    (
        _outcome(failure=StudentFailure(FailureKind.TIMEOUT, "m")),
        _outcome(failure=StudentFailure(FailureKind.CRASH, "m")),
    ),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_answers_a_property_can_tell_apart_have_different_digests(
    a: CallOutcome, b: CallOutcome
) -> None:
    assert answer_digest(a) != answer_digest(b)


def test_only_the_time_a_call_took_is_left_out_of_its_digest() -> None:
    value = (1.5, np.arange(6.0).reshape(2, 3), {"t": 1})
    slow = _outcome(value, seconds=2.0, trace_events=5)
    fast = _outcome((1.5, np.arange(6.0).reshape(2, 3), {"t": 1}), seconds=0.1, trace_events=5)
    assert answer_digest(slow) == answer_digest(fast)


def test_a_kept_error_lets_go_of_the_frames_it_was_raised_in() -> None:
    key = ("f", False, False, b"k")
    call = Call("f", (1,))
    cache = {key: _outcome(2)}
    try:
        raise CheckFailed("wrong", got=np.ones(3))
    except CheckFailed as exc:
        error = exc
    assert error.__traceback__ is not None
    transcripts = Transcripts()
    transcripts.keep("c", 0, "case", [([key], [call])], AnswerDigests(cache), Ended(error, False))
    assert error.__traceback__ is None
    replay = transcripts.replay("c", 0, "case", AnswerDigests(cache))
    assert replay is not None
    replay.resume(cache)
    assert replay.ended is not None and replay.ended.error is error


def test_a_replay_waits_for_missing_answers_and_parts_at_unknown_ones() -> None:
    key = ("f", False, False, b"k")
    call = Call("f", (1,))
    transcripts = Transcripts()
    transcripts.keep(
        "c", 0, "case", [([key], [call])], AnswerDigests({key: _outcome(2)}), Ended(None, False)
    )
    empty: dict[Any, CallOutcome] = {}
    waiting = transcripts.replay("c", 0, "case", AnswerDigests(empty))
    assert waiting is not None
    waiting.resume(empty)
    assert waiting.waiting == {key: call} and waiting.ended is None and not waiting.diverged
    other = {key: _outcome(3)}
    parted = transcripts.replay("c", 0, "case", AnswerDigests(other))
    assert parted is not None
    parted.resume(other)
    assert parted.diverged and parted.ended is None
    assert transcripts.replay("c", 0, "another case", AnswerDigests(other)) is None


# -- the shipped assignments -------------------------------------------------------------


def _fixtures(assignment: str) -> list[Path]:
    folder = ROOT / "tests" / "submissions" / assignment
    return sorted(p for p in folder.iterdir() if p.is_dir())


@pytest.mark.sandbox
@pytest.mark.parametrize("assignment", ["linear_classifiers", "optimizers", "knn"])
def test_every_fixture_grades_the_same_with_kept_runs_as_without(assignment: str) -> None:
    course = load_course(ROOT / "grading.yaml")
    kept = prepare(course.assignment(assignment))
    alone = prepare(course.assignment(assignment))
    alone.transcripts = None
    folders = _fixtures(assignment)
    expected = [_comparable(grade_submission(alone, f.name, f)) for f in folders]
    # Twice through: the second time, every run on a drawn case can be walked.
    for _ in range(2):
        got = [_comparable(grade_submission(kept, f.name, f)) for f in folders]
        assert got == expected
    assert kept.transcripts is not None and kept.transcripts.replayed > 0
