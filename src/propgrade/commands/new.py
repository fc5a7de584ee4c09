"""``propgrade new``: scaffold an assignment that grades end to end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade.config import CONFIG_NAME, find_course_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``new NAME [--graded-file FILE]``."""
    new = sub.add_parser(
        "new",
        help="scaffold a new assignment that grades end to end, to edit into yours",
        description="Write a worked example assignment: a reference solution with "
        "### BEGIN/END SOLUTION markers, public and hidden checks, its grading.yaml entry "
        "(appended; the course file is created if there is none) and a fixture corpus under "
        "tests/submissions/NAME. Nothing existing is overwritten. "
        "docs/writing-an-assignment.md explains each part.",
        epilog="examples:\n"
        "  propgrade new optimizers --graded-file optim.py\n"
        "  propgrade new week3 --config ~/course/grading.yaml\n"
        "then:\n"
        "  propgrade release NAME\n"
        "  propgrade grade tests/submissions/NAME --assignment NAME --out /tmp/NAME-grades\n"
        "  propgrade selftest NAME",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", help="assignment name: lowercase letters, digits, underscores")
    new.add_argument(
        "--graded-file", help="the file students submit (default: NAME.py), e.g. optim.py"
    )
    new.add_argument(
        "--config",
        "-c",
        type=Path,
        help=f"course file (default: nearest {CONFIG_NAME}, else ./{CONFIG_NAME})",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.authoring.scaffold import create_assignment

    course_file = args.config or find_course_config(Path.cwd()) or Path.cwd() / CONFIG_NAME
    made = create_assignment(
        args.name, course_file=course_file.resolve(), graded_file=args.graded_file
    )
    root = made.course_file.parent
    verb = "created" if made.course_file_created else "added to"
    print(f"{verb} {made.course_file}: assignment {made.name}", file=out)
    for path in made.created:
        print(f"  {path.relative_to(root)}", file=out)
    print(
        "next, from the course folder:\n"
        f"  propgrade release {made.name}\n"
        f"  propgrade grade tests/submissions/{made.name} --assignment {made.name} "
        f"--out /tmp/{made.name}-grades\n"
        f"  propgrade selftest {made.name}\n"
        "then replace the example function, checks and fixtures with your own "
        "(docs/writing-an-assignment.md).",
        file=out,
    )
    return 0
