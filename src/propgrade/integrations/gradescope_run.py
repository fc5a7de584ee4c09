"""The grading side of a Gradescope bundle: what ``run_autograder`` runs per submission.

``python -m propgrade.integrations.gradescope_run`` grades ``<root>/submission/`` into
``<root>/results/results.json``; ``<root>`` is ``/autograder`` unless
``PROPGRADE_AUTOGRADER_ROOT`` says otherwise. It always writes a results file: an
internal error gives a 0 with a message for the student and the details on stderr, which
Gradescope shows only to instructors.

Before any student code starts, the hidden material is loaded into this process and
deleted from the container (every submission runs in a fresh container). Where the full
sandbox layer cannot run (Docker without the rights bubblewrap needs), the worker is a
plain process that can read the container's files: with the reference gone from disk
and this process marked non-dumpable, it has nothing left to read.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from propgrade.config import CONFIG_NAME, load_course
from propgrade.engine.grading import prepare
from propgrade.export import gradescope_results
from propgrade.files import atomic_write_text
from propgrade.intake.notebook import collapse_notes
from propgrade.intake.submission import grade_upload
from propgrade.integrations.gradescope import COURSE_DIR, MANIFEST_NAME, ROOT_ENV

DEFAULT_ROOT = Path("/autograder")
STUDENT = "submission"
INTERNAL_ERROR = (
    "The autograder hit an internal error (not caused by your submission). Your course "
    "staff can see the details; please let them know."
)
_PR_SET_DUMPABLE = 4


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def _make_undumpable() -> None:
    # A non-dumpable process's memory (/proc/<pid>/mem, ptrace) is closed to processes
    # without CAP_SYS_PTRACE, which Docker does not grant: a worker running as the same
    # uid cannot read the reference out of this process.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def seal(course: Path) -> None:
    """Delete the hidden material (reference, graders, their bytecode) from disk."""
    shutil.rmtree(course, ignore_errors=True)
    if course.exists():
        raise RuntimeError(f"{course}: could not be removed before grading")


def _summary(data: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [str(data.get("output", ""))]
    origin = meta.get("graded_from")
    if origin:
        lines.append(f"Graded: {origin}")
    lines += collapse_notes([str(n) for n in meta.get("intake_notes", [])])
    return "\n".join(line for line in lines if line)


def grade(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` and return Gradescope's results dictionary."""
    source = root / "source"
    manifest = json.loads((source / MANIFEST_NAME).read_text(encoding="utf-8"))
    course = source / COURSE_DIR
    assignment = load_course(course / CONFIG_NAME).assignment(str(manifest["assignment"]))
    plan = prepare(assignment)
    seal(course)
    result = grade_upload(plan, STUDENT, root / "submission")
    data = gradescope_results(result)
    data["output"] = _summary(data, result.meta)
    return data


def _internal_error_results(started: float) -> dict[str, Any]:
    return {
        "score": 0,
        "execution_time": round(time.monotonic() - started, 3),
        "output": INTERNAL_ERROR,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def _describe_error(exc: BaseException) -> str:
    # File and line numbers only: a formatted traceback quotes source lines, and a line
    # of the reference solution must not reach even the instructor-only stdout.
    frames = traceback.extract_tb(exc.__traceback__)
    where = [f"  {f.filename}:{f.lineno} in {f.name}" for f in frames]
    return "\n".join([f"{type(exc).__name__}: {exc}", *where])


def run(root: Path | None = None) -> dict[str, Any]:
    """Grade and write ``results/results.json`` under the autograder root, always."""
    root = root or autograder_root()
    started = time.monotonic()
    _make_undumpable()
    try:
        data = grade(root)
    except Exception as exc:
        print(f"internal error: {_describe_error(exc)}", file=sys.stderr)
        data = _internal_error_results(started)
    atomic_write_text(root / "results" / "results.json", json.dumps(data, indent=2) + "\n")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    data = run()
    tests = data.get("tests", [])
    passed = sum(1 for t in tests if t.get("status") == "passed")
    sandbox = data.get("extra_data", {}).get("propgrade", {}).get("sandbox", "?")
    print(f"score {data.get('score')}: {passed} of {len(tests)} checks passed (sandbox: {sandbox})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
