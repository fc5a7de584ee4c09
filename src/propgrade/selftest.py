"""How strong are an assignment's checks? Grade the reference, do-nothing baselines and
mutants of the reference as one batch of submissions, the way students are graded.

Everything written from the reference is student-like code: it goes through the batch
engine, intake and the sandboxed worker like any submission, and the cases are drawn
once (``prepare``) for all of them. A mutant no check kills is then run against the
reference on random full-precision inputs, again in the sandbox: if it agrees, it is
*probably equivalent* rather than a gap in the checks.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from propgrade.baselines import generate_baselines
from propgrade.batch import Progress, Submission, grade_batch
from propgrade.config import AssignmentConfig
from propgrade.engine import Plan, prepare
from propgrade.equivalence import equivalence_cases, equivalence_plan
from propgrade.errors import ConfigError
from propgrade.loading import load_reference
from propgrade.mutants import Mutant, generate_mutants
from propgrade.results import SubmissionResult

REFERENCE = "reference"
KILLED = "killed"
SURVIVED = "survived"
EQUIVALENT = "probably equivalent"
ACCEPTED = "accepted"

Step = Callable[[str], None]


@dataclass(frozen=True)
class BaselineOutcome:
    name: str
    description: str
    score: float
    max_score: float
    limit: float
    passed_checks: tuple[str, ...]

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0

    @property
    def over_limit(self) -> bool:
        return self.fraction > self.limit


@dataclass(frozen=True)
class MutantOutcome:
    mutant: Mutant
    status: str
    killed_by: tuple[str, ...] = ()  # checks that failed on their own (not blocked)
    passed: tuple[str, ...] = ()
    note: str = ""  # why it is equivalent or accepted, or a grader error it caused


@dataclass
class SelftestReport:
    assignment: str
    checks: list[str]
    reference: SubmissionResult
    baselines: list[BaselineOutcome]
    mutants: list[MutantOutcome]
    threshold: float
    seconds: float = 0.0
    jobs: int = 1
    warnings: list[str] = field(default_factory=list)

    def _with(self, *statuses: str) -> list[MutantOutcome]:
        return [m for m in self.mutants if m.status in statuses]

    @property
    def killed(self) -> list[MutantOutcome]:
        return self._with(KILLED)

    @property
    def survivors(self) -> list[MutantOutcome]:
        return self._with(SURVIVED)

    @property
    def equivalent(self) -> list[MutantOutcome]:
        return self._with(EQUIVALENT, ACCEPTED)

    @property
    def mutation_score(self) -> float:
        counted = len(self.killed) + len(self.survivors)
        return len(self.killed) / counted if counted else 1.0

    def kills(self) -> dict[str, tuple[int, int]]:
        """Per check: mutants it kills, and those it alone kills."""
        total = dict.fromkeys(self.checks, 0)
        unique = dict.fromkeys(self.checks, 0)
        for m in self.killed:
            for cid in m.killed_by:
                total[cid] = total.get(cid, 0) + 1
            if len(m.killed_by) == 1:
                unique[m.killed_by[0]] = unique.get(m.killed_by[0], 0) + 1
        return {cid: (total[cid], unique.get(cid, 0)) for cid in total}

    @property
    def checks_without_unique_kills(self) -> list[str]:
        return [cid for cid, (_, unique) in self.kills().items() if unique == 0]

    @property
    def failures(self) -> list[str]:
        """Why selftest fails, one sentence each; empty when it passes."""
        reasons = []
        ref = self.reference
        if ref.error or ref.score < ref.max_score:
            lost = [c.id for c in ref.checks if not c.passed]
            reasons.append(
                f"the reference scores {ref.score:g}/{ref.max_score:g}"
                + (f": {ref.error}" if ref.error else f" (failed: {', '.join(lost)})")
            )
        for b in self.baselines:
            if b.over_limit:
                reasons.append(
                    f"baseline {b.name!r} ({b.description}) scores {b.score:g}/{b.max_score:g} "
                    f"= {b.fraction:.0%}, above the limit of {b.limit:.0%}"
                )
        if self.mutation_score < self.threshold:
            reasons.append(
                f"mutation score {self.mutation_score:.1%} is below the threshold "
                f"{self.threshold:.0%} ({len(self.survivors)} surviving mutants)"
            )
        return reasons

    @property
    def ok(self) -> bool:
        return not self.failures


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
    mutants = generate_mutants(source, assignment.functions)
    baselines = generate_baselines(source, ref_file, settings.zero_returns)
    say = step or (lambda _: None)
    say(f"drawing the cases of {len(assignment.checks)} checks")
    plan = prepare(assignment)
    graded_file = assignment.graded_file
    with tempfile.TemporaryDirectory(prefix="propgrade-selftest-") as tmp:
        work = Path(tmp)
        subs = [_write(work / "in", REFERENCE, graded_file, source)]
        subs += [
            _write(work / "in", f"baseline-{b.name}", graded_file, b.source) for b in baselines
        ]
        subs += [_write(work / "in", m.id, graded_file, m.source) for m in mutants]
        say(f"grading the reference, {len(baselines)} baselines and {len(mutants)} mutants")
        batch = grade_batch(plan, subs, work / "graded", jobs=jobs, resume=False, progress=progress)
        results = {r.student: r for r in batch.results}
        outcomes = _classify(mutants, results)
        alive = [o for o in outcomes if o.status == SURVIVED]
        if alive:
            say(f"testing {len(alive)} surviving mutants for equivalence on random inputs")
            outcomes = _equivalence(plan, assignment, outcomes, alive, work, jobs, progress)
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
    )
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


def _classify(
    mutants: Sequence[Mutant], results: dict[str, SubmissionResult]
) -> list[MutantOutcome]:
    outcomes = []
    for m in mutants:
        result = results[m.id]
        passed = tuple(c.id for c in result.checks if c.passed)
        note = ""
        if "internal_error" in result.meta:
            note = "grader error in " + ", ".join(result.internal_error_checks)
        if result.error or len(passed) < len(result.checks):
            outcomes.append(MutantOutcome(m, KILLED, _failed_alone(result), passed, note))
        else:
            outcomes.append(MutantOutcome(m, SURVIVED, (), passed, note))
    return outcomes


def _equivalence(
    plan: Plan,
    assignment: AssignmentConfig,
    outcomes: list[MutantOutcome],
    alive: list[MutantOutcome],
    work: Path,
    jobs: int,
    progress: Progress | None,
) -> list[MutantOutcome]:
    assert assignment.reference_file is not None
    module = load_reference(assignment.reference_file)
    cases = equivalence_cases(
        plan, module, assignment.selftest.equivalence_inputs, assignment.hypothesis.seed
    )
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
