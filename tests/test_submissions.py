"""The fixture corpus: every correct variant gets full marks, every bug fails its check.

Each assignment in grading.yaml has its corpus in ``tests/submissions/<assignment>/``: one
folder per fixture, holding the assignment's graded file and an expect.yaml saying what
the grade must be. A new assignment's corpus is picked up as soon as its folder exists;
folders without an expect.yaml (``hostile/``, graded by test_hostile.py) are not fixtures.
The grader is only as good as this corpus.

expect.yaml keys: ``full_marks``; ``score_zero``; ``score_percent: [low, high]`` (the score
as a percentage of the maximum, bounds included); ``must_fail`` (each listed check fails
by its own property, not because a check it requires failed); ``must_pass``;
``only_these_fail`` (no check fails other than ``must_fail`` and the checks they block);
``message_contains: {check: text}`` (what that check's feedback must say);
``hint_contains: {check: text}`` (what the hint a student gets with that failed check must
say, on every route: see ``propgrade.reports.hints.hint_for``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from propgrade.config import AssignmentConfig, load_course
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.reports.hints import hint_for

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "submissions"
COURSE = load_course(ROOT / "grading.yaml")
ASSIGNMENTS = sorted(COURSE.assignments)

# The least a corpus must hold, as (correct variants, bugs). The first assignment's corpus
# grew from 40 public solutions; a new one starts smaller but not trivial.
MIN_CORPUS = {"linear_classifiers": (8, 15)}
DEFAULT_MIN_CORPUS = (5, 10)


def _fixtures(assignment: str) -> list[Path]:
    folder = CORPUS / assignment
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "expect.yaml").is_file())


FIXTURES = [(name, folder) for name in ASSIGNMENTS for folder in _fixtures(name)]


def _expect(folder: Path) -> dict[str, Any]:
    data = yaml.safe_load((folder / "expect.yaml").read_text())
    assert isinstance(data, dict), f"{folder / 'expect.yaml'} is not a mapping"
    return data


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
    expect = _expect(folder)
    plan = corpus.plan(assignment)
    result = corpus.graded(assignment, folder)
    named = {*expect.get("must_fail", []), *expect.get("must_pass", [])}
    texts = {*expect.get("message_contains", {}), *expect.get("hint_contains", {})}
    unknown = (named | texts) - {c.id for c in plan.checks}
    assert not unknown, f"expect.yaml names unknown checks {sorted(unknown)}"
    failed = {c.id: c for c in result.checks if not c.passed}
    assert not [c for c in result.checks if c.feedback and c.feedback.internal_error]
    if expect.get("full_marks"):
        details = {cid: c.feedback.render() if c.feedback else "" for cid, c in failed.items()}
        assert result.score == result.max_score, details
        return
    assert result.score < result.max_score
    if expect.get("score_zero"):
        assert result.score == 0
    if "score_percent" in expect:
        low, high = expect["score_percent"]
        percent = 100 * result.score / result.max_score
        assert low <= percent <= high, f"{result.score}/{result.max_score} = {percent:.1f}%"
    blocked = {cid for cid, c in failed.items() if c.feedback and c.feedback.blocked_by}
    for cid in expect.get("must_fail", []):
        assert cid in failed, f"{cid} should fail; failed: {sorted(failed)}"
        # caught by the check meant for it, not hidden behind a failed requirement
        assert cid not in blocked, f"{cid} was not graded: {failed[cid].feedback}"
        feedback = failed[cid].feedback
        assert feedback is not None and feedback.message
        if not result.error:
            assert feedback.counterexample, f"{cid} failed without a counterexample"
    for cid in expect.get("must_pass", []):
        assert cid not in failed, f"{cid} should pass: {failed[cid].feedback}"
    for cid, text in expect.get("message_contains", {}).items():
        feedback = failed[cid].feedback if cid in failed else None
        assert feedback is not None and text in feedback.message, feedback
    for cid, text in expect.get("hint_contains", {}).items():
        hint = hint_for(failed[cid]) if cid in failed else None
        assert hint is not None and text in hint, f"{cid}: hint {hint!r}"
    if expect.get("only_these_fail"):
        assert sorted(set(failed) - blocked) == sorted(expect["must_fail"])
