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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from propgrade.intake.locate import SubmissionProblem

# A notebook is a few levels deep (cells, outputs, data, mime bundles); widget state adds
# a few more. Far below the recursion limit that json.loads would otherwise hit.
MAX_JSON_DEPTH = 64
_MAGIC_PREFIXES = ("%", "!", "?")
_NOT_GRADED = ", not graded"
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


def parse_source(source: str) -> ast.Module:
    """``ast.parse``, with the parser's own limits turned into ``SyntaxError``."""
    try:
        return ast.parse(source)
    except (RecursionError, MemoryError):
        # A long chain of operators or subscripts exhausts the parser's stack.
        raise SyntaxError("too deeply nested to parse") from None
    except ValueError as exc:  # e.g. a NUL character
        raise SyntaxError(str(exc)) from None


@dataclass
class _Kept:
    where: str
    node: ast.Import | ast.ImportFrom | ast.FunctionDef
    segment: str


def extract_functions(
    data: bytes | str,
    name: str = "notebook",
    *,
    graded: Sequence[str] = (),
    module: str | None = None,
) -> Extracted:
    """Imports and top-level functions of the notebook file ``data``, as module source.

    ``graded`` names the functions that are graded (all, when empty): only the imports
    they use, directly or through other functions of the notebook, are kept. ``module`` is
    the graded module's name (``losses``): importing it from the notebook means these very
    functions, so that import is resolved here instead of failing in the worker.
    """
    parsed = parse_notebook_json(data, name)
    cells = parsed.get("cells") if isinstance(parsed, dict) else None
    if not isinstance(cells, list):
        raise SubmissionProblem(f"{name} is not a valid notebook (no list of cells)")
    out = Extracted(source="")
    kept = _kept_statements(cells, out)
    functions = {
        item.node.name: item.node for item in kept if isinstance(item.node, ast.FunctionDef)
    }
    roots = [f for f in graded if f in functions] or list(functions)
    used = names_used(functions, roots, _graded_module_names(kept, module, list(functions)))
    parts = [HEADER.format(name=name)]
    footer: list[str] = []
    for item in kept:
        is_import = not isinstance(item.node, ast.FunctionDef)
        if is_import and not _keep_import(item, module, used, set(functions), out.notes, footer):
            continue
        parts.append(f"\n# --- {item.where}\n{item.segment}\n")
    if footer:
        parts.append("\n# --- the graded module, as the notebook imported it\n")
        parts.append("import types as _propgrade_types\n" + "".join(footer))
    out.source = "".join(parts)
    return out


def _kept_statements(cells: list[object], out: Extracted) -> list[_Kept]:
    """The imports and plain function definitions of every code cell, in order; notes for
    the rest and the functions' names in ``out``."""
    kept: list[_Kept] = []
    for number, cell in enumerate(cells, start=1):
        source = _cell_source(cell)
        if not source or not source.strip():
            continue
        cleaned = _without_magics(source)
        try:
            tree = parse_source(cleaned)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else exc.msg
            out.notes.append(f"cell {number}: not valid Python ({where}), skipped")
            continue
        for node in tree.body:
            where = f"cell {number}, line {node.lineno}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    continue  # must come first in a file; the header has the one we need
            elif isinstance(node, ast.FunctionDef):
                if not _defaults_are_plain(node):
                    out.notes.append(
                        f"{where}: function {node.name} skipped: its default arguments "
                        "compute something (use None and compute inside the function)"
                    )
                    continue
                out.functions.append(node.name)
            else:
                out.notes.append(f"{where}: {_describe(node)} at top level{_NOT_GRADED}")
                continue
            # The segment of a FunctionDef starts at `def`: decorators, which would run at
            # import, are left out.
            segment = ast.get_source_segment(cleaned, node)
            if segment is not None:
                kept.append(_Kept(where, node, segment))
    return kept


def _graded_module_names(
    kept: list[_Kept], module: str | None, functions: list[str]
) -> dict[str, list[str]]:
    """Names that imports of the graded module bind, each with the notebook functions it
    stands for (``losses`` for all of them, ``g`` in ``from losses import f as g`` for f)."""
    names: dict[str, list[str]] = {}
    for item in kept:
        node = item.node
        if isinstance(node, ast.FunctionDef) or module is None:
            continue
        if not _imports_module(node, module):
            continue
        for alias in node.names:
            bound = alias.asname or alias.name
            if isinstance(node, ast.Import):
                names[bound.partition(".")[0]] = functions
            elif alias.name in functions:
                names[bound] = [alias.name]
    return names


def names_used(
    functions: dict[str, ast.FunctionDef], roots: list[str], aliases: dict[str, list[str]]
) -> set[str]:
    """Every name the ``roots`` functions refer to, following calls into the others, also
    through the names ``aliases`` gives them."""
    used: set[str] = set()
    pending = list(roots)
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for sub in ast.walk(functions[current]):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
                pending += aliases.get(sub.id, [sub.id] if sub.id in functions else [])
    return used


def _keep_import(
    item: _Kept,
    module: str | None,
    used: set[str],
    defined: set[str],
    notes: list[str],
    footer: list[str],
) -> bool:
    """Whether the import ``item`` goes into the module; notes and footer lines if not."""
    node = item.node
    assert isinstance(node, ast.Import | ast.ImportFrom)
    first = item.segment.splitlines()[0].strip()
    if module is not None and _imports_module(node, module):
        footer += _graded_module_aliases(node, module, used, defined)
        notes.append(f"{item.where}: `{first}` resolved to the functions of this notebook")
        return False
    bound = {(alias.asname or alias.name).partition(".")[0] for alias in node.names}
    if "*" in bound or bound & used:
        return True
    notes.append(f"{item.where}: `{first}` dropped: the graded functions do not use it")
    return False


def _imports_module(node: ast.Import | ast.ImportFrom, module: str) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module == module
    return any(alias.name == module for alias in node.names)


def _graded_module_aliases(
    node: ast.Import | ast.ImportFrom, module: str, used: set[str], defined: set[str]
) -> list[str]:
    """Lines that bind the names this import of the graded module would have bound, where
    a kept function uses them (``losses.f``, or ``f`` under another name)."""
    lines = []
    for alias in node.names:
        bound = alias.asname or alias.name
        if bound not in used:
            continue
        if isinstance(node, ast.Import) and alias.name == module:
            lines.append(f"{bound} = _propgrade_types.SimpleNamespace(**globals())\n")
        elif isinstance(node, ast.ImportFrom) and alias.name in defined and bound != alias.name:
            lines.append(f"{bound} = {alias.name}\n")
    return lines


def collapse_notes(notes: Sequence[str]) -> list[str]:
    """``notes`` with the "not graded" lines of notebook code outside functions folded into
    one line with a count: a notebook has dozens, and they must not bury what matters."""
    skipped = [note for note in notes if note.endswith(_NOT_GRADED)]
    if len(skipped) < 2:
        return list(notes)
    cells = dict.fromkeys(note.split(",")[0] for note in skipped)
    summary = (
        f"{len(skipped)} statements outside functions were not graded "
        f"({', '.join(cells)}): only imports and function definitions are"
    )
    shown = [note for note in notes if not note.endswith(_NOT_GRADED)]
    return [*shown, summary]


def synthesize_module(data: bytes, name: str, dest: Path, graded: Sequence[str] = ()) -> Extracted:
    """Write the graded module extracted from the notebook file ``data`` to ``dest``."""
    extracted = extract_functions(data, name, graded=graded, module=dest.stem)
    dest.write_text(extracted.source, encoding="utf-8")
    return extracted
