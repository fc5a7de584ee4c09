"""Which calls do the checks make? Run every check against the reference, in this process.

The reference is instructor code, trusted like the graders. Recording tells selftest
which functions each check calls (a mutant of one function cannot change a check that
never calls it) and gives the equivalence test the inputs the checks deem valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from propgrade.engine.grading import Plan
from propgrade.engine.proxies import CallKey, ProxyBase, call_key, run_trusted
from propgrade.sandbox.calls import Call, CallOutcome, FailureKind, StudentFailure


class _Recorder(ProxyBase):
    """Answers a check's calls with the reference and remembers them."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self.seen: dict[CallKey, Call] = {}

    def _fetch(self, calls: Sequence[Call]) -> list[CallOutcome]:
        answers = []
        for call in calls:
            self.seen.setdefault(call_key(call), call)
            try:
                value, copies = run_trusted(self._module, call)
            except Exception as exc:
                failure = StudentFailure(FailureKind.EXCEPTION, repr(exc))
                answers.append(CallOutcome(failure=failure))
                continue
            after = copies if call.echo_args else None
            answers.append(CallOutcome(value=value, trace_events=0, args_after=after))
        return answers


def copy_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple | list):
        return type(value)(copy_value(v) for v in value)
    return value


def record_calls(plan: Plan, module: ModuleType) -> dict[str, list[Call]]:
    """Per check, the distinct calls it makes on its cases when the reference answers."""
    made: dict[str, list[Call]] = {}
    for check in plan.checks:
        recorder = _Recorder(module)
        for case in plan.cases[check.id]:
            try:
                check.run(case, recorder, plan.reference)
            except Exception:  # only the calls matter here, not whether the property held
                continue
        made[check.id] = list(recorder.seen.values())
    return made
