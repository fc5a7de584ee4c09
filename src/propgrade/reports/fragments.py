"""Page pieces shared by the student pages and the class report."""

from __future__ import annotations

from propgrade.reports.counterexample import ArrayValue, TextLine, parse_counterexample
from propgrade.reports.markup import Markup, Node, element


def points(value: float) -> str:
    return f"{value:g}"


def check_name(check_id: str) -> Markup:
    """The id in monospace, breakable after each underscore (long ids wrap on phones)."""
    pieces: list[Node] = []
    for n, part in enumerate(check_id.split("_")):
        pieces += ["_", element("wbr"), part] if n else [part]
    return element("code", pieces)


def _array_table(array: ArrayValue) -> Markup:
    shape = ", ".join(str(n) for n in array.shape) + ("," if array.ndim == 1 else "")
    rows = [element("tr", [element("td", cell) for cell in row]) for row in array.rows]
    label = element("div", element("b", array.name), f" shape ({shape})", class_="array-name")
    return element("div", label, element("table", element("tbody", rows)), class_="array")


def counterexample_block(text: str) -> Markup:
    """The counterexample with its arrays as small tables, and the exact text beside them."""
    parts = parse_counterexample(text)
    arrays = [p for p in parts if isinstance(p, ArrayValue)]
    if not arrays:
        return element("pre", text)
    lines = "\n".join(p.text for p in parts if isinstance(p, TextLine))
    return element(
        "div",
        element("pre", lines) if lines else None,
        element("div", [_array_table(a) for a in arrays], class_="array-list"),
        element("details", element("summary", "as text"), element("pre", text)),
    )


def labelled(label: str, body: Node) -> list[Node]:
    return [element("p", label, class_="label"), body]


def expected_and_got(expected: str, got: str) -> Markup:
    """What the check wanted beside what came back (stacked on narrow screens)."""
    return element(
        "div",
        element("div", labelled("Expected", element("pre", expected or "–"))),
        element("div", labelled("Got", element("pre", got or "–"))),
        class_="compare",
    )
