"""Mutant generation: one edit each, only inside solution regions, stable ids."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from propgrade.config import load_course
from propgrade.errors import ReleaseError
from propgrade.selftest.mutants import OPERATORS, generate_mutants

SOURCE = '''import numpy as np


def untouched(a):
    return a + 1


def f(W, X, y, reg):
    """Docstring: never mutated."""
    ### BEGIN SOLUTION
    n = X.shape[0]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(n):
        s = X[i].dot(W)
        m = np.maximum(0.0, s - s[y[i]] + 1.0)
        if m[0] > 0:
            loss += np.sum(m)
    scores = X.dot(W) - np.max(X.dot(W), axis=1, keepdims=True)
    dW += X.T.dot(scores) / n + 2 * reg * W
    loss += np.mean(scores[0, 1])
    return float(loss), dW
    ### END SOLUTION
'''

# Classification and indexing code: the mistakes of a k-nearest-neighbour vote.
CLASSIFY = """import numpy as np


def vote(dists, y_train, k):
    ### BEGIN SOLUTION
    d = np.sqrt(np.maximum(dists, 0.0))
    nearest = np.argsort(d, axis=1)[:, :k]
    labels = y_train[nearest]
    counts = np.bincount(labels[0])
    best = np.argmax(counts)
    for j in range(1, k):
        best = best + np.power(counts[j], 2) * 0
    return best, labels[0][:k], d.sum()
    ### END SOLUTION
"""

REFERENCE = Path(__file__).parents[1] / "solutions" / "linear_classifiers" / "losses.py"


def test_every_operator_fires_inside_the_solution_region_only() -> None:
    mutants = generate_mutants(SOURCE) + generate_mutants(CLASSIFY)
    assert {m.operator for m in mutants} == set(OPERATORS)
    assert {m.function for m in mutants} == {"f", "vote"}
    for m in mutants:
        ast.parse(m.source)  # every mutant is valid Python
        assert m.source != ast.unparse(ast.parse(SOURCE))
    assert len({m.source for m in mutants}) == len(mutants)  # no duplicates


def test_the_diff_names_the_edit_on_one_line() -> None:
    mutants = generate_mutants(SOURCE)
    diffs = {m.diff for m in mutants}
    assert "line 17: `if m[0] > 0:` -> `if m[0] >= 0:`" in diffs
    assert any("`for i in range(n - 1):`" in d for d in diffs)
    assert any(m.operator == "keepdims" and "keepdims" not in m.after for m in mutants)
    transposes = [m.diff for m in mutants if m.operator == "transpose"]
    assert transposes == [
        "line 20: `dW += X.T.dot(scores) / n + 2 * reg * W` -> "
        "`dW += X.dot(scores) / n + 2 * reg * W`"
    ]
    assert any(d.endswith("inserted `X *= 2`") for d in diffs)
    assert any(d.endswith("inserted `return (float(loss), dW)`") for d in diffs)
    assert all("\n" not in d for d in diffs)


def test_classification_code_gets_its_own_mistakes() -> None:
    diffs = {(m.operator, m.before, m.after) for m in generate_mutants(CLASSIFY)}
    nearest = "nearest = np.argsort(d, axis=1)[:, :k]"
    assert ("slice-bound", nearest, "nearest = np.argsort(d, axis=1)[:, :k + 1]") in diffs
    assert ("slice-bound", nearest, "nearest = np.argsort(d, axis=1)[:, :k - 1]") in diffs
    assert ("axis", nearest, "nearest = np.argsort(d, axis=0)[:, :k]") in diffs
    reverse = "nearest = np.argsort(d, axis=1)[..., ::-1][:, :k]"
    assert ("sort-direction", nearest, reverse) in diffs
    assert ("arg-extreme", "best = np.argmax(counts)", "best = np.argmin(counts)") in diffs
    assert ("axis-add", "best = np.argmax(counts)", "best = np.argmax(counts, axis=0)") in diffs
    sqrt = "d = np.sqrt(np.maximum(dists, 0.0))"
    assert ("drop-wrapper", sqrt, "d = np.maximum(dists, 0.0)") in diffs
    assert ("drop-wrapper", sqrt, "d = np.sqrt(dists)") in diffs
    assert ("loop-bound", "for j in range(1, k):", "for j in range(1 + 1, k):") in diffs
    power = "best = best + np.power(counts[j], 2) * 0"
    assert ("swap-args", power, "best = best + np.power(2, counts[j]) * 0") in diffs
    # np.maximum commutes: swapping its arguments would only add an equivalent mutant.
    assert not any(op == "swap-args" and before == sqrt for op, before, _ in diffs)


def test_ids_are_stable_and_do_not_depend_on_line_numbers() -> None:
    first = [(m.id, m.diff) for m in generate_mutants(SOURCE)]
    assert first == [(m.id, m.diff) for m in generate_mutants(SOURCE)]
    shifted = SOURCE.replace("import numpy as np\n", "import numpy as np\n\nHELLO = 1\n")
    assert [m.id for m in generate_mutants(shifted)] == [i for i, _ in first]
    assert len({i for i, _ in first}) == len(first)


def test_ids_are_pinned() -> None:
    # Ids are written into grading.yaml (selftest.accepted): one computed another way (a
    # salted hash(), another digest) would orphan every accepted mutant of every course.
    ids = {m.diff: m.id for m in generate_mutants(SOURCE)}
    assert ids["line 11: deleted `n = X.shape[0]`"] == "m-3de2c55a61"
    assert ids["line 11: `n = X.shape[0]` -> `n = X.shape[1]`"] == "m-8208a0ae0c"
    assert ids["line 17: `if m[0] > 0:` -> `if m[0] >= 0:`"] == "m-6ef52cf007"


@pytest.mark.selftest  # every mutant of every assignment
def test_every_accepted_mutant_of_the_course_is_still_generated() -> None:
    course = load_course(REFERENCE.parents[2] / "grading.yaml")
    accepted = 0
    for assignment in course.assignments.values():
        wanted = set(assignment.selftest.accepted)
        if not wanted:
            continue
        assert assignment.reference_file is not None
        source = assignment.reference_file.read_text()
        generated = {m.id for m in generate_mutants(source, assignment.functions)}
        assert wanted <= generated, (assignment.name, sorted(wanted - generated))
        accepted += len(wanted)
    assert accepted >= 11


def test_functions_limit_the_edits() -> None:
    assert generate_mutants(SOURCE, functions=["untouched"]) == []


def test_a_reference_without_regions_is_refused() -> None:
    with pytest.raises(ReleaseError, match="no ### BEGIN SOLUTION"):
        generate_mutants("def f(a):\n    return a\n")


@pytest.mark.selftest  # every mutant of the reference
def test_the_course_reference_gets_a_few_hundred_mutants() -> None:
    mutants = generate_mutants(REFERENCE.read_text())
    assert 150 <= len(mutants) <= 400
    assert {m.function for m in mutants} == {
        "svm_loss_naive",
        "svm_loss_vectorized",
        "softmax_loss_naive",
        "softmax_loss_vectorized",
    }
