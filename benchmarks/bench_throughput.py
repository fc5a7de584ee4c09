"""Throughput of `propgrade grade` on classes built from the fixture corpus.

For each class size it prints submissions per second, CPU seconds per submission, the
peak RSS of the grading process, and where the time went (prepare, grading, the student's
code in the worker, shrinking, result files, reports). As the baseline measured in the
same run it prints the cost of the straightforward approach: running every check as a
Hypothesis test against each student (what `pytest graders/... --submission FILE` does),
extrapolated from a few submissions, and the ratio against it.

    python benchmarks/bench_throughput.py                     # 42 and 400, --jobs 2
    python benchmarks/bench_throughput.py --sizes 42,400,4000 --jobs 1,2 --baseline 6

Each grading runs in a fresh process, so its peak RSS is that of one run. The machine's
CPU time (from /proc/stat) counts the sandboxed workers too but also everything else the
machine is doing: the load average is printed with it; compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions" / "linear_classifiers"
PHASES = (
    "prepare",
    "grading",
    "student code",
    "worker",
    "shrinking",
    "results",
    "reports",
    "other",
)


def cpu_seconds() -> float:
    """Busy CPU time of the whole machine (from /proc/stat), in seconds.

    getrusage misses the sandboxed workers (bwrap's namespace init never hands their usage
    back), so this counts everything, other people's work included.
    """
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def build_class(dest: Path, size: int) -> list[Path]:
    sources = sorted(p for p in CORPUS.iterdir() if (p / "losses.py").is_file())
    folders = []
    for i in range(size):
        source = sources[i % len(sources)]
        folder = dest / f"s{i:04d}_{source.name}"
        folder.mkdir(parents=True)
        shutil.copy(source / "losses.py", folder / "losses.py")
        folders.append(folder)
    return folders


# -- the grading process ------------------------------------------------------------------


class PhaseClock:
    """Wall time charged to the innermost phase entered.

    "grading" is the engine's own work on a submission; "worker" is the time spent waiting
    on the worker (start, transfers, the worker's decoding) less the time the student's
    functions took by the worker's own clock ("student code"); "other" is the CLI, and the
    main process waiting on the pool.

    Totals are written to a file per process after every submission: the pool's processes
    end without running exit handlers.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.totals = dict.fromkeys(PHASES, 0.0)
        self.counts = {"calls": 0, "batches": 0}
        self.stack = ["other"]
        self.since = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        self.totals[self.stack[-1]] += now - self.since
        self.since = now

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._switch()
        self.stack.append(name)
        try:
            yield
        finally:
            self._switch()
            self.stack.pop()

    def move(self, seconds: float, source: str, dest: str) -> None:
        self.totals[source] -= seconds
        self.totals[dest] += seconds

    def save(self) -> None:
        path = self.folder / f"phases-{os.getpid()}.json"
        path.write_text(json.dumps({"phases": self.totals, "counts": self.counts}))


def timed(clock: PhaseClock, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with clock.phase(name):
            return fn(*args, **kwargs)

    return wrapper


def instrument(clock: PhaseClock) -> None:
    """Time the phases by wrapping the functions that make them (nothing in propgrade)."""
    from propgrade import batch
    from propgrade.commands import grade as cli
    from propgrade.engine import grading as engine
    from propgrade.sandbox import worker

    cli.prepare = timed(clock, "prepare", cli.prepare)  # type: ignore[attr-defined]
    cli.write_reports = timed(clock, "reports", cli.write_reports)  # type: ignore[assignment]
    engine.shrink_greedily = timed(clock, "shrinking", engine.shrink_greedily)  # type: ignore[assignment]
    run = timed(clock, "worker", worker.Worker.run)

    def run_calls(self: worker.Worker, calls: Any, **options: Any) -> Any:
        outcomes = run(self, calls, **options)
        student = sum(o.seconds for o in outcomes if o.ok)
        clock.move(student, "worker", "student code")
        clock.counts["calls"] += len(calls)
        clock.counts["batches"] += 1
        return outcomes

    worker.Worker.run = run_calls  # type: ignore[method-assign]
    worker.Worker.start = timed(clock, "worker", worker.Worker.start)  # type: ignore[method-assign]
    batch.write_results_json = timed(clock, "results", batch.write_results_json)  # type: ignore[attr-defined]
    batch.write_record = timed(clock, "results", batch.write_record)  # type: ignore[attr-defined]
    grade_safely = batch._grade_safely

    def graded(*args: Any) -> Any:
        try:
            with clock.phase("grading"):
                return grade_safely(*args)
        finally:
            clock.save()

    batch._grade_safely = graded  # type: ignore[assignment]


def grade_once(klass: Path, out: Path, jobs: int, phases: Path, config: Path) -> None:
    """Run in a fresh process: grade the class and print what it cost, as JSON."""
    from propgrade.cli import main

    clock = PhaseClock(phases)
    instrument(clock)
    wall = time.perf_counter()
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
            str(config),
        ],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    wall = time.perf_counter() - wall
    clock._switch()
    clock.save()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "code": code,
                "wall": wall,
                "grader_cpu": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                "rss_mib": own.ru_maxrss / 1024,
                "child_rss_mib": children.ru_maxrss / 1024,
            }
        )
    )


# -- the driver -------------------------------------------------------------------------------


def grade(klass: Path, out: Path, jobs: int, config: Path) -> dict[str, Any]:
    phases = out.parent / f"{out.name}-phases"
    phases.mkdir()
    cpu = cpu_seconds()
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--grade-once",
            str(klass),
            str(out),
            str(jobs),
            str(phases),
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    cpu = cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"grading failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if figures["code"] != 0:
        raise SystemExit(f"grading failed with exit code {figures['code']}")
    figures["machine_cpu"] = cpu
    totals = dict.fromkeys(PHASES, 0.0)
    counts = {"calls": 0, "batches": 0}
    for path in phases.glob("phases-*.json"):
        saved = json.loads(path.read_text())
        for name, seconds in saved["phases"].items():
            totals[name] += seconds
        for name, count in saved["counts"].items():
            counts[name] += count
    figures["phases"] = totals
    figures["counts"] = counts
    return figures


def report(size: int, jobs: int, layer: str, f: dict[str, Any]) -> float:
    rate = size / f["wall"]
    print(
        f"{size:5d} submissions, --jobs {jobs} ({layer} sandbox): {rate:6.2f} submissions/s, "
        f"{f['machine_cpu'] / size:.3f} CPU s/submission (machine), "
        f"{f['grader_cpu'] / size:.3f} (grader processes), {f['wall']:.1f} s wall; "
        f"peak RSS {f['rss_mib']:.0f} MiB (pool processes {f['child_rss_mib']:.0f} MiB)"
    )
    phases = f["phases"]
    total = sum(phases.values()) or 1.0
    parts = ", ".join(
        f"{name} {1000 * phases[name] / size:.0f} ms ({100 * phases[name] / total:.0f}%)"
        for name in PHASES
    )
    print(f"      per submission, summed over processes: {parts}")
    counts = f["counts"]
    print(
        f"      per submission: {counts['calls'] / size:.0f} student calls "
        f"in {counts['batches'] / size:.1f} batches"
    )
    # What the machine could do if the grader's own work cost nothing: the students'
    # processes (their code, plus decoding and encoding in the worker) still need the CPU.
    cores = os.cpu_count() or 1
    worker_side = max(f["machine_cpu"] - f["grader_cpu"], 1e-9) / size
    student = max(phases["student code"], 1e-9) / size
    print(
        f"      ceiling on {cores} cores with the grader's own work at zero: "
        f"{cores / worker_side:.1f} submissions/s (students' processes, {worker_side:.3f} CPU s "
        f"each); {cores / student:.1f}/s from the student code alone"
    )
    return rate


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


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main_() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--grade-once":
        klass, out, jobs, phases, config = sys.argv[2:]
        grade_once(Path(klass), Path(out), int(jobs), Path(phases), Path(config))
        return
    from propgrade.sandbox.layer_choice import default_layer

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", type=_ints, default=[42, 400], help="class sizes, e.g. 42,400,4000"
    )
    parser.add_argument("--jobs", type=_ints, default=[2], help="--jobs values, e.g. 1,2")
    parser.add_argument("--baseline", type=int, default=4, help="submissions for the baseline")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "grading.yaml",
        help="the course file to grade with (the baseline always runs the graders as written)",
    )
    args = parser.parse_args()
    layer = default_layer().name
    print(f"corpus: {CORPUS.relative_to(ROOT)} (correct, buggy and stub variants); {load()}")
    rates: list[tuple[int, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            klass = Path(tmp) / f"class{size}"
            folders = build_class(klass, size)
            for jobs in args.jobs:
                figures = grade(klass, Path(tmp) / f"out{size}-{jobs}", jobs, args.config.resolve())
                rates.append((size, jobs, report(size, jobs, layer, figures)))
            print(f"      {load()}")
        if args.baseline:
            picked = folders[:: max(1, len(folders) // args.baseline)][: args.baseline]
            wall, cpu = baseline(picked)
            base = len(picked) / wall
            print(
                f"baseline (Hypothesis per student via pytest, serial): {base:6.3f} "
                f"submissions/s, {cpu / len(picked):.3f} CPU s/submission; {load()}"
            )
            for size, jobs, rate in rates:
                print(f"ratio, {size} submissions --jobs {jobs}: {rate / base:5.0f}x the baseline")


if __name__ == "__main__":
    main_()
