"""What a large class costs in memory: the results kept for the reports stay small.

A class's results are all held until its reports are written, so each one should cost
little: a check record equal to another student's (every passed check) is held once,
texts shared between students are held once, and check records carry no instance dict.
"""

from __future__ import annotations

import gc
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from propgrade import batch
from propgrade.batch import Submission, grade_batch
from propgrade.config import load_course
from propgrade.engine import grading
from propgrade.engine.grading import Plan, prepare, zero_result
from propgrade.engine.memory import grading_memory_limit
from propgrade.engine.results import CheckResult, Feedback, SubmissionResult

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent


def _result(student: str, message: str) -> SubmissionResult:
    data = {
        "student": student,
        "assignment": "a",
        "checks": [
            {
                "id": "".join(["f_", "value"]),
                "sentence": "".join(["f returns ", "the right value."]),
                "points": 1.0,
                "max_points": 1.0,
                "status": "passed",
                "visibility": "visible",
                "feedback": None,
            },
            {
                "id": "".join(["f_", "shape"]),
                "sentence": "".join(["f returns ", "the right shape."]),
                "points": 0.0,
                "max_points": 1.0,
                "status": "failed",
                "visibility": "visible",
                "feedback": {"message": "".join(message), "counterexample": f"x = {student}"},
                "hint": "".join(["Look at ", "the axis."]),
            },
        ],
    }
    return SubmissionResult.from_dict(data)


def test_texts_shared_by_students_are_held_once() -> None:
    a, b = _result("ann", ["got the ", "wrong shape"]), _result("bob", ["got the ", "wrong shape"])
    for first, second in zip(a.checks, b.checks, strict=True):
        assert first.id is second.id
        assert first.sentence is second.sentence
        assert first.hint is second.hint
    assert a.checks[1].feedback is not None and b.checks[1].feedback is not None
    assert a.checks[1].feedback.message is b.checks[1].feedback.message
    # What differs between students stays theirs.
    assert a.checks[1].feedback.counterexample == "x = ann"
    assert b.checks[1].feedback.counterexample == "x = bob"


def test_per_check_records_have_no_instance_dictionary() -> None:
    check = _result("ann", ["m"]).checks[1]
    assert isinstance(check, CheckResult) and isinstance(check.feedback, Feedback)
    assert not hasattr(check, "__dict__")
    assert not hasattr(check.feedback, "__dict__")


def test_a_result_survives_the_round_trip_through_a_dict() -> None:
    result = _result("ann", ["got the ", "wrong shape"])
    again = SubmissionResult.from_dict(result.to_dict())
    assert again == result


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_plan_is_left_out_of_garbage_collection_while_a_batch_grades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    # Full collections walked the plan's objects again and again: frozen while grading
    # (in the pool's forked processes too), and given back to the collector after.
    plan = prepare(load_course(ROOT / "grading.yaml").assignment("linear_classifiers"))

    def seen_by_the_collector(plan: Plan, student: str, folder: Path) -> SubmissionResult:
        return zero_result(plan, student, f"frozen {gc.get_freeze_count()}")

    monkeypatch.setattr(batch, "grade_upload", seen_by_the_collector)
    submissions = []
    for student in ("ann", "bob"):
        (tmp_path / "in" / student).mkdir(parents=True)
        submissions.append(Submission(student, tmp_path / "in" / student))
    assert gc.get_freeze_count() == 0
    report = grade_batch(plan, submissions, tmp_path / "out", jobs=jobs, resume=False)
    frozen = [
        int(r.checks[0].feedback.message.split()[1]) for r in report.results if r.checks[0].feedback
    ]
    assert len(frozen) == 2 and min(frozen) > 1000
    assert gc.get_freeze_count() == 0


def test_a_class_holds_one_copy_of_each_equal_check_record(tmp_path: Path) -> None:
    plan = prepare(load_course(ROOT / "grading.yaml").assignments["linear_classifiers"])
    submissions = []
    for student in ("ann", "bob", "cay"):
        (tmp_path / "in" / student).mkdir(parents=True)
        submissions.append(Submission(student, tmp_path / "in" / student))

    def grader(plan: Plan, todo: list[Submission]) -> Iterator[SubmissionResult]:
        for submission in todo:
            checks = [
                CheckResult(c.id, c.sentence, 1.0, 1.0, "passed", "visible") for c in plan.checks
            ]
            # Each student fails the first check on a counterexample of their own.
            feedback = Feedback("wrong", counterexample=f"x = {submission.student}")
            checks[0] = CheckResult(plan.checks[0].id, "s", 0.0, 1.0, "failed", "visible", feedback)
            yield SubmissionResult(submission.student, "linear_classifiers", checks)

    report = grade_batch(plan, submissions, tmp_path / "out", grader=grader)
    ann, bob, cay = report.results
    assert all(
        a is b is c for a, b, c in zip(ann.checks[1:], bob.checks[1:], cay.checks[1:], strict=True)
    )
    assert len({id(r.checks[0]) for r in report.results}) == 3
    assert [
        r.checks[0].feedback.counterexample for r in report.results if r.checks[0].feedback
    ] == [
        "x = ann",
        "x = bob",
        "x = cay",
    ]
    # What was stored is each student's own, whole result.
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 4


# -- the grading process's own limit (engine/memory.py) --------------------------------------


def test_grading_may_grow_the_process_by_its_limit_and_no_more() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    with grading_memory_limit(256) as limit:
        assert limit is not None
        with pytest.raises(MemoryError):
            bytearray(512 << 20)
        kept = bytearray(64 << 20)  # well inside: grading goes on
        del kept
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert len(bytearray(512 << 20)) == 512 << 20  # the limit is gone again


def test_a_submission_that_exhausts_the_graders_memory_scores_0_and_is_not_graded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = prepare(load_course(ROOT / "grading.yaml").assignments["linear_classifiers"])
    folder = tmp_path / "in" / "hog"
    folder.mkdir(parents=True)
    (folder / "losses.py").write_text((ROOT / "solutions/linear_classifiers/losses.py").read_text())
    calls = []

    def exhausted(*args: object) -> None:
        calls.append(args)
        raise MemoryError()

    monkeypatch.setattr(grading, "_evaluate_in_stages", exhausted)
    out = tmp_path / "out"
    first = grade_batch(plan, [Submission("hog", folder)], out)
    (result,) = first.results
    assert sum(c.points for c in result.checks) == 0
    assert "more than the 4096 MB of memory the grader allows" in (result.error or "")
    assert first.internal_errors == []
    again = grade_batch(plan, [Submission("hog", folder)], out)
    assert again.reused == 1 and len(calls) == 1  # kept, not retried on every run
