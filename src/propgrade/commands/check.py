"""``propgrade check``: a student runs the public checks on their own work."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade.config import RELEASED_CONFIG_NAME, load_released
from propgrade.engine.grading import prepare
from propgrade.engine.results import SubmissionResult
from propgrade.errors import PropgradeError
from propgrade.intake.notebook import collapse_notes
from propgrade.intake.student_ids import terminal
from propgrade.intake.submission import grade_notebook, grade_upload
from propgrade.isolation import FULL


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``check [PATH]``: the released assignment folder or the graded file."""
    check = sub.add_parser(
        "check",
        help="run the public checks on your own work (students)",
        description="Run the public checks of a released assignment against your graded "
        "file and show the smallest failing input for every failed check.",
        epilog="example:\n  cd assignments/linear_classifiers && propgrade check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("."),
        help=f"the assignment folder (with {RELEASED_CONFIG_NAME}) or your graded file; "
        "default: the current folder",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path: Path = args.path.resolve()
    folder = path.parent if path.is_file() else path
    if not (folder / RELEASED_CONFIG_NAME).is_file():
        raise PropgradeError(
            f"{folder}: no {RELEASED_CONFIG_NAME} here",
            hint="run propgrade check inside the released assignment folder",
        )
    assignment = load_released(folder)
    notebook = path.is_file() and path.suffix == ".ipynb"
    if path.is_file() and not notebook and path.name != assignment.graded_file:
        raise PropgradeError(
            f"{path}: the graded file of {assignment.name} is {assignment.graded_file} "
            "(or a notebook holding its functions)"
        )
    graded = path.name if notebook else assignment.graded_file
    print(f"running the public checks of {assignment.name} on {graded}", file=err)
    plan = prepare(assignment, public_only=True)
    if plan.layer is not None and plan.layer.name != FULL:
        print(f"sandbox: {plan.layer.describe()}", file=err)
    # A notebook is graded alone: the released stub next to it must not be picked instead.
    grade = grade_notebook if notebook else grade_upload
    result = grade(plan, "you", path if notebook else folder)
    _print_check(result, out)
    return 0 if all(c.passed for c in result.checks) else 1


def _print_check(result: SubmissionResult, out: TextIO) -> None:
    # Imported here like every reports module: the CLI starts without loading them.
    from propgrade.reports.hints import hint_for

    if result.error:
        # A traceback keeps its lines; each line is cleaned of control characters.
        first, *rest = result.error.splitlines() or [""]
        print(f"error: {terminal(first)}", file=out)
        for line in rest:
            print(f"       {terminal(line)}", file=out)
    for note in collapse_notes([str(n) for n in result.meta.get("intake_notes", [])]):
        print(f"note: {terminal(note)}", file=out)
    passed = 0
    waiting: list[str] = []
    first_with: dict[tuple[str, str], str] = {}
    for c in result.checks:
        if c.passed:
            passed += 1
            print(f"passed  {c.id}", file=out)
            continue
        feedback = c.feedback
        if feedback is not None and feedback.blocked_by and not feedback.internal_error:
            # Not counted yet: one line each here, the explanation once below.
            waiting.append(c.id)
            print(f"waiting {c.id} (needs {feedback.blocked_by})", file=out)
            continue
        print(f"FAILED  {c.id}: {c.sentence}", file=out)
        if feedback is None or result.error:
            continue
        # One exception fails many checks: its traceback is shown once, not per check.
        same = (feedback.message, feedback.traceback)
        if feedback.traceback and same in first_with:
            print(f"        {feedback.message} (as in {first_with[same]})", file=out)
            continue
        first_with.setdefault(same, c.id)
        for line in feedback.render().splitlines():
            print(f"        {line}", file=out)
        # The hint the feedback page and results.json show for this check.
        hint = hint_for(c)
        if hint is not None:
            print(f"        Hint: {hint}", file=out)
    failed = len(result.checks) - passed - len(waiting)
    if waiting:
        print(
            f"Not counted yet: {len(waiting)} check(s) marked waiting, each until the check "
            "it needs passes; fix that one and they are graded.",
            file=out,
        )
    counted = f", {len(waiting)} not counted yet" if waiting else ""
    print(f"{passed} passed, {failed} failed{counted}", file=out)
