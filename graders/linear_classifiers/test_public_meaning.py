"""Public checks of what the losses mean, beyond what a function can say about itself.

The checks in test_public.py compare a function with itself (its gradient with its own
loss, its loss at reg > 0 with its loss at reg = 0, ...): a function that computes some
other smooth quantity of the scores satisfies all of them. These compare the loss with
what it measures: how far the correct class's score is behind the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from propgrade import Shrink, check_each, expect, format_value, frozen

from .common import (
    ALL,
    MAX_D,
    SOFTMAX,
    SVM,
    Case,
    cases,
    loss_of,
    moved_score,
    realistic_cases,
    require,
)

# --- raising a score -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ScoreMove:
    """A case (reg = 0), one of its samples, and an amount to move that sample's scores by."""

    case: Case
    sample: int
    amount: float

    # the sample alone first; a smaller case keeps the sample and the amount
    shrink = Shrink(indexes={"sample": "N"}, fixed=("amount",))

    def classes(self) -> list[int]:
        """The correct class, then the other classes with the highest and lowest scores."""
        case, i = self.case, self.sample
        correct = int(case.y[i])
        scores = case.X[i] @ case.W
        others = [k for k in np.argsort(scores, kind="stable") if k != correct]
        return [correct, *sorted({int(others[-1]), int(others[0])})]

    def __repr__(self) -> str:
        return (
            f"{self.case!r}\nsample {self.sample} (y = {int(self.case.y[self.sample])}): each "
            f"of its scores below raised and lowered by {self.amount:g}, one at a time"
        )


# Moves within which every row's score gap stays below ~300 + 2 * 250: the textbook naive
# softmax (which overflows past ~745) stays exact.
_AMOUNTS = st.sampled_from([0.5, 3.0, 40.0])


@st.composite
def score_moves(draw: st.DrawFn) -> ScoreMove:
    # Batches of hundreds add nothing here that a few samples do not, and cost the naive
    # versions a loop over every sample for each of the seven calls.
    realistic = realistic_cases(reg="zero").filter(lambda case: len(case.y) <= 30)
    base = draw(st.one_of(cases(reg="zero", w_bound=4.0), realistic))
    sample = draw(st.integers(0, len(base.y) - 1))
    return ScoreMove(base, sample, draw(_AMOUNTS))


@check_each(
    ALL,
    "{key}_monotone",
    "Raising the correct class's score of a sample never raises the loss of {fn}, and raising "
    "the score of another class never lowers it (reg = 0).",
    score_moves(),
    # about 6 calls an example; at 4, selftest kills the same mutants as at 10
    max_examples=4,
    hint=(
        "The loss measures how far the correct class y[i] is behind the others: it can only "
        "go down when s[y[i]] rises, and only go up when another class's score rises. A loss "
        "that goes the other way usually has a flipped sign (log p instead of -log p, "
        "s[y[i]] - s[j] instead of s[j] - s[y[i]]), or subtracts the wrong score."
    ),
)
def monotone(drawn: ScoreMove, student, fn: str) -> None:
    # The score is moved through the function's own inputs: one more feature, 1 for this
    # sample only, whose weight is the amount for one class and 0 for the others. The
    # baseline has that feature with weight 0, so the two calls differ in one score only.
    case, i, amount = drawn.case, drawn.sample, drawn.amount
    classes = drawn.classes()
    probes = [moved_score(case, i, 0, 0.0)]
    probes += [moved_score(case, i, k, sign * amount) for k in classes for sign in (1.0, -1.0)]
    values = [loss_of(v, fn) for v in student.map(fn, [p.args for p in probes])]
    base, moved = values[0], values[1:]
    correct = int(case.y[i])
    # rounding: the other scores go through a product with one more (zero) term
    tol = 1e-9 * (1.0 + abs(base))
    for n, k in enumerate(classes):
        up, down = moved[2 * n], moved[2 * n + 1]
        which = "correct class" if k == correct else "class"
        if k == correct:
            bad_up, bad_down = up > base + tol, down < base - tol
        else:
            bad_up, bad_down = up < base - tol, down > base + tol
        for bad, direction, value in ((bad_up, "raised", up), (bad_down, "lowered", down)):
            require(
                not bad,
                f"with sample {i}'s score for the {which} {k} {direction} by {amount:g}, the "
                f"loss of {fn} went {'up' if value > base else 'down'}",
                expected=(
                    f"a loss {'<=' if (k == correct) == (direction == 'raised') else '>='} "
                    f"{format_value(base)} (the loss before)"
                ),
                got=value,
            )


# --- one sample, two classes ---------------------------------------------------------------


class OneSample(Case):
    """One sample and two classes."""

    def valid(self) -> bool:
        return len(self.y) == 1 and self.W.shape[1] == 2

    def __repr__(self) -> str:
        s = self.X @ self.W
        right = int(self.y[0])
        return (
            f"{super().__repr__()}\n"
            f"scores s = X @ W = {format_value(s[0])}: s_correct = {format_value(s[0, right])}, "
            f"s_wrong = {format_value(s[0, 1 - right])}"
        )


def _grid(bound: float) -> st.SearchStrategy[float]:
    steps = round(bound * 100)
    return st.integers(-steps, steps).map(lambda k: k / 100)


@st.composite
def one_sample_two_classes(draw: st.DrawFn) -> OneSample:
    """N = 1, C = 2, reg = 0: a readable grid case or a full-precision one, |score| <= 150."""
    d = draw(st.integers(1, min(3, MAX_D)))
    if draw(st.booleans()):
        W = draw(hnp.arrays(np.float64, (d, 2), elements=_grid(5.0)))
        X = draw(hnp.arrays(np.float64, (1, d), elements=_grid(10.0)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        W = rng.normal(0.0, draw(st.sampled_from([1e-3, 0.1, 1.0, 5.0])), size=(d, 2))
        X = rng.normal(0.0, 10.0, size=(1, d))
        top = float(np.max(np.abs(X @ W)))
        if top > 150.0:
            W *= 150.0 / top
    y = np.array([draw(st.integers(0, 1))], dtype=np.int64)
    return OneSample(frozen(W), frozen(X), y, 0.0)


def _one_sample(case: Case, student, fn: str, formula: str, expected: float) -> None:
    loss = loss_of(student.call(fn, *case.args), fn)
    scale = 1.0 + float(np.max(np.abs(case.X @ case.W)))
    # atol: s_wrong - s_correct carries the rounding of the scores themselves
    what = f"the loss of one sample, {formula},"
    expect.close(loss, expected, what, rtol=1e-9, atol=1e-9 * scale)


def _gap(case: Case) -> float:
    s = (case.X @ case.W)[0]
    right = int(case.y[0])
    return float(s[1 - right] - s[right])


@check_each(
    SVM,
    "{key}_one_sample",
    "For one sample and two classes, {fn} returns max(0, 1 + s_wrong - s_correct), with the "
    "scores s = X @ W (reg = 0).",
    one_sample_two_classes(),
    hint=(
        "With one sample and two classes the SVM loss has a single term: the margin of the "
        "wrong class, max(0, s_wrong - s_correct + 1). Check the margin 1, the max(0, .), "
        "that the correct class itself is skipped, and which score is subtracted."
    ),
)
def svm_one_sample(case: OneSample, student, fn: str) -> None:
    _one_sample(case, student, fn, "max(0, 1 + s_wrong - s_correct)", max(0.0, 1.0 + _gap(case)))


@check_each(
    SOFTMAX,
    "{key}_one_sample",
    "For one sample and two classes, {fn} returns log(1 + exp(s_wrong - s_correct)), with the "
    "scores s = X @ W (reg = 0).",
    one_sample_two_classes(),
    hint=(
        "With one sample and two classes, -log of the correct class's probability is "
        "log(1 + exp(s_wrong - s_correct)). Check the sign of the log, that the probability "
        "is the correct class's, and that a shift for stability is subtracted from every "
        "score, s[y[i]] included."
    ),
)
def softmax_one_sample(case: OneSample, student, fn: str) -> None:
    expected = float(np.logaddexp(0.0, _gap(case)))
    _one_sample(case, student, fn, "log(1 + exp(s_wrong - s_correct))", expected)
