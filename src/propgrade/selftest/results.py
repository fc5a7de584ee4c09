"""What ``propgrade selftest`` found, as plain data: built by ``propgrade.selftest.run``,
shown by the CLI and ``propgrade.reports.selftest_page``."""

from __future__ import annotations

from dataclasses import dataclass, field

from propgrade.engine.results import SubmissionResult
from propgrade.selftest.fixtures import FixtureOutcome
from propgrade.selftest.mutants import Mutant

KILLED = "killed"
SURVIVED = "survived"
EQUIVALENT = "probably equivalent"
ACCEPTED = "accepted"


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
    fixtures: list[FixtureOutcome] = field(default_factory=list)

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
        for f in self.fixtures:
            if not f.ok:
                reasons.append(f"fixture {f.name} ({f.folder}): {'; '.join(f.problems)}")
        if self.mutation_score < self.threshold:
            reasons.append(
                f"mutation score {self.mutation_score:.1%} is below the threshold "
                f"{self.threshold:.0%} ({len(self.survivors)} surviving mutants)"
            )
        return reasons

    @property
    def ok(self) -> bool:
        return not self.failures
