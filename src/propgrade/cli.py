"""The ``propgrade`` command: its subcommands (``propgrade.commands``) under one parser."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Protocol, TextIO

import propgrade
from propgrade.commands import (
    check,
    doctor,
    grade,
    gradescope,
    new,
    release,
    report,
    selftest,
    serve,
    similarity,
    submit,
)
from propgrade.errors import PropgradeError

EPILOG = """\
examples:
  propgrade grade examples/submissions --assignment linear_classifiers --out out/demo
  propgrade grade submissions/ --assignment linear_classifiers --out out/ --jobs 4
  propgrade grade submissions/ --assignment linear_classifiers --out out/ --dask local:2
  propgrade similarity submissions/ --assignment linear_classifiers --out out/
  propgrade serve --assignment linear_classifiers --out out/serve
  propgrade release linear_classifiers
  cd assignments/linear_classifiers && propgrade check
"""


class Command(Protocol):
    """What each module of ``propgrade.commands`` provides."""

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int: ...


# In the order `propgrade --help` lists them.
COMMANDS: dict[str, Command] = {
    "grade": grade,
    "serve": serve,
    "submit": submit,
    "check": check,
    "report": report,
    "gradescope": gradescope,
    "selftest": selftest,
    "doctor": doctor,
    "release": release,
    "similarity": similarity,
    "new": new,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="propgrade",
        description="Property-based autograding for numerical exercises.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"propgrade {propgrade.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(out)
        return 2
    try:
        return COMMANDS[args.command].run(args, out, err)
    except PropgradeError as exc:
        print(f"error: {exc.message}", file=err)
        if exc.hint:
            print(f"hint: {exc.hint}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130


if __name__ == "__main__":
    sys.exit(main())
