"""``propgrade similarity``: pairs of submissions that share uncommon code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade.commands.common import course_assignment
from propgrade.config import CONFIG_NAME
from propgrade.intake.student_ids import terminal


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``similarity SUBMISSIONS --assignment NAME --out OUT [--known DIR]``."""
    sim = sub.add_parser(
        "similarity",
        help="find pairs of submissions that share uncommon code (review by hand)",
        description="Compare every pair of submissions, and each with every file under "
        "--known, on normalised code (names, comments, strings and layout do not count; the "
        "released stub never counts; fragments common in the class weigh little). Writes "
        "OUT/similarity.html and OUT/similarity.csv.",
        epilog="example:\n  propgrade similarity submissions/ --assignment linear_classifiers "
        "--out out/ --known public_solutions/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("submissions", type=Path, help="folder with one subfolder per student")
    sim.add_argument("--assignment", "-a", required=True, help="assignment name in the course file")
    sim.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    sim.add_argument(
        "--known",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of known solutions (.py, .ipynb) to compare everyone with (repeatable)",
    )
    sim.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )
    sim.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.similarity import run_similarity
    from propgrade.similarity.sources import KNOWN

    assignment = course_assignment(args.config, args.assignment)

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 50 == 0):
            print(f"[{done}/{total}] read", file=err, flush=True)

    def step(what: str) -> None:
        if not args.quiet:
            print(f"{what}...", file=err, flush=True)

    report = run_similarity(
        assignment, args.submissions, args.out, args.known, progress=progress, step=step
    )
    pairs = report.comparison.pairs
    print(
        f"compared {len(report.comparison.students)} submissions in {report.seconds:.1f}s: "
        f"{report.flagged} pairs similar, review by hand (score >= "
        f"{report.comparison.threshold:g})",
        file=out,
    )
    for p in pairs[:10]:
        a, b = report.comparison.documents[p.a], report.comparison.documents[p.b]
        other = f"known {terminal(b.name)}" if b.kind == KNOWN else terminal(b.name)
        print(f"  {p.score:.2f}  {terminal(a.name)}  {other}  ({p.unit})", file=out)
    print(f"report in {report.page}; every pair in {report.csv}", file=out)
    if report.class_report is not None:
        print(f"linked from the class report {report.class_report}", file=out)
    for s in report.skipped:
        print(f"warning: not compared: {terminal(s.name)}: {terminal(s.reason)}", file=err)
    return 0
