"""The fixture corpus: every correct variant gets full marks, every bug fails its check.

Each folder under tests/submissions/ holds one losses.py and an expect.yaml saying what
the grade must be. The grader is only as good as this corpus.

expect.yaml keys: ``full_marks``; ``score_zero``; ``score_percent: [low, high]`` (the score
as a percentage of the maximum, bounds included); ``must_fail`` (each listed check fails
by its own property, not because a check it requires failed); ``must_pass``;
``only_these_fail`` (no check fails other than ``must_fail`` and the checks they block);
``message_contains: {check: text}`` (what that check's feedback must say).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from propgrade.config import load_course
from propgrade.engine.grading import Plan, grade_submission, prepare
from propgrade.engine.results import SubmissionResult

CORPUS = Path(__file__).parent / "submissions"
FIXTURES = sorted(p for p in CORPUS.iterdir() if (p / "expect.yaml").is_file())


def _expect(folder: Path) -> dict[str, Any]:
    data = yaml.safe_load((folder / "expect.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def plan(root: Path) -> Plan:
    return prepare(load_course(root / "grading.yaml").assignment("linear_classifiers"))


@pytest.fixture(scope="module")
def graded(plan: Plan) -> dict[str, SubmissionResult]:
    return {f.name: grade_submission(plan, f.name, f) for f in FIXTURES}


def test_corpus_is_large_enough() -> None:
    names = [f.name for f in FIXTURES]
    assert sum(n.startswith("correct_") for n in names) >= 8
    assert sum(n.startswith("bug_") for n in names) >= 15


@pytest.mark.parametrize("folder", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture_gets_the_expected_grade(
    folder: Path, graded: dict[str, SubmissionResult], plan: Plan
) -> None:
    expect = _expect(folder)
    result = graded[folder.name]
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
        assert cid in {c.id for c in plan.checks}, f"expect.yaml names unknown check {cid}"
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
    if expect.get("only_these_fail"):
        assert sorted(set(failed) - blocked) == sorted(expect["must_fail"])
