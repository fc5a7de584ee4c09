"""``propgrade report``: rebuild the pages of a graded output folder from its records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``report OUT [--audience student|instructor]``."""
    rep = sub.add_parser(
        "report",
        help="rebuild the HTML reports of a graded output folder",
        description="Write OUT/<student>/feedback.html and OUT/report.html from the stored "
        "OUT/<student>/propgrade.json records, without grading again.",
        epilog="example:\n  propgrade report out/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("out", type=Path, help="the --out folder of a propgrade grade run")
    rep.add_argument(
        "--audience",
        choices=["student", "instructor"],
        default="student",
        help="student pages withhold hidden and after-due-date checks (default: student)",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.reports import rebuild_reports

    paths = rebuild_reports(args.out, audience=args.audience)
    for record in paths.unreadable:
        print(f"warning: {record}: unreadable, skipped", file=err)
    print(f"wrote {len(paths.students)} feedback pages and {paths.report}", file=out)
    return 0
