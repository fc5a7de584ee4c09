"""Run grader checks as ordinary pytest tests, e.g. to debug a check.

    pytest graders/linear_classifiers                         # against the reference
    pytest graders/linear_classifiers --submission s/losses.py  # against one student's file

The submission still runs only in the worker process; the reference is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from propgrade.config import (
    RELEASED_CONFIG_NAME,
    AssignmentConfig,
    find_course_config,
    load_course,
    load_released,
)
from propgrade.engine.cases import shrink
from propgrade.engine.checks import Check, CheckGroup
from propgrade.engine.grading import feedback_for
from propgrade.engine.loading import load_reference
from propgrade.engine.proxies import LiveProxy, ReferenceModule
from propgrade.errors import PropgradeError
from propgrade.sandbox.calls import Limits
from propgrade.sandbox.worker import Worker

_STATE = pytest.StashKey["_PluginState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("propgrade")
    group.addoption(
        "--submission",
        dest="propgrade_submission",
        default=None,
        help="propgrade: graded file to run the checks against (default: the reference "
        "solution, or the released stub)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _PluginState(config.getoption("propgrade_submission"))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> list[pytest.Item] | None:
    if isinstance(obj, Check):
        return [CheckItem.from_parent(collector, name=obj.id, check=obj)]
    if isinstance(obj, CheckGroup):
        return [CheckItem.from_parent(collector, name=c.id, check=c) for c in obj]
    return None


class _PluginState:
    def __init__(self, submission: str | None) -> None:
        self.submission = Path(submission).resolve() if submission else None
        self.workers: dict[Path, Worker] = {}
        self.references: dict[Path, ReferenceModule] = {}

    def assignment_for(self, module_file: Path) -> AssignmentConfig:
        folder = module_file.parent
        if (folder.parent / RELEASED_CONFIG_NAME).is_file():
            return load_released(folder.parent)
        course_file = find_course_config(folder)
        if course_file is None:
            raise PropgradeError(f"{folder}: no grading.yaml or {RELEASED_CONFIG_NAME} above it")
        for assignment in load_course(course_file).assignments.values():
            if assignment.graders == folder.resolve():
                return assignment
        raise PropgradeError(f"{course_file}: no assignment has graders in {folder}")

    def target(self, assignment: AssignmentConfig) -> Path:
        if self.submission is not None:
            return self.submission
        if assignment.reference_file is not None:
            return assignment.reference_file
        return assignment.root / assignment.graded_file

    def worker(self, graded: Path, limits: Limits) -> Worker:
        if graded not in self.workers:
            worker = Worker(graded, limits)
            report = worker.start()
            if not report.ok:
                assert report.failure is not None
                worker.close()
                raise PropgradeError(f"{graded} cannot be imported: {report.failure.describe()}")
            self.workers[graded] = worker
        return self.workers[graded]

    def reference(self, assignment: AssignmentConfig) -> ReferenceModule | None:
        ref = assignment.reference_file
        if ref is None:
            return None
        if ref not in self.references:
            self.references[ref] = ReferenceModule(load_reference(ref))
        return self.references[ref]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()


class CheckFailure(Exception):
    pass


class CheckItem(pytest.Item):
    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        assignment = state.assignment_for(Path(str(self.path)))
        worker = state.worker(state.target(assignment), assignment.limits)
        reference = state.reference(assignment) if self.check.uses_reference else None
        live = LiveProxy(worker.run)
        cfg = assignment.check(self.check.id)
        budget = cfg.max_examples or self.check.max_examples or assignment.hypothesis.max_examples
        found = shrink(
            self.check,
            lambda case: self.check.run(case, live, reference),
            budget,
            assignment.hypothesis.seed,
        )
        if found is not None:
            feedback = feedback_for(found.error, found.case, shrunk=True)
            raise CheckFailure(f"{self.check.sentence}\n{feedback.render()}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailure | PropgradeError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"check {self.check.id}"
