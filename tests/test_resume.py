"""Crash-safe, resumable batches: finished work survives a kill and is not redone."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from propgrade.cli import main

pytestmark = pytest.mark.sandbox

CORPUS = Path(__file__).parent / "submissions" / "linear_classifiers"
PICK = [
    "correct_reference",
    "bug_svm_no_max",
    "stub",
    "bug_softmax_no_shift",
    "correct_einsum",
    "bug_svm_grad_no_reg",
    "correct_onehot",
    "bug_softmax_loss_no_mean",
]


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    base = tmp_path / "class"
    for name in PICK:
        (base / name).mkdir(parents=True)
        shutil.copy(CORPUS / name / "losses.py", base / name / "losses.py")
    return base


def grade(root: Path, klass: Path, out: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(
        [
            "grade",
            str(klass),
            "-a",
            "linear_classifiers",
            "-o",
            str(out),
            "-j",
            "1",
            "-c",
            str(root / "grading.yaml"),
            *extra,
        ],
        out=io.StringIO(),
        err=err,
    )
    return code, err.getvalue()


def test_second_run_keeps_unchanged_and_regrades_changed(
    root: Path, klass: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, log = grade(root, klass, out)
    assert code == 0 and log.count("kept") == 0
    first = (out / "grades.csv").read_text()

    code, log = grade(root, klass, out)
    assert code == 0 and log.count("unchanged, kept") == len(PICK)
    assert (out / "grades.csv").read_text() == first

    shutil.copy(CORPUS / "correct_reference" / "losses.py", klass / "stub" / "losses.py")
    code, log = grade(root, klass, out)
    assert log.count("unchanged, kept") == len(PICK) - 1
    assert "stub: 48/48" in log

    code, log = grade(root, klass, out, "--no-resume")
    assert log.count("kept") == 0


def test_sigkill_mid_batch_then_resume_matches_an_uninterrupted_run(
    root: Path, klass: Path, tmp_path: Path
) -> None:
    reference_out = tmp_path / "uninterrupted"
    grade(root, klass, reference_out)
    expected = (reference_out / "grades.csv").read_text()

    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "propgrade.cli",
        "grade",
        str(klass),
        "-a",
        "linear_classifiers",
        "-o",
        str(out),
        "-j",
        "1",
        "-c",
        str(root / "grading.yaml"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = list(out.glob("*/propgrade.json")) if out.exists() else []
        if len(finished) >= 3:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p.parent.name for p in out.glob("*/propgrade.json")}
    assert 3 <= len(done_before) < len(PICK)
    csv = out / "grades.csv"
    assert not csv.exists()  # never a half-written or partial gradebook

    code, log = grade(root, klass, out)
    assert code == 0
    assert csv.read_text() == expected
    kept = {line.split("]")[1].split(":")[0].strip() for line in log.splitlines() if "kept" in line}
    assert done_before <= kept
