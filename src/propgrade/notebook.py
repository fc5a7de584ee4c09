"""Turning a submitted notebook into a gradable module, without running the notebook.

Runs in the trusted process, so it only *parses*: each code cell is read with ``ast`` and
only its imports and top-level function definitions are kept. Everything else (loops,
training runs, ``shutil.rmtree(...)``, prints, plots) is dropped and listed in the notes.
The synthesized file is then graded like any ``losses.py``, in the sandboxed worker.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from propgrade.locate import SubmissionProblem

MAX_NOTEBOOK_BYTES = 50 << 20  # notebooks carry images in their outputs
_MAGIC_PREFIXES = ("%", "!", "?")
HEADER = (
    "# Synthesized by propgrade from {name}: only the imports and top-level function\n"
    "# definitions of its code cells. Nothing else from the notebook is run.\n"
    "from __future__ import annotations\n"
)


@dataclass
class Extracted:
    source: str
    functions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out, for the feedback


def _cell_source(cell: object) -> str | None:
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else None


def _without_magics(text: str) -> str:
    # IPython syntax (`%matplotlib inline`, `!propgrade check`) is not Python; blank it
    # out, keeping line numbers, so the rest of the cell still parses.
    lines = text.splitlines()
    return "\n".join("" if line.lstrip().startswith(_MAGIC_PREFIXES) else line for line in lines)


_SAFE_DEFAULT = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.UnaryOp, ast.USub, ast.Load)


def _defaults_are_plain(node: ast.FunctionDef) -> bool:
    # Default values are evaluated when the `def` runs, i.e. at import: only plain
    # values are allowed there, so importing the file runs no call the student wrote.
    defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    return all(isinstance(sub, _SAFE_DEFAULT) for d in defaults for sub in ast.walk(d))


def _describe(node: ast.stmt) -> str:
    kind = type(node).__name__.lower()
    names = {
        "while": "a while loop",
        "for": "a for loop",
        "expr": "an expression",
        "assign": "an assignment",
        "classdef": "a class definition",
        "if": "an if statement",
        "with": "a with block",
        "try": "a try block",
    }
    return names.get(kind, f"a {kind} statement")


def extract_functions(text: str, name: str = "notebook") -> Extracted:
    """Imports and top-level functions of the notebook JSON ``text``, as module source."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SubmissionProblem(f"{name} is not a valid notebook (JSON error: {exc})") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise SubmissionProblem(f"{name} is not a valid notebook (no list of cells)")
    parts = [HEADER.format(name=name)]
    out = Extracted(source="")
    for number, cell in enumerate(cells, start=1):
        source = _cell_source(cell)
        if not source or not source.strip():
            continue
        cleaned = _without_magics(source)
        try:
            tree = ast.parse(cleaned)
        except SyntaxError as exc:
            out.notes.append(f"cell {number}: not valid Python (line {exc.lineno}), skipped")
            continue
        for node in tree.body:
            where = f"cell {number}, line {node.lineno}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    continue  # must come first in a file; the header has the one we need
                segment = ast.get_source_segment(cleaned, node)
            elif isinstance(node, ast.FunctionDef):
                if not _defaults_are_plain(node):
                    out.notes.append(
                        f"{where}: function {node.name} skipped: its default arguments "
                        "compute something (use None and compute inside the function)"
                    )
                    continue
                # The segment of a FunctionDef starts at `def`: decorators, which would
                # run at import, are left out.
                segment = ast.get_source_segment(cleaned, node)
                out.functions.append(node.name)
            else:
                out.notes.append(f"{where}: {_describe(node)} at top level, not graded")
                continue
            if segment is None:
                continue
            parts.append(f"\n# --- {where}\n{segment}\n")
    out.source = "".join(parts)
    return out


def synthesize_module(notebook: Path, dest: Path) -> Extracted:
    """Write the graded module extracted from ``notebook`` to ``dest``."""
    size = notebook.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionProblem(
            f"{notebook.name} is {size} bytes; notebooks over {MAX_NOTEBOOK_BYTES} bytes "
            "are not graded (clear large outputs and submit again)"
        )
    extracted = extract_functions(notebook.read_text(encoding="utf-8"), notebook.name)
    dest.write_text(extracted.source, encoding="utf-8")
    return extracted
