"""The data that crosses the trust boundary: calls into student code and their outcomes.

Everything here is plain data built in the trusted process. A student's return value is
decoded into ``Value`` (numbers, strings, numeric arrays, tuples, dicts with string keys)
or ``Unsupported`` - never into an object of the student's making.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias, Union

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Unsupported:
    """A returned value that cannot cross the boundary as data.

    An object of the student's own class, a set, a function, a container of more than 64
    items or nested more than 4 deep: what a property gets in its place, with the name of
    its type (``type_name``). The ``expect`` readers fail the check on it, and a property
    that breaks on it (an exception of its own) fails the check for the student, with
    "returned a value that cannot be sent back to the grader", not as the grader's fault.
    """

    type_name: str

    def __repr__(self) -> str:
        return f"<unsupported value of type {self.type_name}>"


class SubclassArray(np.ndarray):
    """An array the student returned as an ndarray subclass (``np.matrix``, say).

    It arrives as plain data and behaves as a plain ndarray here (no method is
    overridden): value checks grade its values, and only a check about the form, which
    asks for an ndarray, tells it apart. ``type_name`` is the student's class name.
    """

    type_name: str = "ndarray subclass"

    def __array_finalize__(self, obj: object) -> None:
        # copies and views (the engine freezes what it keeps) keep the name
        self.type_name = getattr(obj, "type_name", type(self).type_name)


Value: TypeAlias = Union[
    "npt.NDArray[np.generic]",
    float,
    int,
    bool,
    complex,
    str,
    Unsupported,
    tuple["Value", ...],
    dict[str, "Value"],
    None,
]
"""A decoded value. Lists come back as tuples; dicts keep their key order."""

SENDABLE = (
    "None, bool, int, float, complex, str, numpy arrays of a numeric or bool dtype, "
    "and tuples, lists and dicts with str keys of these"
)
"""What can cross the boundary, in words, for messages about values that cannot."""


class FailureKind(StrEnum):
    """Why a call produced no value (``StudentFailure.kind``), one word each.

    ``exception``: the student's function raised. ``timeout``: it ran past
    ``limits.call_seconds`` and the worker was killed. ``crash``: the worker died during
    the call (an exit, a signal, the memory limit). ``budget``: the submission's
    ``limits.submission_seconds`` were used up before the call. ``protocol``: the reply
    was not valid data. ``missing``: the submission defines no such function.
    ``skipped``: not run, the same function timed out or crashed too often already.
    ``inconsistent``: a call whose Python work was counted returned something else than
    the same call uncounted. ``too_large``: the reply was over the call's reply budget.
    ``unsupported``: the property could not use a value that cannot be sent.
    ``unsendable``: the grader passed an argument that cannot be sent (the grader's
    mistake, never the student's).
    """

    EXCEPTION = "exception"  # the student's function raised
    TIMEOUT = "timeout"  # the call ran past its time limit and the worker was killed
    CRASH = "crash"  # the worker died during the call (exit, signal, memory limit)
    BUDGET = "budget"  # the submission's total time budget was used up before this call
    PROTOCOL = "protocol"  # the worker's reply was not valid data (e.g. stdout tampering)
    MISSING = "missing"  # the module has no callable of that name
    SKIPPED = "skipped"  # not run: the same function timed out or crashed too often already
    INCONSISTENT = "inconsistent"  # a traced call returned something else than untraced
    TOO_LARGE = "too_large"  # the reply was over the call's reply budget (sandbox/budgets.py)
    UNSUPPORTED = "unsupported"  # the property could not use a value that could not be sent
    # Not the student's doing: the grader passed an argument that cannot be sent. Never
    # reaches a student as a failure of theirs (the proxy raises a grader error).
    UNSENDABLE = "unsendable"


@dataclass(frozen=True)
class StudentFailure:
    """Why a call into student code produced no value.

    ``kind`` is a :class:`FailureKind`; ``message`` says what happened (for an
    exception, its type and message); ``traceback`` is the student's traceback, trimmed
    to the frames in their own file.
    """

    kind: FailureKind
    message: str
    traceback: str = ""  # the student's traceback, trimmed to frames in their own file

    def describe(self) -> str:
        text = self.message
        if self.traceback:
            text += "\n" + self.traceback
        return text


@dataclass(frozen=True)
class Step:
    """One method call made while an object is set up: ``obj.method(*args, **kwargs)``."""

    method: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class Recipe:
    """How to build a student object in the worker: ``obj = cls(*args, **kwargs)``, then
    every step in order.

    An object never outlives the call it is built for: each call on it builds it afresh
    from its recipe, so no call (and no check) sees state that another one left behind,
    and the same recipe gives the same object in every run.
    """

    cls: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Call:
    """One call of a student function: ``function(*args, **dict(kwargs))``.

    With ``instance``, ``function`` is a method of the object that recipe builds.
    """

    function: str
    args: tuple[Value, ...]
    # Count the Python line/call events the call runs; the call is then run again untraced
    # and must return the same value (propgrade.engine.traced).
    trace: bool = False
    echo_args: bool = False  # send array arguments back as they are after the call
    # Pairs, not a dict: a frozen dataclass should hold nothing mutable, and the order
    # the grader wrote them in is kept.
    kwargs: tuple[tuple[str, Value], ...] = ()
    instance: Recipe | None = None

    @classmethod
    def of(
        cls,
        function: str,
        args: tuple[Value, ...] = (),
        kwargs: Mapping[str, Value] | None = None,
        *,
        trace: bool = False,
        echo_args: bool = False,
        instance: Recipe | None = None,
    ) -> Call:
        pairs = tuple(kwargs.items()) if kwargs else ()
        return cls(
            function, args, trace=trace, echo_args=echo_args, kwargs=pairs, instance=instance
        )

    @property
    def label(self) -> str:
        """The callee as a message names it: ``losses`` or ``KNearestNeighbor.predict``."""
        return self.function if self.instance is None else f"{self.instance.cls}.{self.function}"


def repeated_arrays(call: Call) -> dict[int, int]:
    """The arrays ``call`` passes in more than one place, by id, numbered from 0."""
    if call.instance is None and _flat_and_distinct(call):
        return {}
    return walk_repeated_arrays(call)


def walk_repeated_arrays(call: Call) -> dict[int, int]:
    """``repeated_arrays`` by walking every value of the call (its reference form)."""
    counts: dict[int, int] = {}

    def visit(value: object) -> None:
        if isinstance(value, np.ndarray):
            counts[id(value)] = counts.get(id(value), 0) + 1
        elif isinstance(value, tuple | list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(call_values(call))
    repeated = [key for key, count in counts.items() if count > 1]
    return {key: number for number, key in enumerate(repeated)}


def _flat_and_distinct(call: Call) -> bool:
    """True when ``call`` passes no container and no array twice: the usual call, told
    apart without walking it (every call sent, and every call key, asks)."""
    seen: set[int] = set()
    values = call.args if not call.kwargs else (*call.args, *(v for _, v in call.kwargs))
    for value in values:
        kind = type(value)
        if kind is np.ndarray:
            if id(value) in seen:
                return False
            seen.add(id(value))
        elif isinstance(value, np.ndarray | tuple | list | dict):
            return False
    return True


def alias_pattern(call: Call) -> tuple[int, ...]:
    """Which of ``call``'s arrays are one object: per array in ``call_values`` order, its
    number in ``repeated_arrays``, or -1. Empty when no array is passed twice."""
    repeated = repeated_arrays(call)
    if not repeated:
        return ()
    pattern: list[int] = []

    def visit(value: object) -> None:
        if isinstance(value, np.ndarray):
            pattern.append(repeated.get(id(value), -1))
        elif isinstance(value, tuple | list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(call_values(call))
    return tuple(pattern)


def call_values(call: Call) -> tuple[object, ...]:
    """Every value ``call`` sends, in a fixed order: its object's recipe, then its arguments."""
    parts: list[object] = []
    recipe = call.instance
    if recipe is not None:
        parts += [recipe.args, dict(recipe.kwargs)]
        parts += [(step.args, dict(step.kwargs)) for step in recipe.steps]
    parts += [call.args, dict(call.kwargs)]
    return tuple(parts)


@dataclass(frozen=True)
class CallOutcome:
    """What one call into student code produced, as ``student.outcome(...)`` returns it.

    ``value`` is the returned value, decoded as data. ``failure`` is None for a call that
    returned (``student.outcome`` raises :class:`propgrade.StudentCallFailed` otherwise,
    so a property only sees successful outcomes). ``trace_events`` is the number of
    Python-level events (lines, calls and C calls) the call ran, when it was made with
    ``trace=True``, else None: compare it at two input sizes to tell a vectorized
    function from a loop. ``args_after`` holds the positional arguments as the function
    left them, when the call was made with ``echo_args=True``, else None: compare them
    with what was sent (:func:`propgrade.expect.unchanged`) to tell whether the function
    wrote into its inputs. ``seconds`` is the time the call took in the worker, for
    information: a verdict must not depend on it (engine/transcripts.py gives a run whose
    answers match an earlier run's that run's verdict, whatever the seconds).
    """

    value: Value = None
    failure: StudentFailure | None = None
    trace_events: int | None = None
    args_after: tuple[Value, ...] | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


def fresh_copy(value: Value) -> Value:
    """A copy sharing no mutable part with ``value`` (arrays, dicts) at any depth.

    Cached answers are handed to every property that asks for the same call: a property
    that changed an answer in place would pass the change on to the next.
    """
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(fresh_copy(item) for item in value)
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    return value


def find_unsupported(value: Value, where: str = "") -> tuple[str, Unsupported] | None:
    """The first part of ``value`` that could not be received, and its index path.

    The path is written as Python would index the value: ``[1]['velocity']``.
    """
    if isinstance(value, Unsupported):
        return where, value
    if isinstance(value, tuple):
        for index, item in enumerate(value):
            found = find_unsupported(item, f"{where}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = find_unsupported(item, f"{where}[{key[:40]!r}]")
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class Limits:
    """What one submission's worker may use: resources, and the packages it may import."""

    call_seconds: float = 5.0
    submission_seconds: float = 120.0
    memory_mb: int = 1024
    output_bytes: int = 64 * 1024
    # The largest graded file or notebook read from a submission: a larger one is refused
    # before it is read (the trusted side reads it, so it must not be unbounded).
    file_bytes: int = 1024 * 1024
    # What one reply may hold besides arrays the size of the call's own (sandbox/budgets.py):
    # every reply is decoded and kept by the grading process, so none may be unbounded.
    reply_bytes: int = 64 * 1024
    # Address space of the process that grades (the batch's own, or each pool process):
    # a submission that still makes it grow past this gets 0, its classmates are graded.
    grader_memory_mb: int = 4096
    max_failures_per_function: int = 2  # timeouts/crashes before further calls are skipped
    # Top-level packages student code may import besides the standard library; numpy is
    # always among them (the worker itself needs it). Enforced inside the worker.
    imports: tuple[str, ...] = ("numpy",)


@dataclass
class ImportReport:
    """What happened when the worker imported the graded file."""

    ok: bool
    failure: StudentFailure | None = None
    functions: tuple[str, ...] = field(default_factory=tuple)
