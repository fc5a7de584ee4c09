"""The repository's own tools behave as their users expect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
