"""The API reference (docs/api) builds without a warning, covers the public API, and the
examples in the public docstrings run.

The reference is generated from the docstrings by Sphinx autodoc with every
cross-reference checked (``nitpicky``): a docstring that names something that does not
exist is a warning, and ``-W`` makes any warning fail the build.
"""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import MISSING, ROOT

import propgrade
from propgrade import config, expect

DOCS = ROOT / "docs" / "api"

# The modules whose docstrings hold the public API's examples.
EXAMPLE_MODULES = (
    "propgrade.engine.checks",
    "propgrade.engine.expect",
    "propgrade.engine.display",
    "propgrade.engine.frozen",
    "propgrade.engine.shrinking",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import sphinx  # noqa: F401
    except ImportError:
        pytest.skip(f"{MISSING}sphinx (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("api-html")
    # -W: any warning fails the build; --keep-going: and every warning is listed
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    build = subprocess.run(
        [*command, "-d", str(out / ".doctrees"), str(DOCS), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, f"sphinx-build warned or failed:\n{build.stderr}"
    return out


def test_the_reference_builds_with_warnings_as_errors(built: Path) -> None:
    assert (built / "index.html").is_file()


def _anchors(built: Path) -> set[str]:
    found: set[str] = set()
    for page in built.glob("*.html"):
        found |= set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))
    return found


def test_every_public_name_has_an_entry(built: Path) -> None:
    anchors = _anchors(built)
    missing = [
        name
        for name in propgrade.__all__
        if f"propgrade.{name}" not in anchors and f"module-propgrade.{name}" not in anchors
    ]
    missing += [
        f"expect.{name}" for name in expect.__all__ if f"propgrade.expect.{name}" not in anchors
    ]
    # What a property gets back from student.outcome, and how a call can fail.
    for name in ("sandbox.calls.CallOutcome", "engine.checks.StudentProxy.outcome"):
        if f"propgrade.{name}" not in anchors:
            missing.append(name)
    assert not missing, f"not in the API reference: {missing}"


def test_the_outcome_fields_are_documented(built: Path) -> None:
    page = (built / "checks.html").read_text(encoding="utf-8")
    for field in ("value", "failure", "trace_events", "args_after", "seconds"):
        assert (
            f'<code class="docutils literal notranslate"><span class="pre">{field}</span></code>'
            in page
        ), field


def test_every_limits_key_is_documented() -> None:
    text = (DOCS / "limits.rst").read_text(encoding="utf-8")
    # the first cell of each row of the table of keys
    rows = re.findall(r"^   \* - ``([a-z_]+)``$", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(config.LIMIT_KEYS)
    assert "at most 64 items" in text


def _docstring_examples() -> list[tuple[str, doctest.DocTest]]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in EXAMPLE_MODULES:
        module: ModuleType = importlib.import_module(name)
        # ``expect`` as graders name it: the examples read ``expect.close(...)``.
        for test in finder.find(module, globs={**vars(module), "expect": expect}):
            if test.examples:
                found.append((test.name, test))
    return found


EXAMPLES = _docstring_examples()


@pytest.mark.parametrize("test", [t for _, t in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_grader_api_has_runnable_examples() -> None:
    with_examples = {name.rpartition(".")[2] for name, _ in EXAMPLES}
    wanted = {"check", "check_each", "CheckFailed", "format_array", "format_value", "frozen"}
    wanted.add("Shrink")
    wanted |= set(expect.__all__) - {"FloatArray"}
    assert sorted(wanted - with_examples) == []
