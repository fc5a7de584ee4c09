"""A property may chain any number of dependent calls (no cap on rounds of calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from propgrade.config import load_course
from propgrade.engine.grading import grade_submission, prepare

GRADER = """
from hypothesis import strategies as st

from propgrade import check

STEPS = 40  # each call needs the previous answer: one round of calls per step


@check("halving_chain", "Halving x forty times, one call at a time, gives x / 2**40.",
       st.integers(1, 5))
def halving_chain(x, student):
    value = float(x)
    for _ in range(STEPS):
        value = student.call("halve", value)
    assert value == x / 2**STEPS, f"got {value}"
"""

CONFIG = """
assignments:
  chain:
    graders: graders
    graded_file: answer.py
    functions: [halve]
    hypothesis: {seed: 1, max_examples: 3}
    checks:
      halving_chain: {points: 1}
"""

ANSWERS = {
    "right": "def halve(x):\n    return x / 2\n",
    "wrong": "def halve(x):\n    return x / 2 if x > 1e-9 else x\n",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("chain")
    (base / "graders").mkdir()
    (base / "graders" / "__init__.py").write_text("")
    (base / "graders" / "test_public.py").write_text(GRADER)
    (base / "grading.yaml").write_text(CONFIG)
    for student, text in ANSWERS.items():
        (base / "class" / student).mkdir(parents=True)
        (base / "class" / student / "answer.py").write_text(text)
    return base


def test_a_long_chain_of_dependent_calls_is_graded(course: Path) -> None:
    plan = prepare(load_course(course / "grading.yaml").assignment("chain"))
    right = grade_submission(plan, "right", course / "class" / "right")
    wrong = grade_submission(plan, "wrong", course / "class" / "wrong")
    assert right.score == 1, right.checks[0].feedback
    assert wrong.score == 0
    feedback = wrong.checks[0].feedback
    assert feedback is not None and not feedback.internal_error
    assert feedback.message.startswith("got ")
