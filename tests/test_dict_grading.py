"""An optimizer assignment graded end to end: config dicts, keyword arguments, reference.

Functions ``f(w, dw, config=None) -> (next_w, config)`` as in CS231n's optim.py. What
cannot be sent fails the one check concerned: a grader's unsendable argument is that
check's internal error, a student's unsendable value that check's failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TinyCourse

from propgrade.config import load_course
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.engine.results import SubmissionResult

GRADER = """
import numpy as np
from hypothesis import strategies as st

from propgrade import CheckFailed, check, expect

SEEDS = st.integers(0, 3)
CONFIG = {"learning_rate": 0.1, "momentum": 0.9}


def arrays(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 2)), rng.normal(size=(3, 2))


def step(student, w, dw, config):
    result = student.call("sgd_momentum", w, dw, config=config)
    next_w, next_config = expect.pair(result, "sgd_momentum(w, dw, config)")
    return next_w, expect.mapping(next_config, "the returned config", ["velocity"])


@check("matches_reference", "One step matches the reference.", SEEDS)
def matches_reference(seed, student, reference):
    w, dw = arrays(seed)
    next_w, config = step(student, w, dw, dict(CONFIG))
    want_w, want_config = reference.sgd_momentum(w, dw, config=dict(CONFIG))
    expect.close(expect.array(next_w, "next_w", w.shape), want_w, "next_w", rtol=1e-9)
    velocity = expect.array(config["velocity"], "config['velocity']", w.shape)
    expect.close(velocity, want_config["velocity"], "config['velocity']", rtol=1e-9)


@check("keeps_learning_rate", "The config keeps its learning rate.", SEEDS)
def keeps_learning_rate(seed, student):
    w, dw = arrays(seed)
    _, config = step(student, w, dw, dict(CONFIG))
    if config.get("learning_rate") != CONFIG["learning_rate"]:
        raise CheckFailed("sgd_momentum changed the learning rate", expected=CONFIG, got=config)


@check("velocity_finite", "The velocity stays finite.", SEEDS)
def velocity_finite(seed, student):
    w, dw = arrays(seed)
    # No expect helper on purpose: a grader that uses a value as it comes.
    config = student.call("sgd_momentum", w, dw, config=dict(CONFIG))[1]
    assert np.all(np.isfinite(config["velocity"] * 2)), "the velocity is not finite"


@check("opposite_gradients", "Opposite gradients give mirrored steps.", SEEDS)
def opposite_gradients(seed, student):
    w, dw = arrays(seed)
    zero = np.zeros_like(w)
    up, down = student.map("sgd_momentum", [(zero, dw), (zero, -dw)], {"config": dict(CONFIG)})
    expect.close(expect.pair(up, "up")[0], -expect.pair(down, "down")[0], "step", rtol=1e-12)


@check("w_unchanged", "sgd_momentum does not modify w in place.", SEEDS)
def w_unchanged(seed, student):
    w, dw = arrays(seed)
    outcome = student.outcome("sgd_momentum", w, dw, config=dict(CONFIG), echo_args=True)
    expect.unchanged(w, outcome.args_after[0], "w")


@check("grader_sends_a_set", "A grader mistake: a set as the learning rate.", SEEDS)
def grader_sends_a_set(seed, student):
    w, dw = arrays(seed)
    student.call("sgd_momentum", w, dw, config={"learning_rate": {0.1}})
"""

RIGHT = """
import numpy as np


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config
"""

STUDENTS = {
    "right": RIGHT,
    # The velocity as a set of numbers: it cannot be sent, and must not break the grader.
    "set_velocity": RIGHT.replace(
        'config["velocity"] = v', 'config["velocity"] = set(v.ravel().tolist())'
    ),
    # A sign error, and a learning rate that decays in place.
    "wrong": RIGHT.replace("- config[", "+ config[").replace(
        "    return w + v", '    config["learning_rate"] /= 2\n    return w + v'
    ),
}

CONFIG = """
assignments:
  optim:
    graders: graders
    solution: solution
    graded_file: optim.py
    functions: [sgd_momentum]
    hypothesis: {seed: 3, max_examples: 4}
    checks:
      matches_reference: {points: 2, visibility: hidden}
      keeps_learning_rate: {points: 1}
      velocity_finite: {points: 1}
      opposite_gradients: {points: 1}
      w_unchanged: {points: 1}
      grader_sends_a_set: {points: 1}
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    files = {"grading.yaml": CONFIG, "graders/test_optim.py": GRADER, "solution/optim.py": RIGHT}
    files |= {f"class/{student}/optim.py": text for student, text in STUDENTS.items()}
    return tiny_course(tmp_path_factory.mktemp("optim"), files)


@pytest.fixture(scope="module")
def plan(course: Path) -> Plan:
    return prepare(load_course(course / "grading.yaml").assignment("optim"))


@pytest.fixture(scope="module")
def graded(plan: Plan, course: Path) -> dict[str, SubmissionResult]:
    return {name: grade_submission(plan, name, course / "class" / name) for name in STUDENTS}


def outcomes(result: SubmissionResult) -> dict[str, str]:
    """Each check as passed, failed or internal (the grader's own fault)."""
    shown = {}
    for c in result.checks:
        if c.feedback is None:
            shown[c.id] = "passed"
        else:
            shown[c.id] = "internal" if c.feedback.internal_error else "failed"
    return shown


def feedback(result: SubmissionResult, check_id: str) -> str:
    (found,) = [c for c in result.checks if c.id == check_id]
    assert found.feedback is not None
    return found.feedback.message


def test_a_correct_optimizer_passes_every_check_the_grader_can_send(
    graded: dict[str, SubmissionResult],
) -> None:
    assert outcomes(graded["right"]) == {
        "matches_reference": "passed",
        "keeps_learning_rate": "passed",
        "velocity_finite": "passed",
        "opposite_gradients": "passed",
        "w_unchanged": "passed",
        "grader_sends_a_set": "internal",
    }


def test_an_unsendable_argument_is_that_checks_internal_error_and_says_why(
    graded: dict[str, SubmissionResult],
) -> None:
    message = feedback(graded["right"], "grader_sends_a_set")
    assert "not your fault" in message
    assert "cannot send config['learning_rate']: a value of type set" in message
    assert "dicts with str keys" in message
    assert "grader_sends_a_set" in graded["right"].meta["internal_error"]


def test_an_unsendable_return_value_fails_the_checks_that_use_it_for_the_student(
    graded: dict[str, SubmissionResult],
) -> None:
    assert outcomes(graded["set_velocity"]) == {
        "matches_reference": "failed",
        "keeps_learning_rate": "passed",
        "velocity_finite": "failed",  # the grader's own arithmetic broke on the set
        "opposite_gradients": "passed",
        "w_unchanged": "passed",
        "grader_sends_a_set": "internal",
    }
    message = feedback(graded["set_velocity"], "velocity_finite")
    assert "sgd_momentum(...)[1]['velocity'] is a set;" in message
    assert "cannot be sent back to the grader" in message
    assert "dicts with str keys" in message
    reference_check = [c for c in graded["set_velocity"].checks if c.id == "matches_reference"]
    assert reference_check[0].feedback is not None
    assert "set object" in (reference_check[0].feedback.got or "")


def test_a_wrong_optimizer_fails_with_its_config_shown_compactly(
    graded: dict[str, SubmissionResult],
) -> None:
    result = graded["wrong"]
    assert outcomes(result)["matches_reference"] == "failed"
    assert outcomes(result)["keeps_learning_rate"] == "failed"
    (kept,) = [c for c in result.checks if c.id == "keeps_learning_rate"]
    assert kept.feedback is not None
    assert kept.feedback.expected == "{'learning_rate': 0.1, 'momentum': 0.9}"
    assert kept.feedback.got.startswith(
        "{'learning_rate': 0.05, 'momentum': 0.9, 'velocity': array([["
    )
    assert "\n" not in kept.feedback.got


def test_dict_feedback_is_the_same_every_time(
    plan: Plan, course: Path, graded: dict[str, SubmissionResult]
) -> None:
    again = grade_submission(plan, "wrong", course / "class" / "wrong")
    assert [c.feedback for c in again.checks] == [c.feedback for c in graded["wrong"].checks]
