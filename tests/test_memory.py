"""What a large class costs in memory: the results kept for the reports stay small.

A class's results are all held until its reports are written, so each one should cost a
few KiB: check texts shared between students are held once, and per-check records carry
no instance dictionary.
"""

from __future__ import annotations

from propgrade.engine.results import CheckResult, Feedback, SubmissionResult


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
