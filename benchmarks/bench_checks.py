"""What each check costs: student calls, student code time and the grader's own CPU.

A class's grading rate is set by how much student code the checks run (every call is a
Python function of the student's, often a loop) and by the engine's work per call. This
prints both per check, summed over the checks' examples and averaged over the graded
submissions, so that an instructor can see which checks a class's time goes to before
lowering a check's ``max_examples`` in grading.yaml, and what the rest would cost.

    python benchmarks/bench_checks.py                           # the fixture corpus
    python benchmarks/bench_checks.py examples/submissions --top 10
    python benchmarks/bench_checks.py SUBMISSIONS -a optimizers -c path/to/grading.yaml

Grades with ``--jobs 1`` in this process, in the default sandbox layer. A call several
checks share (the same function on the same arguments) is made once and charged to the
check that asked for it first; calls made while shrinking a failure are charged to the
check being shrunk. Times are this machine's at this moment: compare the shares.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions" / "linear_classifiers"


@dataclass
class Cost:
    calls: int = 0
    student: float = 0.0  # seconds in the student's functions, by the worker's clock
    grader: float = 0.0  # CPU seconds of the grading thread in the check's property


class CostMeter:
    """Charges worker calls and property CPU to the check on whose behalf they happen.

    Wraps propgrade's functions from outside (nothing in propgrade knows of it). Every
    property run is a greenlet that pauses while the worker answers (engine/fibers.py), so
    the check being run is kept per greenlet, and the CPU between two switches is charged
    to the check whose greenlet was running.
    """

    def __init__(self) -> None:
        self.costs: dict[str, Cost] = {}
        self.plan: Any = None  # the run's plan, to read what it kept (engine/transcripts.py)
        self.drawn: set[int] = set()  # ids of the plan's drawn cases
        self.bodies_on_drawn = 0  # property bodies started on a drawn case
        self.owner: dict[Any, str] = {}
        self.running: dict[Any, list[str]] = {}  # the checks being run, per greenlet
        self.since = time.thread_time()

    def current(self) -> str:
        import greenlet

        stack = self.running.get(greenlet.getcurrent())
        return stack[-1] if stack else "(outside any check)"

    def charge(self, running: Any) -> None:
        """Charge the CPU since the last charge to the check ``running`` was running."""
        now = time.thread_time()
        stack = self.running.get(running)
        if stack:
            self.cost(stack[-1]).grader += now - self.since
        self.since = now

    def install(self) -> None:
        import greenlet

        from propgrade.commands import grade
        from propgrade.engine import checks, fibers, proxies
        from propgrade.sandbox import worker

        run_property = checks.Check.run
        meter = self
        prepare = grade.prepare

        def prepared(*args: Any, **kwargs: Any) -> Any:
            plan = prepare(*args, **kwargs)
            meter.plan = plan
            meter.drawn = {id(case) for cases in plan.cases.values() for case in cases}
            return plan

        grade.prepare = prepared  # type: ignore[attr-defined]

        def on_switch(event: str, args: Any) -> None:
            if event in ("switch", "throw"):
                meter.charge(args[0])

        greenlet.settrace(on_switch)

        def run(self: checks.Check, case: Any, student: Any, reference: Any) -> None:
            here = greenlet.getcurrent()
            meter.bodies_on_drawn += id(case) in meter.drawn
            meter.charge(here)
            stack = meter.running.setdefault(here, [])
            stack.append(self.id)
            try:
                run_property(self, case, student, reference)
            finally:
                meter.charge(here)
                stack.pop()
                if not stack:
                    del meter.running[here]

        checks.Check.run = run  # type: ignore[method-assign]

        def owned(fetch: Callable[[Any, Sequence[Any]], Any]) -> Callable[..., Any]:
            def wrapper(proxy: Any, calls: Sequence[Any]) -> Any:
                who = meter.current()
                for call in calls:
                    meter.owner.setdefault(proxies.call_key(call), who)
                return fetch(proxy, calls)

            return wrapper

        proxies.ReplayProxy._fetch = owned(proxies.ReplayProxy._fetch)  # type: ignore[method-assign]
        proxies.LiveProxy._fetch = owned(proxies.LiveProxy._fetch)  # type: ignore[method-assign]
        fibers.FiberProxy._fetch = owned(fibers.FiberProxy._fetch)  # type: ignore[method-assign]
        run_calls = worker.Worker.run

        def run_and_charge(self: worker.Worker, calls: Sequence[Any], **options: Any) -> Any:
            outcomes = run_calls(self, calls, **options)
            for call, outcome in zip(calls, outcomes, strict=True):
                cost = meter.cost(meter.owner.get(proxies.call_key(call), meter.current()))
                cost.calls += 1
                cost.student += outcome.seconds
            return outcomes

        worker.Worker.run = run_and_charge  # type: ignore[method-assign]

    def cost(self, check: str) -> Cost:
        return self.costs.setdefault(check, Cost())


def graded_count(out: Path) -> int:
    grades = out / "grades.csv"
    return max(0, len(grades.read_text().splitlines()) - 1) if grades.is_file() else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="example: python benchmarks/bench_checks.py examples/submissions --top 10",
    )
    parser.add_argument(
        "submissions",
        nargs="?",
        type=Path,
        default=CORPUS,
        help="a folder of submission folders (default: the linear_classifiers fixture corpus)",
    )
    parser.add_argument("-a", "--assignment", default="linear_classifiers")
    parser.add_argument("-c", "--config", type=Path, default=ROOT / "grading.yaml")
    parser.add_argument("--top", type=int, default=0, help="print only the N costliest checks")
    args = parser.parse_args()
    if not args.submissions.is_dir():
        raise SystemExit(f"{args.submissions}: not a folder of submissions")

    from propgrade.cli import main as propgrade
    from propgrade.sandbox.layer_choice import default_layer

    meter = CostMeter()
    meter.install()
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        wall = time.perf_counter()
        command = ["grade", str(args.submissions), "-a", args.assignment, "-o", str(out)]
        command += ["-j", "1", "-q", "-c", str(args.config)]
        code = propgrade(
            command,
            out=io.StringIO(),
            err=err,
        )
        wall = time.perf_counter() - wall
        size = graded_count(out)
    if code not in (0, 1) or size == 0:
        raise SystemExit(f"grading failed (exit {code}):\n{err.getvalue()[-3000:]}")
    report(meter.costs, size, wall, args.top, default_layer().name, args.submissions)
    transcripts = getattr(meter.plan, "transcripts", None)
    if transcripts is not None:
        runs = transcripts.replayed + meter.bodies_on_drawn
        print(
            f"runs on drawn cases: {runs}, of which {transcripts.replayed} "
            f"({100 * transcripts.replayed / max(runs, 1):.0f}%) ended without their property "
            "body, as a run of an earlier submission with the same answers did"
        )


def report(
    costs: dict[str, Cost], size: int, wall: float, top: int, layer: str, where: Path
) -> None:
    calls = sum(c.calls for c in costs.values())
    student = sum(c.student for c in costs.values())
    grader = sum(c.grader for c in costs.values())
    print(
        f"{size} submissions from {where} graded with --jobs 1 ({layer} sandbox) in "
        f"{wall:.1f} s; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print("per submission, by check (sorted by student code time):")
    print(f"  {'check':40s} {'calls':>7s} {'student ms':>11s} {'share':>6s} {'property ms':>12s}")
    ranked = sorted(costs.items(), key=lambda item: -item[1].student)
    for name, c in ranked[:top] if top else ranked:
        share = 100 * c.student / student if student else 0.0
        print(
            f"  {name:40s} {c.calls / size:7.1f} {1000 * c.student / size:11.1f} "
            f"{share:5.0f}% {1000 * c.grader / size:12.1f}"
        )
    print(
        f"  {'total':40s} {calls / size:7.1f} {1000 * student / size:11.1f} {100:5d}% "
        f"{1000 * grader / size:12.1f}"
    )
    cores = os.cpu_count() or 1
    if student:
        print(
            f"the student code alone allows at most {cores * size / student:.1f} submissions/s "
            f"on {cores} cores; {1e6 * student / max(calls, 1):.0f} us per call on average"
        )


if __name__ == "__main__":
    sys.exit(main())
