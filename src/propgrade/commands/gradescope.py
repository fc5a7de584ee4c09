"""``propgrade gradescope``: build a Gradescope autograder bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade.commands.common import course_assignment
from propgrade.config import CONFIG_NAME


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``gradescope NAME [-o out/autograder.zip]``."""
    gs = sub.add_parser(
        "gradescope",
        help="build a Gradescope autograder bundle (out/autograder.zip)",
        description="Build setup.sh, run_autograder, the engine, graders and reference into "
        "a zip to upload as a Gradescope programming assignment's autograder.",
        epilog="example:\n  propgrade gradescope linear_classifiers -o out/autograder.zip",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gs.add_argument("assignment", help="assignment name in the course file")
    gs.add_argument(
        "--out",
        "-o",
        type=Path,
        default=Path("out/autograder.zip"),
        help="zip to write (default: out/autograder.zip; it holds the reference: keep it "
        "out of anything students see)",
    )
    gs.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.integrations.gradescope import build_gradescope_bundle

    assignment = course_assignment(args.config, args.assignment)
    path = build_gradescope_bundle(assignment, args.out.resolve())
    print(f"wrote the Gradescope autograder bundle {path}", file=out)
    return 0
