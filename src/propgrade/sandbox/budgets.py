"""How many bytes the reply to one call may hold, decided before the reply is read.

Every reply is decoded in the grading process and kept in the submission's call cache, so
a submission that returns large values (a loss as a 2 MB array, a ``config`` that hoards
arrays and is passed back for 200 chained steps) could otherwise make the grader hold
gigabytes. A check expects values sized by what it passed in: a scalar loss and an array
shaped like ``W``, a ``next_w`` shaped like ``w`` and a ``config`` whose state arrays are
shaped like ``w``. So a call's budget is

* ``HEADER_BYTES`` for the reply's JSON header (also its own limit), plus
* ``limits.reply_bytes`` for arrays that are not the size of an argument (a small extra
  array or two), plus
* ``ARRAY_FACTOR`` times the largest array passed directly as an argument: room for a
  few results of that size (``next_w`` and the ``m`` and ``v`` of Adam's config), plus
* for a call whose arguments are sent back (``echo_args``), twice the bytes of every
  array sent, at any depth.

Arrays nested inside an argument (a ``config``'s state) do not raise the budget: a value
the grader passes back on the next step could otherwise grow it step by step. The worker
refuses to send a reply over budget (a failure saying what was too large), and the
trusted side refuses a frame that announces more before reading its body.
"""

from __future__ import annotations

import numpy as np

from propgrade.sandbox.calls import Call, Limits, Value

ARRAY_FACTOR = 4
# A reply's JSON header (the value's structure, numbers, a message and a traceback of a
# few thousand characters, escaped) is parsed into Python objects several times its size.
# worker_main.py holds a copy.
HEADER_BYTES = 64 * 1024


def _arrays(value: Value) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, tuple | list):
        return [a for item in value for a in _arrays(item)]
    if isinstance(value, dict):
        return [a for item in value.values() for a in _arrays(item)]
    return []


def reply_budget(call: Call, limits: Limits) -> int:
    """The most bytes (header and arrays) the reply to ``call`` may take on the wire."""
    given = [*call.args, *(v for _, v in call.kwargs)]
    if call.instance is not None:
        # An object's method may return arrays the size of what it was set up with
        # (distances to every training row): those count as passed in.
        recipe = call.instance
        given += [*recipe.args, *(v for _, v in recipe.kwargs)]
        given += [v for step in recipe.steps for v in (*step.args, *(v for _, v in step.kwargs))]
    direct = [a for a in given if isinstance(a, np.ndarray)]
    largest = max((a.nbytes for a in direct), default=0)
    budget = HEADER_BYTES + limits.reply_bytes + ARRAY_FACTOR * largest
    if call.echo_args:
        budget += 2 * sum(a.nbytes for arg in call.args for a in _arrays(arg))
    return budget


def describe_size(count: int) -> str:
    """A byte count for a message: ``2.0 MiB``, ``66 KiB``, ``512 bytes``."""
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    if count >= 1 << 10:
        return f"{count // 1024} KiB"
    return f"{count} bytes"
