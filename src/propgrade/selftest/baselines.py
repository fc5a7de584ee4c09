"""Baselines: do-nothing versions of the reference that a sound grader scores near zero.

Each is the reference with every solution region replaced: the released stub (raises
``NotImplementedError``), a body of ``pass``, and a body returning zeros of the right
shapes. The zeros come from grading.yaml's ``selftest.zero_returns``, else from the
numpydoc ``Returns`` section (an array "of shape (D, C)" becomes ``np.zeros_like`` of the
parameter with that shape, a float ``0.0``), else from what the reference itself returns
on the checks' inputs (each dimension tied to the argument dimension it always equals).
Only when none of these gives a shape is a scalar ``0.0`` per returned value guessed, and
the baseline's description says so: the report never claims shapes it did not know.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from propgrade.authoring.release import BEGIN, END, strip_solutions
from propgrade.errors import ReleaseError
from propgrade.sandbox.calls import Call

# Where a function's zeros came from, as the report names them.
FROM_CONFIG = "selftest.zero_returns"
FROM_DOCSTRING = "docstring"
FROM_REFERENCE = "the reference's returns"
GUESSED = "guessed: no declared shape"

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z_0-9]*)\s*\(")
_ENTRY = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*:\s*(.+?)\s*$")
_SHAPE = re.compile(r"shape\s*(\([^)]*\))")
_NUMPY_IMPORT = re.compile(r"^import numpy as np\b", re.MULTILINE)


@dataclass(frozen=True)
class Baseline:
    name: str  # "stub", "pass" or "zeros"
    description: str
    source: str


@dataclass(frozen=True)
class ZeroReturn:
    expression: str  # what the zeros body returns
    origin: str  # one of FROM_CONFIG, FROM_DOCSTRING, FROM_REFERENCE, GUESSED


def generate_baselines(
    source: str,
    path: Path,
    zero_returns: Mapping[str, str] | None = None,
    observed: Mapping[str, str] | None = None,
) -> list[Baseline]:
    """The baselines of the reference ``source`` (read from ``path``, named in errors).

    ``observed`` maps a function to the zeros expression read off the reference's own
    returns (``observed_returns``); it is used where grading.yaml and the docstring say
    nothing.
    """
    zeros = zero_returns_of(source, zero_returns or {}, observed or {})
    guessed = sorted(fn for fn, z in zeros.items() if z.origin == GUESSED)
    shapes = "zeros of the right shapes" if not guessed else "zeros"
    return [
        Baseline(
            "stub", "the released stub (raises NotImplementedError)", strip_solutions(source, path)
        ),
        Baseline(
            "pass", "every function body is `pass`", _replace_regions(source, lambda _: "pass")
        ),
        Baseline(
            "zeros",
            f"every function returns {shapes} ("
            + "; ".join(f"{fn}: {z.expression} [{z.origin}]" for fn, z in sorted(zeros.items()))
            + ")",
            _replace_regions(
                source,
                lambda fn: _zeros_body(source, zeros[fn].expression if fn in zeros else "0.0"),
            ),
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


def zero_returns_of(
    source: str, configured: Mapping[str, str], observed: Mapping[str, str]
) -> dict[str, ZeroReturn]:
    """Per function of ``source``, what its zeros body returns and where that came from."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReleaseError(f"the reference does not parse: {exc}") from None
    found: dict[str, ZeroReturn] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        if node.name in configured:
            found[node.name] = ZeroReturn(configured[node.name], FROM_CONFIG)
        elif (doc := _from_docstring(node)) is not None:
            found[node.name] = ZeroReturn(doc, FROM_DOCSTRING)
        elif node.name in observed:
            found[node.name] = ZeroReturn(observed[node.name], FROM_REFERENCE)
        else:
            found[node.name] = ZeroReturn(_from_arity(node), GUESSED)
    return found


def observed_returns(
    module: ModuleType, calls: Iterable[Call], functions: Iterable[str], most: int = 16
) -> dict[str, str]:
    """Zeros expressions read off what the reference returns on the checks' own calls.

    The reference is trusted code (selftest records the checks' calls with it too). An
    array's dimension becomes ``arg.shape[j]`` when it equals that argument dimension on
    every call; a function whose returns cannot be tied to its arguments is left out.
    """
    per_function: dict[str, list[Call]] = {}
    for call in calls:
        if not call.kwargs and len(per_function.setdefault(call.function, [])) < most:
            per_function[call.function].append(call)
    found: dict[str, str] = {}
    for fn in functions:
        target = getattr(module, fn, None)
        if target is None or not per_function.get(fn):
            continue
        try:
            names = list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            continue
        seen: list[tuple[tuple[Any, ...], Any]] = []
        for call in per_function[fn]:
            args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in call.args)
            try:
                seen.append((args, target(*args)))
            except Exception:  # a call the checks expected to fail says nothing on shapes
                continue
        expression = _expression(seen, names) if seen else None
        if expression is not None:
            found[fn] = expression
    return found


def _expression(seen: list[tuple[tuple[Any, ...], Any]], names: list[str]) -> str | None:
    first = seen[0][1]
    if isinstance(first, tuple):
        if any(not isinstance(v, tuple) or len(v) != len(first) for _, v in seen):
            return None
        parts = [_expression([(a, v[i]) for a, v in seen], names) for i in range(len(first))]
        return None if any(p is None for p in parts) else ", ".join(str(p) for p in parts)
    if first is None:
        return "None" if all(v is None for _, v in seen) else None
    if all(_is_scalar(v) for _, v in seen):
        return "0.0"
    if not all(isinstance(v, np.ndarray) for _, v in seen):
        return None
    ndim = first.ndim
    if any(v.ndim != ndim for _, v in seen):
        return None
    dims = []
    for axis in range(ndim):
        candidates = [
            (i, j)
            for i, arg in enumerate(seen[0][0])
            if isinstance(arg, np.ndarray) and i < len(names)
            for j in range(arg.ndim)
        ]
        tied = [
            (i, j)
            for i, j in candidates
            if all(
                i < len(args)
                and isinstance(args[i], np.ndarray)
                and j < args[i].ndim
                and args[i].shape[j] == v.shape[axis]
                for args, v in seen
            )
        ]
        if not tied:
            return None
        i, j = tied[0]
        dims.append(f"{names[i]}.shape[{j}]")
    return "np.zeros((" + ", ".join(dims) + ("," if ndim == 1 else "") + "))"


def _is_scalar(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


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
