"""Messages about a module synthesized from a notebook, in the notebook's own terms.

A notebook-only submission is graded as a module written from its cells
(``intake/notebook.py``), each kept statement after a ``# --- cell N, line M`` marker. The
student has no such module: a traceback at ``losses.py, line 9`` is rewritten to the
cell and the line of that cell it came from.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace

from propgrade.engine.results import SubmissionResult

_MARKER = re.compile(r"^# --- cell (\d+), line (\d+)$")


@dataclass(frozen=True)
class CellLines:
    """Where each kept statement of the synthesized module came from."""

    notebook: str  # as the submission names it
    starts: tuple[int, ...]  # the module line each statement starts on, ascending
    places: tuple[tuple[int, int], ...]  # (cell, line in the cell) of that first line

    @classmethod
    def of(cls, notebook: str, source: str) -> CellLines:
        starts, places = [], []
        for number, line in enumerate(source.splitlines(), start=1):
            found = _MARKER.match(line)
            if found:
                starts.append(number + 1)
                places.append((int(found[1]), int(found[2])))
        return cls(notebook, tuple(starts), tuple(places))

    def place(self, line: int) -> str | None:
        """``cell N, line M`` for a line of the module; None for propgrade's own lines."""
        index = bisect_right(self.starts, line) - 1
        if index < 0:
            return None
        cell, first = self.places[index]
        following = self.starts[index + 1] if index + 1 < len(self.starts) else None
        if following is not None and line >= following - 1:
            return None  # the blank line and marker before the next statement
        return f"cell {cell}, line {first + line - self.starts[index]}"

    def rewrite(self, text: str, graded_file: str) -> str:
        pattern = re.compile(rf'File "{re.escape(graded_file)}", line (\d+)')

        def where(found: re.Match[str]) -> str:
            place = self.place(int(found[1]))
            return found[0] if place is None else f'File "{self.notebook}", {place}'

        text = pattern.sub(where, text)
        return text.replace(
            f"importing {graded_file} failed", f"importing the code of {self.notebook} failed"
        )


def in_notebook_terms(result: SubmissionResult, lines: CellLines, graded_file: str) -> None:
    """Rewrite ``result``'s error and feedback in place to name cells, not module lines."""
    result.error = lines.rewrite(result.error, graded_file)
    for number, check in enumerate(result.checks):
        feedback = check.feedback
        if feedback is None:
            continue
        moved = replace(
            feedback,
            message=lines.rewrite(feedback.message, graded_file),
            traceback=lines.rewrite(feedback.traceback, graded_file),
        )
        result.checks[number] = replace(check, feedback=moved)
