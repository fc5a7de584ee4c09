"""The service's own HTML: sign-in, upload and history, status, the instructor's dashboard.

Built with the reports' ``element`` (every text escaped) and no script: the status page
refreshes itself with a meta refresh. The feedback page itself is the batch's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from propgrade.engine.results import format_points
from propgrade.reports.layout import page
from propgrade.reports.markup import Markup, Node, element

# The pages post their forms to this server and load nothing else.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REFRESH_SECONDS = 2  # a status page waiting for its grade
DASHBOARD_REFRESH_SECONDS = 15  # the dashboard follows the class as it submits

STYLE = """
form.box { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem;
  margin: 1rem 0; background: var(--soft); }
form.inline { display: inline; }
button { font: inherit; padding: .25rem .9rem; }
.pending { color: var(--wait); font-weight: 600; }
"""


@dataclass(frozen=True)
class Attempt:
    """One row of a history: what its owner may see of it."""

    public_id: str
    received: str
    status: str  # queued, grading, done
    score: str  # "" until graded
    late: str = ""


def _page(title: str, *body: Node, refresh: int = 0) -> str:
    head: Node = None
    if refresh:
        head = element("meta", http_equiv="refresh", content=str(refresh))
    return page(title, *body, style=STYLE, extra_head=head, csp=CSP)


def _csrf(csrf: str) -> Markup:
    return element("input", type="hidden", name="csrf", value=csrf)


def sign_in(message: str = "") -> str:
    return _page(
        "Sign in",
        element("h1", "Sign in to submit"),
        element("p", message, class_="alert", role="alert") if message else None,
        element(
            "form",
            element("label", "Your token ", element("input", type="password", name="token")),
            " ",
            element("button", "Sign in", type="submit"),
            method="post",
            action="/login",
            class_="box",
        ),
        element("p", "The token came by email from your instructor.", class_="muted"),
    )


def _history(attempts: Sequence[Attempt]) -> Node:
    if not attempts:
        return element("p", "No attempts yet.", class_="muted")
    rows = [
        element(
            "tr",
            element("td", element("a", a.received, href=f"/s/{a.public_id}")),
            element(
                "td",
                a.status if a.status == "done" else element("span", a.status, class_="pending"),
            ),
            element("td", a.score, class_="num"),
            element("td", a.late),
        )
        for a in attempts
    ]
    head = element(
        "tr",
        element("th", "Received"),
        element("th", "Status"),
        element("th", "Score", class_="num"),
        element("th", "Late"),
    )
    return element("table", element("thead", head), element("tbody", rows), class_="list")


def home(
    student: str,
    assignment: str,
    accepts: str,
    csrf: str,
    attempts: Sequence[Attempt],
    rules: Sequence[str],
) -> str:
    return _page(
        f"{assignment}: submit",
        element("p", assignment, class_="muted"),
        element("h1", f"Submit, {student}"),
        [element("p", rule) for rule in rules],
        element(
            "form",
            _csrf(csrf),
            element("label", f"Your {accepts} ", element("input", type="file", name="file")),
            " ",
            element("button", "Submit", type="submit"),
            method="post",
            action="/upload",
            enctype="multipart/form-data",
            class_="box",
        ),
        element("h2", "Your attempts"),
        _history(attempts),
        element(
            "form",
            _csrf(csrf),
            element("button", "Sign out", type="submit"),
            method="post",
            action="/logout",
        ),
    )


def status(attempt: Attempt, detail: str, duplicate: bool = False) -> str:
    done = attempt.status == "done"
    body: list[Node] = [element("h1", "Your submission")]
    if duplicate:
        body.append(
            element("p", "The same file was submitted before: this is that attempt.", class_="note")
        )
    body.append(element("p", f"Received {attempt.received}.", class_="muted"))
    if done:
        body.append(element("p", attempt.score, class_="score", id="score"))
        body.append(element("p", detail))
        if attempt.late:
            body.append(element("p", attempt.late))
        body.append(
            element(
                "p",
                element(
                    "a", "Feedback page", href=f"/s/{attempt.public_id}/feedback", id="feedback"
                ),
            )
        )
    else:
        body.append(
            element(
                "p",
                "Grading… this page updates by itself."
                if attempt.status == "grading"
                else "Waiting to be graded… this page updates by itself.",
                class_="pending",
                id="status",
            )
        )
    body.append(element("p", element("a", "Submit again or see all attempts", href="/")))
    return _page("Submission", *body, refresh=0 if done else REFRESH_SECONDS)


def problem(title: str, message: str) -> str:
    return _page(
        title,
        element("h1", title),
        element("p", message, class_="alert", role="alert"),
        element("p", element("a", "Back", href="/")),
    )


@dataclass(frozen=True)
class Row:
    """One student on the dashboard."""

    student: str
    attempts: int
    counted: str  # the counted attempt's final score, or "" without one
    pending: int
    public_id: str = ""


def dashboard(
    assignment: str,
    rows: Sequence[Row],
    csrf: str,
    *,
    counts: str,
    released: bool,
    due: str,
    can_release: bool,
    queued: int,
) -> str:
    table = element(
        "table",
        element(
            "thead",
            element(
                "tr",
                element("th", "Student"),
                element("th", "Attempts", class_="num"),
                element("th", f"Counted ({counts})", class_="num"),
                element("th", "Waiting", class_="num"),
            ),
        ),
        element(
            "tbody",
            [
                element(
                    "tr",
                    element("td", r.student),
                    element("td", r.attempts, class_="num"),
                    element(
                        "td",
                        element("a", r.counted, href=f"/s/{r.public_id}/feedback")
                        if r.public_id
                        else "",
                        class_="num",
                    ),
                    element("td", r.pending or "", class_="num"),
                )
                for r in rows
            ],
        ),
        class_="list",
    )
    release: Node
    if released:
        release = element("p", "Feedback is released: students see every check but hidden ones.")
    elif can_release:
        release = element(
            "form",
            _csrf(csrf),
            element("button", "Release the after-due-date checks", type="submit"),
            method="post",
            action="/instructor/release",
            class_="inline",
        )
    else:
        release = element("p", f"Release is possible after the due date ({due}).", class_="muted")
    return _page(
        f"{assignment}: dashboard",
        element("p", assignment, class_="muted"),
        element("h1", "Dashboard"),
        element("p", f"{queued} submissions waiting or being graded.", class_="muted"),
        element(
            "p",
            element("a", "Class report", href="/instructor/class/report.html"),
            " · ",
            element("a", "grades.csv", href="/instructor/grades.csv"),
        ),
        release,
        element(
            "form",
            _csrf(csrf),
            element("button", "Regrade all", type="submit"),
            method="post",
            action="/instructor/regrade",
            class_="inline",
        ),
        element("h2", f"Students ({len(rows)})"),
        element("div", table, class_="scroll"),
        refresh=DASHBOARD_REFRESH_SECONDS,
    )


def points_text(score: float, maximum: float, *, so_far: bool) -> str:
    suffix = " so far" if so_far else ""
    return f"{format_points(score):g} / {format_points(maximum):g} points{suffix}"
