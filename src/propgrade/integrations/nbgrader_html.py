"""Student HTML that nbgrader's own pages would render live.

nbgrader renders a notebook's markdown cells through nbconvert, which passes raw HTML
through: in formgrader (the grader's browser) and in the pages ``nbgrader
generate_feedback`` writes for the student, a written answer holding ``<style>``,
``<script>``, an event handler or a fixed overlay restyles the page, covers the scores or
runs script. propgrade's own feedback page escapes every student string; these pages are
nbgrader's. So propgrade looks for such markup before anyone runs ``generate_feedback``
and names the student and the cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# What turns text into behaviour or covers the page; plain formatting (<b>, <br>, <sub>)
# is left alone, since answers use it.
_ACTIVE = (
    ("<script>", re.compile(r"<\s*script\b", re.I)),
    ("<style>", re.compile(r"<\s*style\b", re.I)),
    ("<iframe>/<object>/<embed>", re.compile(r"<\s*(iframe|object|embed|frame)\b", re.I)),
    ("<link>/<meta>/<base>", re.compile(r"<\s*(link|meta|base)\b", re.I)),
    ("<form>", re.compile(r"<\s*form\b", re.I)),
    ("an event handler (on...=)", re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)),
    ("a javascript: link", re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.I)),
    ("a positioned inline style (an overlay)", re.compile(r"style\s*=[^>]*position\s*:", re.I)),
)


@dataclass(frozen=True)
class ActiveHtml:
    cell: int  # 1-based, as Jupyter users count
    grade_id: str  # nbgrader's id of the cell, "" for a plain cell
    kinds: tuple[str, ...]

    def describe(self) -> str:
        where = f"cell {self.cell}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"{where} holds {', '.join(self.kinds)}"


def _text(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def active_html(nb: Any) -> list[ActiveHtml]:
    """The markdown cells of ``nb`` (an nbformat notebook) that hold active HTML; locked
    cells are the instructor's (nbgrader restores them from the gradebook) and skipped."""
    found = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "markdown" or meta.get("locked"):
            continue
        text = _text(cell)
        kinds = tuple(name for name, pattern in _ACTIVE if pattern.search(text))
        if kinds:
            found.append(ActiveHtml(number, str(meta.get("grade_id", "")), kinds))
    return found
