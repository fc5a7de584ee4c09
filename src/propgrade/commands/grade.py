"""``propgrade grade``: a folder of submissions, on this machine or a Dask cluster, or an
nbgrader course; then the score table, the feedback pages and the class report."""

from __future__ import annotations

import argparse
import contextlib
import os
import textwrap
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from propgrade.batch import discover, grade_batch
from propgrade.commands.common import course_assignment
from propgrade.config import CONFIG_NAME
from propgrade.engine.grading import prepare
from propgrade.engine.results import SubmissionResult, format_points
from propgrade.engine.standing import Standing
from propgrade.errors import PropgradeError
from propgrade.intake.student_ids import terminal
from propgrade.isolation import FULL, GAPS
from propgrade.sandbox.layer_choice import default_layer

if TYPE_CHECKING:
    from propgrade.integrations.dask_cluster import DaskCluster


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``grade SUBMISSIONS --assignment NAME --out OUT`` and its options."""
    grade = sub.add_parser(
        "grade",
        help="grade a folder of submissions (one subfolder per student)",
        description="Grade every student folder in SUBMISSIONS and write OUT/grades.csv and "
        "OUT/<student>/results.json (Gradescope's schema).",
        epilog="examples:\n"
        "  propgrade grade examples/submissions --assignment linear_classifiers --out out/demo\n"
        "  propgrade grade --nbgrader course/ --assignment linear_classifiers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument(
        "submissions",
        type=Path,
        nargs="?",
        help="folder with one subfolder per student (not with --nbgrader)",
    )
    grade.add_argument(
        "--nbgrader",
        type=Path,
        metavar="COURSE_DIR",
        help="grade an nbgrader course's submitted/ folder into its gradebook instead",
    )
    grade.add_argument(
        "--assignment", "-a", required=True, help="assignment name in the course file"
    )
    grade.add_argument(
        "--notebook",
        metavar="NAME",
        help="with --nbgrader: the notebook whose grade cells the checks become, one the "
        "students submit (default: the assignment's only notebook)",
    )
    grade.add_argument(
        "--out", "-o", type=Path, help="output folder (with --nbgrader: default inside the course)"
    )
    grade.add_argument(
        "--jobs",
        "-j",
        type=int,
        help="submissions graded in parallel (default: number of CPUs, at most 8; "
        "not with --dask, whose workers set the parallelism)",
    )
    grade.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a Dask cluster instead of --jobs: a scheduler address "
        "(tcp://host:8786) or local:N for a LocalCluster of N worker processes; needs "
        "pip install 'propgrade[dask]'",
    )
    grade.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )
    grade.add_argument(
        "--student",
        dest="students",
        action="append",
        metavar="ID",
        help="grade only this student (repeatable); everyone else's results, pages and "
        "gradebook rows stay as they are, and grades.csv still lists everyone",
    )
    grade.add_argument(
        "--force-feedback",
        action="store_true",
        help="with --nbgrader: replace feedback pages that propgrade did not write (nbgrader "
        "generate_feedback's, with hand scores and comments); default: keep them and warn",
    )
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress and no table")
    grade.add_argument(
        "--allow-reduced",
        action="store_true",
        help="grade even where only the reduced sandbox layer works (no bubblewrap, or not "
        "root): student code can then read every file the grader can, solutions included "
        "(default: refuse)",
    )
    grade.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="grade every submission again, even those already graded with the same file, "
        "config, graders and propgrade version (default: skip them)",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.dask is not None and args.jobs is not None:
        # The cluster grades as many submissions at once as it has worker threads: a
        # --jobs that changed nothing would mislead whoever tunes it.
        raise PropgradeError(
            "--jobs sets the local pool of grading processes and has no effect with --dask",
            hint="drop --jobs; for more parallelism give the cluster more workers "
            "(--dask local:N, or more dask workers)",
        )
    if args.jobs is None:
        args.jobs = min(os.cpu_count() or 1, 8)
    if args.jobs < 1:
        raise PropgradeError(f"--jobs must be at least 1, got {args.jobs}")
    if args.nbgrader is not None:
        if args.dask is not None:
            raise PropgradeError("--dask grades a SUBMISSIONS folder, not --nbgrader")
        return _cmd_grade_nbgrader(args, out, err)
    if args.notebook is not None:
        raise PropgradeError("--notebook applies only with --nbgrader COURSE_DIR")
    if args.force_feedback:
        raise PropgradeError(
            "--force-feedback applies only with --nbgrader COURSE_DIR",
            hint="a folder's OUT/<student>/feedback.html is always propgrade's own",
        )
    if args.submissions is None or args.out is None:
        raise PropgradeError(
            "grade needs a SUBMISSIONS folder and --out (or --nbgrader COURSE_DIR)",
            hint="e.g. propgrade grade submissions/ --assignment NAME --out out/",
        )
    assignment = course_assignment(args.config, args.assignment)
    submissions = discover(args.submissions, assignment.graded_file)
    if not args.quiet:
        print(f"preparing {assignment.name}: {len(assignment.checks)} checks", file=err)
    plan = prepare(assignment)
    progress = _progress_printer(args.quiet, err)
    with contextlib.ExitStack() as stack:
        grader = None
        sandbox = plan.layer.describe() if plan.layer else ""
        if args.dask is not None:
            memory_mb = plan.limits.grader_memory_mb
            cluster = stack.enter_context(_dask_cluster(args.dask, err, memory_mb))
            _check_layer(cluster.sandbox, args.allow_reduced)
            cluster.check_workers(plan)
            grader, sandbox = cluster.grade, cluster.describe()
        else:
            _check_layer(plan.layer.name if plan.layer else "", args.allow_reduced)
        if not args.quiet or not sandbox.startswith(f"{FULL}:"):
            # Always said when the full layer is missing: a silent fallback is how a
            # course ends up graded unprotected.
            print(f"sandbox: {sandbox or 'default'}", file=err)
        report = grade_batch(
            plan,
            submissions,
            args.out,
            jobs=args.jobs,
            resume=args.resume,
            progress=progress,
            only=args.students,
            grader=grader,
        )
    if not args.quiet:
        print_table(report.graded, report.standings, out)
        print(
            f"graded {len(report.graded)} submissions in {report.seconds:.1f}s; "
            f"grades in {report.grades_csv}",
            file=out,
        )
    audience = _page_audience(assignment.due)
    write_reports(args.out, report.results, sandbox, report.standings, report.left_alone, audience)
    if not args.quiet:
        print(
            f"feedback pages in {args.out}/<student>/feedback.html; "
            f"class report in {args.out / 'report.html'}",
            file=out,
        )
    for warning in report.warnings:
        print(f"warning: {terminal(warning)}", file=err)
    if report.reused and not args.quiet:
        print(f"{report.reused} unchanged submissions kept from the previous run", file=out)
    return _internal_errors(report.results, err)


def _cmd_grade_nbgrader(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.integrations.nbgrader_course import grade_nbgrader_course

    if args.submissions is not None:
        raise PropgradeError("give either a SUBMISSIONS folder or --nbgrader COURSE_DIR, not both")
    layer = default_layer()
    _check_layer(layer.name, args.allow_reduced)
    if not args.quiet or layer.name != FULL:
        print(f"sandbox: {layer.describe()}", file=err)
    report = grade_nbgrader_course(
        args.nbgrader,
        args.assignment,
        config=args.config,
        notebook=args.notebook,
        out=args.out,
        jobs=args.jobs,
        resume=args.resume,
        progress=_progress_printer(args.quiet, err),
        step=None if args.quiet else lambda what: print(f"{what}...", file=err, flush=True),
        only=args.students,
        force_feedback=args.force_feedback,
        layer=layer,
    )
    results = [s.result for s in report.students]
    standings = {s.student: s.standing for s in report.students}
    graded = [r for r in results if r.student not in report.left_alone]
    audience = _page_audience(report.due)
    write_reports(report.out, results, report.sandbox, standings, report.left_alone, audience)
    if not args.quiet:
        print_table(graded, standings, out)
        print(
            f"grades written to the nbgrader gradebook {report.db_url}, as grade cells of "
            f"the notebook {report.notebook!r}; formgrader shows them in autograded/, and "
            "feedback/ is ready for `nbgrader release_feedback`",
            file=out,
        )
        print(f"class report in {report.out / 'report.html'}", file=out)
    for warning in report.warnings:
        print(f"warning: {terminal(warning)}", file=err)
    return _internal_errors(results, err)


def _check_layer(layer: str, allow_reduced: bool) -> None:
    """Refuse to grade a class under the reduced layer unless the instructor said so."""
    if layer == FULL or allow_reduced:
        return
    raise PropgradeError(
        f"only the {layer} sandbox layer works here, which {GAPS.get(layer, 'is weaker')}; "
        "a batch is not graded under it unless you ask",
        hint="install bubblewrap and grade as root for the full layer (`apt-get install "
        "bubblewrap`; `propgrade doctor` says what is missing), or pass --allow-reduced to "
        "grade under the reduced layer anyway",
    )


def _internal_errors(results: Sequence[SubmissionResult], err: TextIO) -> int:
    flagged = [r for r in results if "internal_error" in r.meta]
    if not flagged:
        return 0
    for r in flagged:
        checks = r.internal_error_checks
        if r.error or len(checks) == len(r.checks):
            print(f"error: grading {terminal(r.student)} hit an internal grader error", file=err)
        else:
            print(
                f"error: grading {terminal(r.student)} hit an internal grader error in check(s) "
                f"{', '.join(checks)}",
                file=err,
            )
    print(
        f"hint: {len(flagged)} submission(s) were not fully graded (grades.csv leaves those "
        "cells blank); their propgrade.json holds the traceback. Fix the cause and rerun: "
        "finished submissions are kept.",
        file=err,
    )
    return 3


def _progress_printer(
    quiet: bool, err: TextIO
) -> Callable[[int, int, SubmissionResult, bool], None]:
    def progress(done: int, total: int, result: SubmissionResult, reused: bool) -> None:
        if not quiet:
            how = "unchanged, kept" if reused else f"{result.seconds:.1f}s"
            print(
                f"[{done}/{total}] {terminal(result.student)}: "
                f"{result.score:g}/{result.max_score:g} ({how})",
                file=err,
                flush=True,
            )

    return progress


@contextlib.contextmanager
def _dask_cluster(address: str, err: TextIO, memory_mb: int) -> Iterator[DaskCluster]:
    """The cluster, connected; a refusing worker's own report is printed before the error."""
    from propgrade.integrations.dask_cluster import DaskCluster, WorkerRefused

    try:
        with DaskCluster(address, memory_mb=memory_mb) as cluster:
            yield cluster
    except WorkerRefused as exc:
        if exc.detail:
            print(f"the refusing worker reports:\n{exc.detail.rstrip()}", file=err)
        raise


def write_reports(
    out: Path,
    results: Sequence[SubmissionResult],
    sandbox: str,
    standings: Mapping[str, Standing],
    left_alone: Collection[str] = (),
    audience: str = "student",
) -> None:
    """Every student's page but those of ``left_alone``, and the class report of all."""
    from propgrade.reports import write_class_report, write_student_page

    for result in results:
        if result.student not in left_alone:
            standing = standings.get(result.student)
            write_student_page(out, result, audience=audience, standing=standing)
    write_class_report(out, list(results), sandbox=sandbox, standings=standings)


def _page_audience(due: datetime | None) -> str:
    """Past the due date a page shows the after-due checks, hence the whole final score."""
    from propgrade.reports.visibility import RELEASED, STUDENT

    if due is not None and datetime.now(UTC) >= due:
        return RELEASED
    return STUDENT


def _score_text(result: SubmissionResult, standing: Standing | None) -> str:
    if standing is None:
        return f"{result.score:>5g}/{result.max_score:<5g}"
    return f"{format_points(standing.final):>5g}/{format_points(standing.max_score):<5g}"


def _late_note(standing: Standing | None) -> str:
    # The same numbers as grades.csv: raw score, penalty, and the final score shown.
    if standing is None or not standing.penalty:
        return ""
    return (
        f"late: {format_points(standing.raw):g} − {format_points(standing.penalty):g} "
        f"({standing.lateness.describe()}); "
    )


def print_table(
    results: Sequence[SubmissionResult], standings: Mapping[str, Standing], out: TextIO
) -> None:
    names = {r.student: terminal(r.student) for r in results}
    width = max([len("student"), *(len(name) for name in names.values())])
    print(f"{'student':<{width}}  {'score':>11}  failed checks / problem", file=out)
    for r in results:
        failed = [c.id for c in r.checks if not c.passed]
        if r.error:
            note = textwrap.shorten(r.error.splitlines()[0], 100, placeholder=" …")
        elif failed:
            note = ", ".join(failed[:3]) + (
                f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
            )
        else:
            note = "all checks passed"
        if r.meta.get("review"):
            note = f"REVIEW BY HAND ({r.meta['review'][0]}); {note}"
        name = names[r.student]
        standing = standings.get(r.student)
        score = _score_text(r, standing)
        print(f"{name:<{width}}  {score}  {terminal(_late_note(standing) + note)}", file=out)
    graded = [r for r in results if not r.error]
    if not graded:
        return
    passed: dict[str, int] = {}
    for r in graded:
        for c in r.checks:
            passed[c.id] = passed.get(c.id, 0) + int(c.passed)
    weakest = sorted(passed.items(), key=lambda item: (item[1], item[0]))[:5]
    if weakest and weakest[0][1] < len(graded):
        rates = ", ".join(f"{cid} {count}/{len(graded)}" for cid, count in weakest)
        print(f"weakest checks (passed / graded): {rates}", file=out)
