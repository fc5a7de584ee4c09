"""A student's feedback page: the score, every check, and for each failure the smallest
input that breaks the code, what was expected, what came back and a hint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from propgrade.engine.results import CheckResult, Feedback, SubmissionResult
from propgrade.engine.standing import Standing
from propgrade.files import atomic_write_text
from propgrade.intake.notebook import collapse_notes
from propgrade.reports.fragments import (
    check_name,
    counterexample_block,
    expected_and_got,
    labelled,
    points,
)
from propgrade.reports.hints import hint_for
from propgrade.reports.layout import page
from propgrade.reports.markup import Markup, Node, element
from propgrade.reports.paths import FEEDBACK_NAME, student_dir
from propgrade.reports.visibility import (
    INSTRUCTOR,
    STUDENT,
    Disclosure,
    check_audience,
    disclosure,
)


def _anchor(check: CheckResult) -> str:
    return f"fail-{check.id}"


def _score(result: SubmissionResult, audience: str, standing: Standing | None) -> Markup:
    later = [c for c in result.checks if disclosure(c, audience) is not Disclosure.SHOWN]
    shown = [c for c in result.checks if disclosure(c, audience) is Disclosure.SHOWN]
    passed = sum(1 for c in shown if c.passed)
    if not later:
        final = result.score if standing is None else standing.final
        maximum = result.max_score if standing is None else standing.max_score
        return element(
            "div",
            # The final score, after any late penalty, is the number that counts: it is
            # the big one, with how it comes about beside it.
            element(
                "p",
                points(final),
                element("small", f" / {points(maximum)} points"),
                class_="score",
            ),
            element("p", standing.summary(), class_="breakdown")
            if standing and standing.adds_to_checks
            else None,
            element("p", f"{passed} of {len(shown)} checks passed.", class_="muted"),
        )
    # The total would give away how the withheld checks went: show only what is visible,
    # and of the lateness only the rule (its points are a share of that total).
    withheld = sum(c.max_points for c in later)
    late: Node = None
    if standing is not None and standing.lateness.fraction:
        late = element("p", f"Late: {standing.lateness.describe()}.", class_="breakdown")
    return element(
        "div",
        element(
            "p",
            points(sum(c.points for c in shown)),
            element("small", f" / {points(sum(c.max_points for c in shown))} points so far"),
            class_="score",
        ),
        late,
        element(
            "p",
            f"{passed} of {len(shown)} visible checks passed. {len(later)} more checks "
            f"({points(withheld)} points) are graded now and shown later; your total will "
            f"include them.",
            class_="muted",
        ),
    )


def _error(result: SubmissionResult, audience: str) -> Node:
    if not result.error:
        return None
    if "internal_error" in result.meta:
        # The grader broke, not the submission: the student has nothing to fix. The
        # grader's own traceback is for the instructor only.
        detail: Node = None
        if audience == INSTRUCTOR:
            detail = element(
                "details",
                element("summary", "grader traceback"),
                element("pre", str(result.meta["internal_error"])),
            )
        return element(
            "section",
            element("h2", "This submission could not be graded yet"),
            element("p", result.error),
            detail,
            class_="alert",
            role="alert",
        )
    return element(
        "section",
        element("h2", "Your submission could not be graded"),
        element("pre", result.error, class_="wrap"),
        element(
            "p",
            "Every check scored 0 because of this. Fix it (run your file once yourself), then "
            "submit again.",
        ),
        class_="alert",
        role="alert",
    )


def _status(check: CheckResult, audience: str, has_card: bool) -> Markup:
    shown = disclosure(check, audience)
    if shown is not Disclosure.SHOWN:
        return element("span", shown.label, class_=f"status {shown.name.lower()}")
    badge = element("span", check.status, class_=f"status {check.status}")
    if has_card:
        return element("a", badge, href=f"#{_anchor(check)}")
    return badge


def _checks_table(result: SubmissionResult, audience: str, cards: set[str]) -> Markup:
    rows = []
    for c in result.checks:
        visible = disclosure(c, audience) is Disclosure.SHOWN
        score = (
            f"{points(c.points)} / {points(c.max_points)}"
            if visible
            else "– / " + points(c.max_points)
        )
        rows.append(
            element(
                "tr",
                element("td", check_name(c.id), class_="id"),
                element("td", c.sentence, class_="sentence"),
                element("td", score, class_="num"),
                element("td", _status(c, audience, c.id in cards)),
            )
        )
    head = element(
        "tr",
        element("th", "Check"),
        element("th", "What it checks"),
        element("th", "Points", class_="num"),
        element("th", "Status"),
    )
    return element("table", element("thead", head), element("tbody", rows), class_="checks")


def _failure_card(check: CheckResult, feedback: Feedback, audience: str) -> Markup:
    body: list[Node] = [
        element("h3", check_name(check.id)),
        element("p", check.sentence),
        labelled("What went wrong", element("p", feedback.message, class_="message")),
    ]
    if feedback.counterexample:
        label = "Smallest failing input" if feedback.shrunk else "Failing input"
        body.append(labelled(label, counterexample_block(feedback.counterexample)))
    if feedback.expected or feedback.got:
        body.append(expected_and_got(feedback.expected, feedback.got))
    if feedback.reference and audience != STUDENT:
        # Withheld from students before the due date (engine.results.withhold_reference).
        body.append(labelled("Against the reference solution", element("pre", feedback.reference)))
    if feedback.traceback:
        body.append(labelled("Your traceback", element("pre", feedback.traceback)))
    hint = hint_for(check)
    if hint is not None:
        body.append(element("p", element("b", "Hint: "), hint, class_="hint"))
    return element("section", body, class_="failure", id=_anchor(check))


def _cards(result: SubmissionResult, audience: str) -> list[tuple[CheckResult, Feedback]]:
    if result.error:
        return []  # every check carries the same message, already shown at the top
    return [
        (c, c.feedback)
        for c in result.checks
        if not c.passed and c.feedback is not None and disclosure(c, audience) is Disclosure.SHOWN
    ]


def _output(result: SubmissionResult, audience: str) -> Node:
    # Students never see their printed output here: with hidden checks it could reveal the
    # hidden inputs (a print(W) in their function), which is why results.json hides it too.
    if audience != INSTRUCTOR or not result.output:
        return None
    return element(
        "section",
        element("h2", "What the code printed"),
        element("details", element("summary", "show output"), element("pre", result.output)),
    )


def _footer(result: SubmissionResult, audience: str) -> Markup:
    facts = [f"graded in {result.seconds:.1f} s"]
    if audience == INSTRUCTOR:
        for key in ("sandbox", "propgrade_version", "hypothesis_seed"):
            if key in result.meta:
                facts.append(f"{key.replace('_', ' ')}: {result.meta[key]}")
    return element("p", " · ".join(facts), class_="muted small")


def render_student_page(
    result: SubmissionResult,
    *,
    audience: str = STUDENT,
    notes: Sequence[str] = (),
    standing: Standing | None = None,
) -> str:
    """The page as HTML. ``notes`` are extra lines shown under the score and the error (e.g.
    lateness), before what the intake noted about the submission; ``standing`` adds the late
    penalty (and nbgrader's written answers) to the checks' score."""
    check_audience(audience)
    intake = collapse_notes([str(n) for n in result.meta.get("intake_notes", [])])
    cards = _cards(result, audience)
    failures: Node = None
    if cards:
        failures = element(
            "section",
            element("h2", f"What failed ({len(cards)})"),
            [_failure_card(c, f, audience) for c, f in cards],
        )
    return page(
        f"{result.assignment}: feedback for {result.student}",
        element("p", result.assignment, class_="muted"),
        element("h1", f"Feedback for {result.student}"),
        _score(result, audience, standing),
        _error(result, audience),
        [element("p", note) for note in [*notes, *intake]],
        failures,
        element("h2", "All checks"),
        _checks_table(result, audience, {c.id for c, _ in cards}),
        _output(result, audience),
        _footer(result, audience),
    )


def write_student_page(
    out: Path,
    result: SubmissionResult,
    *,
    audience: str = STUDENT,
    standing: Standing | None = None,
) -> Path:
    """Write ``OUT/<student>/feedback.html`` and return its path."""
    path = student_dir(out, result.student) / FEEDBACK_NAME
    atomic_write_text(path, render_student_page(result, audience=audience, standing=standing))
    return path
