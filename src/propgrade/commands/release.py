"""``propgrade release``: the student release of an assignment, from its solution."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade.authoring.release import refresh_stub_fixture, release
from propgrade.commands.common import course_assignment
from propgrade.config import CONFIG_NAME


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``release NAME [-o OUT]``."""
    rel = sub.add_parser(
        "release",
        help="generate the student release of an assignment from its solution",
        description="Write stubs, public checks and assignment.yaml for students, from the "
        "reference solution's ### BEGIN/END SOLUTION markers.",
        epilog="example:\n  propgrade release linear_classifiers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rel.add_argument("assignment", help="assignment name in the course file")
    rel.add_argument("--out", "-o", type=Path, help="destination (default: the 'release' path)")
    rel.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    assignment = course_assignment(args.config, args.assignment)
    target = release(assignment, args.out.resolve() if args.out else None)
    print(f"released {assignment.name} to {target}", file=out)
    # A trial release elsewhere (--out) leaves the course's files alone.
    refreshed = None if args.out else refresh_stub_fixture(assignment, target)
    if refreshed is not None:
        print(f"refreshed the stub fixture {refreshed}", file=out)
    return 0
