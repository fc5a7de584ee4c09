"""Time of ``propgrade similarity`` for a class of 100, 200 and 400 students.

The class is synthesised from the correct fixtures and the independent solutions of an
assignment (tests/submissions/NAME/correct_*, tests/similarity/NAME/independent/): each
student takes each graded function from a random source and renames its local
variables at random, so files differ in text while many functions share their
structure, as in a real class. A few students copy another one's file.

For each size it prints the time to read the class through the intake (``read``), to
compare it (``index``, what the command does: fingerprints, weights, then every pair's
shared weight at once from the inverted index held as a matrix), to compare it with the
same fingerprints and weights but every pair's fingerprint sets intersected one pair at a
time (``all pairs``, the baseline; it must find the same scores), and the whole command
(``run``: read, compare, write the page and the CSV).

    python benchmarks/bench_similarity.py
    python benchmarks/bench_similarity.py --assignment optimizers --sizes 100 400 800
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import math
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from propgrade.config import AssignmentConfig, load_course
from propgrade.similarity.compare import (
    PSEUDO,
    Pair,
    boilerplate,
    compare,
    idf_weights,
    unit_prints,
)
from propgrade.similarity.fingerprints import Params
from propgrade.similarity.run import run_similarity
from propgrade.similarity.sources import STUDENT, Document, read_stub, read_students
from propgrade.similarity.tokens import Units

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
KEEP = set(dir(builtins)) | {"np", "numpy"}


class _Rename(ast.NodeTransformer):
    def __init__(self, rng: random.Random, keep: set[str]) -> None:
        self.rng, self.keep, self.names = rng, keep, {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in self.keep:
            new = self.names.setdefault(node.id, f"v{self.rng.randrange(10**6)}")
            return ast.copy_location(ast.Name(new, node.ctx), node)
        return node


def sources(assignment: AssignmentConfig) -> list[ast.Module]:
    folders = sorted((ROOT / "tests" / "submissions" / assignment.name).glob("correct_*"))
    folders += sorted((ROOT / "tests" / "similarity" / assignment.name / "independent").iterdir())
    return [ast.parse((f / assignment.graded_file).read_text()) for f in folders]


def _method(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def _class_module(
    pool: Sequence[ast.Module], functions: Sequence[str], rng: random.Random
) -> ast.Module:
    """One source's file, each graded method of its class taken from a random source."""
    module = copy.deepcopy(rng.choice(pool))
    for statement in module.body:
        if isinstance(statement, ast.ClassDef):
            statement.body = [
                copy.deepcopy(_method(rng.choice(pool), s.name))
                if isinstance(s, ast.FunctionDef) and s.name in functions
                else s
                for s in statement.body
            ]
    return module


def synthesise(assignment: AssignmentConfig, size: int, folder: Path) -> None:
    rng = random.Random(231)
    pool = sources(assignment)
    # The graded functions' parameters keep their names (renaming them would need their
    # definitions renamed too).
    keep = KEEP | set(assignment.functions) | {"w", "dw", "config", "W", "X", "y", "reg"}
    top = {s.name for s in pool[0].body if isinstance(s, ast.FunctionDef)}
    methods = not set(assignment.functions) <= top  # knn: methods of one class
    if methods:
        keep |= {"self", "dists", "k"}
    texts: list[str] = []
    for n in range(size):
        if texts and n % 50 == 7:
            texts.append(texts[rng.randrange(len(texts))])  # a copied file
        elif methods:
            module = _Rename(rng, keep).visit(_class_module(pool, assignment.functions, rng))
            texts.append(ast.unparse(module))
        else:
            body: list[ast.stmt] = []
            for function in assignment.functions:
                tree = rng.choice(pool)
                helpers = [
                    s
                    for s in tree.body
                    if not (isinstance(s, ast.FunctionDef) and s.name in assignment.functions)
                ]
                body += [s for s in helpers if s not in body]
                body += [
                    s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == function
                ]
            module = _Rename(rng, keep).visit(ast.Module(body=body, type_ignores=[]))
            texts.append(ast.unparse(module))
        student = folder / f"s{n:04d}"
        student.mkdir()
        (student / assignment.graded_file).write_text(texts[-1])


def all_pairs(documents: Sequence[Document], stub: Units | None) -> list[Pair]:
    """The baseline: the same fingerprints and weights, then every pair of students, every
    unit, by intersecting fingerprint sets."""
    params = Params()
    boiler = boilerplate(stub, params)
    prints = [unit_prints(d, params, boiler) for d in documents]
    weights = idf_weights(prints, [d.kind for d in documents])
    students = [i for i, d in enumerate(documents) if d.kind == STUDENT]
    pseudo = PSEUDO * math.log(len(students) + 1)
    totals = [
        {u: sum(weights.get(h, 0.0) for h in fp) for u, fp in units.items()} for units in prints
    ]
    pairs = []
    for x, a in enumerate(students):
        for b in students[x + 1 :]:
            scores = {}
            for unit in prints[a].keys() & prints[b].keys():
                shared = sum(weights.get(h, 0.0) for h in prints[a][unit].keys() & prints[b][unit])
                if shared > 0:
                    low = min(totals[a][unit], totals[b][unit])
                    scores[unit] = shared / (low + pseudo)
            if scores:
                best = max(scores, key=lambda u: scores[u])
                pairs.append(Pair(a, b, scores[best], best, scores))
    return sorted(pairs, key=Pair.key)


def _same(pairs: Sequence[Pair], baseline: Sequence[Pair]) -> bool:
    """The same pairs with the same scores (up to the order of float additions)."""
    ours = {(p.a, p.b): p.score for p in pairs}
    theirs = {(p.a, p.b): p.score for p in baseline}
    return ours.keys() == theirs.keys() and all(
        math.isclose(ours[k], theirs[k], rel_tol=1e-9) for k in ours
    )


@dataclass(frozen=True)
class Took:
    wall: float
    cpu: float  # this process's CPU time: what the machine's other load does not change

    def __str__(self) -> str:
        return f"{self.wall:.2f}/{self.cpu:.2f}"


def timed(what: Callable[[], T]) -> tuple[Took, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = what()
    return Took(time.perf_counter() - wall, time.process_time() - cpu), value


def _row(assignment: AssignmentConfig, size: int) -> str:
    stub = read_stub(assignment)
    with tempfile.TemporaryDirectory(prefix="propgrade-bench-similarity-") as tmp:
        klass = Path(tmp) / "class"
        klass.mkdir()
        synthesise(assignment, size, klass)
        folders = [(p.name, p) for p in sorted(klass.iterdir())]
        read, (documents, _) = timed(partial(read_students, folders, assignment))
        index, comparison = timed(partial(compare, documents, stub))
        naive, baseline = timed(partial(all_pairs, documents, stub))
        assert _same(comparison.pairs, baseline), "the index and the baseline disagree"
        run, _ = timed(partial(run_similarity, assignment, klass, Path(tmp) / "out"))
    return (
        f"{size:>8} {comparison.pair_count:>7} {read!s:>11} {index!s:>11} {naive!s:>11} {run!s:>11}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="linear_classifiers")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400])
    args = parser.parse_args(argv)
    assignment = load_course(ROOT / "grading.yaml").assignment(args.assignment)
    print(f"{assignment.name}: seconds, wall/CPU")
    print(f"{'students':>8} {'pairs':>7} {'read':>11} {'index':>11} {'all pairs':>11} {'run':>11}")
    for size in args.sizes:
        print(_row(assignment, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
