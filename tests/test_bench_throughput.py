"""benchmarks/bench_throughput.py --against REV grades one class with two trees.

The comparison is only worth its ratios if the other tree's own code graded (not this
tree's editable install under another name) and if the students' CPU is really counted:
a rename in the engine or a lost PYTHONPATH would otherwise print two runs of one tree.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox


def test_against_grades_the_class_with_both_trees(root: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout: --against needs the repository's history")
    done = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks/bench_throughput.py"),
            *("--sizes", "2", "--jobs", "1", "--baseline", "0", "--against", "HEAD"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    name = f"HEAD ({head.stdout.strip()})"
    # The other tree first, then this one, each with its rate.
    rates = re.findall(r"^(.+): 2 submissions, --jobs 1 .*submissions/s", out, re.M)
    assert rates == [name, "this tree"]
    # Both runs count the students' processes apart from the grader's.
    students = re.findall(r"grader's own CPU ([\d.]+) s, students' processes ([\d.]+) s", out)
    assert len(students) == 2
    assert all(float(grader) > 0 and float(student) > 0 for grader, student in students)
    assert len(re.findall(r"student calls in [\d.]+ batches; \d+ of them repeat", out)) == 2
    assert f"this tree against {name}, 2 submissions: " in out
    assert re.search(r"grades\.csv \(every check's score\): \d of 2 rows the same", out)


def test_pool_processes_do_not_count_the_parents_phases_again(root: Path, tmp_path: Path) -> None:
    # The pool is forked after prepare: each pool process used to start with the parent's
    # totals and count its prepare once more in the per-submission figures.
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", root / "benchmarks/bench_throughput.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    klass = tmp_path / "class"
    bench.build_class(klass, 4)
    figures = bench.grade(klass, tmp_path / "out", 2, root / "grading.yaml")
    assert figures["counts"]["calls"] > 0
    saved = [json.loads(p.read_text()) for p in (tmp_path / "out-phases").glob("phases-*.json")]
    assert len(saved) == 3  # the main process and two pool processes
    preparing = [s for s in saved if s["phases"]["prepare"] > 0]
    assert len(preparing) == 1
    assert preparing[0]["counts"]["calls"] == 0  # the main process grades nobody
