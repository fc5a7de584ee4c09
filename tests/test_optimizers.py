"""The optimizers corpus, graded in-process until the worker can carry dicts.

TEMPORARY (delete with the marker below once the wire codec carries dict/None configs and
tests/test_submissions.py grades tests/submissions/<assignment>/ for every assignment):
the engine cannot send a config dict to the worker yet, so these tests run the checks'
properties on the cases the engine would draw, against each fixture's optim.py imported
here. The fixtures are our own files, never student code.
"""

# TODO(optimizers-inprocess): delete this file once dict values cross the wire.

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from propgrade.config import load_course
from propgrade.engine.cases import draw_cases
from propgrade.engine.checks import CaseRejected, Check
from propgrade.engine.loading import load_checks
from propgrade.engine.proxies import ReferenceModule
from propgrade.sandbox.calls import CallOutcome

CORPUS = Path(__file__).parent / "submissions" / "optimizers"
FIXTURES = sorted(p for p in CORPUS.iterdir() if (p / "expect.yaml").is_file())


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_data(value: Any) -> Any:
    """What the wire would make of a value: copies, lists as tuples, numpy scalars as such."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | tuple):
        return tuple(_as_data(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    return value


class FakeStudent:
    """The student proxy's interface, calling a module in this process."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def outcome(
        self, function: str, *args: Any, trace: bool = False, echo_args: bool = False
    ) -> CallOutcome:
        target = getattr(self._module, function)
        sent = copy.deepcopy(args)
        events = 0

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            nonlocal events
            events += 1
            return tracer

        if trace:
            sys.settrace(tracer)
        try:
            value = target(*sent)
        finally:
            if trace:
                sys.settrace(None)
        return CallOutcome(
            value=_as_data(value),
            trace_events=events if trace else None,
            args_after=_as_data(sent) if echo_args else None,
        )

    def call(self, function: str, *args: Any) -> Any:
        return self.outcome(function, *args).value

    def map(self, function: str, arg_tuples: list[tuple[Any, ...]]) -> list[Any]:
        return [self.call(function, *args) for args in arg_tuples]


@pytest.fixture(scope="module")
def setup(root: Path) -> tuple[Any, list[Check], dict[Check, list[Any]], Any]:
    assignment = load_course(root / "grading.yaml").assignment("optimizers")
    checks = load_checks(assignment.graders)
    seed = assignment.hypothesis.seed
    configured = {c.id: c for c in assignment.checks}
    cases = {
        c: draw_cases(
            c,
            configured[c.id].max_examples or c.max_examples or assignment.hypothesis.max_examples,
            seed,
        )
        for c in checks
    }
    reference = ReferenceModule(_import(root / "solutions/optimizers/optim.py", "_ref_optim"))
    return assignment, checks, cases, reference


def _grade(folder: Path, setup: Any) -> tuple[dict[str, str], float, float]:
    assignment, checks, cases, reference = setup
    student = FakeStudent(_import(folder / "optim.py", f"_fixture_{folder.name}"))
    failures: dict[str, str] = {}
    for check in checks:
        for case in cases[check]:
            try:
                check.run(case, student, reference)
            except CaseRejected:
                continue
            except AssertionError as exc:
                failures[check.id] = str(exc)
                break
            except Exception as exc:  # the student's exception: the call failed
                if type(exc).__module__.startswith(("graders", "propgrade")):
                    raise
                failures[check.id] = f"{type(exc).__name__}: {exc}"
                break
    score = 0.0
    total = 0.0
    blocked = set()
    for c in assignment.checks:
        total += c.points
        if any(r in failures or r in blocked for r in c.requires):
            blocked.add(c.id)
        elif c.id not in failures:
            score += c.points
    return {k: v for k, v in failures.items() if k not in blocked}, score, total


@pytest.mark.parametrize("folder", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture_gets_the_expected_grade(folder: Path, setup: Any) -> None:
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    failed, score, total = _grade(folder, setup)
    if expect.get("full_marks"):
        assert score == total, failed
        return
    assert score < total
    if expect.get("score_zero"):
        assert score == 0, failed
    for cid in expect.get("must_fail", []):
        assert cid in failed, f"{cid} should fail; failed: {sorted(failed)}"
    for cid, text in expect.get("message_contains", {}).items():
        assert text in failed.get(cid, ""), failed.get(cid)
    if expect.get("only_these_fail"):
        assert sorted(failed) == sorted(expect["must_fail"]), failed


def _wire_carries_dicts() -> bool:
    from propgrade.sandbox.wire import BlobTable, WireError, encode_value

    try:
        encode_value({"learning_rate": 1e-2}, BlobTable())  # type: ignore[arg-type]
    except WireError:
        return False
    return True


@pytest.mark.skipif(not _wire_carries_dicts(), reason="the wire cannot send a config dict yet")
@pytest.mark.parametrize(
    "name", ["correct_textbook", "bug_adam_eps_inside_sqrt", "bug_adam_python_loop", "stub"]
)
def test_a_few_fixtures_through_the_engine(name: str, root: Path) -> None:
    """The real route (worker, wire, replayed chains, traced reruns) on a sample of the
    corpus, which this file otherwise grades in-process."""
    from propgrade.engine.grading import grade_submission, prepare

    plan = prepare(load_course(root / "grading.yaml").assignment("optimizers"))
    folder = CORPUS / name
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    result = grade_submission(plan, name, folder)
    assert not [c.id for c in result.checks if c.feedback and c.feedback.internal_error]
    failed = {c.id for c in result.checks if not c.passed}
    if expect.get("full_marks"):
        assert result.score == result.max_score, failed
    if expect.get("score_zero"):
        assert result.score == 0
    assert set(expect.get("must_fail", [])) <= failed
