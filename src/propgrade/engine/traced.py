"""A traced call counts only if what it returned is right, or what it returns uncounted.

The Python-event count of a traced call (``Call.trace``) is taken while trace and profile
functions run in the student's process, and student code can notice them (``sys.gettrace``
under a name built from strings, ``frame.f_trace``, a slower loop) and return a cheap
dummy while measured and do the real, looping work otherwise. So the trusted side judges
what the traced call returned:

* if the reference, run here on the same arguments, returns the same value (within
  ``WITNESS_RTOL``, whatever the form: a float32 dW, a loss as a size-1 array, a config
  with keys of its own), the count stands: the call did the work while counted;
* otherwise (a wrong function, or a dummy) the worker runs the call again, untraced, in a
  fresh process, and this module compares the two results: a call that answers
  differently when measured fails with ``FailureKind.INCONSISTENT``. A fresh process,
  because a function that memoizes its answers by argument bytes would otherwise replay
  the dummy it returned while counted.

A wrong but honest function keeps its count (its mistake is charged by the checks about
values, once). What is left to a determined attacker, who must detect the fresh process
to return the same dummy there, is flagged for review by hand (engine/review.py). A grader
should still trace calls on arguments that no other call uses: an untraced call on the
same arguments before the traced one could fill a cache the traced one answers from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from propgrade.engine.display import format_value
from propgrade.engine.proxies import ReferenceModule
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
# A student's right answer against the reference's: other summation orders, float32.
# Too strict costs only a rerun (the value then has to agree with itself instead).
WITNESS_RTOL = 1e-5


def reference_witness(reference: object) -> Callable[[Call, Value], bool]:
    """Whether a traced call's value is the reference's on the same arguments."""

    def agrees(call: Call, value: Value) -> bool:
        try:
            if isinstance(reference, ReferenceModule):
                expected = reference.answer(call)
            elif call.instance is not None:
                return False
            else:
                expected = getattr(reference, call.function)(*call.args, **dict(call.kwargs))
        except Exception:  # no such function, or arguments it refuses: no witness
            return False
        return values_agree(value, expected)

    return agrees


def values_agree(value: object, expected: object) -> bool:
    """``value`` (decoded from a student) holds ``expected``'s numbers, leniently as to form."""
    if isinstance(expected, tuple | list):
        return (
            isinstance(value, tuple)
            and len(value) == len(expected)
            and all(values_agree(v, e) for v, e in zip(value, expected, strict=True))
        )
    if isinstance(expected, dict):
        return isinstance(value, dict) and all(
            key in value and values_agree(value[key], item) for key, item in expected.items()
        )
    if isinstance(value, tuple | dict | str | Unsupported) or value is None:
        return False
    try:
        got = np.asarray(value, dtype=np.complex128)
        want = np.asarray(expected, dtype=np.complex128)
    except (TypeError, ValueError):
        return False
    if got.size != want.size:
        return False
    got, want = got.reshape(-1), want.reshape(-1)
    finite = np.isfinite(got)
    if not np.array_equal(finite, np.isfinite(want)):
        return False
    if not np.array_equal(got[~finite], want[~finite], equal_nan=True):
        return False
    if not finite.any():
        return True
    x, y = got[finite], want[finite]
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    return bool(np.all(np.abs(x - y) <= ATOL + WITNESS_RTOL * scale))


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
        f"{difference}; {call.label}() must compute the same result whether or not its "
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
