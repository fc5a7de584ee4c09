"""A tiny HTML builder whose only way to emit text is through ``html.escape``.

Student folder names, printed output, exception messages, tracebacks and counterexamples
all end up in the pages. Instead of remembering to escape each of them, pages are built
from :func:`element` calls: every string child and every attribute value is escaped
here, and only :class:`Markup` (what this module produced, or a trusted constant passed
through :func:`trusted`) is inserted as is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from propgrade.intake.student_ids import readable

# What may appear as a child: text (escaped), markup, numbers, nothing, or a list of those.
Node = str | int | float | None | Sequence["Node"]
AttrValue = str | int | float | bool | None

_TAG = re.compile(r"[a-z][a-z0-9]*\Z")
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9-]*\Z")
_VOID = frozenset({"meta", "br", "hr", "img", "col", "wbr", "link", "input"})


class Markup(str):
    """A string that is already HTML: it is inserted into pages without escaping."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as HTML text; markup passes through unchanged."""
    if isinstance(value, Markup):
        return value
    # readable(): a folder name that is not UTF-8 is shown with \x escapes instead of
    # making the page impossible to write.
    return Markup(html.escape(readable(str(value)), quote=True))


def trusted(text: str) -> Markup:
    """Mark a string produced by the grader itself (CSS, the charts' SVG) as HTML.

    Never call this on anything that came from a submission.
    """
    return Markup(text)


def concat(nodes: Iterable[Node]) -> Markup:
    return Markup("".join(_render(node) for node in nodes))


def _render(node: Node) -> str:
    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return escape(node)
    return concat(node)


def _attributes(attrs: Mapping[str, AttrValue]) -> str:
    parts = []
    for key, value in attrs.items():
        # Python keywords and dashes: class_ -> class, aria_label -> aria-label.
        name = key.rstrip("_").replace("_", "-")
        if not _ATTRIBUTE.match(name) or name.startswith("on"):
            # Pages never need event handlers: refusing them keeps a bug from adding one.
            raise ValueError(f"attribute not allowed in reports: {name!r}")
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{escape(value)}"')
    return "".join(parts)


def element(tag: str, *children: Node, **attrs: AttrValue) -> Markup:
    """``<tag attrs>children</tag>`` with every text child and attribute value escaped."""
    if not _TAG.match(tag) or tag == "script":
        raise ValueError(f"element not allowed in reports: {tag!r}")
    opening = f"<{tag}{_attributes(attrs)}>"
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> takes no children")
        return Markup(opening)
    return Markup(f"{opening}{concat(children)}</{tag}>")
