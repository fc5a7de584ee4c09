"""A failing case shrinks through its own candidates: the first that fails the same way,
found without evaluating the candidates behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_tiny_course

from propgrade.config import load_course
from propgrade.engine.grading import grade_submission, prepare

GRADER = """
from dataclasses import dataclass

from hypothesis import strategies as st

from propgrade import check

TRIED = []  # every case the property ran on, in order


@dataclass(frozen=True)
class Numbers:
    values: tuple[int, ...]

    def shrink_candidates(self):
        # most aggressive first: drop the first number, then the second, ...
        if len(self.values) < 2:
            return []
        return [Numbers(self.values[:i] + self.values[i + 1 :]) for i in range(len(self.values))]

    def __repr__(self):
        return f"xs = {list(self.values)}"


@check("total", "total(xs) is the sum of xs.", st.just(Numbers(FIRST)))
def total(case, student):
    TRIED.append(case.values)
    got = student.call("total", list(case.values))
    # a second round of calls: the order of the numbers does not matter either
    backwards = student.call("total", list(reversed(case.values)))
    assert got == backwards == sum(case.values), f"total({list(case.values)}) returned {got}"
"""

CONFIG = """
assignments:
  sums:
    graders: graders
    graded_file: answer.py
    functions: [total]
    hypothesis: {seed: 1, max_examples: 1}
    checks:
      total: {points: 1}
"""


def graded(
    tmp_path: Path, first: tuple[int, ...], answer: str
) -> tuple[str, list[tuple[int, ...]]]:
    grader = GRADER.replace("FIRST", repr(first))
    files = {"grading.yaml": CONFIG, "graders/test_public.py": grader}
    write_tiny_course(tmp_path, files | {"student/answer.py": answer})
    plan = prepare(load_course(tmp_path / "grading.yaml").assignment("sums"))
    tried = plan.checks[0].prop.__globals__["TRIED"]
    result = grade_submission(plan, "student", tmp_path / "student")
    feedback = result.checks[0].feedback
    assert feedback is not None and result.score == 0
    # distinct cases, in the order first tried (a property may be replayed per round)
    return feedback.counterexample or "", list(dict.fromkeys(tried))


def test_the_first_candidate_that_fails_is_kept_and_those_behind_it_are_not_run(
    tmp_path: Path,
) -> None:
    counterexample, tried = graded(
        tmp_path, (1, 2, 3, 4, 5, 6, 7, 8), "def total(xs):\n    return sum(xs) + 1\n"
    )
    assert counterexample.strip() == "xs = [8]"
    # one candidate per step: the first always fails; 7 steps from 8 numbers to 1
    assert tried == [tuple(range(k, 9)) for k in range(1, 9)]


@pytest.mark.parametrize("crash", ["raise ValueError('thirteen')", "return None"])
def test_a_candidate_failing_another_way_does_not_hide_the_next_one(
    tmp_path: Path, crash: str
) -> None:
    # Dropping the 5 leaves 13 first, where this total raises: another failure, found in
    # the first round of calls, while the next candidate (dropping the 13) needs a second
    # round to fail the same way as the original case. The shrink must go on with it.
    # Returning None instead fails the same assertion as a wrong sum: that one is kept.
    answer = (
        "def total(xs):\n"
        "    if xs and xs[0] == 13:\n"
        f"        {crash}\n"
        "    return sum(xs) + (1 if len(xs) >= 2 else 0)\n"
    )
    counterexample, tried = graded(tmp_path, (5, 13, 7, 2), answer)
    assert counterexample.strip() == "xs = [7, 2]"
    if crash.startswith("raise"):
        assert tried[:3] == [(5, 13, 7, 2), (13, 7, 2), (5, 7, 2)]
    else:
        assert tried[:3] == [(5, 13, 7, 2), (13, 7, 2), (7, 2)]
