"""Byte-identical output across processes: pages and mutant ids do not depend on hash seeds.

Rendering twice in one process cannot see an order that comes from iterating a set or a
salted ``hash()``: both are fixed for the life of a process. So every output here is made
in two fresh interpreters with different ``PYTHONHASHSEED`` values and compared byte for
byte.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_reports import error_result, sample_result

from propgrade.engine.results import SubmissionResult
from propgrade.export import write_record

SEEDS = ("1", "2")

_REPORT = "import sys\nfrom propgrade.cli import main\nsys.exit(main(sys.argv[1:]))\n"

_MUTANT_IDS = """
from pathlib import Path
from propgrade.config import load_course
from propgrade.selftest.mutants import generate_mutants

for name, assignment in load_course(Path("grading.yaml")).assignments.items():
    source = assignment.reference_file.read_text()
    for mutant in generate_mutants(source, assignment.functions[:1]):  # enough to see a seed
        print(name, mutant.id, mutant.diff)
"""


def _run(code: str, *args: str, seed: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _class() -> list[SubmissionResult]:
    """A class whose pages exercise every list the reports sort or group."""
    results = []
    for number, student in enumerate(["zoe", "ana", "mo", "li", "bo", "kai"]):
        result = sample_result(student, seconds=1.0 + number / 4)
        # Each student passes a different subset, so rates, groups and the heat map differ.
        checks = [
            dataclasses.replace(c, status="passed", points=c.max_points, feedback=None)
            if (index + number) % 3 == 0
            else c
            for index, c in enumerate(result.checks)
        ]
        results.append(dataclasses.replace(result, checks=checks))
    results.append(error_result("ed", "SyntaxError: invalid syntax (losses.py, line 3)"))
    results.append(error_result("al", "no losses.py found in the submission"))
    return results


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_reports_are_byte_identical_across_hash_seeds(root: Path, tmp_path: Path) -> None:
    graded = tmp_path / "graded"
    for result in _class():
        write_record(graded, result)
    pages = {}
    for seed in SEEDS:
        for audience in ("student", "instructor"):
            out = tmp_path / f"{audience}-{seed}"
            shutil.copytree(graded, out)
            _run(_REPORT, "report", str(out), "--audience", audience, seed=seed, cwd=root)
            pages[audience, seed] = _files(out)
    for audience in ("student", "instructor"):
        first, second = (pages[audience, seed] for seed in SEEDS)
        assert "report.html" in first and "zoe/feedback.html" in first
        assert sorted(first) == sorted(second)
        differing = [name for name in first if first[name] != second[name]]
        assert differing == [], audience


def test_mutant_ids_are_identical_across_hash_seeds(root: Path) -> None:
    first, second = (_run(_MUTANT_IDS, seed=seed, cwd=root) for seed in SEEDS)
    assert first.count("\n") > 50
    assert first == second
