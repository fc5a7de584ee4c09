"""Submissions built to make the grading process hold gigabytes: each gets 0, with the reason,
and the grading process stays small while its classmates are graded.

Each attack under ``tests/submissions/<assignment>/hostile/memory_*`` is graded beside the
correct reference submission by ``propgrade grade`` in a process of its own (``--jobs 1``,
so the grading happens in that process), which reports its own peak resident size
(``RUSAGE_SELF``). Before reply budgets these two made the grader reach 3.3 GB and 6.3 GB.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).parent / "submissions"
GIB_KB = 1 << 20  # ru_maxrss is in KiB on Linux

ATTACKS = [
    ("linear_classifiers", "memory_loss_array", "losses.py", {"svm_vec_"}),
    ("optimizers", "memory_config_hoard", "optim.py", {"sgd_", "momentum_", "rmsprop_", "adam_"}),
]

MEASURE = """
import json, resource, sys
from propgrade.cli import main
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "peak_kib": peak}))
"""


@pytest.mark.parametrize(("assignment", "attack", "graded", "prefixes"), ATTACKS)
def test_a_memory_attack_scores_its_zeros_and_the_grader_stays_small(
    assignment: str, attack: str, graded: str, prefixes: set[str], tmp_path: Path
) -> None:
    klass = tmp_path / "class"
    for name, source in (
        (attack, SUBMISSIONS / assignment / "hostile" / attack / graded),
        ("classmate", ROOT / "solutions" / assignment / graded),
    ):
        (klass / name).mkdir(parents=True)
        shutil.copyfile(source, klass / name / graded)
    out = tmp_path / "out"
    argv = ["grade", str(klass), "-a", assignment, "-o", str(out), "-j", "1", "--quiet"]
    argv += ["-c", str(ROOT / "grading.yaml")]
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["code"] == 0, run.stderr[-3000:]
    assert measured["peak_kib"] < GIB_KB, f"the grading process reached {measured['peak_kib']} KiB"

    course = yaml.safe_load((ROOT / "grading.yaml").read_text())
    checks = course["assignments"][assignment]["checks"]
    full = sum(spec["points"] for spec in checks.values())
    classmate = json.loads((out / "classmate" / "propgrade.json").read_text())
    assert sum(c["points"] for c in classmate["checks"]) == full
    record = json.loads((out / attack / "propgrade.json").read_text())
    assert "internal_error" not in record["meta"]
    attacked = {c["id"]: c for c in record["checks"] if c["id"].startswith(tuple(prefixes))}
    assert attacked and all(c["points"] == 0 for c in attacked.values())
    others = [c for c in record["checks"] if c["id"] not in attacked]
    assert all(c["status"] == "passed" for c in others)
    reasons = json.dumps([c["feedback"] for c in attacked.values()])
    assert "2.0 MiB of data, where this call may return at most" in reasons
