"""The measured corpus of ``propgrade similarity``: planted copies and independent solutions.

For an assignment, the class is every correct fixture (tests/submissions/NAME/correct_*),
the independently written solutions of tests/similarity/NAME/independent/ and the
disguised copies of tests/similarity/NAME/planted/ (planted.yaml names each one's source).
Two solutions are independent when no graded function of theirs has the same origin
(tests/similarity/NAME/origins.yaml: most fixtures keep some functions of the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from propgrade.config import AssignmentConfig, load_course
from propgrade.similarity.compare import THRESHOLD, Comparison, compare
from propgrade.similarity.fingerprints import Params
from propgrade.similarity.sources import read_stub, read_students

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("linear_classifiers", "optimizers", "knn")


def assignment_config(name: str) -> AssignmentConfig:
    return load_course(ROOT / "grading.yaml").assignment(name)


@dataclass
class Measure:
    comparison: Comparison
    planted: dict[tuple[str, str], float]  # (plant, source) -> score
    independent: dict[tuple[str, str], float]  # every independent pair -> score
    threshold: float = THRESHOLD

    @property
    def margin(self) -> float:
        return min(self.planted.values()) - max(self.independent.values())

    @property
    def false_positives(self) -> list[tuple[str, str]]:
        return [p for p, s in self.independent.items() if s >= self.threshold]

    @property
    def false_positive_rate(self) -> float:
        return len(self.false_positives) / len(self.independent)

    @property
    def highlighted(self) -> list[tuple[str, str]]:
        """Planted pairs at or above the threshold."""
        return [p for p, s in self.planted.items() if s >= self.threshold]

    def summary(self, name: str) -> str:
        worst = max(self.independent, key=self.independent.__getitem__)
        weakest = min(self.planted, key=self.planted.__getitem__)
        return (
            f"{name}: {len(self.planted)} planted pairs, lowest {self.planted[weakest]:.3f} "
            f"{weakest}; {len(self.independent)} independent pairs, highest "
            f"{self.independent[worst]:.3f} {worst}; margin {self.margin:.3f}; false "
            f"positives at the threshold {self.threshold}: {len(self.false_positives)}/"
            f"{len(self.independent)} = {self.false_positive_rate:.1%}; planted pairs at the "
            f"threshold: {len(self.highlighted)}/{len(self.planted)}"
        )


def class_folders(name: str) -> list[tuple[str, Path]]:
    fixtures = sorted((ROOT / "tests" / "submissions" / name).glob("correct_*"))
    here = ROOT / "tests" / "similarity" / name
    own = sorted((here / "independent").iterdir()) + sorted((here / "planted").iterdir())
    return [(p.name, p) for p in [*fixtures, *own] if p.is_dir()]


def origins(name: str, students: list[str], functions: tuple[str, ...]) -> dict[str, set[str]]:
    listed = yaml.safe_load((ROOT / "tests" / "similarity" / name / "origins.yaml").read_text())
    return {s: {f"{f}:{(listed.get(s) or {}).get(f, s)}" for f in functions} for s in students}


def measure(name: str, params: Params | None = None) -> Measure:
    assignment = assignment_config(name)
    folders = class_folders(name)
    documents, skipped = read_students(folders, assignment)
    assert not skipped, skipped
    comparison = compare(documents, read_stub(assignment), params)
    score = {
        frozenset((documents[p.a].name, documents[p.b].name)): p.score for p in comparison.pairs
    }
    here = ROOT / "tests" / "similarity" / name
    plants = yaml.safe_load((here / "planted.yaml").read_text())
    planted = {
        (plant, spec["source"]): score.get(frozenset((plant, spec["source"])), 0.0)
        for plant, spec in plants.items()
    }
    students = [s for s, _ in folders if s not in plants]
    origin = origins(name, students, assignment.functions)
    independent = {
        (a, b): score.get(frozenset((a, b)), 0.0)
        for i, a in enumerate(students)
        for b in students[i + 1 :]
        if not origin[a] & origin[b]
    }
    return Measure(comparison, planted, independent)


if __name__ == "__main__":
    for assignment_name in ASSIGNMENTS:
        print(measure(assignment_name).summary(assignment_name))
