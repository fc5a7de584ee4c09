"""Time to rebuild every report page of a 300-submission class from its stored records.

A few fixtures from tests/submissions/linear_classifiers are graded for real (correct,
buggy, a stub and a missing file); their results are cloned under 300 student ids, with
per-student grading times varied, and stored as OUT/<student>/propgrade.json. The timed
part is
``rebuild_reports(OUT)``: reading the records, writing 300 feedback pages and the class
report (plots included).

    python benchmarks/bench_report.py
    python benchmarks/bench_report.py --size 600 --repeat 3
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from pathlib import Path

from propgrade.config import load_course
from propgrade.engine.grading import grade_submission, prepare
from propgrade.engine.results import SubmissionResult
from propgrade.export import write_record
from propgrade.reports import rebuild_reports
from propgrade.reports.class_report import HEATMAP_MAX_STUDENTS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions" / "linear_classifiers"
# (fixture, weight): mostly correct or nearly correct work, some bugs, a few broken ones.
MIX = [
    ("correct_reference", 8),
    ("correct_logsumexp", 4),
    ("bug_svm_no_max", 3),
    ("bug_softmax_no_shift", 3),
    ("bug_svm_grad_no_reg", 3),
    ("bug_mutates_x_inplace", 2),
    ("bug_svm_vec_python_loop", 2),
    ("bug_half_reg_convention", 2),
    ("stub", 1),
    (None, 1),  # no losses.py at all
]


def graded_samples(scratch: Path) -> list[tuple[SubmissionResult, int]]:
    plan = prepare(load_course(ROOT / "grading.yaml").assignment("linear_classifiers"))
    samples = []
    for name, weight in MIX:
        folder = CORPUS / name if name else scratch / "empty"
        folder.mkdir(exist_ok=True)
        samples.append((grade_submission(plan, name or "empty", folder), weight))
    return samples


def build_class(out: Path, samples: list[tuple[SubmissionResult, int]], size: int) -> None:
    rng = random.Random(231)
    results = [r for r, _ in samples]
    weights = [w for _, w in samples]
    for i in range(size):
        base = rng.choices(results, weights)[0]
        clone = dataclasses.replace(
            base,
            student=f"s{i:04d}_{base.student}",
            seconds=base.seconds * rng.uniform(0.7, 1.5),
            meta=dict(base.meta),
        )
        write_record(out, clone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300, help="submissions in the class")
    parser.add_argument("--repeat", type=int, default=1, help="timed rebuilds (best is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        samples = graded_samples(Path(tmp))
        build_class(out, samples, args.size)
        print(
            f"class: {args.size} records cloned from {len(samples)} graded fixtures "
            f"({time.perf_counter() - started:.1f} s to grade and store)"
        )
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            paths = rebuild_reports(out)
            times.append(time.perf_counter() - started)
        size_kb = paths.report.stat().st_size / 1024
        pages_kb = sum(p.stat().st_size for p in paths.students.values()) / 1024
        heat = "with" if args.size <= HEATMAP_MAX_STUDENTS else "without"
        print(
            f"rebuild_reports: {min(times):.2f} s for {len(paths.students)} feedback pages "
            f"({pages_kb:.0f} KiB) and report.html ({size_kb:.0f} KiB, {heat} heat map)"
        )


if __name__ == "__main__":
    main()
