"""Public checks: released to students, runnable with ``propgrade check``.

None of them needs the reference solution: each is a property any correct loss has.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from propgrade import StudentCallFailed, assume, check_each, expect, format_value

from .common import (
    ALL,
    ANY_CASES,
    ANY_CASES_NAIVE_SMALL,
    GRID_CASES,
    REG_POSITIVE_CASES_NAIVE_SMALL,
    SOFTMAX,
    SVM,
    VECTORIZED,
    Case,
    RowShifted,
    TwoWeights,
    exact_loss_and_grad,
    loss_and_grad,
    loss_of,
    moved_score,
    near_hinge_kink,
    near_zero_weights,
    numerical_gradient_points,
    require,
    row_shifts_naive_small,
    two_batch_sizes,
    two_weights,
    zero_svm_loss,
)


@check_each(
    ALL,
    "{key}_implemented",
    "{fn} does the work: it returns a finite loss that changes with W and with the labels y, "
    "and no single score of a sample makes it rise both when that score goes up and when it "
    "goes down. The other checks of {fn} count once this one passes.",
    two_weights(),
    # 8 calls an example; at 1, selftest kills the same mutants as at 3 (one of them, at
    # seed 7, through four other checks instead of this gate) and the fakes in the
    # fixture corpus still score 0
    max_examples=1,
    hint=(
        "None of the other checks of {fn} count until it returns (loss, dW) with a loss "
        "computed from its inputs. Replace the starter code's pass and constant return "
        "values with your computation. The loss measures how wrong the prediction for the "
        "correct class y[i] is: it depends on which class is correct, and moving one score "
        "of a sample only ever pushes it one way (a wrong class gaining raises it, the "
        "correct class gaining lowers it)."
    ),
)
def implemented(drawn: TwoWeights, student, fn: str) -> None:
    # Deliberately loose about the form (a swapped pair, per-sample losses, a loss without
    # dW all pass): the form has its own check, and this one only decides whether the
    # other checks of the function count.
    case = drawn.case
    first = student.call(fn, *case.args)
    require(
        first is not None,
        f"{fn} returned None: its body does not return (loss, dW) yet",
        expected="a pair (loss, dW)",
        got="None",
    )
    loss = _first_value(first, fn)
    expect.finite(loss, f"the loss returned by {fn}")
    moved = case.with_W(drawn.other_W)
    other = _first_value(student.call(fn, *moved.args), fn)
    require(
        not np.array_equal(loss, other),
        f"{fn} returned the same loss for two different W: it does not compute the loss yet "
        "(is it still the starter code?)",
        expected="a loss that changes with W",
        got=f"{format_value(loss)} for both",
    )
    _depends_on_labels(moved, other, student, fn)
    _no_minimum_along_one_score(moved, student, fn)


def _depends_on_labels(case: Case, loss: np.ndarray, student, fn: str) -> None:
    """Every loss here is about the correct class: other labels, another loss.

    A function of the scores alone (their spread, say) can satisfy every property that
    compares the function with itself; it cannot tell which class is the right one.
    """
    relabelled = Case(case.W, case.X, (case.y + 1) % case.W.shape[1], case.reg)
    other = _first_value(student.call(fn, *relabelled.args), fn)
    with np.errstate(invalid="ignore", over="ignore"):
        differ = loss.shape != other.shape or bool(
            np.max(np.abs(loss - other), initial=0.0)
            > 1e-6 * (1.0 + float(np.max(np.abs(loss), initial=0.0)))
        )
    require(
        differ,
        f"{fn} returned the same loss with the second W for the labels y and for the labels "
        "(y + 1) % C: it does not look at which class is correct",
        expected="a loss that changes with the labels",
        got=f"{format_value(loss)} for both",
    )


# Far beyond the spread of the scores here (|score| < ~15): a quantity that grows with the
# scores' spread rises both ways, while every score stays far inside the naive softmax's
# range.
SCORE_MOVE = 30.0


def _no_minimum_along_one_score(case: Case, student, fn: str) -> None:
    """On the first sample alone, the correct class's score and the highest wrong class's
    score, each moved down and up, never raise the loss both ways.

    A loss grows as a wrong class's score rises and as the correct class's falls, so along
    one score it only goes one way. Plain mistakes keep that (a flipped sign reverses it;
    a missing max or delta only flattens it); a measure of how spread out the scores are
    (a variance, a range) has a minimum in the middle. One sample: mistakes that mix the
    samples (a normalization over the batch) must not fail here.
    """
    amounts = (0.0, -SCORE_MOVE, SCORE_MOVE)
    classes: list[int] = []

    def probe(batch: Case) -> list[Any]:
        # The correct class and the wrong class scoring highest: a spread of the scores
        # rises both ways along any score, and these two are the ones a loss is about.
        correct = int(batch.y[0])
        scores = batch.X[0] @ batch.W
        wrong = max((k for k in range(len(scores)) if k != correct), key=lambda k: scores[k])
        classes[:] = [correct, wrong]
        return student.map(fn, [moved_score(batch, 0, k, a).args for k in classes for a in amounts])

    one, where = Case(case.W, case.X[:1], case.y[:1], 0.0), "the first sample alone"
    try:
        results = probe(one)
    except StudentCallFailed as failed:
        if failed.failure.kind != "exception":
            raise
        # Code that breaks on a single sample (a loop bound taken from the wrong axis of X)
        # is judged on the same sample within its batch; the other checks say what breaks.
        one, where = Case(case.W, case.X, case.y, 0.0), "the first sample of the batch"
        results = probe(one)
    values = [_first_value(v, fn) for v in results]
    if any(v.size != 1 for v in values):
        return  # not a single number: the form is output_shapes' business
    losses = np.array([float(v.ravel()[0]) for v in values]).reshape(len(classes), 3)
    for k, (middle, down, up) in zip(classes, losses, strict=True):
        tol = 1e-6 * (1.0 + abs(middle))
        require(
            not (down > middle + tol and up > middle + tol),
            f"with the second W and {where}, {fn}'s loss rises both when the "
            f"score of class {k} goes down by {SCORE_MOVE:g} and when it goes up by "
            f"{SCORE_MOVE:g}: a loss only rises as a wrong class gains on the correct one "
            f"(class {int(one.y[0])}), so it is not computing the loss",
            expected="a loss that only falls, or only rises, as that score goes up",
            got=f"{format_value(down)} (down), {format_value(middle)}, {format_value(up)} (up)",
        )


def _first_value(value: object, fn: str) -> np.ndarray:
    if isinstance(value, tuple) and len(value) == 2:
        value = value[0]
    return expect.real_array(value, f"the loss returned by {fn}")  # type: ignore[arg-type]


@check_each(
    ALL,
    "{key}_output_shapes",
    "{fn} returns a finite loss as a single number and a finite float64 gradient dW with "
    "the shape of W.",
    ANY_CASES,
    hint=(
        "Return a pair (loss, dW): loss a single finite number, dW a finite float array with "
        "exactly the shape of W. Check for a missing return value, a transposed dW, or a "
        "NaN/inf from an overflow."
    ),
)
def output_shapes(case: Case, student, fn: str) -> None:
    loss, dW = exact_loss_and_grad(student.call(fn, *case.args), case, fn)
    expect.finite(loss, f"the loss returned by {fn}")
    expect.finite(dW, f"the gradient dW returned by {fn}")


@check_each(
    ALL,
    "{key}_nonnegative",
    "{fn} never returns a negative loss (reg >= 0).",
    GRID_CASES,
    hint=(
        "Every term of these losses is >= 0 (a hinge max(0, ·) or a -log of a probability), "
        "and so is reg * sum(W**2). A negative loss usually means a missing max(0, ·), a "
        "flipped sign, or the correct class counted as a margin."
    ),
)
def nonnegative(case: Case, student, fn: str) -> None:
    loss = loss_of(student.call(fn, *case.args), fn)
    # A loss that is 0 in exact arithmetic may come out as -1e-16, and which one depends on
    # how the student's sums happen to be vectorized: that is no negative loss.
    require(loss >= -1e-9, f"{fn} returned a negative loss", expected="a loss >= 0", got=loss)


@check_each(
    ALL,
    "{key}_zero_weights",
    "With W = 0 (all scores 0) and reg = 0, {fn} returns C - 1 for the SVM and log(C) for softmax.",
    near_zero_weights(),
    hint=(
        "With W = 0 all scores are equal, so the loss is known in closed form (C - 1 for the "
        "SVM with margin 1, log(C) for softmax). Check the margin, that the correct class is "
        "skipped, and that you average over the N samples."
    ),
)
def zero_weights(case: Case, student, fn: str) -> None:
    loss = loss_of(student.call(fn, *case.args), fn)
    c = case.W.shape[1]
    expected = float(c - 1) if fn.startswith("svm") else math.log(c)
    expect.close(loss, expected, f"the loss at W = 0 (C = {c})", rtol=1e-4, atol=1e-9)


@check_each(
    ALL,
    "{key}_inputs_unchanged",
    "{fn} does not modify its arguments W, X and y.",
    ANY_CASES_NAIVE_SMALL,
    hint=(
        "Your function changed an argument the caller still uses. Operations like W += ..., "
        "X -= ..., scores -= ... on a view, or np.subtract(..., out=X) modify the caller's "
        "array in place: compute into a new array (or .copy() first)."
    ),
)
def inputs_unchanged(case: Case, student, fn: str) -> None:
    outcome = student.outcome(fn, *case.args, echo_args=True)
    after = outcome.args_after
    require(after is not None and len(after) == 4, "the arguments could not be read back")
    assert after is not None
    for name, before, now in zip(("W", "X", "y"), case.args[:3], after[:3], strict=True):
        expect.unchanged(before, now, name)


STEP = 1e-5


@check_each(
    ALL,
    "{key}_numerical_gradient",
    "The gradient dW returned by {fn} matches a centered numerical gradient of its own loss.",
    ANY_CASES_NAIVE_SMALL,
    # Each example costs 5 calls (the case, then 2 coordinates at 2 calls each). At 5,
    # selftest kills the same mutants, with the same kills per check, as at 10 (and every
    # fixture holds).
    max_examples=5,
    hint=(
        "dW is compared with finite differences of your own loss, so the loss and dW disagree: "
        "either one can be the wrong one (the message says which when it can tell). "
        "Check the sign of each term, that dW gets the same 1/N averaging as the loss, and "
        "the gradient of reg * sum(W**2), which is 2 * reg * W."
    ),
)
def numerical_gradient(case: Case, student, fn: str) -> None:
    if fn.startswith("svm"):
        assume(not near_hinge_kink(case, STEP))
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    points = numerical_gradient_points(case)
    shifted = []
    for i, j in points:
        for sign in (1.0, -1.0):
            W = case.W.copy()
            W[i, j] += sign * STEP
            shifted.append((W, case.X, case.y, case.reg))
    values = [
        expect.scalar(loss_and_grad(v, case, fn)[0], f"the loss returned by {fn} at a perturbed W")
        for v in student.map(fn, shifted)
    ]
    numeric = np.array(
        [(values[2 * k] - values[2 * k + 1]) / (2 * STEP) for k in range(len(points))]
    )
    analytic = np.array([dW[i, j] for i, j in points])
    scale = 1.0 + abs(loss)
    try:
        expect.close(analytic, numeric, "dW", rtol=1e-4, atol=1e-6 * scale)
    except expect.CheckFailed as failed:
        # Both sides are the student's: the finite differences are no more "expected" than
        # dW (with a 0.5 * reg loss the gradient is right and the loss is wrong).
        verdict = _which_is_wrong(case, student, fn)
        raise expect.CheckFailed(
            f"your loss and your dW disagree at W entries {points}: {verdict}\n"
            f"finite differences of your loss: {format_value(numeric)}\n"
            f"your dW at those entries:        {format_value(analytic)}"
        ) from failed


def _which_is_wrong(case: Case, student, fn: str) -> str:
    """Which side the regularization property blames, when it can tell."""
    if case.reg == 0:
        return "the loss or dW is wrong."
    loss_r, dW_r = loss_and_grad(student.call(fn, *case.args), case, fn)
    loss_0, dW_0 = loss_and_grad(student.call(fn, case.W, case.X, case.y, 0.0), case, fn)
    loss_ok = _near(loss_r - loss_0, case.reg * float(np.sum(case.W**2)))
    grad_ok = _near(dW_r - dW_0, 2.0 * case.reg * case.W)
    if grad_ok and not loss_ok:
        return (
            "dW's regularization part is right, the loss's is not (it should add reg * sum(W**2))."
        )
    if loss_ok and not grad_ok:
        return "the loss's regularization part is right, dW's is not (it should add 2 * reg * W)."
    return "the loss or dW is wrong."


def _near(got: float | np.ndarray, expected: float | np.ndarray) -> bool:
    try:
        expect.close(got, expected, "", rtol=1e-6, atol=1e-9)
    except expect.CheckFailed:
        return False
    return True


@check_each(
    SVM,
    "{key}_scale_zero_loss",
    "If W has zero SVM loss, so does 2W: {fn} returns 0 for both (reg = 0).",
    zero_svm_loss(),
    # selftest kills the same mutants, check by check, at 5 examples as at 10
    max_examples=5,
    hint=(
        "When every margin is already satisfied, scaling W only makes the margins larger, so "
        "the loss must stay 0. A non-zero loss means negative margins are being added "
        "(a missing max(0, ·)) or the correct class is counted."
    ),
)
def scale_zero_loss(case: Case, student, fn: str) -> None:
    for factor in (1.0, 2.0):
        loss = loss_of(student.call(fn, *case.with_W(case.W * factor).args), fn)
        expect.close(loss, 0.0, f"the loss at {factor:g}·W", rtol=0.0, atol=1e-9)


@check_each(
    SOFTMAX,
    "{key}_shift_invariance",
    "Adding a constant to all scores of a sample leaves the loss of {fn} unchanged and finite, "
    "also with a different constant for each sample (from -4000 to 2500).",
    row_shifts_naive_small,
    hint=(
        "Adding a constant to every score of a sample must not change softmax. Subtract each "
        "row's own maximum score (not the whole batch's, and not a running max started at 0) "
        "before calling exp, so exp never overflows to inf or underflows to a sum of 0."
    ),
)
def shift_invariance(drawn: RowShifted, student, fn: str) -> None:
    case, shifted = drawn.case, drawn.shifted()
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    loss2, dW2 = loss_and_grad(student.call(fn, *shifted.args), shifted, fn)
    what = "with each sample's scores shifted"
    expect.finite(loss2, f"the loss {what}")
    expect.finite(dW2, f"dW {what}")
    # atol: log-sum-exp at scores ~1000 loses ~1e-13 in absolute terms, which is
    # relative error > 1e-6 once the loss itself is tiny; such a solution is still correct.
    expect.close(loss2, loss, f"the loss {what}", rtol=1e-6, atol=1e-9)
    # The shift is an extra feature: dW gains a row for it, the other rows stay the same.
    expect.close(dW2[:-1], dW, f"dW {what} (rows of the original features)", rtol=1e-5, atol=1e-9)


@check_each(
    ALL,
    "{key}_regularization",
    "Raising reg from 0 adds exactly reg * sum(W**2) to the loss of {fn} and 2 * reg * W to "
    "its dW.",
    REG_POSITIVE_CASES_NAIVE_SMALL,
    # selftest kills the same mutants, check by check, at 5 examples as at 10
    max_examples=5,
    hint=(
        "The regularization part is checked on its own: L(W, reg) - L(W, 0) must be "
        "reg * np.sum(W * W) and dW(reg) - dW(0) must be 2 * reg * W. A factor 0.5, reg * W "
        "in dW, or a term divided by N shows here."
    ),
)
def regularization(case: Case, student, fn: str) -> None:
    loss_r, dW_r = loss_and_grad(student.call(fn, *case.args), case, fn)
    loss_0, dW_0 = loss_and_grad(student.call(fn, case.W, case.X, case.y, 0.0), case, fn)
    # A wrong function may return inf: inf - inf is NaN, which expect.close reports; numpy's
    # warning about it would only clutter the grader's terminal.
    with np.errstate(invalid="ignore", over="ignore"):
        added_loss, added_dW = loss_r - loss_0, dW_r - dW_0
    expect.close(
        added_loss,
        case.reg * float(np.sum(case.W**2)),
        f"L(W, reg={case.reg:g}) - L(W, 0), what reg adds to the loss,",
        rtol=1e-6,
        atol=1e-9 * (1.0 + abs(loss_0)),
    )
    # atol in proportion to dW: a float32 dW (wrong form, right value) differs by ~1e-7.
    expect.close(
        added_dW,
        2.0 * case.reg * case.W,
        f"dW(reg={case.reg:g}) - dW(0), what reg adds to dW,",
        rtol=1e-6,
        atol=1e-6 * (1e-6 + float(np.max(np.abs(dW_0), initial=0.0))),
    )


@check_each(
    VECTORIZED,
    "{key}_matches_naive",
    "{fn[0]} returns the same loss and dW as your {fn[1]}.",
    ANY_CASES,
    hint=(
        "Your vectorized and naive versions disagree on the same input. Compare them on the "
        "small input shown; the naive version is usually the one to trust first."
    ),
)
def matches_naive(case: Case, student, fns: tuple[str, str]) -> None:
    vec, naive = fns
    loss_v, dW_v = loss_and_grad(student.call(vec, *case.args), case, vec)
    loss_n, dW_n = loss_and_grad(student.call(naive, *case.args), case, naive)
    expect.close(loss_v, loss_n, f"the loss of {vec} compared to {naive}", rtol=1e-7, atol=1e-12)
    if not (vec.startswith("svm") and near_hinge_kink(case)):
        expect.close(dW_v, dW_n, f"dW of {vec} compared to {naive}", rtol=1e-7, atol=1e-12)


@check_each(
    VECTORIZED,
    "{key}_no_per_sample_loop",
    "{fn[0]} does no per-sample Python work: it runs the same Python lines for 8 and for 64 "
    "samples.",
    two_batch_sizes(),
    max_examples=2,
    hint=(
        "The vectorized version must not loop over samples in Python: express the loss and "
        "dW with array operations (matrix products, indexing with np.arange(N) and y, sums "
        "along an axis). np.vectorize and np.apply_along_axis are Python loops too: they call "
        "your function once per element or row."
    ),
)
def no_per_sample_loop(drawn: tuple[Case, Case], student, fns: tuple[str, str]) -> None:
    vec = fns[0]
    small, big = drawn
    few, many = (o.trace_events for o in student.outcomes(vec, [small.args, big.args], trace=True))
    require(
        few is not None and many is not None and few >= 0 and many >= 0,
        f"the Python work of {vec} could not be measured (was sys.settrace changed?)",
    )
    assert few is not None and many is not None
    extra = many - few
    require(
        extra < (len(big.y) - len(small.y)) // 2,
        f"{vec} runs {extra} more Python line/call events for 64 samples than for 8: "
        "it loops over samples in Python",
        expected=f"about {few} events for both batch sizes",
        got=f"{few} events for N = 8, {many} for N = 64",
    )
