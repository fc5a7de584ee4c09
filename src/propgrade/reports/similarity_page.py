"""``OUT/similarity.html``: pairs of submissions ranked by shared rare code, each with the two
files side by side and the shared fragments highlighted.

It says "similar, review by hand" and nothing more: similar short numerical functions are
often written independently, and only a person who reads both can tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from propgrade.files import atomic_write_text
from propgrade.reports import charts
from propgrade.reports.layout import page
from propgrade.reports.markup import Markup, Node, element
from propgrade.reports.paths import SIMILARITY_NAME
from propgrade.similarity.compare import Comparison, Pair
from propgrade.similarity.sources import KNOWN, Skipped
from propgrade.similarity.tokens import FILE

SHOWN = 20  # pairs shown side by side, strongest first
LISTED = 25  # pairs in the table; the CSV lists every pair that shares anything

STYLE = """
.side { display: grid; grid-template-columns: 1fr 1fr; gap: .5rem; }
.side > div { min-width: 0; }
.side pre { max-height: 36rem; overflow: auto; padding: .25rem 0; }
.side pre > span { display: block; padding: 0 .5rem; }
.side pre > span.match { background: #fff1a8; box-shadow: inset 3px 0 #bf8700; }
.pair { border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
.pair.flag { border-left: 4px solid #bf8700; }
.lineno { color: var(--muted); user-select: none; }
@media (max-width: 40rem) { .side { grid-template-columns: 1fr; } }
"""


def _label(comparison: Comparison, index: int) -> str:
    doc = comparison.documents[index]
    return f"known source {doc.name}" if doc.kind == KNOWN else doc.name


def _unit_text(pair: Pair) -> str:
    return "whole file" if pair.unit == FILE else f"function {pair.unit}"


def _code(text: str, marked: set[int]) -> Markup:
    lines = text.splitlines() or [""]
    width = len(str(len(lines)))
    spans = [
        element(
            "span",
            element("span", f"{n:>{width}} ", class_="lineno"),
            line,
            class_="match" if n in marked else None,
        )
        for n, line in enumerate(lines, 1)
    ]
    return element("pre", spans)


def _pair_block(comparison: Comparison, rank: int, pair: Pair) -> Markup:
    left, right = comparison.matched_lines(pair)
    a, b = comparison.documents[pair.a], comparison.documents[pair.b]
    flagged = pair.score >= comparison.threshold
    units = ", ".join(
        f"{'whole file' if u == FILE else u} {s:.2f}"
        for u, s in sorted(pair.units.items(), key=lambda item: -item[1])
    )
    return element(
        "section",
        element(
            "h3",
            f"#{rank}: {_label(comparison, pair.a)} and {_label(comparison, pair.b)}: "
            f"{pair.score:.2f} ({_unit_text(pair)})",
        ),
        element("p", f"Score per part: {units}.", class_="small muted"),
        element(
            "div",
            element(
                "div", element("p", f"{a.name} ({a.origin})", class_="label"), _code(a.text, left)
            ),
            element(
                "div",
                element("p", f"{_label(comparison, pair.b)} ({b.origin})", class_="label"),
                _code(b.text, right),
            ),
            class_="side",
        ),
        class_="pair flag" if flagged else "pair",
        id=f"pair-{rank}",
    )


def _table(comparison: Comparison, pairs: Sequence[Pair]) -> Markup:
    rows = [
        element(
            "tr",
            element("td", element("a", str(n), href=f"#pair-{n}") if n <= SHOWN else str(n)),
            element("td", _label(comparison, p.a)),
            element("td", _label(comparison, p.b)),
            element("td", f"{p.score:.2f}", class_="num"),
            element("td", _unit_text(p)),
            element("td", "similar, review by hand" if p.score >= comparison.threshold else ""),
        )
        for n, p in enumerate(pairs, 1)
    ]
    head = element(
        "tr",
        element("th", "#"),
        element("th", "Submission"),
        element("th", "Compared with"),
        element("th", "Score", class_="num"),
        element("th", "Strongest part"),
        element("th", ""),
    )
    return element(
        "div",
        element("table", element("thead", head), element("tbody", rows), class_="list"),
        class_="scroll",
    )


def render_similarity_page(
    comparison: Comparison, assignment: str, skipped: Sequence[Skipped] = ()
) -> str:
    pairs = comparison.pairs
    flagged = [p for p in pairs if p.score >= comparison.threshold]
    students = len(comparison.students)
    known = len(comparison.documents) - students
    intro: list[Node] = [
        element("p", assignment, class_="muted"),
        element("h1", "Similar submissions"),
        element(
            "p",
            f"{students} submissions compared with each other"
            + (f" and with {known} known sources" if known else "")
            + f": {comparison.pair_count} pairs, {len(flagged)} at or above "
            f"{comparison.threshold:g}, marked ",
            element("b", "similar, review by hand"),
            ". A score says how much of the smaller file or function is code the two share "
            "and few others in the class wrote the same way; the released stub never counts. "
            "Short numerical functions are often written alike independently: read both "
            "before concluding anything.",
        ),
    ]
    chart = charts.pair_score_histogram(comparison.scores(), comparison.threshold)
    body: list[Node] = [
        *intro,
        element("h2", "Pair scores"),
        element("div", chart, class_="chart"),
        element("h2", f"Pairs sharing code ({len(pairs)}), strongest first"),
        _table(comparison, pairs[:LISTED]) if pairs else element("p", "None."),
    ]
    if len(pairs) > LISTED:
        body.append(element("p", f"{len(pairs) - LISTED} more in similarity.csv.", class_="muted"))
    body.append(element("h2", "Side by side"))
    body += [_pair_block(comparison, n, p) for n, p in enumerate(pairs[:SHOWN], 1)]
    if skipped:
        body += [
            element("h2", f"Not compared ({len(skipped)})"),
            element("ul", [element("li", element("b", s.name), ": ", s.reason) for s in skipped]),
        ]
    return page(f"{assignment}: similar submissions", *body, style=STYLE)


def write_similarity_page(
    out: Path, comparison: Comparison, assignment: str, skipped: Sequence[Skipped] = ()
) -> Path:
    path = out / SIMILARITY_NAME
    atomic_write_text(path, render_similarity_page(comparison, assignment, skipped))
    return path
