"""How strong are an assignment's checks? Grade the reference, do-nothing baselines and
mutants of the reference as one batch of submissions, the way students are graded.

Everything written from the reference is student-like code: it goes through the batch
engine, intake and the sandboxed worker like any submission, and the cases are drawn
once (``prepare``) for all of them. A mutant no check kills is then run against the
reference on random full-precision inputs, again in the sandbox: if it agrees, it is
*probably equivalent* rather than a gap in the checks.
"""

from __future__ import annotations

import ast
import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from propgrade.batch import Progress, Submission, grade_batch
from propgrade.config import AssignmentConfig
from propgrade.engine.checks import Check
from propgrade.engine.grading import Plan, prepare
from propgrade.engine.loading import load_reference
from propgrade.engine.results import SubmissionResult
from propgrade.errors import ConfigError
from propgrade.sandbox.calls import Call
from propgrade.selftest.baselines import (
    GUESSED,
    generate_baselines,
    observed_returns,
    zero_returns_of,
)
from propgrade.selftest.equivalence import EquivalenceCase, equivalence_cases, equivalence_plan
from propgrade.selftest.fixtures import (
    FixtureOutcome,
    corpus_warnings,
    expectation_problems,
    fixture_folders,
    load_expect,
)
from propgrade.selftest.mutants import Mutant, generate_mutants, hand_written_mutants
from propgrade.selftest.recording import record_calls
from propgrade.selftest.results import (
    ACCEPTED,
    EQUIVALENT,
    KILLED,
    SURVIVED,
    BaselineOutcome,
    MutantOutcome,
    SelftestReport,
)

REFERENCE = "reference"
FIXTURE_PREFIX = "fixture-"

Step = Callable[[str], None]


def _write(folder: Path, name: str, graded_file: str, source: str) -> Submission:
    (folder / name).mkdir(parents=True)
    (folder / name / graded_file).write_text(source, encoding="utf-8")
    return Submission(name, folder / name)


def _failed_alone(result: SubmissionResult) -> tuple[str, ...]:
    return tuple(
        c.id
        for c in result.checks
        if not c.passed and (c.feedback is None or not c.feedback.blocked_by)
    )


def run_selftest(
    assignment: AssignmentConfig,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    step: Step | None = None,
) -> SelftestReport:
    """Grade the reference, the baselines and every mutant; classify the mutants."""
    started = time.monotonic()
    ref_file = assignment.reference_file
    if ref_file is None or not ref_file.is_file():
        raise ConfigError(
            f"{assignment.source}: assignments.{assignment.name}.solution: "
            "selftest needs the reference solution",
            hint="set 'solution:' to the folder holding the reference",
        )
    source = ref_file.read_text(encoding="utf-8")
    settings = assignment.selftest
    hand_written = hand_written_mutants(assignment.mutants_dir)
    mutants = generate_mutants(source, assignment.functions) + hand_written
    say = step or (lambda _: None)
    say(f"drawing the cases of {len(assignment.checks)} checks")
    plan = prepare(assignment)
    module = load_reference(ref_file)
    calls = record_calls(plan, module)
    observed = observed_returns(
        module, (c for made in calls.values() for c in made), assignment.functions
    )
    baselines = generate_baselines(source, ref_file, settings.zero_returns, observed)
    graded_file = assignment.graded_file
    fixtures = fixture_folders(assignment.fixtures_dir)
    expects = {folder.name: load_expect(folder) for folder in fixtures}
    counter = _Counter(1 + len(baselines) + len(fixtures) + len(mutants), progress)
    with tempfile.TemporaryDirectory(prefix="propgrade-selftest-") as tmp:
        work = Path(tmp)
        subs = [_write(work / "in", REFERENCE, graded_file, source)]
        subs += [
            _write(work / "in", f"baseline-{b.name}", graded_file, b.source) for b in baselines
        ]
        # Fixtures are graded where they are, like any student's folder.
        subs += [Submission(FIXTURE_PREFIX + folder.name, folder) for folder in fixtures]
        # A hand-written mutant may change any function: every check grades it.
        subs += [_write(work / "in", m.id, graded_file, m.source) for m in hand_written]
        say(
            f"grading the reference, {len(baselines)} baselines, {len(fixtures)} fixtures "
            f"and {len(mutants)} mutants"
        )
        results = _grade(plan, subs, work / "graded", jobs, counter)
        for function, checks in _checks_per_function(plan, calls, source).items():
            # A check that never calls the edited function (nor a function calling it)
            # passes on the mutant exactly as on the reference: only the others are run.
            group = [
                _write(work / "in", m.id, graded_file, m.source)
                for m in mutants
                if m.function == function
            ]
            if group:
                sub_plan = dataclasses.replace(plan, checks=checks)
                results.update(_grade(sub_plan, group, work / "graded", jobs, counter))
        outcomes = _classify(mutants, results, [c.id for c in plan.checks])
        alive = [o for o in outcomes if o.status == SURVIVED]
        if alive:
            say(f"testing {len(alive)} surviving mutants for equivalence on random inputs")
            cases = equivalence_cases(
                calls,
                assignment.functions,
                module,
                settings.equivalence_inputs,
                assignment.hypothesis.seed,
            )
            outcomes = _equivalence(plan, cases, outcomes, alive, work, jobs, progress)
    outcomes = _accept(outcomes, settings.accepted)
    report = SelftestReport(
        assignment=assignment.name,
        checks=[c.id for c in plan.checks],
        reference=results[REFERENCE],
        baselines=[
            BaselineOutcome(
                b.name,
                b.description,
                results[f"baseline-{b.name}"].score,
                results[f"baseline-{b.name}"].max_score,
                settings.baseline_limit,
                tuple(c.id for c in results[f"baseline-{b.name}"].checks if c.passed),
            )
            for b in baselines
        ],
        mutants=outcomes,
        threshold=settings.mutation_threshold,
        jobs=jobs,
        fixtures=[
            FixtureOutcome(
                folder.name,
                folder,
                tuple(
                    expectation_problems(
                        expects[folder.name],
                        results[FIXTURE_PREFIX + folder.name],
                        [c.id for c in plan.checks],
                    )
                ),
            )
            for folder in fixtures
        ],
    )
    report.warnings += corpus_warnings(fixtures, graded_file)
    if not fixtures:
        report.warnings.append(
            f"no fixtures in {assignment.fixtures_dir}: known-good and known-bad submissions "
            "with an expect.yaml each are what shows the checks grade as meant"
        )
    guessed = [
        fn
        for fn, z in zero_returns_of(source, settings.zero_returns, observed).items()
        if z.origin == GUESSED and fn in assignment.functions
    ]
    report.warnings += [
        f"the zeros baseline of {fn} returns a guessed scalar 0.0 per value: neither "
        "grading.yaml (selftest.zero_returns), its docstring nor the reference's returns "
        "give a shape"
        for fn in guessed
    ]
    known = {m.id for m in mutants}
    report.warnings += [
        f"selftest.accepted lists {mid}, which is not a mutant of the reference any more"
        for mid in settings.accepted
        if mid not in known
    ]
    report.warnings += [
        f"mutant {o.mutant.id} ({o.mutant.diff}) made the grader fail: {o.note}"
        for o in outcomes
        if o.note.startswith("grader error")
    ]
    report.seconds = time.monotonic() - started
    return report


class _Counter:
    """Progress over several batches, counted as one."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress

    def __call__(self, done: int, total: int, result: SubmissionResult, reused: bool) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, result, reused)


def _grade(
    plan: Plan, subs: list[Submission], out: Path, jobs: int, counter: _Counter
) -> dict[str, SubmissionResult]:
    batch = grade_batch(plan, subs, out, jobs=jobs, resume=False, progress=counter)
    return {r.student: r for r in batch.results}


def callers(source: str, functions: Sequence[str]) -> dict[str, set[str]]:
    """For each function, itself and every function of ``source`` that calls it, directly
    or through others: a mutant of one changes what all of them return."""
    tree = ast.parse(source)
    calls: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            calls[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    affected = {f: {f} for f in functions}
    for f in functions:
        grew = True
        while grew:
            more = {g for g, names in calls.items() if names & affected[f]} - affected[f]
            affected[f] |= more
            grew = bool(more)
    return affected


def _checks_per_function(
    plan: Plan, calls: dict[str, list[Call]], source: str
) -> dict[str, list[Check]]:
    affected = callers(source, plan.assignment.functions)
    return {
        f: [c for c in plan.checks if any(call.function in names for call in calls[c.id])]
        for f, names in affected.items()
    }


def _classify(
    mutants: Sequence[Mutant], results: dict[str, SubmissionResult], check_ids: list[str]
) -> list[MutantOutcome]:
    outcomes = []
    for m in mutants:
        result = results[m.id]
        run = {c.id: c.passed for c in result.checks}
        # checks that were not run pass, as they do on the reference
        passed = tuple(cid for cid in check_ids if run.get(cid, True))
        note = ""
        if "internal_error" in result.meta:
            note = "grader error in " + ", ".join(result.internal_error_checks)
        if result.error or not all(run.values()):
            outcomes.append(MutantOutcome(m, KILLED, _failed_alone(result), passed, note))
        else:
            outcomes.append(MutantOutcome(m, SURVIVED, (), passed, note))
    return outcomes


def _equivalence(
    plan: Plan,
    cases: list[EquivalenceCase],
    outcomes: list[MutantOutcome],
    alive: list[MutantOutcome],
    work: Path,
    jobs: int,
    progress: Progress | None,
) -> list[MutantOutcome]:
    if not cases:
        return outcomes
    eq_plan = equivalence_plan(plan, cases)
    subs = [Submission(o.mutant.id, work / "in" / o.mutant.id) for o in alive]
    batch = grade_batch(
        eq_plan, subs, work / "equivalence", jobs=jobs, resume=False, progress=progress
    )
    verdicts = {r.student: r for r in batch.results}
    updated = []
    for o in outcomes:
        verdict = verdicts.get(o.mutant.id)
        if verdict is None:
            updated.append(o)
        elif verdict.score == verdict.max_score:
            note = f"agrees with the reference on {len(cases)} random full-precision inputs"
            updated.append(MutantOutcome(o.mutant, EQUIVALENT, (), o.passed, note))
        else:
            why = verdict.checks[0].feedback
            detail = why.message if why is not None else "differs from the reference"
            updated.append(MutantOutcome(o.mutant, SURVIVED, (), o.passed, detail))
    return updated


def _accept(outcomes: list[MutantOutcome], accepted: Mapping[str, str]) -> list[MutantOutcome]:
    out = []
    for o in outcomes:
        if o.status in (SURVIVED, EQUIVALENT) and o.mutant.id in accepted:
            reason = accepted[o.mutant.id] or "accepted in grading.yaml"
            out.append(MutantOutcome(o.mutant, ACCEPTED, (), o.passed, reason))
        else:
            out.append(o)
    return out
