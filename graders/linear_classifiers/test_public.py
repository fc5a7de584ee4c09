"""Public checks: released to students, runnable with ``propgrade check``.

None of them needs the reference solution: each is a property any correct loss has.
"""

from __future__ import annotations

import math

import numpy as np

from propgrade import assume, check_each, expect

from .common import (
    ALL,
    ANY_CASES,
    SOFTMAX,
    SVM,
    VECTORIZED,
    Case,
    Shifted,
    loss_and_grad,
    near_hinge_kink,
    near_zero_weights,
    numerical_gradient_points,
    require,
    two_batch_sizes,
    with_bias_column,
    zero_svm_loss,
)


@check_each(
    ALL,
    "{key}_output_shapes",
    "{fn} returns a finite scalar loss and a finite gradient dW with the shape of W.",
    ANY_CASES,
)
def output_shapes(case: Case, student, fn: str) -> None:
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    expect.finite(loss, f"the loss returned by {fn}")
    expect.finite(dW, f"the gradient dW returned by {fn}")


@check_each(ALL, "{key}_nonnegative", "{fn} never returns a negative loss (reg >= 0).", ANY_CASES)
def nonnegative(case: Case, student, fn: str) -> None:
    loss, _ = loss_and_grad(student.call(fn, *case.args), case, fn)
    require(loss >= 0, f"{fn} returned a negative loss", expected="a loss >= 0", got=loss)


@check_each(
    ALL,
    "{key}_zero_weights",
    "With W = 0 (all scores 0) and reg = 0, {fn} returns C - 1 for the SVM and log(C) for softmax.",
    near_zero_weights(),
)
def zero_weights(case: Case, student, fn: str) -> None:
    loss, _ = loss_and_grad(student.call(fn, *case.args), case, fn)
    c = case.W.shape[1]
    expected = float(c - 1) if fn.startswith("svm") else math.log(c)
    expect.close(loss, expected, f"the loss at W = 0 (C = {c})", rtol=1e-4, atol=1e-9)


@check_each(
    ALL,
    "{key}_inputs_unchanged",
    "{fn} does not modify its arguments W, X and y.",
    ANY_CASES,
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
    ANY_CASES,
    max_examples=10,
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
        raise expect.CheckFailed(
            f"dW does not match the numerical gradient at W entries {points}",
            expected=numeric,
            got=analytic,
        ) from failed


@check_each(
    SVM,
    "{key}_scale_zero_loss",
    "If W has zero SVM loss, so does 2W: {fn} returns 0 for both (reg = 0).",
    zero_svm_loss(),
)
def scale_zero_loss(case: Case, student, fn: str) -> None:
    for factor in (1.0, 2.0):
        loss, _ = loss_and_grad(student.call(fn, *case.with_W(case.W * factor).args), case, fn)
        expect.close(loss, 0.0, f"the loss at {factor:g}·W", rtol=0.0, atol=1e-9)


@check_each(
    SOFTMAX,
    "{key}_shift_invariance",
    "Adding the same constant (about 1000) to every score leaves the loss and dW of {fn} "
    "unchanged and finite.",
    with_bias_column(),
)
def shift_invariance(drawn: Shifted, student, fn: str) -> None:
    case, shift = drawn.case, drawn.shift
    W = case.W.copy()
    W[-1, :] += shift  # the last feature is the constant 1, so every score grows by shift
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    loss2, dW2 = loss_and_grad(student.call(fn, *case.with_W(W).args), case, fn)
    expect.finite(loss2, f"the loss with every score shifted by {shift:g}")
    # atol: log-sum-exp at scores ~1000 loses ~1e-13 in absolute terms, which is
    # relative error > 1e-6 once the loss itself is tiny; such a solution is still correct.
    expect.close(
        loss2, loss, f"the loss with every score shifted by {shift:g}", rtol=1e-6, atol=1e-9
    )
    expect.close(dW2, dW, f"dW with every score shifted by {shift:g}", rtol=1e-5, atol=1e-9)


@check_each(
    VECTORIZED,
    "{key}_matches_naive",
    "{fn[0]} returns the same loss and dW as your {fn[1]}.",
    ANY_CASES,
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
)
def no_per_sample_loop(drawn: tuple[Case, Case], student, fns: tuple[str, str]) -> None:
    vec = fns[0]
    small, big = drawn
    few = student.outcome(vec, *small.args, trace=True).trace_events
    many = student.outcome(vec, *big.args, trace=True).trace_events
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
