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

Nor can it write the results. Under the reduced layer the worker starts no process
(seccomp), writes nowhere but its scratch folder (Landlock, where the kernel has it) and,
as root, runs under an unprivileged uid. Behind those walls: this process is a child
subreaper, so anything a worker left behind becomes its child; every such process is
killed and reaped before ``results.json`` is written, atomically, then read back and
compared with what was graded before this process exits.
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
_PR_SET_CHILD_SUBREAPER = 36
_LEFTOVER_SECONDS = 10.0


class ResultsTampered(RuntimeError):
    """``results.json`` does not hold what was graded, even after it was written again."""


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def _make_undumpable() -> None:
    # A non-dumpable process's memory (/proc/<pid>/mem, ptrace) is closed to processes
    # without CAP_SYS_PTRACE, which Docker does not grant: a worker running as the same
    # uid cannot read the reference out of this process.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _become_subreaper() -> None:
    # Orphans of the workers' processes (a setsid + double fork) become our children
    # instead of init's, where ``kill_leftovers`` finds them.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def kill_leftovers(seconds: float = _LEFTOVER_SECONDS) -> int:
    """Stop every zygote, then kill and reap every child of this process: how many
    processes were killed besides the zygotes. Raises if some outlived ``seconds``."""
    from propgrade.sandbox import zygote
    from propgrade.sandbox.processes import children_of, kill_child_of

    zygote.close_all()
    killed: set[int] = set()
    deadline = time.monotonic() + seconds
    while children := children_of(os.getpid()):
        if time.monotonic() >= deadline:
            raise RuntimeError(f"processes {children} outlived grading and could not be killed")
        for pid in children:
            kill_child_of(pid, os.getpid())
            killed.add(pid)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.01)
    return len(killed)


def write_results(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically and check that the file holds it; once more if not."""
    text = json.dumps(data, indent=2) + "\n"
    for _ in range(2):
        atomic_write_text(path, text)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")) == data:
                return
    raise ResultsTampered(f"{path} does not hold the results this run computed")


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
    if plan.layer is not None:
        # For the instructor: which layer graded, and what it does not protect.
        data["extra_data"]["propgrade"]["sandbox_description"] = plan.layer.describe()
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
    _become_subreaper()
    try:
        data = grade(root)
        leftovers = kill_leftovers()
    except Exception as exc:
        print(f"internal error: {_describe_error(exc)}", file=sys.stderr)
        data = _internal_error_results(started)
        kill_leftovers()
    else:
        if leftovers:
            print(
                f"warning: killed {leftovers} process(es) left behind by grading", file=sys.stderr
            )
    write_results(root / "results" / "results.json", data)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    try:
        data = run()
    except ResultsTampered as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tests = data.get("tests", [])
    passed = sum(1 for t in tests if t.get("status") == "passed")
    sandbox = data.get("extra_data", {}).get("propgrade", {}).get("sandbox", "?")
    print(f"score {data.get('score')}: {passed} of {len(tests)} checks passed (sandbox: {sandbox})")
    described = data.get("extra_data", {}).get("propgrade", {}).get("sandbox_description")
    if sandbox != "full" and described:
        # stdout is for the instructor only (stdout_visibility: hidden).
        print(f"sandbox: {described}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
