"""Reading a counterexample's text back into small arrays a page can show as tables.

Feedback stores the counterexample as the case's ``repr``, e.g.::

    N=1, D=1, C=2, reg=0.0
    W = [[ 0., -3.]]  # shape (1, 2)
    X = [[0.],
     [0.]]  # shape (2, 1)
    y = [0, 0]

Lines of the form ``NAME = [...]`` holding a 1-D or 2-D array of numbers become
:class:`ArrayValue`; every other line stays text. Anything unexpected (another assignment's
repr, a summarised large array) simply stays text: parsing is a presentation nicety and
never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*) = (?P<value>\[.*)\Z", re.DOTALL)
_SHAPE_COMMENT = re.compile(r"\s*#\s*shape \([0-9, ]*\)\s*\Z")
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<comma>,)|"
    r"(?P<number>[-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(?:j)?))",
    re.IGNORECASE,
)
_MAX_CELLS = 256


@dataclass(frozen=True)
class ArrayValue:
    name: str
    rows: list[list[str]]  # the numbers as printed; a 1-D array is one row
    ndim: int

    @property
    def shape(self) -> tuple[int, ...]:
        if self.ndim == 1:
            return (len(self.rows[0]),)
        return (len(self.rows), len(self.rows[0]) if self.rows else 0)


@dataclass(frozen=True)
class TextLine:
    text: str


Part = ArrayValue | TextLine


def _logical_lines(text: str) -> list[str]:
    """Join an array's continuation lines (numpy indents them) onto their first line."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line.startswith(" ") and lines[-1].count("[") > lines[-1].count("]"):
            lines[-1] += "\n" + line
        else:
            lines.append(line)
    return lines


def _nested(value: str) -> list[object] | None:
    """A numpy-printed nested list of numbers as nested lists of strings, or None.

    Commas are optional: numpy separates with ", " in feedback and with spaces by default.
    """
    stack: list[list[object]] = []
    result: list[object] | None = None
    position = 0
    while position < len(value):
        match = _TOKEN.match(value, position)
        if match is None or result is not None:  # unknown text, or text after the end
            return None
        position = match.end()
        if match.group("open"):
            stack.append([])
        elif match.group("close"):
            if not stack:
                return None
            done = stack.pop()
            if stack:
                stack[-1].append(done)
            else:
                result = done
        elif not stack:
            return None
        elif match.group("number"):
            stack[-1].append(match.group("number"))
    return result if not stack else None


def parse_array(name: str, value: str) -> ArrayValue | None:
    """``value`` (``[[1., 2.]]  # shape (1, 2)``) as a table, if it is a small 1-D or 2-D
    array of numbers."""
    nested = _nested(_SHAPE_COMMENT.sub("", value).strip())
    if nested is None or not nested:
        return None
    if all(isinstance(item, str) for item in nested):
        return ArrayValue(name, [[str(item) for item in nested]], 1)
    if not all(isinstance(row, list) for row in nested):
        return None
    rows: list[list[str]] = []
    for row in nested:
        assert isinstance(row, list)
        if not all(isinstance(item, str) for item in row):
            return None  # 3-D or ragged: leave it as text
        rows.append([str(item) for item in row])
    width = len(rows[0])
    if width == 0 or any(len(row) != width for row in rows) or width * len(rows) > _MAX_CELLS:
        return None
    return ArrayValue(name, rows, 2)


def parse_counterexample(text: str) -> list[Part]:
    parts: list[Part] = []
    for line in _logical_lines(text):
        match = _ASSIGNMENT.match(line)
        array = parse_array(match["name"], match["value"]) if match else None
        parts.append(array if array is not None else TextLine(line))
    return parts
