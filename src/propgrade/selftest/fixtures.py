"""The fixture corpus: known submissions, each with an ``expect.yaml`` its grade must meet.

A corpus is one folder per fixture (``tests/submissions/NAME/`` by default, or
``selftest.fixtures`` in grading.yaml), each holding the assignment's graded file and an
expect.yaml. Folders without one (``hostile/``) are not fixtures. ``propgrade selftest``
grades every fixture with the course's own checks; propgrade's test suite uses the same
rules for the shipped assignments.

expect.yaml keys: ``description``; ``full_marks``; ``score_zero``; ``score_percent:
[low, high]`` (the score as a percentage of the maximum, bounds included); ``must_fail``
(each listed check fails by its own property, not because a check it requires failed);
``must_pass``; ``only_these_fail`` (no check fails other than ``must_fail`` and the checks
they block); ``message_contains: {check: text}`` (what that check's feedback must say);
``hint_contains: {check: text}`` (what the hint a student gets with that failed check must
say, on every route: see ``propgrade.reports.hints.hint_for``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from propgrade.engine.results import SubmissionResult
from propgrade.errors import ConfigError
from propgrade.reports.hints import hint_for

EXPECT = "expect.yaml"
KEYS = (
    "description",
    "full_marks",
    "score_zero",
    "score_percent",
    "must_fail",
    "must_pass",
    "only_these_fail",
    "message_contains",
    "hint_contains",
)
# The least a corpus should hold, as (correct_* variants, bug_* fixtures).
MIN_CORPUS = (5, 10)


@dataclass(frozen=True)
class FixtureOutcome:
    name: str
    folder: Path
    problems: tuple[str, ...]  # each way the grade breaks expect.yaml; empty when it holds

    @property
    def ok(self) -> bool:
        return not self.problems


def fixture_folders(corpus: Path) -> list[Path]:
    """The fixtures of ``corpus``, sorted by name; none when the folder does not exist."""
    if not corpus.is_dir():
        return []
    return sorted(p for p in corpus.iterdir() if (p / EXPECT).is_file())


def load_expect(folder: Path) -> dict[str, Any]:
    """The fixture's expect.yaml, its keys checked (a misspelt key would test nothing)."""
    path = folder / EXPECT
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of expectations")
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            raise ConfigError(
                f"{path}: {key}: unknown key",
                hint=f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(KEYS)}",
            )
    return data


def corpus_warnings(folders: Iterable[Path], graded_file: str) -> list[str]:
    """What makes a corpus too thin to trust, one sentence each."""
    names = [f.name for f in folders]
    if not names:
        return []
    warnings = []
    correct = sum(n.startswith("correct_") for n in names)
    bugs = sum(n.startswith("bug_") for n in names)
    want_correct, want_bugs = MIN_CORPUS
    if correct < want_correct or bugs < want_bugs:
        warnings.append(
            f"the fixture corpus has {correct} correct_* and {bugs} bug_* fixtures; "
            f"at least {want_correct} and {want_bugs} are advised"
        )
    # A misnamed file is graded as "nothing submitted" and passes a score_zero fixture.
    unnamed = [f.name for f in folders if not (f / graded_file).is_file()]
    if unnamed:
        warnings.append(f"fixtures without {graded_file}: {', '.join(unnamed)}")
    return warnings


def expectation_problems(
    expect: dict[str, Any], result: SubmissionResult, check_ids: Iterable[str]
) -> list[str]:
    """Each way ``result`` breaks ``expect``; empty when the fixture holds."""
    problems: list[str] = []
    named = {*expect.get("must_fail", []), *expect.get("must_pass", [])}
    texts = {*expect.get("message_contains", {}), *expect.get("hint_contains", {})}
    unknown = (named | texts) - set(check_ids)
    if unknown:
        return [f"expect.yaml names unknown checks {sorted(unknown)}"]
    failed = {c.id: c for c in result.checks if not c.passed}
    broken = [c.id for c in result.checks if c.feedback and c.feedback.internal_error]
    if broken:
        problems.append(f"the grader failed in {', '.join(broken)}")
    score = f"{result.score:g}/{result.max_score:g}"
    if expect.get("full_marks"):
        # Full marks may still fail a 0-point check (an advisory): what it must say is
        # checked below like any other failure's.
        if result.score != result.max_score:
            problems.append(f"full marks expected, got {score} (failed: {', '.join(failed)})")
    elif result.score >= result.max_score:
        problems.append(f"full marks, but this fixture must lose points ({score})")
    if expect.get("score_zero") and result.score != 0:
        passed = [c.id for c in result.checks if c.passed and c.points]
        problems.append(f"a score of zero expected, got {score} (passed: {', '.join(passed)})")
    if "score_percent" in expect:
        low, high = expect["score_percent"]
        percent = 100 * result.score / result.max_score if result.max_score else 0.0
        if not low <= percent <= high:
            problems.append(f"{score} = {percent:.1f}%, outside [{low}, {high}]%")
    blocked = {cid for cid, c in failed.items() if c.feedback and c.feedback.blocked_by}
    for cid in expect.get("must_fail", []):
        feedback = failed[cid].feedback if cid in failed else None
        if cid not in failed:
            problems.append(f"{cid} should fail, but passed")
        elif cid in blocked:
            # caught by the check meant for it, not hidden behind a failed requirement
            problems.append(f"{cid} was not graded: {feedback.message if feedback else ''}")
        elif feedback is None or not feedback.message:
            problems.append(f"{cid} failed without a message")
        elif not result.error and not feedback.counterexample:
            problems.append(f"{cid} failed without a counterexample")
    for cid in expect.get("must_pass", []):
        if cid in failed:
            problems.append(f"{cid} should pass, but failed")
    for cid, text in expect.get("message_contains", {}).items():
        feedback = failed[cid].feedback if cid in failed else None
        if feedback is None or text not in feedback.message:
            problems.append(f"{cid}'s message should contain {text!r}")
    for cid, text in expect.get("hint_contains", {}).items():
        hint = hint_for(failed[cid]) if cid in failed else None
        if hint is None or text not in hint:
            problems.append(f"{cid}'s hint should contain {text!r}, got {hint!r}")
    if expect.get("only_these_fail"):
        extra = sorted(set(failed) - blocked - set(expect.get("must_fail", [])))
        if extra:
            problems.append(f"only {expect.get('must_fail', [])} should fail; also failed: {extra}")
    return problems
