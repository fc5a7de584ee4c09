"""A traced call counts only if it returns what the same call returns untraced.

The Python-event count of a traced call (``Call.trace``) is taken while a trace function
runs in the student's process, and student code can notice it (``sys.gettrace`` under a
name built from strings, ``frame.f_trace``, a slower loop) and return a cheap dummy while
measured and do the real, looping work otherwise. So the worker runs every successful
traced call once more, untraced, on the same arguments, and this module compares the two
results here, in the trusted process: a call that answers differently when measured
fails with ``FailureKind.INCONSISTENT``, whatever the grader does with the count.

The untraced run comes after the traced one, so a function that memoizes its answers
cannot serve the measured call from a cache filled by its own rerun; a grader should
still trace calls on arguments that no other call uses, for the same reason. A count
forged from inside the worker is beyond this check (README, "What the loop check is
worth").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from propgrade.engine.display import format_value
from propgrade.sandbox.calls import (
    Call,
    CallOutcome,
    FailureKind,
    StudentFailure,
    Unsupported,
    Value,
)

# Far above the last-bit noise of running the same numpy code twice (summation order can
# follow memory alignment), far below any dummy answer.
RTOL = 1e-7
ATOL = 1e-12


def untraced_twins(calls: Sequence[Call]) -> list[Call]:
    """The same calls without tracing (and without echoed arguments, which are not compared)."""
    return [replace(call, trace=False, echo_args=False) for call in calls]


def confirm(call: Call, traced: CallOutcome, plain: CallOutcome) -> CallOutcome:
    """``traced`` if the untraced run ``plain`` agrees with it, else a failure saying how not."""
    if plain.failure is not None:
        # The function fails when called normally: that failure is the honest answer.
        return plain
    difference = first_difference(traced.value, plain.value)
    if difference is None:
        return traced
    message = (
        f"{difference}; {call.function}() must compute the same result whether or not its "
        "Python work is counted"
    )
    failure = StudentFailure(FailureKind.INCONSISTENT, message)
    return CallOutcome(failure=failure, seconds=traced.seconds)


def first_difference(measured: Value, normal: Value, where: str = "the result") -> str | None:
    """Where two decoded results differ beyond numerical noise, in words; None if they agree."""
    if isinstance(measured, tuple) and isinstance(normal, tuple):
        if len(measured) != len(normal):
            return _differ(where, f"{len(measured)} items", f"{len(normal)} items")
        for index, (a, b) in enumerate(zip(measured, normal, strict=True)):
            found = first_difference(a, b, f"item {index} of {where}")
            if found is not None:
                return found
        return None
    if isinstance(measured, dict) and isinstance(normal, dict):
        if list(measured) != list(normal):
            return _differ(where, f"keys {list(measured)}", f"keys {list(normal)}")
        for key in measured:
            found = first_difference(measured[key], normal[key], f"{where}[{key[:40]!r}]")
            if found is not None:
                return found
        return None
    if type(measured) is not type(normal):
        return _differ(where, _kind(measured), _kind(normal))
    if isinstance(measured, np.ndarray) and isinstance(normal, np.ndarray):
        if measured.shape != normal.shape or measured.dtype != normal.dtype:
            return _differ(where, _kind(measured), _kind(normal))
        return None if _arrays_agree(measured, normal) else _differ(where, measured, normal)
    if isinstance(measured, float | complex) and isinstance(normal, float | complex):
        return None if _numbers_agree(measured, normal) else _differ(where, measured, normal)
    return None if measured == normal else _differ(where, measured, normal)


def _arrays_agree(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    finite = np.isfinite(a)
    if not np.array_equal(finite, np.isfinite(b)):
        return False
    # NaN and infinities in the same places, infinities with the same signs.
    if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
        return False
    if not finite.any():
        return True
    x, y = a[finite], b[finite]
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    return bool(np.all(np.abs(x - y) <= ATOL + RTOL * scale))


def _numbers_agree(a: float | complex, b: float | complex) -> bool:
    return _arrays_agree(np.array([a]), np.array([b]))


def _differ(where: str, measured: object, normal: object) -> str:
    return (
        f"{where} was {_show(measured)} while counted and {_show(normal)} when called "
        "normally on the same input"
    )


def _show(value: object) -> str:
    text = value if isinstance(value, str) else format_value(value)
    return text if len(text) <= 300 else text[:300] + "..."


def _kind(value: Value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Unsupported):
        return f"a {value.type_name} object"
    return f"a {type(value).__name__}"
