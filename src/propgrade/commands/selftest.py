"""``propgrade selftest``: how strong an assignment's checks are."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from propgrade.commands.common import course_assignment
from propgrade.config import CONFIG_NAME
from propgrade.engine.results import SubmissionResult
from propgrade.errors import PropgradeError
from propgrade.intake.student_ids import terminal
from propgrade.selftest.mutants import HAND_WRITTEN
from propgrade.selftest.results import SelftestReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``selftest NAME [--jobs N] [--out OUT]``."""
    st = sub.add_parser(
        "selftest",
        help="measure how strong an assignment's checks are (reference, baselines, mutants)",
        description="Grade the reference (it must get full marks), do-nothing baselines (each "
        "must stay under selftest.baseline_limit) and one-edit mutants of the reference's "
        "solution regions (at least selftest.mutation_threshold of the non-equivalent ones "
        "must fail a check), all in the sandbox like submissions. Writes OUT/selftest.html. "
        "Exit status 1 when any of the three falls short.",
        epilog="example:\n  propgrade selftest linear_classifiers --jobs 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument("assignment", help="assignment name in the course file")
    st.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for selftest.html (default: out/selftest/ASSIGNMENT)",
    )
    st.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="submissions graded in parallel (default: number of CPUs)",
    )
    st.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )
    st.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.reports.selftest_page import write_selftest_page
    from propgrade.selftest.run import run_selftest

    if args.jobs < 1:
        raise PropgradeError(f"--jobs must be at least 1, got {args.jobs}")
    assignment = course_assignment(args.config, args.assignment)
    folder = args.out or Path("out") / "selftest" / assignment.name

    def step(what: str) -> None:
        if not args.quiet:
            print(f"{what}...", file=err, flush=True)

    def progress(done: int, total: int, result: SubmissionResult, reused: bool) -> None:
        if not args.quiet and (done == total or done % 25 == 0):
            print(f"[{done}/{total}]", file=err, flush=True)

    report = run_selftest(assignment, jobs=args.jobs, progress=progress, step=step)
    page = write_selftest_page(folder, report)
    _print_selftest(report, out)
    print(f"report in {page}", file=out)
    for warning in report.warnings:
        print(f"warning: {terminal(warning)}", file=err)
    for reason in report.failures:
        print(f"error: {terminal(reason)}", file=err)
    return 0 if report.ok else 1


def _print_selftest(report: SelftestReport, out: TextIO) -> None:
    ref = report.reference
    print(
        f"selftest of {report.assignment} ({report.seconds:.0f}s, --jobs {report.jobs})", file=out
    )
    print(f"reference: {ref.score:g}/{ref.max_score:g}", file=out)
    for b in report.baselines:
        flag = "  OVER THE LIMIT" if b.over_limit else ""
        print(
            f"baseline {b.name}: {b.score:g}/{b.max_score:g} ({b.fraction:.0%}, "
            f"limit {b.limit:.0%}){flag}",
            file=out,
        )
    if report.fixtures:
        held = sum(f.ok for f in report.fixtures)
        print(f"fixtures: {held} of {len(report.fixtures)} hold their expect.yaml", file=out)
    counted = len(report.killed) + len(report.survivors)
    print(
        f"mutants: {len(report.mutants)}, killed {len(report.killed)} of {counted} "
        f"non-equivalent = {report.mutation_score:.1%} (threshold {report.threshold:.0%}); "
        f"{len(report.equivalent)} probably equivalent or accepted",
        file=out,
    )
    for m in report.mutants:
        if m.mutant.operator == HAND_WRITTEN:
            by = f" by {', '.join(m.killed_by)}" if m.killed_by else ""
            print(f"  hand-written {m.mutant.diff}: {m.status}{by}", file=out)
    for m in report.survivors:
        where = f" in {m.mutant.function}" if m.mutant.function else ""
        print(f"  survivor {m.mutant.id}{where}: {m.mutant.diff}", file=out)
        if m.note:
            print(f"    {m.note}", file=out)
        print(f"    passed all {len(m.passed)} checks: {', '.join(m.passed)}", file=out)
    kills = report.kills()
    print(
        "mutants killed per check (unique: killed by no other check): "
        + ", ".join(f"{cid} {total} ({unique})" for cid, (total, unique) in kills.items()),
        file=out,
    )
    # Worded as the HTML page words it: a check whose kills other checks also make is not
    # useless, only a check that kills nothing is a candidate to drop.
    none = [cid for cid, (total, _) in kills.items() if total == 0]
    shared = [cid for cid, (total, unique) in kills.items() if total and not unique]
    if none:
        print(
            f"checks that kill nothing (candidates to drop, unless they guard a mistake no "
            f"mutant makes): {', '.join(none)}",
            file=out,
        )
    if shared:
        print(f"checks that kill nothing unique: {', '.join(shared)}", file=out)
