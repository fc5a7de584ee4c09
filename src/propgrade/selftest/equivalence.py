"""Is a surviving mutant probably equivalent to the reference? Ask the sandbox, as data.

The inputs are the ones the checks themselves pass to the functions, recorded by running
every check against the reference in this (trusted) process, then perturbed at full
precision: random inputs of the shapes and ranges the checks deem valid, off any grid
and off the hinge kinks where two answers are both right. The comparison itself is a
check like any other, so the mutant runs only in the sandboxed worker and only its
return values (and its arguments after the call) come back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade.config import CheckConfig
from propgrade.engine.checks import Check, StudentProxy
from propgrade.engine.grading import Plan
from propgrade.engine.proxies import CallKey, call_key, run_trusted
from propgrade.sandbox.calls import Call, Recipe, Step, Value

EQUIVALENCE_CHECK = "probably_equivalent"
RTOL = 1e-9  # correct float64 rewrites of the same formula agree to ~1e-12
ATOL = 1e-12


@dataclass(frozen=True)
class EquivalenceCase:
    function: str
    args: tuple[Value, ...]
    expected: Any  # the reference's return value on ``args``
    number: int
    instance: Recipe | None = None  # the object ``function`` is a method of
    kwargs: tuple[tuple[str, Value], ...] = ()

    def __repr__(self) -> str:
        return f"{self.function}(...) on random input #{self.number}"


def recorded_calls(calls: dict[str, list[Call]], functions: Sequence[str]) -> dict[str, list[Call]]:
    """Per function, the distinct calls the checks make of it, in check order."""
    seen: dict[CallKey, Call] = {}
    for made in calls.values():
        for call in made:
            if call.function in functions:
                seen.setdefault(call_key(call), call)
    found: dict[str, list[Call]] = {}
    for call in seen.values():
        found.setdefault(call.function, []).append(call)
    return found


def recorded_inputs(
    calls: dict[str, list[Call]], functions: Sequence[str]
) -> dict[str, list[tuple[Value, ...]]]:
    """Per function, the distinct argument tuples the checks pass it, in check order."""
    return {
        function: [call.args for call in made]
        for function, made in recorded_calls(calls, functions).items()
    }


def _perturb(value: Any, rng: np.random.Generator, memo: dict[int, Any] | None = None) -> Any:
    # ``memo``: an array passed in several places is perturbed once, so it stays one array
    memo = {} if memo is None else memo
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        if id(value) in memo:
            return memo[id(value)][1]
        scale = float(np.mean(np.abs(value))) if value.size else 0.0
        scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        noise = rng.standard_normal(value.shape)
        jitter = rng.standard_normal(value.shape)
        changed = (value * (1 + 0.01 * noise) + 0.01 * scale * jitter).astype(value.dtype)
        memo[id(value)] = (value, changed)
        return changed
    if isinstance(value, float):
        return value * float(np.exp(0.1 * rng.standard_normal()))
    if isinstance(value, tuple):
        return tuple(_perturb(v, rng, memo) for v in value)
    return value  # integers (labels, sizes) and anything else keep their meaning


def _perturb_call(call: Call, rng: np.random.Generator) -> Call:
    memo: dict[int, Any] = {}

    def pairs(items: tuple[tuple[str, Value], ...]) -> tuple[tuple[str, Value], ...]:
        return tuple((name, _perturb(value, rng, memo)) for name, value in items)

    recipe = call.instance
    if recipe is not None:
        steps = tuple(
            Step(step.method, _perturb(step.args, rng, memo), pairs(step.kwargs))
            for step in recipe.steps
        )
        recipe = Recipe(recipe.cls, _perturb(recipe.args, rng, memo), pairs(recipe.kwargs), steps)
    args = _perturb(call.args, rng, memo)
    return Call(call.function, args, kwargs=pairs(call.kwargs), instance=recipe)


def equivalence_cases(
    calls: dict[str, list[Call]],
    functions: Sequence[str],
    module: ModuleType,
    per_function: int,
    seed: int,
) -> list[EquivalenceCase]:
    """``per_function`` perturbed inputs for each function, with the reference's answers.

    ``calls`` are the checks' calls (``propgrade.selftest.recording.record_calls``).
    """
    rng = np.random.default_rng(seed)
    cases: list[EquivalenceCase] = []
    calls_of = recorded_calls(calls, functions)
    for function, made in sorted(calls_of.items()):
        picks = rng.choice(len(made), size=per_function, replace=len(made) < per_function)
        for pick in picks:
            call = _perturb_call(made[int(pick)], rng)
            try:
                expected = run_trusted(module, call)[0]
            except Exception:  # an input the reference refuses proves nothing
                continue
            cases.append(
                EquivalenceCase(
                    function, call.args, expected, len(cases) + 1, call.instance, call.kwargs
                )
            )
    return cases


def same_value(got: Any, expected: Any) -> bool:
    """Whether ``got`` (decoded from the worker) equals ``expected`` at full precision."""
    if isinstance(expected, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(expected)
            and all(same_value(g, e) for g, e in zip(got, expected, strict=True))
        )
    try:
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if g.shape != e.shape:
        return False
    return bool(np.allclose(g, e, rtol=RTOL, atol=ATOL, equal_nan=True))


def _agrees(case: EquivalenceCase, student: StudentProxy) -> None:
    recipe = case.instance
    kwargs: dict[str, Any] = dict(case.kwargs)
    if recipe is None:
        outcome = student.outcome(case.function, *case.args, echo_args=True, **kwargs)
    else:
        obj = student.new(recipe.cls, *recipe.args, **dict(recipe.kwargs))
        for step in recipe.steps:
            obj = obj.then(step.method, *step.args, **dict(step.kwargs))
        outcome = obj.outcome(case.function, *case.args, echo_args=True, **kwargs)
    # Plain raises, not asserts: the message is the verdict shown in the report.
    if not same_value(outcome.value, case.expected):
        raise AssertionError(f"{case.function} returns another value than the reference")
    if outcome.args_after is None or not same_value(outcome.args_after, case.args):
        raise AssertionError(f"{case.function} changes its arguments")


def equivalence_plan(plan: Plan, cases: list[EquivalenceCase]) -> Plan:
    """A plan with one check: the mutant agrees with the reference on every case."""
    check = Check(
        EQUIVALENCE_CHECK,
        "agrees with the reference, and leaves its arguments alone, on random inputs",
        st.nothing(),
        _agrees,
        uses_reference=False,
    )
    assignment = dataclasses.replace(
        plan.assignment, checks=(CheckConfig(EQUIVALENCE_CHECK, points=1.0),)
    )
    return Plan(
        assignment,
        [check],
        {EQUIVALENCE_CHECK: list(cases)},
        {EQUIVALENCE_CHECK: len(cases)},
        None,
        plan.layer,
        dict(plan.meta),
    )
