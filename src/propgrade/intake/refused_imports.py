"""Notes on the imports at the top of a graded file that the import policy refuses.

The worker does not let such an import zero the file: a refused import at the top level
binds a stand-in, and only a graded function that uses it fails, with the policy's
message (``sandbox/inside/worker_main.py``); inside a ``try`` that catches ImportError
the refusal is raised, so the file's own fallback takes over. This module says so in the
feedback, the way the notebook route notes the imports it drops. It only parses the file
(``ast``), in the trusted process, with the notebook route's own helpers.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence

from propgrade.intake.notebook import names_used, parse_source

# The worker's own rules, read from it so that the notes say what it does: the modules it
# provides itself (CS231n's `past.builtins`), and the handlers of a `try` that take over
# a refused import. The worker cannot import this package; this side can import it.
from propgrade.sandbox.inside.worker_main import _PROVIDED_TOPS as PROVIDED_MODULES
from propgrade.sandbox.inside.worker_main import _catches_import_error


def refused_import_notes(
    source: bytes, imports: Sequence[str], functions: Sequence[str], own: str = ""
) -> list[str]:
    """One note per top-level import of ``source`` that student code may not make.

    ``imports`` are the packages the assignment allows (numpy always), ``functions`` the
    graded functions, ``own`` the graded module's name. A file that does not parse gets no
    notes: the worker reports its syntax error.
    """
    try:
        tree = parse_source(source.decode("utf-8-sig"))
    except (SyntaxError, UnicodeDecodeError):
        return []
    allowed = {"numpy", *imports, *PROVIDED_MODULES, own, *sys.stdlib_module_names}
    rule = (
        f"student code may import only {', '.join(sorted({'numpy', *imports}))} and the "
        "Python standard library"
    )
    defined = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    graded = [f for f in functions if f in defined]
    uses: dict[str, set[str]] = {}  # filled at the first refused import: most files have none
    notes = []
    for node, guarded in _top_level_imports(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            continue  # relative: the module's own package
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        modules += [] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        refused = sorted({m.partition(".")[0] for m in modules} - allowed)
        if not refused:
            continue
        bound = {(a.asname or a.name).partition(".")[0] for a in node.names}
        if not uses:
            uses.update({f: names_used(defined, [f], {}) for f in graded})
        users = [f for f in graded if bound & uses[f]]
        statement = ast.unparse(node)
        where = f"line {node.lineno}: `{statement}`"
        if guarded:
            notes.append(
                f"{where} refused ({rule}): the `except` around it takes over, as where the "
                "package is not installed"
            )
        elif users:
            notes.append(
                f"{where} refused ({rule}): {', '.join(users)} "
                f"{'uses' if len(users) == 1 else 'use'} it and fails with that message"
            )
        else:
            notes.append(f"{where} dropped: the graded functions do not use it, and {rule}")
    return notes


def _top_level_imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The imports the file's top level runs, each with whether a ``try`` around it
    catches ImportError (the file's own fallback then takes over)."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, False))
        elif isinstance(node, ast.Try):
            guarded = any(map(_catches_import_error, node.handlers))
            found += [(n, guarded) for n in node.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return found
