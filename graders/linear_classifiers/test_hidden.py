"""Hidden checks: agreement with the reference solution. Never released to students."""

from __future__ import annotations

from propgrade import CheckFailed, check_each, expect

from .common import (
    ALL,
    REG_POSITIVE_CASES_NAIVE_SMALL,
    REG_ZERO_CASES_NAIVE_SMALL,
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
    REG_ZERO_CASES_NAIVE_SMALL,
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
    REG_POSITIVE_CASES_NAIVE_SMALL,
    hint=(
        "Your result differs from the reference solution only when reg > 0. The expected "
        "convention adds reg times the sum of the squared weights to the loss, and 2 * reg * W "
        "to dW, once, after averaging over N."
    ),
)
def reference_reg(case: Case, student, fn: str, reference) -> None:
    try:
        _against_reference(case, student, fn, reference)
    except CheckFailed as failure:
        raise _reg_failure(failure, case, student, fn, reference) from None


# The hint of a reg failure whose cause is not the regularization at all.
_NOT_THE_REG = (
    "Your result differs from the reference solution already with reg = 0, on this same "
    "input: the regularization is not the first thing to fix. See {check} for the "
    "unregularized loss (averaging over N, the margin, which class is correct, float64)."
)


def _reg_failure(failure: CheckFailed, case: Case, student, fn: str, reference) -> CheckFailed:
    """What differs when a reg > 0 result does: the part reg adds (L(reg) - L(0) and
    dW(reg) - dW(0)), shown at its own scale, or the result without reg, which the
    regularization convention cannot explain."""
    plain = Case(case.W, case.X, case.y, 0.0)
    loss, dW = loss_and_grad(student.call(fn, *case.args), case, fn)
    loss0, dW0 = loss_and_grad(student.call(fn, *plain.args), plain, fn)
    ref_loss, ref_dW = getattr(reference, fn)(*case.args)
    ref_loss0, ref_dW0 = getattr(reference, fn)(*plain.args)
    check = f"{next(k for k, v in ALL.items() if v == fn)}_reference_noreg"
    try:
        _against_reference(plain, student, fn, reference)
    except CheckFailed as without_reg:
        return CheckFailed(
            f"{without_reg.message}, with reg = 0 on the same input",
            expected=without_reg.expected,
            got=without_reg.got,
            hint=_NOT_THE_REG.format(check=check),
        )
    try:
        expect.close(
            loss - loss0,
            float(ref_loss) - float(ref_loss0),
            f"the regularization part of the loss, L(reg) - L(0) at reg = {case.reg:g}",
            rtol=1e-6,
            atol=1e-12,
        )
        if not (fn.startswith("svm") and near_hinge_kink(case)):
            expect.close(
                dW - dW0,
                ref_dW - ref_dW0,
                f"the regularization part of dW, dW(reg) - dW(0) at reg = {case.reg:g}",
                rtol=1e-6,
                atol=1e-12,
            )
    except CheckFailed as part:
        return part
    return failure  # the parts agree to 1e-6 but not the whole: shown as it was
