"""Check that the tests named in tests/mutations.yaml fail on their mutation, and only then.

    python tools/check_mutations.py [--list tests/mutations.yaml] [NAME ...]

For each mutation: copy the repository (its tracked and untracked, not ignored files) to a
temporary folder, replace ``original`` (which must occur exactly once) by ``mutated`` in
``file``, and run the named tests there with pytest, the copy's ``src`` first on the import
path. The named tests first run once on an unmutated copy: a test that is red there would
"catch" every mutation. Exit status 0 when every mutation is caught, 1 otherwise, 2 when the
list no longer matches the code.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The plain PATH CI uses: nothing found on PATH by luck.
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    original: str
    mutated: str
    tests: list[str]


class StaleList(Exception):
    """The list names code that is no longer there."""


def load(path: Path) -> list[Mutation]:
    return [Mutation(**entry) for entry in yaml.safe_load(path.read_text())]


def copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a deleted file is still listed until it is committed
            (target / source.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.relative_to(ROOT))


def apply(mutation: Mutation, copy: Path) -> None:
    path = copy / mutation.file
    text = path.read_text()
    count = text.count(mutation.original)
    if count != 1:
        raise StaleList(f"{mutation.name}: {mutation.original!r} occurs {count} times in {path}")
    path.write_text(text.replace(mutation.original, mutation.mutated))


def _pytest(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest run in ``copy`` on the copy's own source."""
    # COLUMNS: room for each failure's message in the short summary.
    env = {**os.environ, "PATH": PLAIN_PATH, "PYTHONPATH": str(copy / "src"), "COLUMNS": "240"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)


def collected(copy: Path, tests: list[str]) -> set[str]:
    """The node ids pytest collects for ``tests`` in ``copy`` (skipped ones included)."""
    done = _pytest(copy, "--collect-only", *tests)
    return {line.strip() for line in done.stdout.splitlines() if "::" in line}


def run_tests(copy: Path, tests: list[str]) -> tuple[dict[str, str], str]:
    """Run ``tests`` in ``copy``; return the failed node ids (with why) and pytest's output."""
    done = _pytest(copy, "-rfE", *tests)
    summary = re.findall(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", done.stdout, re.MULTILINE)
    return dict(summary), done.stdout + done.stderr


def check_import_path(copy: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}
    where = subprocess.run(
        [sys.executable, "-c", "import propgrade; print(propgrade.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).is_relative_to(copy):
        raise StaleList(f"the copy imports propgrade from {where}, not from {copy}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", type=Path, default=ROOT / "tests" / "mutations.yaml")
    parser.add_argument("names", nargs="*", help="only the mutations with these names")
    args = parser.parse_args(argv)
    listed = load(args.list)
    unknown = sorted(set(args.names) - {m.name for m in listed})
    if unknown:
        # Without this an unknown name selected no mutation, and the baseline then ran
        # pytest on no test id: the whole suite.
        print(f"error: no mutation named {', '.join(map(repr, unknown))} in {args.list}")
        return 2
    mutations = [m for m in listed if not args.names or m.name in args.names]
    with tempfile.TemporaryDirectory(prefix="propgrade-mutations-") as tmp:
        # Run as root, the reduced layer's workers drop to a slot uid, which must be able
        # to read the copies (mkdtemp makes the folder private to its creator).
        os.chmod(tmp, 0o755)
        clean = Path(tmp) / "clean"
        copy_repository(clean)
        check_import_path(clean)
        every_test = sorted({t for m in mutations for t in m.tests})
        print(f"baseline: {len(every_test)} tests on the unmutated code ...", flush=True)
        # A test named without its parameters runs as several node ids, none of them the
        # name: it could never be counted red, and its mutation would always be missed.
        ids = collected(clean, every_test)
        unknown = [t for t in every_test if t not in ids]
        if unknown:
            print(f"error: not the id of one test (name each parametrization): {unknown}")
            return 2
        failed, output = run_tests(clean, every_test)
        if failed or "passed" not in output:
            print(output)
            print(f"baseline: red without any mutation: {sorted(failed)}")
            return 2
        print("baseline: all green", flush=True)
        caught = 0
        for number, mutation in enumerate(mutations, 1):
            copy = Path(tmp) / f"mutant-{number}"
            copy_repository(copy)
            try:
                apply(mutation, copy)
            except StaleList as exc:
                print(f"error: {exc}")
                return 2
            started = time.monotonic()
            failed, output = run_tests(copy, mutation.tests)
            missed = [t for t in mutation.tests if t not in failed]
            verdict = "caught" if not missed else "MISSED"
            seconds = time.monotonic() - started
            print(f"[{number}/{len(mutations)}] {verdict}: {mutation.name} ({seconds:.0f} s)")
            print(f"    {mutation.file}: {mutation.original.strip()!r}")
            print(f"    -> {mutation.mutated.strip()!r}")
            for test in mutation.tests:
                if test in failed:
                    print(f"    red   {test}\n          {failed[test][:90]}")
                else:
                    print(f"    GREEN {test}")
            caught += not missed
            shutil.rmtree(copy)
        print(f"{caught} of {len(mutations)} mutations caught by every test named for them")
    return 0 if caught == len(mutations) else 1


if __name__ == "__main__":
    sys.exit(main())
