"""Compact, deterministic text for values shown in feedback (arrays, scalars, cases)."""

from __future__ import annotations

from typing import Any

import numpy as np

from propgrade.sandbox.calls import Unsupported

_MAX_ELEMENTS = 64


def format_value(value: Any, *, precision: int = 6) -> str:
    """A short readable rendering: small arrays in full, large ones summarised."""
    if isinstance(value, np.ndarray):
        return format_array(value, precision=precision)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.{precision + 2}g}"
    if isinstance(value, tuple):
        inner = ", ".join(format_value(v, precision=precision) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, str):
        return value
    return repr(value)


def format_array(array: np.ndarray[Any, Any], *, precision: int = 6) -> str:
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
    if isinstance(value, Unsupported):
        return f"a {value.type_name} object"
    return type(value).__name__
