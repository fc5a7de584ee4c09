"""A student's feedback as one self-contained HTML page (for nbgrader's release_feedback).

Released after grading, so checks with ``after_due_date`` or ``after_published``
visibility are shown in full; ``hidden`` checks show their points but not their details.
Everything from the submission is escaped: counterexamples and tracebacks are student-
influenced text.
"""

from __future__ import annotations

from html import escape

from propgrade.late import Lateness
from propgrade.results import SubmissionResult

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;"
    "text-align:left}.failed{color:#a00}.passed{color:#070}pre{background:#f6f6f6;"
    "padding:.6rem;overflow-x:auto}"
)


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def render_feedback(
    result: SubmissionResult,
    lateness: Lateness,
    *,
    title: str,
    notes: list[str] | None = None,
) -> str:
    raw = result.score
    penalty = lateness.penalty(raw)
    rows = [
        f"<tr><th>Score from the checks</th><td>{_points(raw)} / {_points(result.max_score)}"
        "</td></tr>",
        f"<tr><th>Submission</th><td>{escape(lateness.describe())}</td></tr>",
        f"<tr><th>Late penalty</th><td>&minus;{_points(penalty)}</td></tr>",
        f"<tr><th>Score</th><td><strong>{_points(max(raw - penalty, 0.0))} / "
        f"{_points(result.max_score)}</strong></td></tr>",
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<table>",
        *rows,
        "</table>",
    ]
    if result.error:
        parts.append(f"<p class='failed'>Could not grade: {escape(result.error)}</p>")
    for note in notes or []:
        parts.append(f"<p>{escape(note)}</p>")
    parts.append("<h2>Checks</h2><table><tr><th>check</th><th>points</th><th>result</th></tr>")
    for c in result.checks:
        parts.append(
            f"<tr><td title='{escape(c.sentence)}'>{escape(c.id)}</td>"
            f"<td>{_points(c.points)} / {_points(c.max_points)}</td>"
            f"<td class='{escape(c.status)}'>{escape(c.status)}</td></tr>"
        )
    parts.append("</table>")
    for c in result.checks:
        if c.passed or c.feedback is None or result.error:
            continue
        parts.append(f"<h3 class='failed'>{escape(c.id)}</h3><p>{escape(c.sentence)}</p>")
        if c.visibility == "hidden":
            parts.append("<p>The details of this check are hidden.</p>")
        else:
            parts.append(f"<pre>{escape(c.feedback.render())}</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
