"""Which hint a failed check shows: the one rule every route follows.

The student page, Gradescope's results.json, nbgrader's feedback page (the student page
again) and ``propgrade check`` all call :func:`hint_for`, so a student sees the same hint
wherever they look. What a hint says about a property is the assignment's business: it is
declared with the check (``check(..., hint=...)``, or grading.yaml's ``hint:``) and travels
in the result. This module knows no assignment; it only adds the hints that hold for any
check: about calls that produced no value, and a generic one for checks without a hint.
"""

from __future__ import annotations

from propgrade.engine.results import CheckResult

# When the student's call produced no value at all, the property the check tests is beside
# the point: the hint is about the kind of failure instead. Keyed by the phrases the engine
# writes into the message (propgrade.engine.checks._failure_phrase).
FAILURE_HINTS: dict[str, str] = {
    # The import policy's refusal (sandbox/inside/worker_main.py), raised where the function
    # uses a package it may not import: before "raised ", which it also contains.
    "refused: student code may import only": (
        "Your function uses a package the grader does not let graded code import. Write "
        "this part with the ones the message names (numpy and the Python standard library "
        "always); an import that no graded function uses costs nothing."
    ),
    # "raised an exception: ..." or, when the worker named it, "raised ValueError: ...".
    "(...) raised ": (
        "Your function raised an exception on this input. Read the last line of your "
        "traceback, then run your function on exactly this input yourself: the smallest "
        "sizes often expose indexing and shape mistakes."
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


def hint_for(check: CheckResult, *, graded: bool = True) -> str | None:
    """The hint to show with ``check``, or None when it gets none.

    None for a passed check, a check not graded because a check it requires failed (its
    message says what to fix first), and every check of a submission that could not be
    graded at all (``graded=False``: a hint would point at a mistake nobody made).
    Otherwise: the grader's own failure, a call that produced no value, the hint the
    failure itself names (a check that tells which of several mistakes it caught), the
    check's declared hint, and the generic hint, in that order.
    """
    feedback = check.feedback
    if check.passed or feedback is None or feedback.blocked_by or not graded:
        return None
    if feedback.internal_error:
        return INTERNAL_ERROR_HINT
    for phrase, hint in FAILURE_HINTS.items():
        if phrase in feedback.message:
            return hint
    return feedback.hint or check.hint or GENERIC_HINT
