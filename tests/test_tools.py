"""The repository's own tools behave as their users expect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_check_mutations_refuses_a_name_it_does_not_list() -> None:
    # A name that selects nothing used to run the baseline on no test id: the whole suite.
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_mutations.py"), "no such mutation"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no mutation named 'no such mutation'" in done.stdout
    assert "baseline" not in done.stdout


def test_check_mutations_refuses_a_parametrized_test_named_without_its_parameters(
    tmp_path: Path,
) -> None:
    # Such a name runs every parametrization under ids of their own: it is never counted
    # red, so the mutation would be reported missed whatever the test does.
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tool copies the repository's tracked files")
    listed = tmp_path / "mutations.yaml"
    listed.write_text(
        "- name: a parametrized test named bare\n"
        "  file: src/propgrade/sandbox/wire.py\n"
        '  original: "def encode_value("\n'
        '  mutated: "def encode_value("\n'
        "  tests:\n"
        "    - tests/test_values.py::test_an_unsendable_argument_is_named_by_where_it_sits\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_mutations.py"), "--list", str(listed)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not the id of one test (name each parametrization)" in done.stdout
