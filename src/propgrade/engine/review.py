"""Code that fights the grader, found in a submission's text: a person should look at it.

The loop check counts work inside the student's process, so code there can hide work
from it (README, "What the loop check is worth"). What such code needs is plain in its
text: the interpreter's frames (``sys._getframe``, ``inspect.currentframe``, a traceback's
``tb_frame``), tracing and profiling hooks (``settrace``, ``f_trace_lines``,
``f_trace``), the garbage collector's view of other objects (``gc.get_referrers``)
and threads. A submission that touches any of them is flagged "review by hand", even
when it scores: that is evidence for a person, not a puzzle for the grader to win.

The text is read in the trusted process and never run. The names are looked for in the
source as written, in every string literal, and in strings built from literals (``"f_" +
"trace_lines"``, ``"".join([...])``, f-strings, ``"emarfteg_"[::-1]``), so a name spelt
in pieces to get past a text search is found too. Anything cleverer (``chr`` codes,
decoding bytes) still has to reach the hooks through a dynamic attribute of ``sys``,
``gc``, ``inspect`` or a frame, which is flagged as such.
"""

from __future__ import annotations

import ast
import re

# What student code has no business with in a numerical exercise, and why.
SUSPECT_NAMES: dict[str, str] = {
    "_getframe": "reads the interpreter's frames",
    "currentframe": "reads the interpreter's frames",
    "getouterframes": "reads the interpreter's frames",
    "_current_frames": "reads the interpreter's frames",
    "tb_frame": "reads the interpreter's frames",
    "f_back": "reads the interpreter's frames",
    "gi_frame": "reads the interpreter's frames",
    "cr_frame": "reads the interpreter's frames",
    "f_trace": "touches the tracing machinery",
    "settrace": "touches the tracing machinery",
    "gettrace": "touches the tracing machinery",
    "setprofile": "touches the profiling machinery",
    "getprofile": "touches the profiling machinery",
    "get_referrers": "searches memory through the garbage collector",
    "get_referents": "searches memory through the garbage collector",
    "get_objects": "searches memory through the garbage collector",
    "pythonapi": "calls the interpreter's C API",
}
# Modules whose mere import in a submission is a sign: threads hide work from the count.
SUSPECT_MODULES: dict[str, str] = {
    "threading": "starts threads",
    "_thread": "starts threads",
    "concurrent": "starts threads or processes",
    "multiprocessing": "starts processes",
    "ctypes": "calls C functions directly",
}
# A dynamic attribute (getattr/setattr/delattr with a computed name) of these is flagged.
_DYNAMIC_TARGETS = frozenset({"sys", "gc", "inspect", "threading", "_thread", "builtins"})
_SUSPECT = re.compile("|".join(re.escape(name) for name in SUSPECT_NAMES))
_MAX_FINDINGS = 8


def review_reasons(source: bytes) -> list[str]:
    """Why a person should read this graded file; empty when nothing suspect was found."""
    text = source.decode("utf-8", errors="replace")
    found: dict[str, None] = {}
    for name in _SUSPECT.findall(text):
        found[f"`{name}`: {SUSPECT_NAMES[name]}"] = None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is not None:
        try:
            for reason in _from_tree(tree):
                found[reason] = None
        except RecursionError:  # a pathologically nested file: the text scan stands
            pass
    reasons = list(found)[:_MAX_FINDINGS]
    return reasons


def _from_tree(tree: ast.AST) -> list[str]:
    reasons: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                top = module.partition(".")[0]
                if top in SUSPECT_MODULES:
                    reasons.append(f"imports `{top}`: {SUSPECT_MODULES[top]}")
        elif isinstance(node, ast.Call) and _dynamic_attribute(node):
            target = ast.unparse(node.args[0])[:40]
            reasons.append(f"reaches an attribute of `{target}` by a computed name")
        if isinstance(node, ast.expr):
            built = _constant_text(node)
            if built is not None and not isinstance(node, ast.Constant):
                for name in _SUSPECT.findall(built):
                    reasons.append(f"`{name}` spelt in pieces: {SUSPECT_NAMES[name]}")
    return reasons


def _dynamic_attribute(node: ast.Call) -> bool:
    """``getattr(sys, name)`` and the like, where ``name`` is not a plain literal."""
    if not (isinstance(node.func, ast.Name) and node.func.id in {"getattr", "setattr", "delattr"}):
        return False
    if len(node.args) < 2 or isinstance(node.args[1], ast.Constant):
        return False
    target = node.args[0]
    if isinstance(target, ast.Name) and target.id in _DYNAMIC_TARGETS:
        return True
    # A frame, or anything reached through one, by a computed attribute name.
    return isinstance(target, ast.Call | ast.Attribute) and "frame" in ast.unparse(target)


def _constant_text(node: ast.expr) -> str | None:
    """The string an expression of literals evaluates to, if it is one (never runs code)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _constant_text(node.left), _constant_text(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_constant_text(v) if isinstance(v, ast.Constant) else "" for v in node.values]
        return "".join(p or "" for p in parts)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        inner = _constant_text(node.value)
        step = node.slice.step
        if inner is not None and isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub):
            return inner[::-1]
        return inner
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        separator = _constant_text(node.func.value)
        items = [_constant_text(item) for item in node.args[0].elts]
        if separator is not None and all(item is not None for item in items):
            return separator.join(item for item in items if item is not None)
    return None
