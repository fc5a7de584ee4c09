"""Turning a submitted notebook into a gradable module, without running the notebook.

Runs in the trusted process, so it only *parses*: each code cell is read with ``ast`` and
only its imports and top-level function definitions are kept. Everything else (loops,
training runs, ``shutil.rmtree(...)``, prints, plots) is dropped and listed in the notes.
The synthesized file is then graded like any ``losses.py``, in the sandboxed worker.

The notebook is the student's: it may be saved in another encoding, nested deep enough to
exhaust the JSON parser's recursion, or hold an expression a hundred thousand operators
long. Each of these is that submission's problem (``SubmissionProblem``) or one skipped
cell, never an exception that stops a batch.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from propgrade.locate import SubmissionProblem

# A notebook is a few levels deep (cells, outputs, data, mime bundles); widget state adds
# a few more. Far below the recursion limit that json.loads would otherwise hit.
MAX_JSON_DEPTH = 64
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


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionProblem(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "notebooks are saved as UTF-8: open it in Jupyter, save it and submit again"
        ) from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in the JSON ``text`` (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_notebook_json(data: bytes | str, name: str) -> object:
    """The notebook's JSON, decoded as UTF-8 and parsed within a nesting limit."""
    text = data if isinstance(data, str) else _decode(data, name)
    if json_depth(text) > MAX_JSON_DEPTH:
        raise SubmissionProblem(
            f"{name} is not a valid notebook (its JSON is nested more than "
            f"{MAX_JSON_DEPTH} levels deep)"
        )
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SubmissionProblem(f"{name} is not a valid notebook (JSON error: {exc})") from None


def _parse_cell(source: str) -> ast.Module:
    """``ast.parse``, with the parser's own limits turned into ``SyntaxError``."""
    try:
        return ast.parse(source)
    except (RecursionError, MemoryError):
        # A long chain of operators or subscripts exhausts the parser's stack.
        raise SyntaxError("too deeply nested to parse") from None
    except ValueError as exc:  # e.g. a NUL character
        raise SyntaxError(str(exc)) from None


def extract_functions(data: bytes | str, name: str = "notebook") -> Extracted:
    """Imports and top-level functions of the notebook file ``data``, as module source."""
    parsed = parse_notebook_json(data, name)
    cells = parsed.get("cells") if isinstance(parsed, dict) else None
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
            tree = _parse_cell(cleaned)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else exc.msg
            out.notes.append(f"cell {number}: not valid Python ({where}), skipped")
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


def synthesize_module(data: bytes, name: str, dest: Path) -> Extracted:
    """Write the graded module extracted from the notebook file ``data`` to ``dest``."""
    extracted = extract_functions(data, name)
    dest.write_text(extracted.source, encoding="utf-8")
    return extracted
