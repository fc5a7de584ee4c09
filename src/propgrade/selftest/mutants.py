"""Mutants of a reference solution: one small, student-like edit each, made with ``ast``.

Only code inside the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions is edited:
that is the code students write. The operators are the mistakes numerical code invites
(axis, keepdims, transposes, max/sum, reg factors, ``>``/``>=``, in-place writes...).

A mutant's id hashes what the edit is (function, operator, the statement edited, its
replacement and, for identical edits, their order), never a line number, so ids stay
put when unrelated code moves and grading.yaml can name accepted equivalents by id.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from propgrade.authoring.release import BEGIN, END
from propgrade.errors import ReleaseError

# The operator of an instructor's own wrong version (tests/mutants/NAME/*.py).
HAND_WRITTEN = "hand-written"

# A step from a node to one of its children: the field name and, for list fields, the index.
Step = tuple[str, int | None]
NodePath = tuple[Step, ...]

OPERATORS = (
    "arithmetic",
    "constant",
    "drop-term",
    "axis",
    "keepdims",
    "max",
    "mean-sum",
    "transpose",
    "comparison",
    "index-swap",
    "delete",
    "inplace-arg",
    "early-return",
    "loop-bound",
    "slice-bound",
    "arg-extreme",
    "sort-direction",
    "drop-wrapper",
    "swap-args",
    "axis-add",
)

_ARITH_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
}
_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
}
_MAX_NAMES = {"max": ("sum", "min"), "amax": ("sum", "amin"), "maximum": ("minimum",)}
_MEAN_SUM = {"mean": "sum", "sum": "mean"}
_ARG_EXTREME = {"argmax": "argmin", "argmin": "argmax"}
_SORTS = {"sort", "argsort", "sorted"}
# Calls that wrap a value and are easy to forget: sqrt of a distance, max(x, 0), abs, clip.
_WRAPPERS = {"sqrt", "abs", "absolute", "fabs", "clip", "maximum", "minimum"}
# Binary calls whose arguments commute: swapping them gives the same program.
_COMMUTATIVE = {"maximum", "minimum", "add", "multiply", "max", "min", "hypot", "isclose"}
# Reductions and sorts that take an axis: one called without it gets axis=0 added.
_AXIS_CALLS = {"sum", "mean", "max", "min", "argmax", "argmin", "argsort", "sort", "amax", "amin"}
# Keyword values that the constant operator leaves alone: axis has its own operator, and
# a changed dtype or flag is not an arithmetic mistake.
_NOT_CONSTANTS = {"axis", "keepdims", "dtype", "ddof"}


@dataclass(frozen=True)
class Mutant:
    id: str
    function: str
    operator: str
    line: int  # line of the edited statement in the reference file
    before: str  # the edited statement's first line, as written by ast.unparse
    after: str  # the same line after the edit; empty when the statement was deleted
    source: str  # the whole mutated module

    @property
    def diff(self) -> str:
        """The edit on one line, for reports."""
        if self.operator == HAND_WRITTEN:
            return self.before
        if not self.after:
            return f"line {self.line}: deleted `{self.before}`"
        if not self.before:
            return f"line {self.line}: inserted `{self.after}`"
        return f"line {self.line}: `{self.before}` -> `{self.after}`"


@dataclass(frozen=True)
class _Edit:
    operator: str
    path: NodePath  # the node replaced, or the list slot a statement is inserted at
    new: list[ast.AST]  # replacement nodes; [] deletes, several splice into a list
    insert: bool = False


def solution_regions(source: str) -> list[tuple[int, int]]:
    """Line ranges (exclusive of the marker lines) of the solution regions."""
    regions: list[tuple[int, int]] = []
    start: int | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            start = number
        elif stripped == END and start is not None:
            regions.append((start, number))
            start = None
    return regions


def generate_mutants(source: str, functions: Sequence[str] | None = None) -> list[Mutant]:
    """Every mutant of ``source``'s solution regions, in a fixed order, without duplicates.

    ``functions`` limits the edits to those functions (default: every function).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReleaseError(f"the reference does not parse: {exc}") from None
    regions = solution_regions(source)
    if not regions:
        raise ReleaseError(f"the reference has no {BEGIN} / {END} region to mutate")
    baseline = ast.unparse(tree)
    seen_sources = {baseline}
    seen_keys: dict[str, int] = {}
    mutants: list[Mutant] = []
    for fpath, func in _functions(tree):
        if functions is not None and func.name not in functions:
            continue
        for edit in _edits(func, fpath, regions):
            mutated = _apply(tree, edit)
            text = ast.unparse(mutated)
            if text in seen_sources:
                continue  # a no-op, or the same program as an earlier edit
            seen_sources.add(text)
            line, before, after = _describe(tree, mutated, edit)
            key = f"{func.name}|{edit.operator}|{before}|{after}"
            occurrence = seen_keys.get(key, 0)
            seen_keys[key] = occurrence + 1
            digest = hashlib.sha256(f"{key}|{occurrence}".encode()).hexdigest()[:10]
            mutants.append(
                Mutant(f"m-{digest}", func.name, edit.operator, line, before, after, text)
            )
    return mutants


def _functions(tree: ast.Module) -> Iterator[tuple[NodePath, ast.FunctionDef]]:
    for path, node in _walk(tree, ()):
        if isinstance(node, ast.FunctionDef):
            yield path, node


def _walk(node: ast.AST, path: NodePath) -> Iterator[tuple[NodePath, ast.AST]]:
    yield path, node
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, (*path, (name, i)))
        elif isinstance(value, ast.AST):
            yield from _walk(value, (*path, (name, None)))


def _inside(node: ast.AST, regions: Sequence[tuple[int, int]]) -> bool:
    line = getattr(node, "lineno", None)
    return line is not None and any(lo < line < hi for lo, hi in regions)


def _edits(
    func: ast.FunctionDef, fpath: NodePath, regions: Sequence[tuple[int, int]]
) -> Iterator[_Edit]:
    keyword_of: dict[int, str] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg is not None:
                    keyword_of[id(kw.value)] = kw.arg
    for rel, node in _walk(func, ()):
        path = fpath + rel
        if not _inside(node, regions):
            continue
        for operator, new in _expression_edits(node, keyword_of):
            yield _Edit(operator, path, [new])
        if isinstance(node, ast.stmt) and _deletable(node):
            yield _Edit("delete", path, [])
    yield from _inplace_writes(func, fpath, regions)
    yield from _early_return(func, fpath, regions)


def _deletable(node: ast.stmt) -> bool:
    if isinstance(node, ast.Return):
        return False
    return not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))


def _expression_edits(node: ast.AST, keyword_of: dict[int, str]) -> Iterator[tuple[str, ast.AST]]:
    if isinstance(node, ast.BinOp):
        swap = _ARITH_SWAP.get(type(node.op))
        if swap is not None:
            yield "arithmetic", _with(node, op=swap())
        if isinstance(node.op, ast.Add):
            yield "drop-term", copy.deepcopy(node.left)
            yield "drop-term", copy.deepcopy(node.right)
        elif isinstance(node.op, ast.Sub):
            yield "drop-term", copy.deepcopy(node.left)
    elif isinstance(node, ast.AugAssign):
        swap = _ARITH_SWAP.get(type(node.op))
        if swap is not None:
            yield "arithmetic", _with(node, op=swap())
    elif isinstance(node, ast.Constant):
        yield from _constant_edits(node, keyword_of.get(id(node)))
    elif isinstance(node, ast.Call):
        yield from _call_edits(node)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "transpose", copy.deepcopy(node.value)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        cswap = _COMPARE_SWAP.get(type(node.ops[0]))
        if cswap is not None:
            yield "comparison", _with(node, ops=[cswap()])
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        yield from _slice_edits(node, node.slice)
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple):
        for i, elt in enumerate(node.slice.elts):
            if isinstance(elt, ast.Slice):
                for operator, moved in _slice_edits(node, elt):
                    assert isinstance(moved, ast.Subscript)
                    both = copy.deepcopy(node.slice)
                    both.elts[i] = moved.slice
                    yield operator, _with(node, slice=both)
        elts = node.slice.elts
        if len(elts) == 2 and ast.dump(elts[0]) != ast.dump(elts[1]):
            swapped = ast.Tuple(
                elts=[copy.deepcopy(elts[1]), copy.deepcopy(elts[0])], ctx=ast.Load()
            )
            yield "index-swap", _with(node, slice=swapped)


def _constant_edits(node: ast.Constant, keyword: str | None) -> Iterator[tuple[str, ast.AST]]:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if keyword == "axis" and value in (0, 1, -1):
        yield "axis", ast.Constant(0 if value else 1)
        return
    if keyword in _NOT_CONSTANTS:
        return
    half = value // 2 if isinstance(value, int) else value / 2
    for new in (value + 1, value - 1, value * 2, half):
        if new != value:
            yield "constant", ast.Constant(new)


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _renamed(node: ast.Call, name: str) -> ast.Call:
    new = copy.deepcopy(node)
    if isinstance(new.func, ast.Attribute):
        new.func.attr = name
    elif isinstance(new.func, ast.Name):
        new.func.id = name
    return new


def _call_edits(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    name = _call_name(node)
    if any(kw.arg == "keepdims" for kw in node.keywords):
        new = copy.deepcopy(node)
        new.keywords = [kw for kw in new.keywords if kw.arg != "keepdims"]
        yield "keepdims", new
    for replacement in _MAX_NAMES.get(name or "", ()):
        yield "max", _renamed(node, replacement)
    if name in _MEAN_SUM:
        yield "mean-sum", _renamed(node, _MEAN_SUM[name])
    if name in _ARG_EXTREME:
        yield "arg-extreme", _renamed(node, _ARG_EXTREME[name])
    if name in _SORTS:
        # reversed along the last axis: a descending sort where an ascending one was meant
        reverse = ast.Tuple(
            elts=[ast.Constant(...), ast.Slice(step=ast.UnaryOp(ast.USub(), ast.Constant(1)))],
            ctx=ast.Load(),
        )
        yield "sort-direction", ast.Subscript(copy.deepcopy(node), reverse, ast.Load())
    if name in {"maximum", "minimum"} and len(node.args) == 2:
        # max(x, 0) is a wrapper; max(a, b) of two arrays is a computation of its own
        first, second = node.args
        if isinstance(first, ast.Constant) != isinstance(second, ast.Constant):
            kept = second if isinstance(first, ast.Constant) else first
            yield "drop-wrapper", copy.deepcopy(kept)
    elif name in _WRAPPERS and node.args and not isinstance(node.args[0], ast.Starred):
        yield "drop-wrapper", copy.deepcopy(node.args[0])
    if (
        len(node.args) == 2
        and name not in _COMMUTATIVE
        and not _is_method(node)  # numpy's functions: config.get(key, default) is no slip
        and not any(isinstance(a, ast.Starred) for a in node.args)
        and ast.dump(node.args[0]) != ast.dump(node.args[1])
    ):
        new = copy.deepcopy(node)
        new.args = [new.args[1], new.args[0]]
        yield "swap-args", new
    if (
        name in _AXIS_CALLS
        and isinstance(node.func, ast.Attribute)
        and not node.keywords
        and len(node.args) <= (0 if _is_method(node) else 1)
    ):
        new = copy.deepcopy(node)
        new.keywords = [ast.keyword("axis", ast.Constant(0))]
        yield "axis-add", new
    if name == "range" and isinstance(node.func, ast.Name) and 1 <= len(node.args) <= 2:
        stop = len(node.args) - 1
        if stop == 1:  # range(a, b): the start is off by one too
            for op in (ast.Sub(), ast.Add()):
                new = copy.deepcopy(node)
                new.args[0] = ast.BinOp(left=new.args[0], op=op, right=ast.Constant(1))
                yield "loop-bound", new
        for op in (ast.Sub(), ast.Add()):
            new = copy.deepcopy(node)
            new.args[stop] = ast.BinOp(left=new.args[stop], op=op, right=ast.Constant(1))
            yield "loop-bound", new


def _is_method(node: ast.Call) -> bool:
    """``x.sum()`` rather than ``np.sum(x)``: the receiver is not the numpy module."""
    func = node.func
    return not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in {"np", "numpy"}
    )


def _slice_edits(node: ast.Subscript, piece: ast.Slice) -> Iterator[tuple[str, ast.AST]]:
    # [:k] -> [:k+1] and [:k-1]; [a:b] moves each bound by one: the off-by-one of top-k.
    for field in ("lower", "upper"):
        bound = getattr(piece, field)
        if bound is None:
            continue
        for op in (ast.Add(), ast.Sub()):
            moved = copy.deepcopy(piece)
            setattr(
                moved, field, ast.BinOp(left=copy.deepcopy(bound), op=op, right=ast.Constant(1))
            )
            yield "slice-bound", _with(node, slice=moved)


def _with(node: ast.AST, **fields: object) -> ast.AST:
    new = copy.deepcopy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def _array_parameters(func: ast.FunctionDef) -> list[str]:
    """Parameters used like arrays (indexed, or with an attribute read): the ones a
    student might write into."""
    params = [a.arg for a in func.args.posonlyargs + func.args.args]
    used: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(node.value, ast.Name):
            used.add(node.value.id)
    return [p for p in params if p in used]


def _returns(
    func: ast.FunctionDef, fpath: NodePath, regions: Sequence[tuple[int, int]]
) -> list[NodePath]:
    return [
        fpath + rel
        for rel, node in _walk(func, ())
        if isinstance(node, ast.Return) and _inside(node, regions)
    ]


def _inplace_writes(
    func: ast.FunctionDef, fpath: NodePath, regions: Sequence[tuple[int, int]]
) -> Iterator[_Edit]:
    # The write goes just before the return: the outputs stay right, so only a check
    # that looks at the arguments after the call can see it.
    for ret in _returns(func, fpath, regions):
        for param in _array_parameters(func):
            write = ast.AugAssign(
                target=ast.Name(param, ctx=ast.Store()), op=ast.Mult(), value=ast.Constant(2)
            )
            yield _Edit("inplace-arg", ret, [write], insert=True)


def _early_return(
    func: ast.FunctionDef, fpath: NodePath, regions: Sequence[tuple[int, int]]
) -> Iterator[_Edit]:
    """The final return, moved up to just after the names it returns are first assigned:
    the function hands back its initial values."""
    body = func.body
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return
    final = body[-1]
    if not _inside(final, regions):
        return
    needed = {
        n.id for n in ast.walk(final) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    params = {a.arg for a in func.args.posonlyargs + func.args.args}
    assigned: set[str] = set()
    for index, stmt in enumerate(body[:-1]):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned.add(node.id)
        local = needed - params - {n for n in needed if n in {"np", "float", "int"}}
        if local and local <= assigned and _inside(stmt, regions):
            if index + 1 < len(body) - 1:
                slot = (*fpath, ("body", index + 1))
                yield _Edit("early-return", slot, [copy.deepcopy(final)], insert=True)
            return


def _locate(tree: ast.AST, path: NodePath) -> tuple[ast.AST, Step]:
    parent = tree
    for name, index in path[:-1]:
        value = getattr(parent, name)
        parent = value[index] if index is not None else value
    return parent, path[-1]


def _apply(tree: ast.Module, edit: _Edit) -> ast.Module:
    mutated = copy.deepcopy(tree)
    parent, (name, index) = _locate(mutated, edit.path)
    if index is None:
        assert len(edit.new) == 1
        setattr(parent, name, edit.new[0])
        return mutated
    items = getattr(parent, name)
    if edit.insert:
        items[index:index] = edit.new
    else:
        items[index : index + 1] = edit.new or [ast.Pass()]
    return mutated


def _statement_path(path: NodePath, tree: ast.AST) -> NodePath:
    """The longest prefix of ``path`` that leads to a statement."""
    best: NodePath = ()
    node = tree
    for n, (name, index) in enumerate(path):
        value = getattr(node, name)
        node = value[index] if index is not None else value
        if isinstance(node, ast.stmt):
            best = path[: n + 1]
    return best


def _first_line(node: ast.AST) -> str:
    return ast.unparse(node).splitlines()[0].strip()


def _get(tree: ast.AST, path: NodePath) -> ast.AST:
    node = tree
    for name, index in path:
        value = getattr(node, name)
        node = value[index] if index is not None else value
    return node


def _describe(tree: ast.Module, mutated: ast.Module, edit: _Edit) -> tuple[int, str, str]:
    if edit.insert:
        anchor = _get(tree, edit.path)
        return getattr(anchor, "lineno", 0), "", "; ".join(_first_line(n) for n in edit.new)
    stmt_path = _statement_path(edit.path, tree)
    original = _get(tree, stmt_path)
    line = getattr(original, "lineno", 0)
    if not edit.new and stmt_path == edit.path:
        return line, _first_line(original), ""
    return line, _first_line(original), _first_line(_get(mutated, stmt_path))


def hand_written_mutants(folder: Path) -> list[Mutant]:
    """The instructor's named wrong versions: each ``*.py`` of ``folder`` is a whole graded
    file, named by its file name; its first docstring or comment line says what is wrong.

    They are graded and counted like generated mutants, with ids ``hand-<name>``.
    """
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        found.append(
            Mutant(
                id=f"hand-{path.stem}",
                function="",
                operator=HAND_WRITTEN,
                line=0,
                before=f"{path.name}: {_what_is_wrong(source) or 'hand-written'}",
                after="",
                source=source,
            )
        )
    return found


def _what_is_wrong(source: str) -> str:
    try:
        doc = ast.get_docstring(ast.parse(source))
    except SyntaxError:
        doc = None  # graded anyway: a mutant that does not import is killed by every check
    if doc:
        return doc.strip().splitlines()[0]
    for line in source.splitlines():
        if line.strip().startswith("#"):
            return line.strip().lstrip("#").strip()
    return ""
