"""The README's example output is what the README's main command prints on the demo class,
and its test command is the one CI runs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from propgrade.cli import main

ROOT = Path(__file__).resolve().parent.parent
MAIN_COMMAND = (
    ".venv/bin/propgrade grade examples/submissions --assignment linear_classifiers --out out/demo"
)


@pytest.mark.sandbox  # grades the demo class
def test_readme_example_output_is_what_the_demo_gives(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MAIN_COMMAND in readme  # the quick start still runs this very command
    found = re.search(r"for\nevery failed check, for example:\n\n```\n(.*?)\n```", readme, re.S)
    assert found is not None, "the README no longer shows an example of a failed check"
    example = found.group(1)

    argv = ["grade", str(ROOT / "examples" / "submissions"), "-a", "linear_classifiers"]
    argv += ["-o", str(tmp_path), "-j", "2", "-c", str(ROOT / "grading.yaml")]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    shown = [
        f"{test['name']}\n{test['output']}"
        for path in sorted(tmp_path.glob("*/results.json"))
        for test in json.loads(path.read_text())["tests"]
    ]
    assert example in shown


def test_ci_runs_the_readmes_test_command_word_for_word() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"Run the tests:\n\n    (.+)\n", readme)
    assert found is not None, "the README no longer shows how to run the tests"
    command = found.group(1)
    assert "'.[dev,dask]'" in command  # tests/test_dask.py needs Dask, as CI has it
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()
