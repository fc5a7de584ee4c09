"""Compact, deterministic text for values shown in feedback (arrays, scalars, cases)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from propgrade.sandbox.calls import Unsupported

_MAX_ELEMENTS = 64
_PADDING = re.compile(r"(?<=\[) +| +(?=,)")  # numpy's column alignment, useless on one line


def format_value(value: Any, *, precision: int = 6) -> str:
    """A short readable rendering: small arrays in full, large ones summarised.

    What feedback shows for ``CheckFailed``'s ``expected`` and ``got``: arrays as
    :func:`format_array` writes them, floats to ``precision + 2`` significant digits,
    tuples and dicts on one line, strings as they are::

        >>> format_value(2 / 3)
        '0.66666667'
        >>> format_value((1.0, np.array([1.5, 2.0]), {"t": 1}))
        "(1.0, array([1.5, 2. ]), {'t': 1})"
        >>> format_value("a loss >= 0")
        'a loss >= 0'
    """
    if isinstance(value, np.ndarray):
        return format_array(value, precision=precision)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.{precision + 2}g}"
    if isinstance(value, tuple | dict):
        return _format_item(value, precision)
    if isinstance(value, str):
        return value
    return repr(value)


def _format_item(value: Any, precision: int) -> str:
    """A value inside a tuple or dict: on one line, as Python would write it."""
    if isinstance(value, tuple):
        inner = ", ".join(_format_item(v, precision) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {_format_item(v, precision)}" for k, v in value.items())
        return f"{{{inner}}}"
    if isinstance(value, np.ndarray):
        return _format_inline_array(value, precision)
    if isinstance(value, str):
        return repr(value)
    if type(value) is float:
        # Next to ints, 1.0 must not read as 1.
        text = f"{value:.{precision + 2}g}"
        return text if any(c in text for c in ".einf") else text + ".0"
    return format_value(value, precision=precision)


def _format_inline_array(array: np.ndarray[Any, Any], precision: int) -> str:
    dtype = "" if array.dtype == np.float64 else f", dtype={array.dtype}"
    if array.size == 0:
        return f"array(<empty, shape {array.shape}{dtype}>)"
    if array.size > _MAX_ELEMENTS:
        summary = format_array(array, precision=precision).partition("[")[2].rstrip("]")
        detail = f", {summary}" if summary else ""
        return f"array(<shape {array.shape}{dtype}{detail}>)"
    body = np.array2string(
        array, precision=precision, suppress_small=False, separator=", ", max_line_width=10**6
    )
    return f"array({_PADDING.sub('', ' '.join(body.split()))}{dtype})"


def format_array(array: np.ndarray[Any, Any], *, precision: int = 6) -> str:
    """An array as feedback shows it: numpy's own layout, then its shape as a comment.

    ``precision`` significant digits per entry, lines up to 88 characters. An array too
    large to read shows its shape, dtype, min and max instead, and an empty one says so::

        >>> format_array(np.array([[0.0, -5.0]]))
        '[[ 0., -5.]]  # shape (1, 2)'
        >>> format_array(np.arange(100.0).reshape(10, 10))
        'array of shape (10, 10), dtype float64 [min 0, max 99]'

    A case's ``__repr__`` writes each array as ``NAME = format_array(...)`` on its own
    line: feedback pages show such lines as tables (see :doc:`cases`).
    """
    header = f"array of shape {array.shape}, dtype {array.dtype}"
    if array.size == 0:
        return header + " (empty)"
    if array.size > _MAX_ELEMENTS:
        finite = array[np.isfinite(array)] if array.dtype.kind in "fc" else array
        summary = (
            f"min {finite.min():.{precision}g}, max {finite.max():.{precision}g}"
            if finite.size and array.dtype.kind in "iufc"
            else ""
        )
        return f"{header} [{summary}]"
    body = np.array2string(
        array, precision=precision, suppress_small=False, separator=", ", max_line_width=88
    )
    return f"{body}  # shape {array.shape}" if array.ndim else body


def describe_shape(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, tuple):
        return f"tuple of length {len(value)}"
    if isinstance(value, dict):
        shown = ", ".join(repr(key[:40]) for key in list(value)[:8])
        more = ", ..." if len(value) > 8 else ""
        return f"dict with keys {shown}{more}" if value else "empty dict"
    if isinstance(value, Unsupported):
        return f"a {value.type_name} object"
    return type(value).__name__
