"""benchmarks/bench_similarity.py compares the inverted index with the all-pairs baseline:
both must find the same pairs with the same scores, or the timing compares two different
things."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_index_finds_what_all_pairs_finds(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks/bench_similarity.py"), "--sizes", "40"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split()[:2] == ["40", "780"]
