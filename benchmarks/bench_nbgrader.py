"""Grading an nbgrader course: what the gradebook and notebook work adds, against autograde.

Builds an nbgrader course (nbgrader's own `generate_assignment` on the released folder and
the instructor's notebook) with SIZE submissions, each a `losses.py` from the fixture
corpus plus the released notebook with a written answer filled in. Prints, in one run:

- `propgrade grade SUBMITTED_COPY` on the same files: grading alone;
- `propgrade grade --nbgrader COURSE`: grading plus the gradebook, the autograded
  notebooks and the feedback pages, first run and re-run (every submission unchanged);
- the baseline: `nbgrader autograde`, which executes each notebook, on BASELINE
  submissions, per submission.

    python benchmarks/bench_nbgrader.py                 # 48 submissions, baseline 3
    python benchmarks/bench_nbgrader.py --size 96 --jobs 4
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from propgrade.cli import main
from propgrade.integrations.nbgrader_layout import put_interpreter_tools_on_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions" / "linear_classifiers"
ASSIGNMENT = "linear_classifiers"
NBGRADER_TIME = "%Y-%m-%d %H:%M:%S.%f %Z"


def nbgrader(course: Path, *args: str) -> None:
    # nbgrader runs `alembic` by name: propgrade's own fix puts the environment's bin
    # folder on PATH, so the benchmark runs from a plain shell too.
    put_interpreter_tools_on_path()
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def build_course(course: Path, size: int) -> Path:
    source = course / "source" / ASSIGNMENT
    shutil.copytree(ROOT / "assignments" / ASSIGNMENT, source)
    shutil.copy(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", source)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for cell in released["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "inline_question_1":
            cell["source"] = "Every margin is 1, so the loss is C - 1."
    answered = json.dumps(released)
    files = sorted(p / "losses.py" for p in CORPUS.iterdir() if (p / "losses.py").is_file())
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(size):
        folder = course / "submitted" / f"s{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(files[i % len(files)], folder / "losses.py")
        (folder / f"{ASSIGNMENT}.ipynb").write_text(answered)
        stamp = (start + timedelta(minutes=i)).strftime(NBGRADER_TIME)
        (folder / "timestamp.txt").write_text(stamp)
        (folder / "submission_secret.txt").write_text(f"secret-{i}")
    return course / "submitted"


def timed(argv: list[str]) -> float:
    began = time.perf_counter()
    code = main(argv, out=io.StringIO(), err=io.StringIO())
    if code != 0:
        raise SystemExit(f"propgrade {' '.join(argv)} exited with {code}")
    return time.perf_counter() - began


def baseline(course: Path, count: int) -> float:
    """Seconds per submission of `nbgrader autograde`, on the first ``count`` students."""
    began = time.perf_counter()
    for i in range(count):
        nbgrader(course, "autograde", ASSIGNMENT, "--student", f"s{i:03d}", "--force")
    return (time.perf_counter() - began) / count


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline", type=int, default=3, help="submissions autograded")
    args = parser.parse_args()
    config = str(ROOT / "grading.yaml")
    with tempfile.TemporaryDirectory(prefix="propgrade-bench-nbgrader-") as tmp:
        course = Path(tmp) / "course"
        submitted = build_course(course, args.size)
        plain = Path(tmp) / "plain"  # the same files, one folder per student
        for student in submitted.iterdir():
            shutil.copytree(student / ASSIGNMENT, plain / student.name)
        common = ["--assignment", ASSIGNMENT, "--config", config, "--jobs", str(args.jobs), "-q"]
        alone = timed(["grade", str(plain), "--out", str(Path(tmp) / "out"), *common])
        first = timed(["grade", "--nbgrader", str(course), *common])
        again = timed(["grade", "--nbgrader", str(course), *common])
        per_autograde = baseline(course, args.baseline)
    n = args.size
    print(f"{n} submissions, --jobs {args.jobs}")
    print(f"  propgrade grade (folder)          {alone:6.2f} s   {n / alone:6.2f} subs/s")
    print(f"  propgrade grade --nbgrader        {first:6.2f} s   {n / first:6.2f} subs/s")
    print(f"    of which gradebook + notebooks  {first - alone:6.2f} s   (difference)")
    print(f"  again, nothing changed            {again:6.2f} s")
    print(
        f"  baseline: nbgrader autograde      {per_autograde:6.2f} s per submission "
        f"({args.baseline} measured), {1 / per_autograde:6.2f} subs/s"
    )


if __name__ == "__main__":
    main_()
