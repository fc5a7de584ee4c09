"""Baselines: do-nothing versions of the reference that a sound grader scores near zero.

Each is the reference with every solution region replaced: the released stub (raises
``NotImplementedError``), a body of ``pass``, and a body returning zeros of the right
shapes. The zeros come from the numpydoc ``Returns`` section (an array "of shape (D, C)"
becomes ``np.zeros_like`` of the parameter with that shape, a float ``0.0``), else from
grading.yaml's ``selftest.zero_returns``, else from the arity of the reference's return.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from propgrade.authoring.release import BEGIN, END, strip_solutions
from propgrade.errors import ReleaseError

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z_0-9]*)\s*\(")
_ENTRY = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*:\s*(.+?)\s*$")
_SHAPE = re.compile(r"shape\s*(\([^)]*\))")
_NUMPY_IMPORT = re.compile(r"^import numpy as np\b", re.MULTILINE)


@dataclass(frozen=True)
class Baseline:
    name: str  # "stub", "pass" or "zeros"
    description: str
    source: str


def generate_baselines(
    source: str, path: Path, zero_returns: Mapping[str, str] | None = None
) -> list[Baseline]:
    """The baselines of the reference ``source`` (read from ``path``, named in errors)."""
    zeros = _zero_returns(source, zero_returns or {})
    return [
        Baseline(
            "stub", "the released stub (raises NotImplementedError)", strip_solutions(source, path)
        ),
        Baseline(
            "pass", "every function body is `pass`", _replace_regions(source, lambda _: "pass")
        ),
        Baseline(
            "zeros",
            "every function returns zeros of the right shapes ("
            + "; ".join(f"{fn}: {expr}" for fn, expr in sorted(zeros.items()))
            + ")",
            _replace_regions(source, lambda fn: _zeros_body(source, zeros.get(fn, "0.0"))),
        ),
    ]


def _zeros_body(source: str, expression: str) -> str:
    if "np." in expression and not _NUMPY_IMPORT.search(source):
        return f"import numpy as np\nreturn {expression}"
    return f"return {expression}"


def _replace_regions(source: str, body: Callable[[str], str]) -> str:
    """``source`` with each solution region replaced by ``body(function name)``."""
    out: list[str] = []
    function = ""
    inside = False
    for line in source.splitlines(keepends=True):
        match = _DEF.match(line)
        if match and not inside:
            function = match.group(1)
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(f"{indent}{part}\n" for part in body(function).splitlines())
        elif stripped == END:
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def _zero_returns(source: str, configured: Mapping[str, str]) -> dict[str, str]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReleaseError(f"the reference does not parse: {exc}") from None
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            found[node.name] = (
                configured.get(node.name) or _from_docstring(node) or _from_arity(node)
            )
    return found


def _section(doc: str, title: str) -> list[str]:
    lines = doc.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body: list[str] = []
            for j in range(i + 2, len(lines)):
                nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
                if lines[j].strip() and nxt and set(nxt) == {"-"}:
                    break
                body.append(lines[j])
            return body
    return []


def _entries(lines: list[str]) -> list[tuple[str, str]]:
    if not lines:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    entries = []
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) == indent:
            match = _ENTRY.match(line)
            if match:
                entries.append((match.group(1), match.group(2)))
    return entries


def _from_docstring(func: ast.FunctionDef) -> str | None:
    doc = ast.get_docstring(func)
    if not doc:
        return None
    returns = _entries(_section(doc, "Returns"))
    if not returns:
        return None
    shapes: dict[str, str] = {}
    for name, kind in _entries(_section(doc, "Parameters")):
        shape = _SHAPE.search(kind)
        if shape:
            shapes.setdefault(shape.group(1).replace(" ", ""), name)
    parts = []
    for _, kind in returns:
        shape = _SHAPE.search(kind)
        if shape is not None:
            like = shapes.get(shape.group(1).replace(" ", ""))
            if like is None:
                return None
            parts.append(f"np.zeros_like({like})")
        elif re.search(r"\b(float|int|scalar|number)\b", kind):
            parts.append("0.0")
        else:
            return None
    return ", ".join(parts)


def _from_arity(func: ast.FunctionDef) -> str:
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            return ", ".join(["0.0"] * len(node.value.elts))
    return "0.0"
