"""Coercing student values and comparing them, raising ``CheckFailed`` with expected vs got.

Student values arrive as decoded data; these helpers turn them into float64 numbers and
arrays of an expected shape, so a property never compares objects of the student's making.
Each one fails the check with a message a student can act on, naming ``what`` (a phrase
such as ``"the loss returned by svm_loss_naive"``) and what was expected and got.

Two kinds of reader: the strict ones (:func:`scalar`, :func:`array`) check the form a
docstring promises, for the one check about the form; the lenient ones
(:func:`scalar_value`, :func:`array_value`, :func:`real_array`) read the value out of any
real container, for checks about values, so that one mistake of form costs only once.

In the examples, ``np`` is numpy and ``expect`` is ``propgrade.expect``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from propgrade.engine.checks import CheckFailed
from propgrade.engine.display import describe_shape
from propgrade.sandbox.calls import SubclassArray, Value

__all__ = [
    "FloatArray",
    "array",
    "array_value",
    "close",
    "finite",
    "mapping",
    "pair",
    "real_array",
    "relative_error",
    "scalar",
    "scalar_value",
    "unchanged",
]

FloatArray = npt.NDArray[np.float64]


def scalar(value: Value, what: str) -> float:
    """A real number as a float: an int or a float, or a 0-d array.

    A numpy scalar the student returns arrives as a Python number. Strict about the form:
    a single-element 1-d array, a bool or a string fails::

        >>> expect.scalar(np.array(1.5, dtype=np.float32), "the loss")
        1.5
        >>> expect.scalar(np.array([1.5]), "the loss")
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: the loss should be a single real number
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
            return float(value)
        raise CheckFailed(
            f"{what} should be a single real number",
            expected="a float (e.g. a Python float or numpy float64)",
            got=describe_shape(value),
        )
    return float(value)


def array(
    value: Value, what: str, shape: tuple[int, ...], *, dtype: type[np.generic] | None = None
) -> FloatArray:
    """A real array of exactly ``shape`` (and ``dtype`` when given), as float64.

    Strict about the form: a list, an ``np.matrix``, another shape or (with ``dtype``)
    another dtype fails::

        >>> expect.array(np.ones((2, 3), np.float32), "dW", (2, 3))
        array([[1., 1., 1.],
               [1., 1., 1.]])
        >>> expect.array(np.ones((2, 3), np.float32), "dW", (2, 3), dtype=np.float64)
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: dW has dtype float32
    """
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise CheckFailed(
            f"{what} should be a real array of shape {shape}",
            expected=f"array of shape {shape}",
            got=describe_shape(value),
        )
    if isinstance(value, SubclassArray):
        # np.matrix above all: `*` is a matrix product on it and rows stay 2-D, so code
        # that uses the result as an array (CS231n's own training loops) breaks.
        raise CheckFailed(
            f"{what} is a {value.type_name}, not a plain numpy ndarray: on np.matrix `*` "
            "is a matrix product and indexing keeps two dimensions, so code that uses it "
            "as an array breaks",
            expected="numpy.ndarray",
            got=value.type_name,
        )
    _require_shape(value.shape, what, shape)
    if dtype is not None and value.dtype != np.dtype(dtype):
        raise CheckFailed(
            f"{what} has dtype {value.dtype}",
            expected=f"dtype {np.dtype(dtype)}",
            got=f"dtype {value.dtype}",
        )
    return value.astype(np.float64)


# The lenient readers below serve checks about values. A value in a slightly wrong
# container (a loss as a (1, 1) array, dW as a list or float32) is graded by its value;
# only the check about the form (``scalar``, ``array``) fails, so one mistake costs once.


def _as_real_array(value: Value) -> FloatArray | None:
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind in "biuf" else None
    if isinstance(value, tuple):
        if not _numbers_only(value):
            # np.array would read "1.5" as 1.5: a string is not a number here.
            return None
        try:
            converted = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return converted
    if isinstance(value, int | float) and not isinstance(value, bool):
        return np.array(float(value))
    return None


def _numbers_only(value: Value) -> bool:
    if isinstance(value, tuple):
        return all(_numbers_only(item) for item in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    return isinstance(value, int | float)


def real_array(value: Value, what: str) -> FloatArray:
    """Any real number, array or nested list, as a float64 array of its own shape.

    >>> expect.real_array((1, 2.5), "the scores")
    array([1. , 2.5])
    >>> expect.real_array("1.5", "the scores")
    Traceback (most recent call last):
      ...
    propgrade.engine.checks.CheckFailed: the scores should be a number
    """
    converted = _as_real_array(value)
    if converted is None or converted.size == 0:
        raise CheckFailed(
            f"{what} should be a number", expected="a real number", got=describe_shape(value)
        )
    return converted


def scalar_value(value: Value, what: str) -> float:
    """The number a value stands for: a scalar, or any real array or list of one element.

    Lenient about the form, for checks about the value::

        >>> expect.scalar_value(np.array([[2.0]]), "the loss")
        2.0
        >>> expect.scalar_value((1.0, 2.0), "the loss")
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: the loss should be a single real number
    """
    converted = _as_real_array(value)
    if converted is None or converted.size != 1:
        raise CheckFailed(
            f"{what} should be a single real number",
            expected="a float (e.g. a Python float or numpy float64)",
            got=describe_shape(value),
        )
    return float(converted.reshape(()))


def array_value(value: Value, what: str, shape: tuple[int, ...]) -> FloatArray:
    """The float64 array a value stands for: any real array or nested list of ``shape``.

    Lenient about the form (a list of lists, float32), strict about the shape::

        >>> expect.array_value(((1, 2), (3, 4)), "dW", (2, 2))
        array([[1., 2.],
               [3., 4.]])
        >>> expect.array_value(np.zeros(4), "dW", (2, 2))
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: dW has the wrong shape
    """
    converted = _as_real_array(value)
    if converted is None or converted.ndim == 0:
        raise CheckFailed(
            f"{what} should be a real array of shape {shape}",
            expected=f"array of shape {shape}",
            got=describe_shape(value),
        )
    _require_shape(converted.shape, what, shape)
    return converted


def _require_shape(actual: tuple[int, ...], what: str, shape: tuple[int, ...]) -> None:
    if actual != shape:
        raise CheckFailed(
            f"{what} has the wrong shape", expected=f"shape {shape}", got=f"shape {actual}"
        )


def pair(value: Value, what: str) -> tuple[Value, Value]:
    """The two parts of a function's returned pair, such as ``(loss, dW)``.

    Anything but a tuple of exactly two values fails the check with what came back
    instead; the parts are still the student's values, to coerce next::

        >>> loss, dW = expect.pair((1.25, np.zeros((3, 2))), "svm_loss_naive")
        >>> expect.scalar(loss, "the loss")
        1.25
        >>> expect.pair(1.25, "svm_loss_naive")
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: svm_loss_naive should return a pair

    A list returned by the student arrives as a tuple, so it is a pair too.
    """
    if not isinstance(value, tuple) or len(value) != 2:
        raise CheckFailed(
            f"{what} should return a pair",
            expected="a tuple of two values",
            got=describe_shape(value),
        )
    return value[0], value[1]


def mapping(value: Value, what: str, keys: Sequence[str] = ()) -> dict[str, Value]:
    """A dict (e.g. an optimizer's config) that has at least ``keys``.

    >>> expect.mapping({"learning_rate": 0.01, "t": 1}, "the config", ["t"])
    {'learning_rate': 0.01, 't': 1}
    >>> expect.mapping({"learning_rate": 0.01}, "the config", ["m", "v"])
    Traceback (most recent call last):
      ...
    propgrade.engine.checks.CheckFailed: the config has no 'm', 'v'
    """
    if not isinstance(value, dict):
        raise CheckFailed(
            f"{what} should be a dict",
            expected=f"a dict with keys {', '.join(map(repr, keys))}" if keys else "a dict",
            got=describe_shape(value),
        )
    missing = [key for key in keys if key not in value]
    if missing:
        raise CheckFailed(
            f"{what} has no {', '.join(map(repr, missing))}",
            expected=f"a dict with keys {', '.join(map(repr, keys))}",
            got=describe_shape(value),
        )
    return value


def finite(value: float | FloatArray, what: str) -> None:
    """Fail unless every entry of ``value`` is finite (no ``nan``, no ``inf``).

    For a property that holds only of finite values, such as a softmax loss on scores
    shifted by 1e3, which a per-row shift computes exactly and a missing one overflows::

        >>> expect.finite(np.array([0.5, 2.0]), "the loss")
        >>> expect.finite(float("inf"), "the loss")
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: the loss is not finite
    """
    if not np.all(np.isfinite(value)):
        raise CheckFailed(f"{what} is not finite", expected="finite values", got=value)


def relative_error(got: float | FloatArray, expected: float | FloatArray) -> float:
    """``max|got - expected| / max|expected|``, the scale floored at 1e-300.

    One scale for the whole quantity: per-element relative error blows up on entries that
    are legitimately ~0, and an absolute tolerance hides small terms such as a reg of 1e-9.
    Another shape, or non-finite values that differ, give ``inf``::

        >>> expect.relative_error(np.array([1.0, 0.0]), np.array([2.0, 1e-12]))
        0.5
        >>> expect.relative_error(np.array([np.nan]), np.array([np.nan]))
        0.0
        >>> expect.relative_error(np.zeros(2), np.zeros(3))
        inf
    """
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return float("inf")
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(e))):
        return 0.0 if np.array_equal(g, e, equal_nan=True) else float("inf")
    scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-300)
    return float(np.max(np.abs(g - e), initial=0.0)) / scale


def close(
    got: float | FloatArray,
    expected: float | FloatArray,
    what: str,
    *,
    rtol: float,
    atol: float = 0.0,
) -> None:
    """Fail unless got ≈ expected: ``max|got - expected| <= atol + rtol * max|expected|``.

    Like :func:`relative_error`, one scale for the whole quantity (the largest entry of
    ``expected``), so entries that are legitimately about 0 do not need an ``atol``, and
    ``atol`` (default 0) is only for an ``expected`` that is all zeros. ``got`` must have
    ``expected``'s shape and be finite. The failure shows both values::

        >>> expect.close(np.array([1.0, 1e-9]), np.array([1.0, 0.0]), "dW", rtol=1e-6)
        >>> expect.close(2.0005, 2.0, "the loss", rtol=1e-6)
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: the loss is wrong (relative error 0.00025, ...)
        >>> try:
        ...     expect.close(np.zeros(2), np.zeros(3), "dW", rtol=1e-6)
        ... except CheckFailed as error:
        ...     print(error.message, "| expected", error.expected, "| got", error.got)
        dW has the wrong shape | expected (3,) | got (2,)
    """
    if type(got) is float and type(expected) is float:
        # Two losses, the most common comparison: the same IEEE arithmetic as the array
        # path (tests/test_expect.py), without a dozen numpy calls.
        scale = abs(expected) if math.isfinite(expected) else 0.0
        ok = math.isfinite(got) and abs(got - expected) <= atol + rtol * scale
    else:
        ok, scale = _arrays_close(got, expected, what, rtol=rtol, atol=atol)
    if not ok:
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        diff = np.abs(g - e)
        error = (
            f"relative error {relative_error(g, e):.3g}, allowed {rtol:g}"
            if scale > 0
            else f"absolute error {float(np.max(diff, initial=0.0)):.3g}, allowed {atol:g}"
        )
        raise CheckFailed(
            f"{what} is wrong ({error})",
            expected=_plain(expected),
            got=_plain(got),
        )


def _arrays_close(
    got: float | FloatArray, expected: float | FloatArray, what: str, *, rtol: float, atol: float
) -> tuple[bool, float]:
    """Whether ``close`` holds, with the scale it used."""
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        raise CheckFailed(f"{what} has the wrong shape", expected=e.shape, got=g.shape)
    scale = float(np.max(np.abs(e), initial=0.0)) if np.all(np.isfinite(e)) else 0.0
    diff = np.abs(g - e)
    return bool(np.all(np.isfinite(g))) and bool(np.all(diff <= atol + rtol * scale)), scale


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.shape == ():
        return float(value)
    return value


def unchanged(before: Any, after: Value, what: str) -> None:
    """Fail if the call modified its input ``what`` in place.

    ``before`` is the grader's own copy of the argument; ``after`` is the argument as the
    worker sent it back (``student.outcome(..., echo_args=True).args_after``). It must have
    the same shape and exactly the same values, ``nan`` for ``nan``::

        >>> X = np.array([[1.0, np.nan]])
        >>> expect.unchanged(X, X.copy(), "X")
        >>> expect.unchanged(X, np.array([[0.0, np.nan]]), "X")
        Traceback (most recent call last):
          ...
        propgrade.engine.checks.CheckFailed: the function modified its input X in place

    In a property::

        outcome = student.outcome("svm_loss_naive", W, X, y, reg, echo_args=True)
        expect.unchanged(X, outcome.args_after[1], "X")
    """
    if not isinstance(after, np.ndarray) or not isinstance(before, np.ndarray):
        raise CheckFailed(f"{what} could not be compared after the call")
    if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
        raise CheckFailed(
            f"the function modified its input {what} in place",
            expected=before,
            got=after,
        )
