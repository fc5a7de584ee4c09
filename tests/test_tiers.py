"""The suite's tiers: slow kinds are deselected by ``-m "not slow"``, and in CI a test that
needs a missing tool fails instead of skipping (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SLOW_KINDS

# Runs pytest twice in subprocesses.
pytestmark = pytest.mark.slow

SAMPLE = """
import pytest
from conftest import MISSING

@pytest.mark.skipif(True, reason=f"{MISSING}bwrap (bubblewrap) is not installed")
def test_needs_bwrap():
    pass


def test_needs_a_module():
    pytest.importorskip("no_such_module_anywhere")


def test_skips_for_another_reason():
    pytest.skip("every sandbox uid range of this test is in use by other runs")


@pytest.mark.xfail(reason="a known hole")
def test_known_hole():
    assert False


@pytest.mark.dask
def test_a_slow_kind():
    pass


def test_quick():
    pass
"""


def _outcomes(folder: Path, *args: str, ci: str | None) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


@pytest.fixture(scope="module")
def sample(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiers")
    shutil.copy(root / "tests" / "conftest.py", folder / "conftest.py")
    kinds = "".join(f"    {kind}: a slow kind\n" for kind in ("slow", *SLOW_KINDS))
    (folder / "pytest.ini").write_text(f"[pytest]\naddopts = --strict-markers\nmarkers =\n{kinds}")
    (folder / "test_sample.py").write_text(SAMPLE)
    return folder


def test_outside_ci_a_missing_tool_is_a_skip_and_not_slow_deselects_slow_kinds(
    sample: Path,
) -> None:
    counts = _outcomes(sample, "-m", "not slow", ci=None)
    assert counts == {"passed": 1, "skipped": 3, "xfailed": 1, "deselected": 1}


def test_in_ci_a_missing_tool_or_module_is_a_failure(sample: Path) -> None:
    counts = _outcomes(sample, ci="true")
    # bwrap (a skip at setup: an error) and the module fail; a busy machine's skip and a
    # known hole stay what they are.
    assert counts == {"failed": 1, "error": 1, "passed": 2, "skipped": 1, "xfailed": 1}
