"""Running checks through Hypothesis: drawing the cases once, and shrinking failures.

Drawing examples costs far more than evaluating a property on them, and with a fixed seed
every student would get the same examples anyway. So the cases of each check are drawn
once per batch (``draw_cases``) and replayed against every submission; Hypothesis only
runs for real (``shrink``) on a check that a submission failed, to find the smallest
failing input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

from propgrade.engine.checks import Check

_SUPPRESSED = list(HealthCheck)


def grading_settings(max_examples: int, *, shrink: bool) -> settings:
    """Settings that make a run repeatable: no database, no deadline, a fixed seed."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=_SUPPRESSED,
        phases=phases,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


@contextmanager
def strategies_only() -> Iterator[None]:
    """Draw from the strategies and the seed alone.

    Hypothesis (6.131 on) mixes literals found in the *local* modules imported at the time
    into what it draws. Which modules those are differs between a CLI run, an nbgrader
    course, a Gradescope bundle, a test session, or a process that has written a report:
    the same seed then draws other cases, and the same file gets another grade. Grading
    turns that pool off; its own constants (edge values) are in the strategies.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # a Hypothesis without the pool: nothing to turn off
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    if original is None:
        yield
        return
    providers._get_local_constants = Constants
    try:
        yield
    finally:
        providers._get_local_constants = original


def draw_cases(check: Check, max_examples: int, hypothesis_seed: int) -> list[Any]:
    """The cases Hypothesis generates for ``check`` with this budget and seed, in order."""
    drawn: list[Any] = []

    def record(case: Any) -> None:
        drawn.append(case)

    test = seed(hypothesis_seed)(
        grading_settings(max_examples, shrink=False)(given(check.strategy)(record))
    )
    with strategies_only():
        test()
    return drawn


@dataclass
class Shrunk:
    case: Any
    error: BaseException
    notes: str


def shrink(
    check: Check,
    prop: Callable[[Any], None],
    max_examples: int,
    hypothesis_seed: int,
) -> Shrunk | None:
    """Let Hypothesis find and shrink a failing case of ``prop``; None if none fails.

    The last case Hypothesis runs is the minimal one it reports, so recording the last
    case and error seen gives both without parsing Hypothesis' output.
    """
    last: dict[str, Any] = {}

    def attempt(case: Any) -> None:
        last["case"] = case
        last.pop("error", None)
        try:
            prop(case)
        except BaseException as exc:
            last["error"] = exc
            raise

    test = seed(hypothesis_seed)(
        grading_settings(max_examples, shrink=True)(given(check.strategy)(attempt))
    )
    try:
        with strategies_only():
            test()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as final:
        error = last.get("error")
        if error is None:
            return None
        notes = "\n".join(
            n for n in getattr(final, "__notes__", []) if not n.startswith("You can add")
        )
        return Shrunk(last["case"], error, notes)
    return None
