"""One short hint per kind of check, chosen by the suffix of the check id.

Check ids follow ``<function key>_<property>`` (``svm_vec_nonnegative``): the property part
says what kind of mistake a failure points to, whatever the function. This table is the
only place hints live; an id with no known suffix gets a generic hint.
"""

from __future__ import annotations

HINTS: dict[str, str] = {
    "_output_shapes": (
        "Return a pair (loss, dW): loss a single finite number, dW a finite float array with "
        "exactly the shape of W. Check for a missing return value, a transposed dW, or a "
        "NaN/inf from an overflow."
    ),
    "_nonnegative": (
        "Every term of these losses is >= 0 (a hinge max(0, ·) or a -log of a probability), "
        "and so is reg * sum(W**2). A negative loss usually means a missing max(0, ·), a "
        "flipped sign, or the correct class counted as a margin."
    ),
    "_zero_weights": (
        "With W = 0 all scores are equal, so the loss is known in closed form (C - 1 for the "
        "SVM with margin 1, log(C) for softmax). Check the margin, that the correct class is "
        "skipped, and that you average over the N samples."
    ),
    "_inputs_unchanged": (
        "Your function changed an argument the caller still uses. Operations like W += ..., "
        "X -= ..., scores -= ... on a view, or np.subtract(..., out=X) modify the caller's "
        "array in place: compute into a new array (or .copy() first)."
    ),
    "_numerical_gradient": (
        "dW is compared with finite differences of your own loss, so the loss and dW disagree: "
        "either one can be the wrong one (the message says which when it can tell). "
        "Check the sign of each term, that dW gets the same 1/N averaging as the loss, and "
        "the gradient of reg * sum(W**2), which is 2 * reg * W."
    ),
    "_scale_zero_loss": (
        "When every margin is already satisfied, scaling W only makes the margins larger, so "
        "the loss must stay 0. A non-zero loss means negative margins are being added "
        "(a missing max(0, ·)) or the correct class is counted."
    ),
    "_shift_invariance": (
        "Adding a constant to every score of a sample must not change softmax. Subtract each "
        "row's own maximum score (not the whole batch's, and not a running max started at 0) "
        "before calling exp, so exp never overflows to inf or underflows to a sum of 0."
    ),
    "_matches_naive": (
        "Your vectorized and naive versions disagree on the same input. Compare them on the "
        "small input shown; the naive version is usually the one to trust first."
    ),
    "_no_per_sample_loop": (
        "The vectorized version must not loop over samples in Python: express the loss and "
        "dW with array operations (matrix products, indexing with np.arange(N) and y, sums "
        "along an axis). np.vectorize and np.apply_along_axis are Python loops too: they call "
        "your function once per element or row."
    ),
    "_implemented": (
        "None of this function's other checks count until it returns (loss, dW) with a loss "
        "computed from its inputs. Replace the starter code's pass and constant return "
        "values with your computation."
    ),
    "_regularization": (
        "The regularization part is checked on its own: L(W, reg) - L(W, 0) must be "
        "reg * np.sum(W * W) and dW(reg) - dW(0) must be 2 * reg * W. A factor 0.5, reg * W "
        "in dW, or a term divided by N shows here."
    ),
    "_reference_noreg": (
        "Your result differs from the reference solution with no regularization. Check the "
        "averaging over N, the margin, which class is treated as correct, and float64 "
        "precision (no float32 intermediates)."
    ),
    "_reference_reg": (
        "Your result differs from the reference solution only when reg > 0. The expected "
        "convention adds reg times the sum of the squared weights to the loss, and 2 * reg * W "
        "to dW, once, after averaging over N."
    ),
}

# When the student's call produced no value at all, the property the check tests is beside
# the point: the hint is about the kind of failure instead. Keyed by the phrases the engine
# writes into the message (propgrade.engine.checks._failure_phrase).
FAILURE_HINTS: dict[str, str] = {
    "(...) raised an exception": (
        "Your function raised an exception on this input. Read the last line of your "
        "traceback, then run your function on exactly this input yourself: small inputs "
        "(N = 1, C = 2) often expose indexing and shape mistakes."
    ),
    "(...) ran past its time limit": (
        "Your function did not return in time on this small input: look for a loop that never "
        "ends (a while loop whose condition never changes) or a loop over far too many items."
    ),
    "(...) crashed the worker process": (
        "Your code ended the process that ran it (sys.exit, os._exit, a huge allocation, or "
        "the memory limit): remove exits and build only arrays of the size you need."
    ),
    "(...) is not defined in the submission": (
        "The grader could not find this function in your file: keep the function names and "
        "signatures from the starter code."
    ),
    "(...) returned a different result while its Python work was counted": (
        "Your function answered differently when the grader counted its Python work than "
        "when it was called normally on the same input. A function must compute its result "
        "the same way every time: no checks for tracers, debuggers or timing."
    ),
    "(...) was not run": (
        "This call was skipped because earlier calls timed out or crashed: fix the failures "
        "caused by time limits or crashes first."
    ),
}

GENERIC_HINT = (
    "Run your function by hand on the smallest failing input shown here and compare each "
    "intermediate value with what you expect; the input is as small as the grader could make "
    "it while still failing."
)

INTERNAL_ERROR_HINT = (
    "This is a problem in the grader, not in your code: your instructor has been told, and "
    "you do not need to change anything for this check."
)


def hint_for(check_id: str, message: str = "") -> str:
    """The hint for a failure: by the kind of failure if the call produced no value, else by
    the longest known suffix of the check id."""
    for phrase, hint in FAILURE_HINTS.items():
        if phrase in message:
            return hint
    matches = [suffix for suffix in HINTS if check_id.endswith(suffix)]
    if not matches:
        return GENERIC_HINT
    return HINTS[max(matches, key=len)]
