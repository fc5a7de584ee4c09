"""Student source as a stream of normalised tokens, read with ``ast`` only.

Nothing here imports or runs the code: ``ast.parse`` builds the tree and a walk over it
emits one token per node. What a copier changes without changing the program is left out,
so a copy and its source give the same stream:

- identifiers (variables, parameters, function names) all become ``N``;
- string contents become ``S`` (dictionary keys, ``einsum`` subscripts, messages);
- docstrings, comments, whitespace and parentheses leave no token at all (comments and
  layout never reach the tree);
- imports are dropped: everyone imports numpy.

Attribute names (``.sum``, ``.shape``), keyword names (``axis=``) and numbers stay: they
are the API and the arithmetic, which a renamer leaves alone. Each token keeps the source
lines it came from, so a matching fragment can be highlighted in the student's own text.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

FILE = "(whole file)"  # the unit that holds every token of the file


@dataclass(frozen=True)
class Token:
    text: str
    line: int  # first source line of the node
    end_line: int


@dataclass(frozen=True)
class Units:
    """The token stream of the whole file and of each graded function found in it."""

    streams: dict[str, list[Token]]  # FILE and function name -> tokens


_SKIP = (ast.Import, ast.ImportFrom, ast.expr_context)


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _constant(value: object) -> str:
    if isinstance(value, str | bytes):
        return "S"
    return repr(value)


class _Emitter:
    def __init__(self, functions: Sequence[str] = ()) -> None:
        self.tokens: list[Token] = []
        self.functions = set(functions)
        # name -> (first, end) token index of that function's definition, for the
        # per-function streams: slices of the file's stream, not a second walk.
        self.spans: dict[str, tuple[int, int]] = {}

    def emit(self, text: str, node: ast.AST, line: int) -> None:
        start = getattr(node, "lineno", line)
        end = getattr(node, "end_lineno", None) or start
        self.tokens.append(Token(text, start, end))

    def visit(self, node: ast.AST, line: int = 1) -> None:
        if isinstance(node, _SKIP) or _is_docstring(node):
            return
        line = getattr(node, "lineno", line)
        if isinstance(node, ast.Name):
            self.emit("N", node, line)
            return
        if isinstance(node, ast.Constant):
            self.emit(_constant(node.value), node, line)
            return
        if isinstance(node, ast.arg):
            self.emit("arg", node, line)
            return
        if isinstance(node, ast.Attribute):
            self.visit(node.value, line)
            self.emit("." + node.attr, node, line)
            return
        if isinstance(node, ast.keyword):
            self.emit(f"{node.arg}=" if node.arg else "**", node, line)
            self.visit(node.value, line)
            return
        # One token per node kind (Call, BinOp, For, Mult, ...), then its children in
        # source order; a statement's own lines are those of its first line only, so a
        # highlighted fragment does not swallow a whole loop body.
        first = len(self.tokens)
        self.tokens.append(Token(type(node).__name__, line, line))
        self._children(node, line)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in self.functions:
            # The last definition wins, as it would when the module is imported.
            self.spans[node.name] = (first, len(self.tokens))

    def _children(self, node: ast.AST, line: int) -> None:
        for _, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                self.visit(value, line)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item, line)


def tokens_of(node: ast.AST) -> list[Token]:
    emitter = _Emitter()
    emitter.visit(node)
    return emitter.tokens


def units_of(source: str, functions: Sequence[str]) -> Units:
    """Parse ``source`` and return its token streams; ``SyntaxError`` (or ``ValueError``,
    ``RecursionError``) when it does not parse.

    A graded function is found at the top level or as a method (a known solution may hold
    it in a class); nested definitions of the same name count too, the last one winning.
    """
    emitter = _Emitter(functions)
    emitter.visit(ast.parse(source))
    streams = {FILE: emitter.tokens}
    for name, (first, end) in emitter.spans.items():
        streams[name] = emitter.tokens[first:end]
    return Units(streams)


def _top_level_blocks(source: str) -> list[tuple[int, str]]:
    """(first line - 1, text) of each top-level block: a new block starts at every line
    that begins with ``def``, ``class`` or a decorator."""
    lines = source.splitlines(keepends=True)
    starts = [0] + [
        n for n, line in enumerate(lines) if n and line.startswith(("def ", "class ", "@"))
    ]
    # A decorator's block goes on through the definition it decorates.
    starts = [s for n, s in enumerate(starts) if n == 0 or not lines[s - 1].startswith("@")]
    ends = [*starts[1:], len(lines)]
    return [(s, "".join(lines[s:e])) for s, e in zip(starts, ends, strict=True)]


def units_of_parts(source: str, functions: Sequence[str]) -> Units:
    """The token streams of every top-level block of ``source`` that parses on its own.

    For known sources only: public solutions of older courses are often Python 2, where a
    ``print "..."`` in a test helper sinks the whole file while the graded functions
    themselves parse. Student files are never read this way: a file that does not parse
    is not compared, as it is not graded.
    """
    emitter = _Emitter(functions)
    for offset, text in _top_level_blocks(source):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            continue
        ast.increment_lineno(tree, offset)
        emitter.visit(tree)
    streams = {FILE: emitter.tokens}
    for name, (first, end) in emitter.spans.items():
        streams[name] = emitter.tokens[first:end]
    return Units(streams)
