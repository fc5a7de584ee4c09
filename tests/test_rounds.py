"""A property may chain any number of dependent calls (no cap on rounds of calls)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TinyCourse

from propgrade.config import load_course
from propgrade.engine import grading
from propgrade.engine.grading import grade_submission, prepare
from propgrade.engine.results import Feedback
from propgrade.sandbox.calls import Call

STEPS_PER_CASE = 40

GRADER = """
from hypothesis import strategies as st

from propgrade import check

STEPS = 40  # each call needs the previous answer: one round of calls per step
STARTS = [0]  # how often a property body started: replayed, or once in a fiber
ENDS = [0]  # how often a body ended, by returning, raising or being abandoned


@check("halving_chain", "Halving x forty times, one call at a time, gives x / 2**40.",
       st.integers(1, 5))
def halving_chain(x, student):
    STARTS[0] += 1
    try:
        value = float(x)
        for _ in range(STEPS):
            value = student.call("halve", value)
        assert value == x / 2**STEPS, f"got {value}"
    finally:
        ENDS[0] += 1


ONE_ROUND_STARTS = [0]


@check("double_once", "Doubling x gives 2x.", st.integers(1, 50))
def double_once(x, student):
    ONE_ROUND_STARTS[0] += 1
    assert student.call("double", x) == 2 * x
"""

CONFIG = """
assignments:
  chain:
    graders: graders
    graded_file: answer.py
    functions: [halve, double]
    hypothesis: {seed: 1, max_examples: 3}
    checks:
      halving_chain: {points: 1}
      double_once: {points: 1, max_examples: 5}
"""

DOUBLE = "def double(x):\n    return 2 * x\n"
ANSWERS = {
    "right": "def halve(x):\n    return x / 2\n" + DOUBLE,
    "wrong": "def halve(x):\n    return x / 2 if x > 1e-9 else x\n" + DOUBLE,
}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, tiny_course: TinyCourse) -> Path:
    files = {"grading.yaml": CONFIG, "graders/test_public.py": GRADER}
    files |= {f"class/{student}/answer.py": text for student, text in ANSWERS.items()}
    return tiny_course(tmp_path_factory.mktemp("chain"), files)


def _graded(course: Path) -> dict[str, tuple[float, object, int]]:
    plan = prepare(load_course(course / "grading.yaml").assignment("chain"))
    starts = plan.checks[0].prop.__globals__["STARTS"]
    graded = {}
    for student in ANSWERS:
        starts[0] = 0
        result = grade_submission(plan, student, course / "class" / student)
        graded[student] = (result.checks[0].points, result.checks[0].feedback, starts[0])
    return graded


@pytest.fixture
def no_collection() -> Iterator[None]:
    # With the cycle collector off, a paused property that the engine forgot would stay
    # paused until the end of the test instead of being unwound by a collection.
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_long_chain_of_dependent_calls_is_graded(course: Path) -> None:
    graded = _graded(course)
    assert graded["right"][0] == 1, graded["right"][1]
    score, feedback, _ = graded["wrong"]
    assert score == 0
    assert isinstance(feedback, Feedback) and not feedback.internal_error
    assert feedback.message.startswith("got ")


def test_a_chain_continues_instead_of_replaying_from_the_start(course: Path) -> None:
    # 3 cases of 40 steps: replaying would start each body once per step (120 starts).
    starts = _graded(course)["right"][2]
    assert starts == 3, starts


def test_every_property_body_runs_once_per_case(course: Path) -> None:
    # A body that makes its one call in one round used to run twice: once to find the
    # call, once more with the answer.
    plan = prepare(load_course(course / "grading.yaml").assignment("chain"))
    starts = plan.checks[1].prop.__globals__["ONE_ROUND_STARTS"]
    starts[0] = 0
    result = grade_submission(plan, "right", course / "class" / "right")
    assert result.score == 2, result.checks
    assert starts[0] == len(plan.cases["double_once"]) == 5


def test_continuing_gives_the_grades_replaying_gives(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    continued = _graded(course)
    monkeypatch.setattr(grading, "REPLAY_ROUNDS", 10**9)
    replayed = _graded(course)
    assert replayed["right"][2] >= 3 * STEPS_PER_CASE
    for student in ANSWERS:
        assert continued[student][:2] == replayed[student][:2], student


@pytest.mark.usefixtures("no_collection")
def test_no_paused_property_outlives_its_submission(course: Path) -> None:
    # "wrong" fails its first case: the other cases' paused runs are abandoned, and each
    # unwinds (its finally blocks run) before grading returns.
    plan = prepare(load_course(course / "grading.yaml").assignment("chain"))
    names = plan.checks[0].prop.__globals__
    names["STARTS"][0] = names["ENDS"][0] = 0
    result = grade_submission(plan, "wrong", course / "class" / "wrong")
    assert result.checks[0].points == 0
    assert names["STARTS"][0] >= 3
    assert names["ENDS"][0] == names["STARTS"][0]


STEP_GRADER = """
import numpy as np
from hypothesis import strategies as st

from propgrade import check, expect

STEPS = 200


@check("two_hundred_steps", "Two hundred momentum steps, each fed the last config, converge.",
       st.integers(0, 1))
def two_hundred_steps(seed, student):
    w = np.random.default_rng(seed).normal(size=(4, 3))
    config = {"learning_rate": 0.1, "momentum": 0.5, "t": 0, "tag": "momentum"}
    for _ in range(STEPS):
        result = student.call("step", w, 2 * w, config=config)  # gradient of |w|^2
        w, config = expect.pair(result, "step(w, dw, config)")
        config = expect.mapping(config, "the config", ["velocity", "t"])
    assert config["t"] == STEPS, f"t is {config['t']}"
    assert config["tag"] == "momentum"
    assert np.abs(w).max() < 1e-6, f"w did not converge: {np.abs(w).max()}"
"""

STEP_CONFIG = """
assignments:
  steps:
    graders: graders
    graded_file: optim.py
    functions: [step]
    hypothesis: {seed: 1, max_examples: 2}
    checks:
      two_hundred_steps: {points: 1}
"""

STEP = """
import numpy as np

def step(w, dw, config):
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    config["t"] += 1
    return w + v, config
"""


def test_two_hundred_dependent_calls_pass_a_config_dict_along(
    tmp_path: Path, tiny_course: TinyCourse
) -> None:
    files = {"grading.yaml": STEP_CONFIG, "graders/test_steps.py": STEP_GRADER}
    tiny_course(tmp_path, files | {"student/optim.py": STEP})
    plan = prepare(load_course(tmp_path / "grading.yaml").assignment("steps"))
    result = grade_submission(plan, "student", tmp_path / "student")
    assert result.score == 1, result.checks[0].feedback


FIRST_FAILURE_GRADER = """
from hypothesis import strategies as st

from propgrade import check


@check("two_calls", "f(x) is 1, then g(x) answers.", st.integers(0, 10**6))
def two_calls(x, student):
    assert student.call("f", x) == 1, "f(x) is not 1"
    student.call("g", x)
"""

FIRST_FAILURE_CONFIG = """
assignments:
  first:
    graders: graders
    graded_file: answer.py
    functions: [f, g]
    hypothesis: {seed: 3, max_examples: 10}
    checks:
      two_calls: {points: 1}
"""


def _batches_sent(monkeypatch: pytest.MonkeyPatch) -> list[list[Call]]:
    """Every batch of calls the engine sends to a worker from now on, in order."""
    batches: list[list[Call]] = []
    run = grading.Worker.run

    def recording(self: grading.Worker, calls: list[Call], **options: object) -> list:
        batches.append(list(calls))
        return run(self, calls, **options)

    monkeypatch.setattr(grading.Worker, "run", recording)
    return batches


def test_cases_after_a_checks_first_failure_make_no_further_calls(
    tmp_path: Path, tiny_course: TinyCourse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a check's first failing case is reported: a case behind it that is still
    # waiting for answers is dropped, and its next call is never sent.
    files = {"grading.yaml": FIRST_FAILURE_CONFIG, "graders/test_public.py": FIRST_FAILURE_GRADER}
    tiny_course(tmp_path, files)
    plan = prepare(load_course(tmp_path / "grading.yaml").assignment("first"))
    cases = plan.cases["two_calls"]
    assert len(set(cases)) == len(cases) == 10
    failing = 3
    student = tmp_path / "student"
    student.mkdir()
    (student / "answer.py").write_text(
        f"def f(x):\n    return 0 if x == {cases[failing]} else 1\n\ndef g(x):\n    return x\n"
    )
    batches = _batches_sent(monkeypatch)
    monkeypatch.setattr(grading, "shrink_greedily", lambda plan, w, c, k, case, e: (case, e, False))
    result = grade_submission(plan, "student", student)
    assert result.checks[0].points == 0
    sent = [(call.function, call.args[0]) for batch in batches for call in batch]
    assert sorted(x for name, x in sent if name == "f") == sorted(cases)  # one round
    assert [x for name, x in sent if name == "g"] == cases[:failing]


COUNTED_GRADER = """
from hypothesis import strategies as st

from propgrade import check


@check("counted_pair", "f runs the same Python lines for 2 and for 40.", st.just(None))
def counted_pair(_, student):
    few, many = student.outcomes("f", [(2,), (40,)], trace=True)
    assert (few.value, many.value) == (2, 40)
    assert few.trace_events is not None and many.trace_events is not None
    assert many.trace_events - few.trace_events > 30, (few.trace_events, many.trace_events)
"""

COUNTED_CONFIG = """
assignments:
  counted:
    graders: graders
    graded_file: answer.py
    functions: [f]
    hypothesis: {seed: 1, max_examples: 1}
    checks:
      counted_pair: {points: 1}
"""


def test_outcomes_answers_traced_calls_in_one_round_and_one_confirming_worker(
    tmp_path: Path, tiny_course: TinyCourse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a reference to vouch for a traced answer, each one is confirmed by an
    # untraced rerun in a fresh worker: two calls asked together need one such worker.
    files = {"grading.yaml": COUNTED_CONFIG, "graders/test_public.py": COUNTED_GRADER}
    loop = (
        "def f(n):\n    total = 0\n    for _ in range(n):\n        total += 1\n    return total\n"
    )
    tiny_course(tmp_path, files | {"student/answer.py": loop})
    plan = prepare(load_course(tmp_path / "grading.yaml").assignment("counted"))
    batches = _batches_sent(monkeypatch)
    spawned: list[int] = []
    spawn = grading.Worker._spawn

    def counting(self: grading.Worker) -> object:
        spawned.append(1)
        return spawn(self)

    monkeypatch.setattr(grading.Worker, "_spawn", counting)
    result = grade_submission(plan, "student", tmp_path / "student")
    assert result.score == 1, result.checks[0].feedback
    assert [[call.args for call in batch] for batch in batches] == [[(2,), (40,)]]
    assert len(spawned) == 2  # the worker, and one for both confirming reruns


def test_the_next_student_is_sent_the_batches_encoded_for_the_last(
    course: Path, request: pytest.FixtureRequest
) -> None:
    # Every student gets the same cases: a batch sent to two students before is sent as
    # it was encoded then (sandbox/sent_batches.py). Identical files: identical batches.
    plan = prepare(load_course(course / "grading.yaml").assignment("chain"))
    for _ in range(2):
        first = grade_submission(plan, "right", course / "class" / "right")
    encoded: list[Call] = request.getfixturevalue("encoded_calls")  # counted from here
    again = grade_submission(plan, "right again", course / "class" / "right")
    assert encoded == []
    assert again.checks == first.checks
