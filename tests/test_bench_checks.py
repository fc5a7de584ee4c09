"""benchmarks/bench_checks.py charges every student call to a check.

It measures propgrade by wrapping engine functions from outside; a rename in the engine
would otherwise leave it printing an empty table.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox


def test_every_call_of_a_class_is_charged_to_a_check(root: Path, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    for name in ("correct_reference", "bug_svm_grad_wrong_sign"):
        folder = klass / name
        folder.mkdir(parents=True)
        shutil.copy(root / "tests/submissions/linear_classifiers" / name / "losses.py", folder)
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks/bench_checks.py"), str(klass)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 submissions from ")
    rows = {
        m[1]: (float(m[2]), float(m[3]))
        for m in re.finditer(r"^  (\S+)\s+([\d.]+)\s+([\d.]+)\s+\d+%", done.stdout, re.M)
    }
    total_calls, total_ms = rows.pop("total")
    # Every call lands on a named check: none is made outside one.
    assert "(outside" not in done.stdout
    assert abs(sum(calls for calls, _ in rows.values()) - total_calls) < 0.5
    # The vectorized numerical gradient check's 5 examples each make 4 calls no other check
    # makes (2 coordinates of W, 2 calls each), in both submissions: they land on it.
    assert rows["svm_vec_numerical_gradient"][0] > 5 * 4 / 2
    assert total_ms > 0
    assert "the student code alone allows at most" in done.stdout
    # The second submission answers most drawn cases as the first did: those runs end
    # without their property body (engine/transcripts.py), and the bench says how many.
    kept = re.search(r"^runs on drawn cases: (\d+), of which (\d+) \(\d+%\)", done.stdout, re.M)
    assert kept is not None, done.stdout
    assert 0 < int(kept[2]) < int(kept[1])
