"""The fixture corpus: every correct variant gets full marks, every bug fails its check.

Each assignment in grading.yaml has its corpus in ``tests/submissions/<assignment>/``: one
folder per fixture, holding the assignment's graded file and an expect.yaml saying what
the grade must be. A new assignment's corpus is picked up as soon as its folder exists;
folders without an expect.yaml (``hostile/``, graded by test_hostile.py) are not fixtures.
The grader is only as good as this corpus.

expect.yaml's keys and rules are in ``propgrade.selftest.fixtures``, which ``propgrade
selftest`` uses on an instructor's own corpus too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from propgrade.config import AssignmentConfig, load_course
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.selftest.fixtures import MIN_CORPUS as DEFAULT_MIN_CORPUS
from propgrade.selftest.fixtures import expectation_problems, fixture_folders, load_expect

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "submissions"
COURSE = load_course(ROOT / "grading.yaml")
ASSIGNMENTS = sorted(COURSE.assignments)

# The least a corpus must hold, as (correct variants, bugs). The first assignment's corpus
# grew from 40 public solutions; a new one starts smaller but not trivial.
MIN_CORPUS = {"linear_classifiers": (8, 15)}


def _fixtures(assignment: str) -> list[Path]:
    return fixture_folders(COURSE.assignment(assignment).fixtures_dir)


FIXTURES = [(name, folder) for name in ASSIGNMENTS for folder in _fixtures(name)]


def _unhurried(assignment: AssignmentConfig) -> AssignmentConfig:
    """The course's limits with ten times the time. The corpus tests what code computes; on
    a busy machine a correct fixture's loop can outlast the course's 2 s per call, and a
    timeout there would be the machine's verdict, not the code's (test_worker.py tests the
    limits themselves)."""
    limits = assignment.limits
    return replace(
        assignment,
        limits=replace(
            limits,
            call_seconds=limits.call_seconds * 10,
            submission_seconds=limits.submission_seconds * 10,
        ),
    )


class Corpus:
    """Each assignment's plan, prepared once (loading graders and drawing cases is the
    costly part), and each fixture graded once."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._graded: dict[Path, SubmissionResult] = {}

    def plan(self, assignment: str) -> Plan:
        if assignment not in self._plans:
            self._plans[assignment] = prepare(_unhurried(COURSE.assignment(assignment)))
        return self._plans[assignment]

    def graded(self, assignment: str, folder: Path) -> SubmissionResult:
        if folder not in self._graded:
            self._graded[folder] = grade_submission(self.plan(assignment), folder.name, folder)
        return self._graded[folder]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def test_every_corpus_folder_is_an_assignment() -> None:
    stray = [p.name for p in CORPUS.iterdir() if p.is_dir() and p.name not in COURSE.assignments]
    assert not stray, (
        f"tests/submissions/: {', '.join(stray)} names no assignment in grading.yaml "
        f"({', '.join(ASSIGNMENTS)}); a corpus lives in tests/submissions/<assignment>/"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_corpus_is_large_enough(assignment: str) -> None:
    fixtures = _fixtures(assignment)
    if not fixtures:
        pytest.skip(f"no fixture corpus yet: add tests/submissions/{assignment}/<fixture>/")
    config: AssignmentConfig = COURSE.assignment(assignment)
    names = [f.name for f in fixtures]
    correct, bugs = MIN_CORPUS.get(assignment, DEFAULT_MIN_CORPUS)
    assert sum(n.startswith("correct_") for n in names) >= correct
    assert sum(n.startswith("bug_") for n in names) >= bugs
    # A misnamed file would be graded as "nothing submitted" and pass a score_zero fixture.
    unnamed = [f.name for f in fixtures if not (f / config.graded_file).is_file()]
    assert not unnamed, f"fixtures without {config.graded_file}: {unnamed}"


@pytest.mark.parametrize(
    ("assignment", "folder"), FIXTURES, ids=[f"{a}/{f.name}" for a, f in FIXTURES]
)
def test_fixture_gets_the_expected_grade(assignment: str, folder: Path, corpus: Corpus) -> None:
    # The rules live in the library: `propgrade selftest` checks an instructor's corpus
    # with the very same ones.
    plan = corpus.plan(assignment)
    result = corpus.graded(assignment, folder)
    problems = expectation_problems(load_expect(folder), result, [c.id for c in plan.checks])
    assert problems == []
