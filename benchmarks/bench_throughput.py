"""Throughput of `propgrade grade` on a class built from the fixture corpus.

Prints submissions per second and CPU seconds per submission for --jobs 1 and --jobs 2,
and, as the baseline measured in the same run, the cost of the straightforward approach:
running every check as a Hypothesis test against each student (what `pytest graders/...
--submission FILE` does), extrapolated from a few submissions.

    python benchmarks/bench_throughput.py            # 48 submissions
    python benchmarks/bench_throughput.py --size 96 --baseline 6
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from propgrade.cli import main
from propgrade.sandbox import default_layer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions"


def cpu_seconds() -> float:
    """Busy CPU time of the whole machine (from /proc/stat), in seconds.

    getrusage misses the sandboxed workers (bwrap's namespace init never hands their usage
    back), so this counts everything: run the benchmark on an otherwise idle machine.
    """
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def build_class(dest: Path, size: int) -> list[Path]:
    sources = sorted(p for p in CORPUS.iterdir() if (p / "losses.py").is_file())
    folders = []
    for i in range(size):
        source = sources[i % len(sources)]
        folder = dest / f"s{i:03d}_{source.name}"
        folder.mkdir(parents=True)
        shutil.copy(source / "losses.py", folder / "losses.py")
        folders.append(folder)
    return folders


def grade(klass: Path, out: Path, jobs: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    code = main(
        [
            "grade",
            str(klass),
            "-a",
            "linear_classifiers",
            "-o",
            str(out),
            "-j",
            str(jobs),
            "-q",
            "-c",
            str(ROOT / "grading.yaml"),
        ],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    if code != 0:
        raise SystemExit(f"grading failed with exit code {code}")
    return time.perf_counter() - wall, cpu_seconds() - cpu


def baseline(folders: list[Path]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    for folder in folders:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(ROOT / "graders" / "linear_classifiers"),
                "--submission",
                str(folder / "losses.py"),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    return time.perf_counter() - wall, cpu_seconds() - cpu


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48, help="submissions in the class")
    parser.add_argument("--baseline", type=int, default=4, help="submissions for the baseline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        klass = Path(tmp) / "class"
        folders = build_class(klass, args.size)
        print(
            f"class: {args.size} submissions from {CORPUS.relative_to(ROOT)} "
            f"(correct, buggy and stub variants)"
        )
        layer = default_layer().name
        for jobs in (1, 2):
            wall, cpu = grade(klass, Path(tmp) / f"out{jobs}", jobs)
            print(
                f"propgrade --jobs {jobs} ({layer} sandbox): "
                f"{args.size / wall:6.2f} submissions/s, "
                f"{cpu / args.size:.3f} CPU s/submission, {wall:.1f} s wall"
            )
        if args.baseline:
            picked = folders[:: max(1, len(folders) // args.baseline)][: args.baseline]
            wall, cpu = baseline(picked)
            print(
                f"baseline (Hypothesis per student via pytest, serial): "
                f"{len(picked) / wall:6.2f} submissions/s, {cpu / len(picked):.3f} CPU s/submission"
            )


if __name__ == "__main__":
    main_()
