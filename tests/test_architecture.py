"""The import boundaries of the architecture, read from the source with ``ast``.

Every ``import`` and ``from ... import`` statement counts, also those inside functions and
under ``if TYPE_CHECKING:``; relative imports are resolved against the file's package, and
``from propgrade import sandbox`` counts as importing ``propgrade.sandbox``.

- reports/ reads results and never imports the sandbox (the trust boundary);
- the engine knows no assignment (graders, solutions, released checks, graded modules)
  and no presentation or integration (integrations, reports, the CLI);
- the files under sandbox/inside/ run next to student code: they import nothing of
  propgrade (the worker must not load the grader's code);
- similarity/ reads student code as text and parses it with ``ast``: it imports neither the
  sandbox nor anything that loads a module by name (``importlib``, ``runpy``);
- graders and released checks use the public API only: ``from propgrade import <name in
  propgrade.__all__>``, never ``propgrade.x.y``.

The same checker runs on a synthetic tree that breaks every rule, so a rule that silently
stopped matching would fail here too.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import propgrade
from propgrade import expect
from propgrade.config import load_course

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    statement: str  # the source text, for the message
    module: str  # the module imported, or imported from; relative imports resolved
    names: tuple[str, ...] = ()  # the names of ``from module import names``

    @property
    def targets(self) -> set[str]:
        """Every module this statement may load: ``from a import b`` may load ``a.b``."""
        return {self.module, *(f"{self.module}.{name}" for name in self.names)}


def _package(path: Path, import_root: Path) -> list[str]:
    return list(path.relative_to(import_root).parent.parts)


def imports_of(path: Path, import_root: Path) -> Iterator[Import]:
    """Every import statement in ``path``, whose modules are importable from
    ``import_root`` (``src/`` for propgrade, the repository for graders)."""
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        statement = ast.get_source_segment(source, node) or ""
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, statement, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                package = _package(path, import_root)
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            yield Import(path, node.lineno, statement, module, names)


def _under(module: str, prefixes: Sequence[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    what: str  # the rule, as the failure message states it
    files: Callable[[Path], list[tuple[Path, Path]]]  # root -> (file, import root) pairs
    broken_by: Callable[[Import], bool]


def _py_files(folder: Path, import_root: Path) -> list[tuple[Path, Path]]:
    if not folder.is_dir():
        return []
    return [
        (p, import_root)
        for p in sorted(folder.rglob("*.py"))
        if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    ]


def _assignment_modules(root: Path) -> list[str]:
    """Top-level modules that would be an assignment's code: the assignment folders
    themselves and each assignment's graded module (``losses``)."""
    modules = ["graders", "solutions", "assignments"]
    config = root / "grading.yaml"
    if config.is_file():
        for name, assignment in load_course(config).assignments.items():
            modules += [name, assignment.graded_file.removesuffix(".py")]
    return modules


def rules(root: Path, public_api: Sequence[str]) -> list[Rule]:
    src = root / "src"
    package = src / "propgrade"
    assignment_modules = _assignment_modules(root)
    presentation = [
        "propgrade.integrations",
        "propgrade.reports",
        "propgrade.cli",
        "propgrade.commands",
    ]

    def graders_and_checks(r: Path) -> list[tuple[Path, Path]]:
        found = _py_files(r / "graders", r)
        for checks in sorted((r / "assignments").glob("*/checks")):
            found += _py_files(checks, r)
        return found

    def public_only(imp: Import) -> bool:
        if not _under(imp.module, ["propgrade"]):
            return False
        if imp.module != "propgrade":
            return True  # import propgrade.engine, from propgrade.engine.checks import ...
        return any(name not in public_api for name in imp.names)

    return [
        Rule(
            "reports/ must not import the sandbox (pass what it needs in as data)",
            lambda r: _py_files(package / "reports", src),
            lambda imp: any(_under(t, ["propgrade.sandbox"]) for t in imp.targets),
        ),
        Rule(
            "the engine must not import an assignment, an integration, the reports or the CLI",
            lambda r: _py_files(package / "engine", src),
            lambda imp: any(_under(t, [*presentation, *assignment_modules]) for t in imp.targets),
        ),
        Rule(
            "sandbox/inside/ runs beside student code and must import nothing from propgrade",
            lambda r: _py_files(package / "sandbox" / "inside", src),
            lambda imp: any(_under(t, ["propgrade"]) for t in imp.targets),
        ),
        Rule(
            "similarity/ only parses student code: it must not import the sandbox, importlib "
            "or runpy",
            lambda r: _py_files(package / "similarity", src),
            lambda imp: any(
                _under(t, ["propgrade.sandbox", "importlib", "runpy"]) for t in imp.targets
            ),
        ),
        Rule(
            "serve/'s web side never grades: only serve/workers.py may import the sandbox, "
            "the engine's grading, the intake's grading route or the batch",
            lambda r: [f for f in _py_files(package / "serve", src) if f[0].name != "workers.py"],
            lambda imp: any(
                _under(
                    t,
                    [
                        "propgrade.sandbox",
                        "propgrade.engine.grading",
                        "propgrade.intake.submission",
                        "propgrade.batch",
                    ],
                )
                for t in imp.targets
            ),
        ),
        Rule(
            "graders and released checks may import only propgrade's public API "
            "(from propgrade import <name in propgrade.__all__>)",
            graders_and_checks,
            public_only,
        ),
    ]


def violations(root: Path, public_api: Sequence[str]) -> list[str]:
    found = []
    for rule in rules(root, public_api):
        for path, import_root in rule.files(root):
            for imp in imports_of(path, import_root):
                if rule.broken_by(imp):
                    where = path.relative_to(root)
                    found.append(f"{where}:{imp.line}: `{imp.statement}`: {rule.what}")
    return found


def test_the_package_keeps_its_import_boundaries() -> None:
    problems = violations(ROOT, propgrade.__all__)
    assert not problems, "\n".join(problems)


def test_the_public_api_is_pinned() -> None:
    # Graders may use exactly these names; adding one is a decision, not an accident.
    assert sorted(propgrade.__all__) == [
        "Check",
        "CheckFailed",
        "CheckGroup",
        "ConfigError",
        "GraderError",
        "PropgradeError",
        "Shrink",
        "StudentCallFailed",
        "Unsupported",
        "__version__",
        "assume",
        "check",
        "check_each",
        "expect",
        "format_array",
        "format_value",
        "frozen",
    ]
    assert all(hasattr(propgrade, name) for name in propgrade.__all__)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def test_the_package_holds_no_assignment_knowledge() -> None:
    """Outside docstrings (where they are examples), no string in propgrade names an
    assignment's functions or its subject: hints, messages and logic come from the
    assignment's own graders and grading.yaml."""
    words = {"svm", "softmax"}
    for assignment in load_course(ROOT / "grading.yaml").assignments.values():
        words |= set(assignment.functions)
    found = []
    for path in sorted((ROOT / "src" / "propgrade").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and any(word in node.value.lower() for word in words)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:80]!r}")
    assert not found, "\n".join(found)


def test_the_rules_look_at_real_files() -> None:
    # A moved folder would leave a rule with nothing to check, and it would pass forever.
    for rule in rules(ROOT, propgrade.__all__):
        assert rule.files(ROOT), f"no files for the rule: {rule.what}"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


BROKEN = {
    "src/propgrade/reports/page.py": (
        "from propgrade.engine.results import CheckResult\n"  # fine
        "from propgrade.sandbox.layers import REDUCED\n"  # 2
        "def f():\n"
        "    from .. import sandbox\n"  # 4: relative, inside a function
        "    import propgrade.sandbox.worker as w\n"  # 5
    ),
    "src/propgrade/engine/run.py": (
        "from propgrade.engine import gating\n"  # fine
        "from propgrade.reports.hints import hint_for\n"  # 2
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from propgrade import cli\n"  # 5
        "def load():\n"
        "    import graders.linear_classifiers.common\n"  # 7
        "    from solutions.linear_classifiers import losses\n"  # 8
        "    import losses\n"  # 9: the graded module of an assignment
        "    from ..integrations import gradescope\n"  # 10
    ),
    "src/propgrade/sandbox/inside/worker_main.py": (
        "import json\n"  # fine
        "def main():\n"
        "    from propgrade.sandbox import wire\n"  # 3
        "    from . import zygote_main\n"  # 4: propgrade.sandbox.inside.zygote_main
    ),
    "src/propgrade/similarity/read.py": (
        "import ast\n"  # fine
        "from propgrade.intake.locate import find_file\n"  # fine
        "import importlib.util\n"  # 3
        "from runpy import run_path\n"  # 4
        "from ..sandbox import worker\n"  # 5
    ),
    "src/propgrade/serve/pages.py": (
        "from propgrade.reports.markup import element\n"  # fine
        "from propgrade.engine.grading import prepare\n"  # 2
        "def f():\n"
        "    from ..intake import submission\n"  # 4
    ),
    "src/propgrade/serve/workers.py": "from propgrade.batch import internal_error_result\n",
    "graders/tiny/test_public.py": (
        "from propgrade import check, expect\n"  # fine
        "from .common import CASES\n"  # fine: the grader's own helpers
        "from propgrade.engine.checks import check_each\n"  # 3
        "from propgrade import sandbox\n"  # 4: not in __all__
        "def f():\n"
        "    import propgrade.engine.expect\n"  # 6
    ),
    "assignments/tiny/checks/common.py": "import propgrade\nfrom propgrade.expect import close\n",
}
EXPECTED = (
    {("src/propgrade/reports/page.py", line) for line in (2, 4, 5)}
    | {("src/propgrade/engine/run.py", line) for line in (2, 5, 7, 8, 9, 10)}
    | {("src/propgrade/sandbox/inside/worker_main.py", line) for line in (3, 4)}
    | {("src/propgrade/similarity/read.py", line) for line in (3, 4, 5)}
    | {("src/propgrade/serve/pages.py", line) for line in (2, 4)}
    | {("graders/tiny/test_public.py", line) for line in (3, 4, 6)}
    | {("assignments/tiny/checks/common.py", 2)}
)

GRADING_YAML = """
assignments:
  tiny:
    graders: graders/tiny
    graded_file: losses.py
    functions: [f]
    checks: {c: 1}
"""


def test_a_tree_that_breaks_every_rule_is_reported_by_file_line_and_import(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "grading.yaml", GRADING_YAML)
    for rel, text in BROKEN.items():
        _write(tmp_path, rel, text)
    problems = violations(tmp_path, ["check", "expect"])
    reported = {(p.split(":")[0], int(p.split(":")[1])) for p in problems}
    assert reported == EXPECTED, "\n".join(problems)
    # The message names the file, the line, the statement and the rule.
    assert (
        "src/propgrade/reports/page.py:4: `from .. import sandbox`: reports/ must not import "
        "the sandbox" in "\n".join(problems)
    )
    assert "graders/tiny/test_public.py:4: `from propgrade import sandbox`" in "\n".join(problems)


@pytest.mark.parametrize(
    ("rel", "level_import", "module"),
    [
        ("src/propgrade/reports/page.py", "from . import fragments", "propgrade.reports"),
        ("src/propgrade/reports/page.py", "from ..engine import results", "propgrade.engine"),
        ("src/propgrade/reports/__init__.py", "from .hints import x", "propgrade.reports.hints"),
        ("graders/tiny/test_public.py", "from .common import x", "graders.tiny.common"),
    ],
)
def test_relative_imports_resolve_against_the_files_package(
    tmp_path: Path, rel: str, level_import: str, module: str
) -> None:
    _write(tmp_path, rel, level_import + "\n")
    import_root = tmp_path / "src" if rel.startswith("src/") else tmp_path
    (found,) = imports_of(tmp_path / rel, import_root)
    assert found.module == module


def test_expect_exports_exactly_its_documented_helpers() -> None:
    # propgrade.expect is public: without __all__, its imports (np, Any, CheckFailed) and
    # helpers would be API by accident.
    assert expect.__all__ == [
        "FloatArray",
        "array",
        "array_value",
        "close",
        "finite",
        "mapping",
        "pair",
        "real_array",
        "relative_error",
        "scalar",
        "scalar_value",
        "unchanged",
    ]
    defined_here = {
        name
        for name, value in vars(expect).items()
        if inspect.isfunction(value) and value.__module__ == expect.__name__
    }
    assert {name for name in defined_here if not name.startswith("_")} == set(expect.__all__) - {
        "FloatArray"
    }
    namespace: dict[str, object] = {}
    exec("from propgrade.engine.expect import *", namespace)  # what __all__ gives away
    assert set(namespace) - {"__builtins__"} == set(expect.__all__)


def test_every_public_function_has_a_docstring() -> None:
    public = [getattr(expect, name) for name in expect.__all__]
    public += [getattr(propgrade, name) for name in propgrade.__all__]
    undocumented = [
        f"{f.__module__}.{f.__name__}"
        for f in public
        if inspect.isfunction(f) and not (f.__doc__ or "").strip()
    ]
    assert undocumented == []


# -- no import cycles ------------------------------------------------------------------------


def import_cycles(src: Path) -> list[list[str]]:
    """Groups of propgrade modules that import each other, directly or around a loop.

    Every import counts (inside functions and under ``if TYPE_CHECKING:`` too), except a
    module's import of a package it lives in: ``from propgrade.reports import charts`` in
    ``propgrade.reports.class_report`` is how a package's modules find each other.
    """
    modules = {}
    for path in sorted((src / "propgrade").rglob("*.py")):
        name = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imp in imports_of(path, src):
            for target in imp.targets & modules.keys():
                if target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    # Every module reachable from a module that reaches it back is in its cycle.
    reach = {name: _reachable(graph, name) for name in graph}
    cycles = {frozenset(m for m in reach[name] if name in reach[m]) for name in graph}
    return sorted(sorted(cycle) for cycle in cycles if cycle)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_no_module_imports_itself_around_a_loop() -> None:
    # engine/standing.py and export.py once imported each other (export only under
    # TYPE_CHECKING): a cycle that any later top-level use would turn into an ImportError.
    assert import_cycles(ROOT / "src") == []


def test_a_cycle_under_type_checking_is_found(tmp_path: Path) -> None:
    _write(tmp_path, "src/propgrade/__init__.py", "")
    _write(tmp_path, "src/propgrade/engine/__init__.py", "")
    _write(tmp_path, "src/propgrade/engine/standing.py", "from propgrade.export import x\n")
    _write(
        tmp_path,
        "src/propgrade/export.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from propgrade.engine.standing import Standing\n",
    )
    _write(tmp_path, "src/propgrade/reports/__init__.py", "from .page import y\n")
    _write(tmp_path, "src/propgrade/reports/page.py", "from propgrade.reports import charts\n")
    _write(tmp_path, "src/propgrade/reports/charts.py", "")
    assert import_cycles(tmp_path / "src") == [["propgrade.engine.standing", "propgrade.export"]]
