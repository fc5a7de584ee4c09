"""Scoring every pair of documents by the rare fragments they share.

Each document has units: the whole file and each graded function. A unit's fingerprints
(``fingerprints``) minus those of the released stub are its evidence. A fingerprint
weighs by how rare it is in the class: ``log((N + 1) / df)`` for N students of whom df
have it (inverse document frequency), and nothing once more than half the class has it:
a fragment that half the class writes the same way is how the exercise is solved, not a
sign of copying. Known sources (``--known``) are compared with every student but do not
count in df.

The score of a unit pair is the weight they share over the smaller unit's weight plus
``PSEUDO`` rare fingerprints' worth: a weighted containment that a short, common function
(``return w - learning_rate * dw``) cannot push to 1. A pair's score is its best unit's,
so one copied function among original ones shows as strongly as a copied file.

Every pair's shared weight comes from the inverted index (fingerprint -> documents) held
as a documents x fingerprints matrix: one weighted product with its transpose gives all
pairs at once, where intersecting the fingerprint sets of N(N-1)/2 pairs one by one took
most of the time (``benchmarks/bench_similarity.py`` compares the two).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from propgrade.similarity.fingerprints import Params, fingerprints, kgram_hashes
from propgrade.similarity.sources import KNOWN, STUDENT, Document
from propgrade.similarity.tokens import FILE, Units

# The pseudo-count in the score's denominator, in rare fingerprints (weight log(N + 1)).
PSEUDO = 4.0
# Pairs at or above this score are highlighted in the report (measured: tests/similarity).
THRESHOLD = 0.6

Fingerprints = dict[int, list[int]]  # fingerprint -> positions in the unit's tokens


@dataclass(frozen=True)
class Pair:
    a: int  # index of a student document
    b: int  # index of another student, or of a known source
    score: float
    unit: str  # the unit that gave the score (FILE or a function name)
    units: dict[str, float]  # score of each unit sharing a weighted fragment

    def key(self) -> tuple[float, int, int]:
        return (-self.score, self.a, self.b)


@dataclass
class Comparison:
    documents: list[Document]
    params: Params
    pairs: list[Pair]  # pairs sharing any weighted fragment, strongest first
    pair_count: int  # every pair compared, including those sharing nothing (score 0)
    weights: dict[int, float]
    prints: list[dict[str, Fingerprints]] = field(repr=False)
    threshold: float = THRESHOLD

    @property
    def students(self) -> list[int]:
        return [i for i, d in enumerate(self.documents) if d.kind == STUDENT]

    def scores(self) -> list[float]:
        """The score of every pair compared, zeros included (for the histogram)."""
        return [p.score for p in self.pairs] + [0.0] * (self.pair_count - len(self.pairs))

    def matched_lines(self, pair: Pair) -> tuple[set[int], set[int]]:
        """The source lines of each side covered by a weighted fingerprint they share."""
        sides: tuple[set[int], set[int]] = (set(), set())
        k = self.params.k
        for unit in set(self.prints[pair.a]) & set(self.prints[pair.b]):
            fa, fb = self.prints[pair.a][unit], self.prints[pair.b][unit]
            for h in fa.keys() & fb.keys():
                if self.weights.get(h, 0.0) <= 0.0:
                    continue
                for side, doc, positions in ((0, pair.a, fa[h]), (1, pair.b, fb[h])):
                    tokens = self.documents[doc].units.streams[unit]
                    for p in positions:
                        # The lines holding the fragment's tokens (not the blank lines
                        # between two functions that a fragment straddles).
                        for t in tokens[p : p + k]:
                            sides[side].update(range(t.line, t.end_line + 1))
        return sides


def boilerplate(stub: Units | None, params: Params) -> set[int]:
    """Every k-gram of the stub: what each student was given counts for no one."""
    if stub is None:
        return set()
    return {h for tokens in stub.streams.values() for h in kgram_hashes(tokens, params.k)}


def unit_prints(doc: Document, params: Params, boiler: set[int]) -> dict[str, Fingerprints]:
    out = {}
    for unit, tokens in doc.units.streams.items():
        prints = fingerprints(tokens, params)
        out[unit] = {h: pos for h, pos in prints.items() if h not in boiler}
    return out


def idf_weights(
    prints: Sequence[dict[str, Fingerprints]], kinds: Sequence[str]
) -> dict[int, float]:
    students = [p for p, kind in zip(prints, kinds, strict=True) if kind == STUDENT]
    n = len(students)
    df: Counter[int] = Counter()
    for units in students:
        df.update(set().union(*units.values()) if units else set())
    common = max(2, n // 2)
    weights = {h: math.log((n + 1) / count) if count <= common else 0.0 for h, count in df.items()}
    rare = math.log(n + 1)
    for units, kind in zip(prints, kinds, strict=True):
        if kind == KNOWN:
            for unit in units.values():
                for h in unit:
                    weights.setdefault(h, rare)
    return weights


Progress = Callable[[str], None]
# Fingerprints per block of the incidence matrix: bounds its memory to documents x CHUNK.
CHUNK = 4096


def shared_weights(
    sets: Sequence[frozenset[int]], weights: dict[int, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The weight every two documents share, and each one's total, for one unit.

    The inverted index as a matrix: documents x fingerprints, 1 where a document holds a
    fingerprint. Weighting the columns and multiplying by the transpose sums, for every
    pair at once, the weights of the fingerprints both hold.
    """
    column: dict[int, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, held in enumerate(sets):
        for h in held:
            rows.append(i)
            cols.append(column.setdefault(h, len(column)))
    w = np.array([weights[h] for h in column], dtype=np.float64)
    n = len(sets)
    shared = np.zeros((n, n))
    totals = np.zeros(n)
    row_array, col_array = np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)
    for first in range(0, len(column), CHUNK):
        inside = (col_array >= first) & (col_array < first + CHUNK)
        block = np.zeros((n, min(CHUNK, len(column) - first)))
        block[row_array[inside], col_array[inside] - first] = 1.0
        weighted = block * w[first : first + CHUNK]
        shared += weighted @ block.T
        totals += weighted.sum(axis=1)
    return shared, totals


def compare(
    documents: Sequence[Document],
    stub: Units | None,
    params: Params | None = None,
    step: Progress | None = None,
) -> Comparison:
    params = params or Params()
    docs = list(documents)
    boiler = boilerplate(stub, params)
    prints = [unit_prints(d, params, boiler) for d in docs]
    kinds = [d.kind for d in docs]
    weights = idf_weights(prints, kinds)
    if step is not None:
        step(f"fingerprinted {len(docs)} files: {len(weights)} distinct fragments")
    # Only weighted fingerprints matter from here on; sets make intersections C-level.
    sets = [
        {unit: frozenset(h for h in fp if weights.get(h, 0.0) > 0.0) for unit, fp in units.items()}
        for units in prints
    ]
    students = [i for i, k in enumerate(kinds) if k == STUDENT]
    known = [i for i, k in enumerate(kinds) if k == KNOWN]
    pseudo = PSEUDO * math.log(len(students) + 1)
    units = sorted({u for d in sets for u in d}, key=lambda u: (u != FILE, u))
    scores: dict[str, np.ndarray] = {}
    for unit in units:
        shared, totals = shared_weights([d.get(unit, frozenset()) for d in sets], weights)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 only with no student
            scores[unit] = shared / (np.minimum.outer(totals, totals) + pseudo)
    # The pairs compared: students with each later student and with every known source.
    compared = np.zeros((len(docs), len(docs)), dtype=bool)
    compared[np.ix_(students, students)] = np.triu(np.ones((len(students),) * 2, bool), 1)
    compared[np.ix_(students, known)] = True
    anything = np.zeros_like(compared)
    for matrix in scores.values():
        anything |= matrix > 0
    pairs = []
    for a, b in zip(*np.nonzero(anything & compared), strict=True):
        by_unit = {u: float(m[a, b]) for u, m in scores.items() if m[a, b] > 0}
        best = max(by_unit, key=lambda u: (by_unit[u], u == FILE))
        pairs.append(Pair(int(a), int(b), by_unit[best], best, by_unit))
    pairs.sort(key=Pair.key)
    pair_count = len(students) * (len(students) - 1) // 2 + len(students) * len(known)
    return Comparison(docs, params, pairs, pair_count, weights, prints)
