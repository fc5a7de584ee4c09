"""Throughput of `propgrade grade` on classes built from the fixture corpus.

For each class size it prints submissions per second, CPU seconds per submission, the
peak RSS of the grading process, and where the time went (prepare, grading, the student's
code in the worker, shrinking, result files, reports). As the baseline measured in the
same run it prints the cost of the straightforward approach: running every check as a
Hypothesis test against each student (what `pytest graders/... --submission FILE` does),
extrapolated from a few submissions, and the ratio against it.

With ``--against REV`` the same class is graded first by the tree of git revision REV
(``git archive``, imported through PYTHONPATH with this venv, its own grading.yaml and
graders), then by this tree, and both rates, student calls and CPU figures are printed with
their ratios: a change's cost is compared in one run, on one machine load.

    python benchmarks/bench_throughput.py                     # 42 and 400, --jobs 2
    python benchmarks/bench_throughput.py --sizes 42,400,4000 --jobs 1,2 --baseline 6
    python benchmarks/bench_throughput.py --sizes 42 --against main --rounds 3

Each grading runs in a fresh process, so its peak RSS is that of one run. The machine's
CPU time (from /proc/stat) counts the sandboxed workers too but also everything else the
machine is doing: the load average is printed with it; compare ratios, not seconds. The
grader's own CPU (the grading processes' getrusage) and the students' CPU (the sandboxed
processes under each grading process, read from /proc after every submission: the zygote
has reaped the finished workers by then) are measured apart and do not count other work.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
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


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, own CPU + reaped children's CPU in seconds) of a process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it ended meanwhile
        return None
    rest = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and brackets
    ticks = sum(int(v) for v in rest[11:15])  # utime, stime, cutime, cstime
    return int(rest[1]), ticks / os.sysconf("SC_CLK_TCK")


def student_cpu(root: int) -> float:
    """CPU seconds of the processes under ``root`` that are not grading processes.

    A live process's cutime holds its reaped children (the zygote's finished workers), so
    summing live processes counts each worker once. A forked pool process of the grader
    has the same command line as ``root`` and records its own figures: it is not descended.
    """
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    own = _cmdline(root)
    total, todo = 0.0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if _cmdline(pid) == own:
            continue
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


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
        self.counts = {"calls": 0, "batches": 0, "repeats": 0}
        self.cpu = {"grader": 0.0, "student": 0.0}
        self.measuring = 0.0  # the grader CPU this clock spends reading /proc
        self.stack = ["other"]
        self.since = time.perf_counter()

    def forked(self) -> None:
        """In a pool process just forked: start from zero. The parent's totals (its
        prepare, say) would otherwise be counted once more by every pool process."""
        self.totals = dict.fromkeys(PHASES, 0.0)
        self.counts = dict.fromkeys(self.counts, 0)
        self.cpu = {"grader": 0.0, "student": 0.0}
        self.measuring = 0.0
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
        started = time.process_time()
        # Only grows: at the last save, after the grading, the zygote may be gone already.
        self.cpu["student"] = max(self.cpu["student"], student_cpu(os.getpid()))
        self.measuring += time.process_time() - started
        self.cpu["grader"] = time.process_time() - self.measuring
        path = self.folder / f"phases-{os.getpid()}.json"
        path.write_text(json.dumps({"phases": self.totals, "counts": self.counts, "cpu": self.cpu}))


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

    from propgrade.engine.proxies import call_key

    sent: set[tuple[str, bytes]] = set()  # (function, arguments) sent for this submission

    def run_calls(self: worker.Worker, calls: Any, **options: Any) -> Any:
        outcomes = run(self, calls, **options)
        student = sum(o.seconds for o in outcomes if o.ok)
        clock.move(student, "worker", "student code")
        clock.counts["calls"] += len(calls)
        clock.counts["batches"] += 1
        started = time.process_time()
        for call in calls:
            # The engine makes each call key once; a key differs in trace and echo_args
            # too, so the same function on the same arguments can still go twice.
            function, *_, digest = call_key(call)
            clock.counts["repeats"] += (function, digest) in sent
            sent.add((function, digest))
        clock.measuring += time.process_time() - started
        return outcomes

    worker.Worker.run = run_calls  # type: ignore[method-assign]
    worker.Worker.start = timed(clock, "worker", worker.Worker.start)  # type: ignore[method-assign]
    batch.write_results_json = timed(clock, "results", batch.write_results_json)  # type: ignore[attr-defined]
    batch.write_record = timed(clock, "results", batch.write_record)  # type: ignore[attr-defined]
    grade_safely = batch._grade_safely

    def graded(*args: Any) -> Any:
        sent.clear()
        try:
            with clock.phase("grading"):
                return grade_safely(*args)
        finally:
            clock.save()

    batch._grade_safely = graded  # type: ignore[assignment]


def grade_once(klass: Path, out: Path, jobs: int, phases: Path, config: Path) -> None:
    """Run in a fresh process: grade the class and print what it cost, as JSON."""
    import propgrade
    from propgrade.cli import main

    clock = PhaseClock(phases)
    instrument(clock)
    os.register_at_fork(after_in_child=clock.forked)
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
                "propgrade": str(Path(propgrade.__file__).resolve().parent),
            }
        )
    )


# -- the driver -------------------------------------------------------------------------------


def grade(klass: Path, out: Path, jobs: int, config: Path, tree: Path = ROOT) -> dict[str, Any]:
    """Grade ``klass`` with the propgrade, graders and ``config`` of ``tree``."""
    phases = out.parent / f"{out.name}-phases"
    phases.mkdir()
    env = dict(os.environ)
    if tree != ROOT:  # its source ahead of this tree's editable install
        env["PYTHONPATH"] = os.pathsep.join(
            [str(tree / "src"), *filter(None, [env.get("PYTHONPATH")])]
        )
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
        cwd=tree,
        env=env,
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
    if Path(figures["propgrade"]) != (tree / "src" / "propgrade").resolve():
        raise SystemExit(f"graded with {figures['propgrade']}, not the tree {tree}")
    figures["machine_cpu"] = cpu
    figures["out"] = out
    totals = dict.fromkeys(PHASES, 0.0)
    counts = {"calls": 0, "batches": 0, "repeats": 0}
    split = {"grader": 0.0, "student": 0.0}
    for path in phases.glob("phases-*.json"):
        saved = json.loads(path.read_text())
        for name, seconds in saved["phases"].items():
            totals[name] += seconds
        for name, count in saved["counts"].items():
            counts[name] += count
        for name, seconds in saved["cpu"].items():
            split[name] += seconds
    figures["phases"] = totals
    figures["counts"] = counts
    figures["cpu"] = split
    return figures


def report(size: int, jobs: int, layer: str, f: dict[str, Any], tree: str = "this tree") -> float:
    rate = size / f["wall"]
    print(
        f"{tree}: {size} submissions, --jobs {jobs} ({layer} sandbox): {rate:6.2f} submissions/s, "
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
        f"in {counts['batches'] / size:.1f} batches; {counts['repeats'] / size:.0f} of them "
        f"repeat a function and arguments already sent (with other trace/echo_args)"
    )
    split = f["cpu"]
    print(
        f"      per submission: grader's own CPU {split['grader'] / size:.3f} s, students' "
        f"processes {split['student'] / size:.3f} s: the grader takes "
        f"{split['grader'] / max(split['student'], 1e-9):.2f}x the students' CPU"
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


def export_tree(rev: str, dest: Path) -> str:
    """Write the tree of git revision ``rev`` to ``dest``; return its short commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        raise SystemExit(f"--against {rev}: not a revision here: {commit.stderr.strip()}")
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", rev], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {rev} failed")
    return commit.stdout.strip()


def differing_grades(old: Path, new: Path) -> list[str]:
    """The students whose row of grades.csv (every check's score) differs between runs."""
    rows = [
        {line.split(",", 1)[0]: line for line in (out / "grades.csv").read_text().splitlines()}
        for out in (old, new)
    ]
    return sorted(s for s in rows[0].keys() | rows[1].keys() if rows[0].get(s) != rows[1].get(s))


def compare(name: str, size: int, old: dict[str, Any], new: dict[str, Any]) -> None:
    """This tree against the other, as ratios (new / old), and whether the grades agree."""

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    print(
        f"this tree against {name}, {size} submissions: "
        f"{ratio(size / new['wall'], size / old['wall'])} the submissions/s, "
        f"{ratio(new['counts']['calls'], old['counts']['calls'])} the student calls, "
        f"{ratio(new['cpu']['grader'], old['cpu']['grader'])} the grader's CPU, "
        f"{ratio(new['cpu']['student'], old['cpu']['student'])} the students' CPU"
    )
    differ = differing_grades(old["out"], new["out"])
    print(
        f"      grades.csv (every check's score): {size - len(differ)} of {size} rows the same"
        + (f"; differ: {', '.join(differ)}" if differ else "")
    )


def summarize(name: str, size: int, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Medians over the rounds: one round's rate is at the mercy of the machine's load."""

    def median(values: list[float]) -> float:
        return statistics.median(values)

    old_rate = median([size / old["wall"] for old, _ in pairs])
    new_rate = median([size / new["wall"] for _, new in pairs])
    ratio = median([old["wall"] / new["wall"] for old, new in pairs])
    grader = median([new["cpu"]["grader"] / new["cpu"]["student"] for _, new in pairs])
    print(
        f"medians over {len(pairs)} rounds, {size} submissions: {name} {old_rate:.2f}/s, "
        f"this tree {new_rate:.2f}/s ({ratio:.2f}x); the students' CPU "
        f"{median([new['cpu']['student'] / old['cpu']['student'] for old, new in pairs]):.2f}x, "
        f"the grader's CPU "
        f"{median([new['cpu']['grader'] / old['cpu']['grader'] for old, new in pairs]):.2f}x; "
        f"this tree's grader takes {grader:.2f}x its students' CPU"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also grade each class with the tree of git revision REV, first, and compare",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --against: grade each class this many times with each tree, alternating",
    )
    return parser.parse_args(argv)


def main_(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 6 and argv[0] == "--grade-once":
        klass, out, jobs, phases, config = argv[1:]
        grade_once(Path(klass), Path(out), int(jobs), Path(phases), Path(config))
        return
    from propgrade.sandbox.layer_choice import default_layer

    args = parse_args(argv)
    layer = default_layer().name
    config = args.config.resolve()
    print(f"corpus: {CORPUS.relative_to(ROOT)} (correct, buggy and stub variants); {load()}")
    rates: list[tuple[str, int, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        other: tuple[str, Path, Path] | None = None
        if args.against:
            tree = Path(tmp) / "against"
            name = f"{args.against} ({export_tree(args.against, tree)})"
            # The same course file, as that revision has it; a file outside the tree as is.
            inside = config.is_relative_to(ROOT)
            other = (name, tree, tree / config.relative_to(ROOT) if inside else config)
        for size in args.sizes:
            klass = Path(tmp) / f"class{size}"
            folders = build_class(klass, size)
            for jobs in args.jobs:
                if other is None:
                    new = grade(klass, Path(tmp) / f"out{size}-{jobs}", jobs, config)
                    rates.append(("this tree", size, jobs, report(size, jobs, layer, new)))
                    continue
                name, tree, its_config = other
                pairs = []
                for turn in range(args.rounds):
                    # Alternate which tree goes first: the machine's load drifts.
                    runs = {}
                    for which in ("old", "new") if turn % 2 == 0 else ("new", "old"):
                        out = Path(tmp) / f"{which}{size}-{jobs}-{turn}"
                        if which == "old":
                            runs[which] = grade(klass, out, jobs, its_config, tree)
                            rate = report(size, jobs, layer, runs[which], name)
                        else:
                            runs[which] = grade(klass, out, jobs, config)
                            rate = report(size, jobs, layer, runs[which])
                        rates.append((name if which == "old" else "this tree", size, jobs, rate))
                    compare(name, size, runs["old"], runs["new"])
                    pairs.append((runs["old"], runs["new"]))
                if len(pairs) > 1:
                    summarize(name, size, pairs)
            print(f"      {load()}")
        if args.baseline:
            picked = folders[:: max(1, len(folders) // args.baseline)][: args.baseline]
            wall, cpu = baseline(picked)
            base = len(picked) / wall
            print(
                f"baseline (Hypothesis per student via pytest, serial, this tree): {base:6.3f} "
                f"submissions/s, {cpu / len(picked):.3f} CPU s/submission; {load()}"
            )
            for tree_name, size, jobs, rate in rates:
                print(
                    f"ratio, {tree_name}, {size} submissions --jobs {jobs}: "
                    f"{rate / base:5.0f}x the baseline"
                )


if __name__ == "__main__":
    main_()
