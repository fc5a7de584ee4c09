"""Student ids are data: they are folder names, and folder names often come from LMS
display names or from archives a student made.

An id may hold anything a file name can: a leading ``=`` that a spreadsheet runs as a
formula, terminal escape sequences, bytes that are not UTF-8 (Python keeps those as
lone surrogates, so the folder can still be found again). Each output shows it in the
form that is safe there; the id itself, and so the output folder's name, is unchanged.
"""

from __future__ import annotations

import os
import unicodedata

# What OWASP lists as the start of a formula in a CSV cell.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def readable(text: str) -> str:
    """``text`` with bytes that are not UTF-8 written as ``\\xff``: always encodable."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name decoding produces
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def csv_cell(text: str) -> str:
    """A student-controlled CSV field that no spreadsheet runs as a formula."""
    text = readable(text)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def terminal(text: str) -> str:
    """``text`` without control characters, for one line on a terminal."""
    return "".join("?" if unicodedata.category(c) == "Cc" else c for c in readable(text))


def url_path(student: str) -> bytes:
    """The folder name's bytes, as a relative URL must encode them."""
    return os.fsencode(student)


def id_problem(student: str) -> str | None:
    """Why ``student`` cannot name a folder of the output; None when it can."""
    if student in ("", ".", ".."):
        return f"student id {readable(student)!r} is not a folder name"
    if "/" in student or "\0" in student:
        return f"student id {readable(student)!r} holds a path separator or a NUL"
    return None
