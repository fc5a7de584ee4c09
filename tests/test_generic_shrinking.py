"""A case class declares what must stay consistent (``Shrink``), and the engine shrinks its
failing cases from that alone: every candidate is a valid case, the same case always gives
the same candidates, and a failure is shown on a small case that still fails."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_tiny_course

from propgrade import GraderError, Shrink, frozen
from propgrade.config import load_course
from propgrade.engine import shrinking
from propgrade.engine.grading import grade_submission, prepare


def candidates(case: Any) -> list[Any]:
    return list(shrinking.candidates(case))


@dataclass(frozen=True, eq=False)
class Labelled:
    W: np.ndarray
    X: np.ndarray
    y: np.ndarray
    reg: float

    shrink = Shrink(W="D C", X="N D", y="N", indexes={"y": "C"}, at_least={"C": 2})

    def __post_init__(self) -> None:
        for name in ("W", "X", "y"):
            object.__setattr__(self, name, frozen(getattr(self, name)))


@dataclass(frozen=True, eq=False)
class PerSample:
    """A wrapper: one shift per sample of its case, and one sample singled out."""

    case: Labelled
    shifts: np.ndarray
    sample: int
    amount: float

    shrink = Shrink(shifts="N", indexes={"sample": "N"}, fixed=("shifts", "amount"))


def labelled(n: int = 7, d: int = 4, c: int = 5, seed: int = 0) -> Labelled:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, c))
    X = rng.normal(scale=10.0, size=(n, d))
    y = rng.integers(0, c, size=n)
    y[:c] = np.arange(c)  # every class present
    return Labelled(W, X, y, 3.7)


def consistent(case: Labelled) -> bool:
    (n, d), c = case.X.shape, case.W.shape[1]
    return (
        case.W.shape[0] == d
        and case.y.shape == (n,)
        and n >= 1
        and c >= 2
        and bool(np.all((case.y >= 0) & (case.y < c)))
    )


def test_every_candidate_keeps_the_declared_axes_consistent() -> None:
    case = labelled()
    found = candidates(case)
    assert found and all(consistent(c) for c in found)
    shapes = {(c.X.shape, c.W.shape) for c in found}
    assert ((1, 4), (4, 5)) in shapes  # one sample
    assert ((7, 1), (1, 5)) in shapes  # one feature
    assert min(c.W.shape[1] for c in found) == 2  # at_least C = 2
    # smallest first among the cuts: the first candidate holds the fewest numbers
    assert found[0].X.size + found[0].W.size == min(c.X.size + c.W.size for c in found[:8])


def test_removing_a_class_removes_its_samples_and_renumbers_the_labels_above() -> None:
    case = labelled()
    without_1 = [
        c
        for c in candidates(case)
        if c.W.shape == (4, 4) and np.array_equal(c.W, np.delete(case.W, 1, axis=1))
    ]
    assert len(without_1) == 1
    (c,) = without_1
    keep = case.y != 1
    assert np.array_equal(c.X, case.X[keep])
    assert c.y.tolist() == [v - (v > 1) for v in case.y[keep].tolist()]


def test_a_wrapper_shares_the_axes_of_the_case_it_holds() -> None:
    case = labelled()
    wrapped = PerSample(case, frozen(np.arange(7.0) * 100), sample=4, amount=2.5)
    found = candidates(wrapped)
    # the pinned sample alone is a candidate, with its own shift
    (alone,) = [c for c in found if c.case.X.shape == (1, 4)]
    assert alone.sample == 0 and np.array_equal(alone.case.X, case.X[4:5])
    assert alone.shifts.tolist() == [400.0]
    for c in found:
        n = c.case.X.shape[0]
        assert c.shifts.shape == (n,) and consistent(c.case)
        # the singled-out sample (shift 400) is never dropped, and is renumbered with the
        # rows removed before it
        assert c.shifts[c.sample] == 400.0 and c.amount == 2.5


def test_numbers_become_simpler_without_crossing_zero_and_fixed_fields_stay() -> None:
    case = labelled(n=2, d=2, c=2)
    found = candidates(case)
    regs = [c.reg for c in found if c.reg != case.reg]
    assert regs == [1.0, 4.0]  # 3.7 -> 1, then rounded; never 0, never negative
    for reg, simpler in ((0.3, [1.0]), (-0.04, [-1.0]), (0.0, [])):
        small = Labelled(case.W, case.X, case.y, reg)
        assert [c.reg for c in candidates(small) if c.reg != reg] == simpler
    rounded = [c for c in found if c.X.shape == case.X.shape and c.reg == case.reg]
    assert any(np.array_equal(c.X, np.round(case.X)) for c in rounded)
    # labels are indices: never rounded or zeroed, only removed with their samples
    assert all(np.array_equal(c.y, case.y) for c in rounded)
    wrapped = PerSample(case, frozen([1000.5, -2600.25]), sample=1, amount=3.25)
    for c in candidates(wrapped):
        assert set(c.shifts.tolist()) <= {1000.5, -2600.25} and c.amount == 3.25


def test_candidates_that_valid_or_post_init_refuse_are_not_made() -> None:
    class Positive(Labelled):
        def valid(self) -> bool:
            return bool(np.all(self.X > 0))

    case = Positive(np.ones((2, 2)), np.array([[0.4, 2.0], [3.0, 4.0]]), np.array([0, 1]), 0.0)
    found = candidates(case)
    assert found and all(np.all(c.X > 0) for c in found)
    assert all(type(c) is Positive for c in found)  # the subclass, and its rule, kept

    @dataclass(frozen=True)
    class Checked:
        x: np.ndarray
        shrink = Shrink(x="N")

        def __post_init__(self) -> None:
            if len(self.x) % 2:
                raise ValueError("even lengths only")

    assert all(len(c.x) % 2 == 0 for c in candidates(Checked(np.ones(6))))


@dataclass(frozen=True, eq=False)
class Itself:
    """The distances of a set to itself: ``same`` makes ``b`` the array ``a``, whatever
    ``b`` was given."""

    a: np.ndarray
    b: np.ndarray
    same: bool

    shrink = Shrink(a="M D", b="N D")

    def __post_init__(self) -> None:
        object.__setattr__(self, "b", self.a if self.same else self.b)


def test_a_candidate_that_post_init_makes_into_the_case_itself_is_not_proposed() -> None:
    # Cutting or zeroing only b gives the case back: kept as "failing the same way", it
    # would be taken at every step and the walk would never end.
    case = Itself(frozen(np.arange(6.0).reshape(3, 2) + 1), np.zeros((3, 2)), True)
    found = candidates(case)
    assert found and all(c.a is c.b for c in found)
    prints = [shrinking._fingerprint(c) for c in found]
    assert shrinking._fingerprint(case) not in prints
    assert len(set(prints)) == len(prints)
    assert any(c.a.shape == (1, 2) for c in found) and any(c.a.shape == (3, 1) for c in found)


@dataclass(frozen=True, eq=False)
class Steps:
    w: np.ndarray
    grads: tuple[np.ndarray, ...]
    config: dict[str, object] | None

    shrink = Shrink(w="*E", grads="*E", fixed=("grads",), optional=("config",))


def test_flattened_axes_tuples_and_optional_fields() -> None:
    grads = tuple(frozen(np.full((2, 3), k + 0.25)) for k in range(4))
    case = Steps(frozen(np.arange(6.0).reshape(2, 3) + 0.5), grads, {"learning_rate": 0.1})
    found = candidates(case)
    shorter = [c for c in found if len(c.grads) < 4]
    assert [len(c.grads) for c in shorter] == [1, 2, 3]  # fewer steps, fewest first
    assert all(c.grads == grads[: len(c.grads)] for c in shorter)
    cut = [c for c in found if c.w.shape != (2, 3)]
    assert cut and all(c.w.ndim == 1 and all(g.shape == c.w.shape for g in c.grads) for c in cut)
    assert any(c.config is None for c in found)
    assert all(
        np.array_equal(g, grads[i].ravel()[: g.size]) for c in cut for i, g in enumerate(c.grads)
    )


def test_a_declaration_that_does_not_match_the_case_is_the_graders_error() -> None:
    bad = Labelled(np.ones((3, 2)), np.ones((4, 2)), np.zeros(4, dtype=int), 0.0)
    with pytest.raises(GraderError, match="axis D has length 3 elsewhere but 2 in X"):
        candidates(bad)


def test_large_cases_propose_a_bounded_number_of_candidates() -> None:
    # 16 samples, classes and 4 features: 36 removals, 128 entries to zero, and more
    many = labelled(n=16, d=4, c=16)
    assert len(candidates(many)) == shrinking.MAX_CANDIDATES
    big = labelled(n=300, d=40, c=10)
    found = candidates(big)
    assert 0 < len(found) <= shrinking.MAX_CANDIDATES
    # a long axis is cut, not walked one index at a time
    assert {c.X.shape[0] for c in found} <= {1, 2, 150, 300} | set(range(1, 300))
    assert sum(1 for c in found if c.X.shape[0] == 299) == 0
    # and the cuts reach a small case in a few steps
    case, steps = big, 0
    while case.X.shape[0] > 1 or case.X.shape[1] > 1:
        case, steps = candidates(case)[0], steps + 1
    assert steps <= 4


_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_generic_shrinking import PerSample, candidates, labelled
from propgrade import frozen
import numpy as np
from test_generic_shrinking import Grid
case = PerSample(labelled(), frozen(np.arange(7.0)), 3, 1.0)
for c in candidates(case):
    print(repr(c.case.X.tolist()), c.case.y.tolist(), c.shifts.tolist(), c.sample, c.case.reg)
# two axes of one length: which is cut first is the declaration's order, not a hash's
for c in candidates(Grid(np.arange(36.0).reshape(6, 6) + 0.5)):
    print(c.A.tolist())
"""


@dataclass(frozen=True)
class Grid:
    A: np.ndarray

    shrink = Shrink(A="R K")


def test_the_same_case_gives_the_same_candidates_in_any_process() -> None:
    tests = str(Path(__file__).parent)
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _SCRIPT.format(tests=tests)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "1", "2", "3", "4", "5", "random")
    }
    assert len(outputs) == 1 and outputs.pop().count("\n") > 20


# --- through the engine: shrunk in the worker -----------------------------------------

GRADER = """
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from propgrade import Shrink, check, expect, format_array, frozen


@dataclass(frozen=True, eq=False)
class Picks:
    X: np.ndarray
    y: np.ndarray

    shrink = Shrink(X="N C", y="N", indexes={"y": "C"})

    def __post_init__(self):
        object.__setattr__(self, "X", frozen(self.X))
        object.__setattr__(self, "y", frozen(self.y))

    def __repr__(self):
        return f"X = {format_array(self.X)}\\ny = {self.y.tolist()}"


@st.composite
def picks(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = 30, 6
    return Picks(rng.normal(scale=5.0, size=(n, c)) + 10.0, rng.integers(0, c, size=n))


@check("picked", "picked(X, y) is the sum of X[i, y[i]].", picks())
def picked(case, student):
    got = expect.scalar_value(student.call("picked", case.X, case.y), "picked(X, y)")
    want = float(case.X[np.arange(len(case.y)), case.y].sum())
    expect.close(got, want, "picked(X, y)", rtol=1e-9)
"""

CONFIG = """
assignments:
  picks:
    graders: graders
    graded_file: answer.py
    functions: [picked]
    hypothesis: {seed: 3, max_examples: 2}
    checks:
      picked: {points: 1}
"""

# Wrong on any row whose label is not 0: it reads the column one to the left.
BUGGY = """
import numpy as np


def picked(X, y):
    return float(sum(X[i, max(y[i] - 1, 0)] for i in range(len(y))))
"""


def test_a_failure_is_shown_on_a_small_case_that_still_fails(tmp_path: Path) -> None:
    files = {"grading.yaml": CONFIG, "graders/test_public.py": GRADER, "s/answer.py": BUGGY}
    write_tiny_course(tmp_path, files)
    plan = prepare(load_course(tmp_path / "grading.yaml").assignment("picks"))
    drawn = plan.cases["picked"][0]
    assert drawn.X.shape == (30, 6)
    feedback = grade_submission(plan, "s", tmp_path / "s").checks[0].feedback
    assert feedback is not None and feedback.shrunk
    # One sample with label 1 and two classes (label 0 would not fail), simple numbers.
    X_line, y_line = feedback.counterexample.splitlines()
    assert y_line == "y = [1]"
    assert X_line.startswith("X = [[") and X_line.endswith("]]  # shape (1, 2)")
    # It still fails: the message is about this case's values.
    x = [float(v) for v in X_line[len("X = [[") : -len("]]  # shape (1, 2)")].split(",")]
    assert x[0] != x[1] and all(v == round(v) for v in x)
    assert f"{x[1]:g}" in feedback.expected and f"{x[0]:g}" in feedback.got


def test_a_misspelt_field_is_refused_when_the_grader_is_loaded(tmp_path: Path) -> None:
    misspelt = GRADER.replace('shrink = Shrink(X="N C"', 'shrink = Shrink(x="N C"')
    files = {"grading.yaml": CONFIG, "graders/test_public.py": misspelt}
    write_tiny_course(tmp_path, files)
    with pytest.raises(GraderError) as raised:
        prepare(load_course(tmp_path / "grading.yaml").assignment("picks"))
    assert "Picks.shrink: Shrink names 'x', which is not a field of Picks" in str(raised.value)
    assert raised.value.hint == "did you mean 'X'?"
