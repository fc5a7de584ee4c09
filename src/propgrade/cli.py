"""The ``propgrade`` command. The only module that prints."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import propgrade
from propgrade.authoring.release import release
from propgrade.batch import discover, grade_batch
from propgrade.config import (
    CONFIG_NAME,
    RELEASED_CONFIG_NAME,
    AssignmentConfig,
    find_course_config,
    load_course,
    load_released,
)
from propgrade.doctor import diagnose, render
from propgrade.engine.grading import prepare
from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing
from propgrade.errors import PropgradeError
from propgrade.export import format_points
from propgrade.intake.notebook import collapse_notes
from propgrade.intake.student_ids import terminal
from propgrade.intake.submission import grade_notebook, grade_upload
from propgrade.isolation import FULL, GAPS
from propgrade.sandbox.layer_choice import default_layer
from propgrade.selftest.results import SelftestReport

if TYPE_CHECKING:
    from propgrade.integrations.dask_cluster import DaskCluster

EPILOG = """\
examples:
  propgrade grade examples/submissions --assignment linear_classifiers --out out/demo
  propgrade grade submissions/ --assignment linear_classifiers --out out/ --jobs 4
  propgrade grade submissions/ --assignment linear_classifiers --out out/ --dask local:2
  propgrade similarity submissions/ --assignment linear_classifiers --out out/
  propgrade release linear_classifiers
  cd assignments/linear_classifiers && propgrade check
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="propgrade",
        description="Property-based autograding for numerical exercises.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"propgrade {propgrade.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    check = sub.add_parser(
        "check",
        help="run the public checks on your own work (students)",
        description="Run the public checks of a released assignment against your graded "
        "file and show the smallest failing input for every failed check.",
        epilog="example:\n  cd assignments/linear_classifiers && propgrade check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("."),
        help=f"the assignment folder (with {RELEASED_CONFIG_NAME}) or your graded file; "
        "default: the current folder",
    )

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

    st = sub.add_parser(
        "selftest",
        help="measure how strong an assignment's checks are (reference, baselines, mutants)",
        description="Grade the reference (it must get full marks), do-nothing baselines (each "
        "must stay under selftest.baseline_limit) and one-edit mutants of the reference's "
        "solution regions (at least selftest.mutation_threshold of the non-equivalent ones "
        "must fail a check), all in the sandbox like submissions. Writes OUT/selftest.html. "
        "Exit status 1 when any of the three falls short.",
        epilog="example:\n  propgrade selftest linear_classifiers --jobs 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument("assignment", help="assignment name in the course file")
    st.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for selftest.html (default: out/selftest/ASSIGNMENT)",
    )
    st.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        help="submissions graded in parallel (default: number of CPUs)",
    )
    st.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )
    st.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    doc = sub.add_parser(
        "doctor",
        help="show which sandbox layer grading uses here, and how to get the full one",
        description="Probe this machine: bubblewrap, namespaces, uid drop, numpy in the "
        "worker. Exit status 0 when the full sandbox layer is active, 1 otherwise. With "
        "--dask, ask every worker of that cluster instead: its sandbox layer, versions and "
        "course fingerprint; exit status 0 when every worker would grade like this machine.",
    )
    doc.add_argument("--dask", metavar="ADDRESS", help="a Dask scheduler address, or local:N")
    doc.add_argument(
        "--config",
        "-c",
        type=Path,
        help=f"with --dask: the course file to compare (default: nearest {CONFIG_NAME})",
    )

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
    return parser


def _course_assignment(config: Path | None, name: str) -> AssignmentConfig:
    path = config or find_course_config(Path.cwd())
    if path is None:
        raise PropgradeError(
            f"no {CONFIG_NAME} found in {Path.cwd()} or its parents",
            hint=f"run from the course folder or pass --config path/to/{CONFIG_NAME}",
        )
    return load_course(path).assignment(name)


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
        _print_table(graded, standings, out)
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


def _cmd_grade(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
    assignment = _course_assignment(args.config, args.assignment)
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
        _print_table(report.graded, report.standings, out)
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


def _print_table(
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


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path: Path = args.path.resolve()
    folder = path.parent if path.is_file() else path
    if not (folder / RELEASED_CONFIG_NAME).is_file():
        raise PropgradeError(
            f"{folder}: no {RELEASED_CONFIG_NAME} here",
            hint="run propgrade check inside the released assignment folder",
        )
    assignment = load_released(folder)
    notebook = path.is_file() and path.suffix == ".ipynb"
    if path.is_file() and not notebook and path.name != assignment.graded_file:
        raise PropgradeError(
            f"{path}: the graded file of {assignment.name} is {assignment.graded_file} "
            "(or a notebook holding its functions)"
        )
    graded = path.name if notebook else assignment.graded_file
    print(f"running the public checks of {assignment.name} on {graded}", file=err)
    plan = prepare(assignment, public_only=True)
    if plan.layer is not None and plan.layer.name != FULL:
        print(f"sandbox: {plan.layer.describe()}", file=err)
    # A notebook is graded alone: the released stub next to it must not be picked instead.
    grade = grade_notebook if notebook else grade_upload
    result = grade(plan, "you", path if notebook else folder)
    _print_check(result, out)
    return 0 if all(c.passed for c in result.checks) else 1


def _print_check(result: SubmissionResult, out: TextIO) -> None:
    # Imported here like every reports module: the CLI starts without loading them.
    from propgrade.reports.hints import hint_for

    if result.error:
        # A traceback keeps its lines; each line is cleaned of control characters.
        first, *rest = result.error.splitlines() or [""]
        print(f"error: {terminal(first)}", file=out)
        for line in rest:
            print(f"       {terminal(line)}", file=out)
    for note in collapse_notes([str(n) for n in result.meta.get("intake_notes", [])]):
        print(f"note: {terminal(note)}", file=out)
    passed = 0
    waiting: list[str] = []
    first_with: dict[tuple[str, str], str] = {}
    for c in result.checks:
        if c.passed:
            passed += 1
            print(f"passed  {c.id}", file=out)
            continue
        feedback = c.feedback
        if feedback is not None and feedback.blocked_by and not feedback.internal_error:
            # Not counted yet: one line each here, the explanation once below.
            waiting.append(c.id)
            print(f"waiting {c.id} (needs {feedback.blocked_by})", file=out)
            continue
        print(f"FAILED  {c.id}: {c.sentence}", file=out)
        if feedback is None or result.error:
            continue
        # One exception fails many checks: its traceback is shown once, not per check.
        same = (feedback.message, feedback.traceback)
        if feedback.traceback and same in first_with:
            print(f"        {feedback.message} (as in {first_with[same]})", file=out)
            continue
        first_with.setdefault(same, c.id)
        for line in feedback.render().splitlines():
            print(f"        {line}", file=out)
        # The hint the feedback page and results.json show for this check.
        hint = hint_for(c)
        if hint is not None:
            print(f"        Hint: {hint}", file=out)
    failed = len(result.checks) - passed - len(waiting)
    if waiting:
        print(
            f"Not counted yet: {len(waiting)} check(s) marked waiting, each until the check "
            "it needs passes; fix that one and they are graded.",
            file=out,
        )
    counted = f", {len(waiting)} not counted yet" if waiting else ""
    print(f"{passed} passed, {failed} failed{counted}", file=out)


def _cmd_release(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    assignment = _course_assignment(args.config, args.assignment)
    target = release(assignment, args.out.resolve() if args.out else None)
    print(f"released {assignment.name} to {target}", file=out)
    return 0


def _cmd_new(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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


def _cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.reports import rebuild_reports

    paths = rebuild_reports(args.out, audience=args.audience)
    for record in paths.unreadable:
        print(f"warning: {record}: unreadable, skipped", file=err)
    print(f"wrote {len(paths.students)} feedback pages and {paths.report}", file=out)
    return 0


def _cmd_gradescope(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.integrations.gradescope import build_gradescope_bundle

    assignment = _course_assignment(args.config, args.assignment)
    path = build_gradescope_bundle(assignment, args.out.resolve())
    print(f"wrote the Gradescope autograder bundle {path}", file=out)
    return 0


def _cmd_selftest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.reports.selftest_page import write_selftest_page
    from propgrade.selftest.run import run_selftest

    if args.jobs < 1:
        raise PropgradeError(f"--jobs must be at least 1, got {args.jobs}")
    assignment = _course_assignment(args.config, args.assignment)
    folder = args.out or Path("out") / "selftest" / assignment.name

    def step(what: str) -> None:
        if not args.quiet:
            print(f"{what}...", file=err, flush=True)

    def progress(done: int, total: int, result: SubmissionResult, reused: bool) -> None:
        if not args.quiet and (done == total or done % 25 == 0):
            print(f"[{done}/{total}]", file=err, flush=True)

    report = run_selftest(assignment, jobs=args.jobs, progress=progress, step=step)
    page = write_selftest_page(folder, report)
    _print_selftest(report, out)
    print(f"report in {page}", file=out)
    for warning in report.warnings:
        print(f"warning: {terminal(warning)}", file=err)
    for reason in report.failures:
        print(f"error: {terminal(reason)}", file=err)
    return 0 if report.ok else 1


def _print_selftest(report: SelftestReport, out: TextIO) -> None:
    ref = report.reference
    print(
        f"selftest of {report.assignment} ({report.seconds:.0f}s, --jobs {report.jobs})", file=out
    )
    print(f"reference: {ref.score:g}/{ref.max_score:g}", file=out)
    for b in report.baselines:
        flag = "  OVER THE LIMIT" if b.over_limit else ""
        print(
            f"baseline {b.name}: {b.score:g}/{b.max_score:g} ({b.fraction:.0%}, "
            f"limit {b.limit:.0%}){flag}",
            file=out,
        )
    counted = len(report.killed) + len(report.survivors)
    print(
        f"mutants: {len(report.mutants)}, killed {len(report.killed)} of {counted} "
        f"non-equivalent = {report.mutation_score:.1%} (threshold {report.threshold:.0%}); "
        f"{len(report.equivalent)} probably equivalent or accepted",
        file=out,
    )
    for m in report.survivors:
        print(f"  survivor {m.mutant.id} in {m.mutant.function}: {m.mutant.diff}", file=out)
        if m.note:
            print(f"    {m.note}", file=out)
        print(f"    passed all {len(m.passed)} checks: {', '.join(m.passed)}", file=out)
    idle = report.checks_without_unique_kills
    if idle:
        print(
            f"checks that kill no mutant on their own (candidates to drop, unless they guard "
            f"a mistake no mutant operator makes): {', '.join(idle)}",
            file=out,
        )


def _cmd_similarity(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.similarity import run_similarity
    from propgrade.similarity.sources import KNOWN

    assignment = _course_assignment(args.config, args.assignment)

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


def _cmd_doctor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.dask is not None:
        return _cmd_doctor_dask(args, out, err)
    if args.config is not None:
        raise PropgradeError("--config applies only with --dask ADDRESS")
    report = diagnose()
    print(render(report), file=out)
    return 0 if report.layer == "full" else 1


def _cmd_doctor_dask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.integrations.dask_cluster import DaskCluster, render_workers

    path = args.config or find_course_config(Path.cwd())
    plans = []
    if path is not None:
        plans = [prepare(a) for a in load_course(path).assignments.values()]
    with DaskCluster(args.dask) as cluster:
        if plans:
            reports = [cluster.identify_workers(plan) for plan in plans]
        else:
            reports = [cluster.identify_workers(None)]
        text, ok = render_workers(cluster.address, cluster.sandbox, plans, reports)
    print(text, file=out, end="")
    if path is None:
        print(f"note: no {CONFIG_NAME} found: course fingerprints not compared", file=err)
    return 0 if ok else 1


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
    commands = {
        "grade": _cmd_grade,
        "check": _cmd_check,
        "release": _cmd_release,
        "doctor": _cmd_doctor,
        "report": _cmd_report,
        "gradescope": _cmd_gradescope,
        "selftest": _cmd_selftest,
        "new": _cmd_new,
        "similarity": _cmd_similarity,
    }
    try:
        return commands[args.command](args, out, err)
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
