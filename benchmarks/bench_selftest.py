"""Wall time of `propgrade selftest` on the course's assignment.

Prints, for each --jobs value, the seconds the whole selftest took and the number of
submissions it graded (reference, baselines, mutants, then the survivors' equivalence
test). Run it on an otherwise idle machine.

    python benchmarks/bench_selftest.py                 # --jobs 1 and 2
    python benchmarks/bench_selftest.py --jobs 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from propgrade.config import load_course
from propgrade.selftest.run import run_selftest

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="linear_classifiers")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    assignment = load_course(ROOT / "grading.yaml").assignment(args.assignment)
    for jobs in args.jobs:
        report = run_selftest(assignment, jobs=jobs)
        graded = 1 + len(report.baselines) + len(report.mutants)
        print(
            f"--jobs {jobs}: {report.seconds:.1f}s for {graded} submissions "
            f"({report.seconds / graded:.2f}s each); mutation score "
            f"{report.mutation_score:.1%}, {len(report.survivors)} survivors"
        )


if __name__ == "__main__":
    main()
