"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

from propgrade import check_each, expect

from .common import (
    ALL,
    REG_POSITIVE_CASES,
    REG_ZERO_CASES,
    Case,
    loss_and_grad,
    near_hinge_kink,
)


def _against_reference(case: Case, student, fn: str, reference) -> None:
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    ref_loss, ref_dW = getattr(reference, fn)(*case.args)
    # Correct float64 variants agree to ~1e-11; a float32 computation does not.
    expect.close(loss, float(ref_loss), f"the loss of {fn}", rtol=1e-9, atol=1e-12)
    # At a hinge kink both "margin > 0" and "margin >= 0" give a valid subgradient.
    if not (fn.startswith("svm") and near_hinge_kink(case)):
        expect.close(dW, ref_dW, f"the gradient dW of {fn}", rtol=1e-7, atol=1e-12)


@check_each(
    ALL,
    "{key}_reference_noreg",
    "{fn} returns the same loss and dW as the reference solution when reg = 0.",
    REG_ZERO_CASES,
    hint=(
        "Your result differs from the reference solution with no regularization. Check the "
        "averaging over N, the margin, which class is treated as correct, and float64 "
        "precision (no float32 intermediates)."
    ),
)
def reference_noreg(case: Case, student, fn: str, reference) -> None:
    _against_reference(case, student, fn, reference)


@check_each(
    ALL,
    "{key}_reference_reg",
    "{fn} returns the same loss and dW as the reference solution when reg > 0 "
    "(the regularization term reg * sum(W**2) and its gradient 2 * reg * W).",
    REG_POSITIVE_CASES,
    hint=(
        "Your result differs from the reference solution only when reg > 0. The expected "
        "convention adds reg times the sum of the squared weights to the loss, and 2 * reg * W "
        "to dW, once, after averaging over N."
    ),
)
def reference_reg(case: Case, student, fn: str, reference) -> None:
    _against_reference(case, student, fn, reference)
