"""Releasing an nbgrader-marked notebook through nbgrader's own preprocessors.

The instructor's notebook carries nbgrader's cell metadata (solution, grade, locked) and
its ``### BEGIN SOLUTION`` markers; the student version is what ``nbgrader
generate_assignment`` would make of it, minus the gradebook: solutions cleared, outputs
cleared, read-only cells locked, hidden tests and mark schemes removed, checksums set so
nbgrader can later tell whether a locked cell was changed.

nbgrader is imported only when a notebook is released: it is an optional dependency.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from propgrade.errors import ReleaseError

# The order of nbgrader's GenerateAssignment, without the steps that need a course
# (IncludeHeaderFooter, InstantiateTests) or a gradebook (SaveCells).
_PREPROCESSORS = (
    "LockCells",
    "ClearSolutions",
    "ClearOutput",
    "CheckCellMetadata",
    "ComputeChecksums",
    "ClearHiddenTests",
    "ClearMarkScheme",
    "ComputeChecksums",  # again: the two steps before change cells
    "CheckCellMetadata",
)


def _modules() -> tuple[Any, Any]:
    try:
        nbformat = importlib.import_module("nbformat")
        preprocessors = importlib.import_module("nbgrader.preprocessors")
    except ImportError:
        raise ReleaseError(
            "releasing a notebook needs nbgrader, which is not installed",
            hint="pip install 'nbgrader>=0.9,<0.10'",
        ) from None
    return nbformat, preprocessors


def release_notebook(source: Path, dest: Path) -> None:
    """Write the student version of the nbgrader notebook ``source`` to ``dest``."""
    nbformat, preprocessors = _modules()
    try:
        text = source.read_text(encoding="utf-8")
        raw = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"{source}: not a readable notebook: {exc}") from None
    # Checked on the file itself: nbformat fills in missing ids when it reads.
    cells = raw.get("cells", []) if isinstance(raw, dict) else []
    if any(isinstance(cell, dict) and "id" not in cell for cell in cells):
        # nbformat would invent random ids, and the release would differ on every run.
        raise ReleaseError(
            f"{source}: every cell needs an 'id' (nbformat 4.5) for a reproducible release",
            hint="open and save the notebook in Jupyter 3+ or run nbformat's validator",
        )
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad files
        raise ReleaseError(f"{source}: not a readable notebook: {exc}") from None
    resources: dict[str, Any] = {}
    for name in _PREPROCESSORS:
        step = getattr(preprocessors, name)()
        try:
            notebook, resources = step.preprocess(notebook, resources)
        except Exception as exc:  # nbgrader reports marker and metadata errors this way
            raise ReleaseError(f"{source}: nbgrader's {name} failed: {exc}") from None
    dest.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
