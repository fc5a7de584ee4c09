"""The instructor's class report: scores, weakest checks, common mistakes, a check × student
heat map, grading time, the isolation layer, and a link to every student's page."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing
from propgrade.files import atomic_write_text
from propgrade.isolation import GAPS
from propgrade.reports import charts
from propgrade.reports.fragments import check_name, counterexample_block, expected_and_got, points
from propgrade.reports.layout import page
from propgrade.reports.markup import Markup, Node, element
from propgrade.reports.paths import REPORT_NAME, SIMILARITY_NAME, feedback_href
from propgrade.reports.stats import (
    NOT_GRADED,
    FailureGroup,
    check_order,
    failure_groups,
    pass_rates,
    sandbox_counts,
    timing,
)

Standings = Mapping[str, Standing]

# Past this many students the heat map (one cell per check and student) stops being
# readable and the page gets heavy; the per-check bars and the student list remain.
HEATMAP_MAX_STUDENTS = 400
COMMON_FAILURES = 12
OPEN_FAILURES = 3  # shown unfolded; the others open on a click
NAMES_PER_GROUP = 8


def _student_link(student: str) -> Markup:
    return element("a", student, href=feedback_href(student))


def _stat(label: str, value: str) -> Markup:
    return element("div", element("b", value), label)


def _final(r: SubmissionResult, standings: Standings) -> float:
    standing = standings.get(r.student)
    return r.score if standing is None else standing.final


def _own_maximum(r: SubmissionResult, standings: Standings) -> float:
    return standings[r.student].max_score if r.student in standings else r.max_score


def _maximum(results: Sequence[SubmissionResult], standings: Standings) -> float:
    return max(
        (
            standings[r.student].max_score if r.student in standings else r.max_score
            for r in results
        ),
        default=0.0,
    )


def _summary(results: Sequence[SubmissionResult], standings: Standings) -> Markup:
    # Final scores (after late penalties), the numbers grades.csv and the pages show.
    scores = [_final(r, standings) for r in results]
    max_score = _maximum(results, standings)
    not_graded = sum(1 for r in results if r.error)
    # Full marks as the final score counts them: a late full score is not one.
    full = sum(
        1
        for r in results
        if r.checks and r.max_score > 0 and _final(r, standings) >= _own_maximum(r, standings)
    )
    internal = sum(1 for r in results if "internal_error" in r.meta)
    stats = [
        _stat("submissions", str(len(results))),
        _stat("mean score", f"{statistics.fmean(scores):.1f} / {points(max_score)}")
        if scores
        else None,
        _stat("median score", f"{statistics.median(scores):g}") if scores else None,
        _stat("full marks", str(full)),
        _stat("could not be graded", str(not_graded)),
        _stat("internal grader errors", str(internal)) if internal else None,
    ]
    return element("div", stats, class_="stats")


def _review(results: Sequence[SubmissionResult]) -> Markup | None:
    """Submissions whose code touches frames, tracing or threads: a person should read them."""
    flagged = [r for r in results if r.meta.get("review")]
    if not flagged:
        return None
    items = [
        element(
            "li",
            _student_link(r.student),
            f" ({points(r.score)} points): ",
            "; ".join(str(reason) for reason in r.meta["review"]),
        )
        for r in flagged
    ]
    return element(
        "section",
        element("h2", f"Review by hand ({len(flagged)})"),
        element(
            "p",
            "These submissions touch the interpreter's frames, tracing or profiling, the "
            "garbage collector or threads: code that can hide work from the grader. Their "
            "scores stand as graded; read the code before you trust them.",
            class_="note",
        ),
        element("ul", items),
    )


def _isolation(results: Sequence[SubmissionResult], sandbox: str) -> Markup:
    # Records written before the layer was recorded fall back to the run's layer, named by
    # the description's first word ("full: bubblewrap namespaces, ..." -> "full").
    counts = sandbox_counts(results, fallback=sandbox.split(":")[0].strip() if sandbox else "")
    items = [
        element("li", element("b", layer), f": {n} submissions")
        for layer, n in counts.most_common()
    ]
    warnings = [
        element(
            "p",
            f"{counts[layer]} submissions ran under the {layer} layer, which {gap}.",
            class_="note",
        )
        for layer, gap in GAPS.items()
        if counts.get(layer)
    ]
    return element(
        "section",
        element("h2", "Isolation"),
        element("ul", items),
        element("p", sandbox, class_="small muted") if sandbox else None,
        warnings,
    )


def _failure_item(group: FailureGroup, *, open_: bool) -> Markup:
    shown = group.students[:NAMES_PER_GROUP]
    names: list[Node] = []
    for n, student in enumerate(shown):
        names += [", " if n else None, _student_link(student)]
    if len(group.students) > len(shown):
        names.append(f" and {len(group.students) - len(shown)} more")
    title = "could not be graded" if group.check_id == NOT_GRADED else check_name(group.check_id)
    also = (
        element("span", f" and {len(group.also)} more: {', '.join(group.also)}", class_="small")
        if group.also
        else None
    )
    summary = element(
        "summary",
        element("b", f"{len(group.students)} × "),
        title,
        also,
        element("span", group.message, class_="message"),
    )
    details: list[Node] = [summary]
    if group.counterexample:
        details += [
            element("p", f"Smallest example ({group.example_student}):", class_="label"),
            counterexample_block(group.counterexample),
        ]
    if group.expected or group.got:
        details.append(expected_and_got(group.expected, group.got))
    details.append(element("p", "Students: ", names, class_="small"))
    return element("details", details, class_="group", open=open_)


def _common_failures(results: Sequence[SubmissionResult]) -> Markup:
    groups = failure_groups(results)
    if not groups:
        return element("section", element("h2", "Most common failures"), element("p", "None."))
    return element(
        "section",
        element("h2", "Most common failures"),
        element(
            "p",
            f"{len(groups)} distinct failures (same check, same message up to numbers; the "
            "checks that fail in exactly the same students are one row); the "
            f"{min(len(groups), COMMON_FAILURES)} most common:",
            class_="muted",
        ),
        [_failure_item(g, open_=n < OPEN_FAILURES) for n, g in enumerate(groups[:COMMON_FAILURES])],
    )


def _heat_map(results: Sequence[SubmissionResult]) -> Markup:
    title = element("h2", "Checks × students")
    if len(results) > HEATMAP_MAX_STUDENTS:
        return element(
            "section",
            title,
            element(
                "p",
                f"Left out for {len(results)} submissions (more than {HEATMAP_MAX_STUDENTS}): "
                "see the pass rates above, the student list below, or grades.csv.",
                class_="note",
            ),
        )
    order = check_order(results)
    head = element(
        "tr",
        element("th", ""),
        [element("th", check_id, title=sentence, scope="col") for check_id, sentence in order],
    )
    rows = []
    for r in results:
        passed = {c.id: c.passed for c in r.checks}
        cells = [
            element(
                "td",
                class_="e"
                if r.error
                else "m"
                if cid not in passed
                else "p"
                if passed[cid]
                else "f",
            )
            for cid, _ in order
        ]
        rows.append(
            element(
                "tr", element("th", _student_link(r.student), scope="row", title=r.student), cells
            )
        )
    legend = element(
        "p",
        element("span", class_="p"),
        "passed",
        element("span", class_="f"),
        "failed",
        element("span", class_="e"),
        "not graded",
        class_="legend small",
    )
    table = element("table", element("thead", head), element("tbody", rows), class_="heat")
    return element("section", title, legend, element("div", table, class_="scroll"))


def _times(results: Sequence[SubmissionResult]) -> Markup:
    t = timing(results)
    slowest = [
        element("tr", element("td", _student_link(s)), element("td", f"{sec:.2f} s", class_="num"))
        for s, sec in t.slowest
    ]
    return element(
        "section",
        element("h2", "Grading time"),
        element(
            "div",
            _stat("mean", f"{t.mean:.2f} s"),
            _stat("median", f"{t.median:.2f} s"),
            _stat("max", f"{t.maximum:.2f} s"),
            _stat("total", f"{sum(t.seconds):.0f} s"),
            class_="stats",
        ),
        element("div", charts.time_histogram(t.seconds), class_="chart"),
        element("p", "Slowest submissions:", class_="label"),
        element("table", element("tbody", slowest), class_="list"),
    )


def _score_cell(r: SubmissionResult, standings: Standings) -> str:
    standing = standings.get(r.student)
    if standing is None:
        return f"{points(r.score)} / {points(r.max_score)}"
    return f"{points(standing.final)} / {points(standing.max_score)}"


def _late_cell(r: SubmissionResult, standings: Standings) -> str:
    standing = standings.get(r.student)
    if standing is None or not standing.penalty:
        return ""
    return f"{points(standing.raw)} − {points(standing.penalty)}"


def _student_list(results: Sequence[SubmissionResult], standings: Standings) -> Markup:
    rows = []
    for r in results:
        failed = sum(1 for c in r.checks if not c.passed)
        if r.error:
            note = (r.error.strip().splitlines() or [""])[0]
        else:
            note = f"{failed} failed" if failed else "all checks passed"
        rows.append(
            element(
                "tr",
                element("td", _student_link(r.student)),
                element("td", _score_cell(r, standings), class_="num"),
                element("td", _late_cell(r, standings), class_="num"),
                element("td", f"{r.seconds:.1f} s", class_="num"),
                element("td", note),
            )
        )
    head = element(
        "tr",
        element("th", "Student"),
        element("th", "Score", class_="num"),
        element("th", "Raw − late penalty", class_="num"),
        element("th", "Time", class_="num"),
        element("th", "Failed checks / problem"),
    )
    return element(
        "section",
        element("h2", f"Students ({len(results)})"),
        element(
            "div",
            element("table", element("thead", head), element("tbody", rows), class_="list"),
            class_="scroll",
        ),
    )


def _similarity_link() -> Markup:
    return element(
        "p",
        "Submissions that share uncommon code: ",
        element("a", "similar submissions, review by hand", href=SIMILARITY_NAME),
        " (propgrade similarity).",
        class_="note",
    )


def render_class_report(
    results: Sequence[SubmissionResult],
    *,
    sandbox: str = "",
    standings: Standings | None = None,
    similarity: bool = False,
) -> str:
    """The report as HTML; ``standings`` (by student) add late penalties and written
    answers, so its scores are the final ones of grades.csv. ``similarity`` links the
    similarity report written next to it."""
    standings = standings or {}
    ordered = sorted(results, key=lambda r: r.student)
    assignments = sorted({r.assignment for r in ordered})
    name = ", ".join(assignments) or "no assignment"
    if not ordered:
        return page(
            f"{name}: class report", element("h1", "Class report"), element("p", "No submissions.")
        )
    rates = pass_rates(ordered)
    graded = sum(1 for r in ordered if not r.error)
    return page(
        f"{name}: class report",
        element("p", name, class_="muted"),
        element("h1", "Class report"),
        _summary(ordered, standings),
        _similarity_link() if similarity else None,
        _review(ordered),
        element("h2", "Scores"),
        element(
            "div",
            charts.score_histogram(
                [_final(r, standings) for r in ordered], _maximum(ordered, standings)
            ),
            class_="chart",
        ),
        element("h2", "Pass rate per check, weakest first"),
        element(
            "p",
            f"Over the {graded} submissions that could be graded.",
            class_="muted",
        ),
        element("div", charts.pass_rate_bars(rates), class_="chart"),
        _common_failures(ordered),
        _heat_map(ordered),
        # Who got what comes before how long it took.
        _student_list(ordered, standings),
        _times(ordered),
        _isolation(ordered, sandbox),
    )


def write_class_report(
    out: Path,
    results: list[SubmissionResult],
    *,
    sandbox: str = "",
    standings: Standings | None = None,
) -> Path:
    """Write ``OUT/report.html`` and return its path.

    ``sandbox`` describes the isolation layer of the run (what ``propgrade grade`` prints);
    each submission's own layer comes from its ``meta["sandbox"]``. A ``similarity.html``
    already in ``out`` (``propgrade similarity``) is linked.
    """
    path = out / REPORT_NAME
    similarity = (out / SIMILARITY_NAME).is_file()
    text = render_class_report(results, sandbox=sandbox, standings=standings, similarity=similarity)
    atomic_write_text(path, text)
    return path
